"""Gather with constant indices, along any axis: a table-driven copy of contiguous blocks."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import normalise_axis, split_at
from dietgen.ops.registry import OpCase, Rand, register
from dietgen.ops.strided import CopyOp, gather, i64


@register
class Gather(CopyOp):
    op_type = "Gather"
    attributes = {"axis": 0}

    def axis(self, node, rank: int) -> int:
        if rank == 0:
            raise self.refuse(node, "cannot gather from a scalar")
        return normalise_axis(f"node {node.name!r} (Gather)", node.attrs["axis"], rank)

    def indices(self, node, shape, indices: np.ndarray) -> np.ndarray:
        """Indices in [0, n): negative ones count from the end; out-of-range ones are refused."""
        n = shape[self.axis(node, len(shape))]
        if indices.dtype.kind not in "iu":
            raise self.refuse(node, f"indices should be integers, got {indices.dtype}")
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise self.refuse(node, f"indices {indices.min()}..{indices.max()} are out of range for an axis "
                                    f"of length {n}")
        return np.where(indices < 0, indices + n, indices).astype(np.int64)

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        shape = inputs[0].shape
        indices = self.require_const(node, inputs, 1, "the indices")
        self.indices(node, shape, indices)
        axis = self.axis(node, len(shape))
        return self.checked(node, inputs, [(shape[:axis] + indices.shape + shape[axis + 1:], inputs[0].dtype)])

    def reference(self, node, x):
        axis = self.axis(node, x[0].ndim)
        return [np.take(x[0], self.indices(node, x[0].shape, np.asarray(x[1])), axis=axis)]

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        indices = self.indices(node, x.shape, graph.const(node.inputs[1]))
        outer, n, inner = split_at(x.shape, self.axis(node, len(x.shape)))
        return [gather(ctx, ctx.ptr(x.name), ctx.ptr(node.outputs[0]),
                       [np.arange(outer), indices.reshape(-1), np.arange(inner)], (outer, n, inner))]

    def cases(self):
        return [
            OpCase("axis0_rows", (Rand((5, 4)), i64(4, 0, -1, 2))),
            OpCase("scalar_index", (Rand((3, 6)), np.array(-2, np.int64)), {"axis": 1}),
            OpCase("middle_axis_2d_idx", (Rand((2, 5, 3)), np.array([[0, 4], [-2, 1]], np.int64)), {"axis": 1}),
            OpCase("neg_axis", (Rand((2, 3, 7)), i64(6, 6, 0)), {"axis": -1}),
            OpCase("scalar_axis0", (Rand((4, 3, 2)), np.array(3, np.int64))),
        ]
