"""dietgen::Embedding: rows of a constant table picked by class indices, as torch.nn.Embedding does.

The C model API takes float inputs only, so the indices (WaveNet's mu-law codes, say) arrive as floats: input 0
is codes (...) float32, input 1 the table (classes, dim), a constant. Output (..., dim): table[codes]. Codes are
rounded to the nearest class (halves up) and clamped to [0, classes - 1] (NaN to 0), here and in the C kernel
alike: on a board the codes are run-time values, and a stray one must never read outside the table. This stands
in for a one-hot input times the table, without the one-hot's classes-fold input and multiplications.
"""
from __future__ import annotations

import numpy as np

from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

DOMAIN = "dietgen"
# Above 2^23 classes a float32 code cannot name every class, and code + 0.5 may round past the last one.
MAX_CLASSES = 2 ** 23


def class_indices(codes: np.ndarray, classes: int) -> np.ndarray:
    """The row each code picks, computed in float32 exactly as the C kernel computes it."""
    c = np.asarray(codes, dtype=np.float32)
    c = np.minimum(np.where(c >= 0, c, np.float32(0)), np.float32(classes - 1))
    return (c + np.float32(0.5)).astype(np.int64)


@register
class Embedding(OpSpec):
    op_type = "Embedding"
    domain = DOMAIN
    kernel = "embedding"
    flash_inputs = (1,)
    # The same work as a constant-index Gather of rows: one copy per output element.
    cost_as = "Gather"

    def infer(self, node, inputs):
        if len(inputs) != 2 or inputs[0] is None:
            raise self.refuse(node, "takes two inputs: the codes and the table")
        self.require_float(node, inputs, 0)
        table = self.require_const(node, inputs, 1, "the table")
        if table.ndim != 2 or table.shape[0] < 1:
            raise self.refuse(node, f"table of shape {table.shape} should be (classes, dim)")
        if table.dtype != np.float32:
            raise self.refuse(node, f"table is {table.dtype}; only float32 tables are supported")
        if table.shape[0] > MAX_CLASSES:
            raise self.refuse(node, f"table has {table.shape[0]} classes; float codes name at most {MAX_CLASSES}")
        return [((*inputs[0].shape, table.shape[1]), "float32")]

    def reference(self, node, x):
        table = np.asarray(x[1])
        return [table[class_indices(x[0], table.shape[0])]]

    def cost(self, node, graph):
        codes, out = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return Cost(0, codes.nbytes + out.nbytes, out.nbytes)    # only the rows picked are read

    def emit(self, node, graph, ctx):
        codes, table = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        classes, dim = table.shape
        return [KernelCall("dg_embedding", (ctx.ptr(codes.name), ctx.ptr(table.name), ctx.ptr(node.outputs[0]),
                                            str(codes.size), str(classes), str(dim)))]

    def cases(self):
        table = np.random.default_rng(3).uniform(-1, 1, (7, 5)).astype(np.float32)
        return [
            OpCase("codes_in_range", (Rand((2, 6), 0, 6), table)),
            OpCase("clamped", (Rand((3, 4), -4, 11), table)),
            OpCase("one_class", (Rand((4,), -2, 2), np.full((1, 3), 0.5, np.float32))),
            OpCase("codes_3d", (Rand((2, 3, 4), 0, 6), table[:, :1])),
        ]
