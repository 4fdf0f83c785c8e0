"""Elementwise binary ops with numpy broadcasting: Add, Sub, Mul, Div, Pow, Max, Min."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import broadcast_shapes, broadcast_strides, coalesce
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register


class Binary(OpSpec):
    kernel = "binary"
    fuses_activation = True
    code: str
    numpy_fn = None
    b_range = (-1.0, 1.0)

    def infer(self, node, inputs):
        if len(node.inputs) != 2 or not all(node.inputs):
            raise self.refuse(node, f"takes exactly 2 inputs, got {len(node.inputs)}")
        self.require_float(node, inputs)
        shape = broadcast_shapes(f"node {node.name!r} ({self.op_type})", inputs[0].shape, inputs[1].shape)
        return [(shape, inputs[0].dtype)]

    def reference(self, node, x):
        return [np.asarray(type(self).numpy_fn(x[0], x[1])).astype(x[0].dtype)]

    def cost(self, node, graph):
        a, b, y = (graph.tensors[n] for n in (*node.inputs, node.outputs[0]))
        return Cost(y.size, a.nbytes + b.nbytes, y.nbytes)

    def emit(self, node, graph, ctx):
        a, b, y = (graph.tensors[n] for n in (*node.inputs, node.outputs[0]))
        dims, (sa, sb) = coalesce(y.shape, broadcast_strides(a.shape, y.shape), broadcast_strides(b.shape, y.shape))
        return [KernelCall("dg_binary", (ctx.ptr(a.name), ctx.ptr(b.name), ctx.ptr(y.name), self.code,
                                         str(len(dims)), ctx.table(dims), ctx.table(sa), ctx.table(sb),
                                         ctx.fn(node)))]

    def cases(self):
        lo, hi = self.b_range
        return [
            OpCase("same", (Rand((2, 3, 5)), Rand((2, 3, 5), lo, hi))),
            OpCase("row_bcast", (Rand((2, 4, 6)), Rand((6,), lo, hi))),
            OpCase("col_bcast_const", (Rand((1, 4, 6)), np.linspace(lo, hi, 4, dtype=np.float32).reshape(4, 1))),
            OpCase("scalar", (Rand((3, 7)), np.float32((lo + hi) / 2 + 0.25))),
            OpCase("both_bcast", (Rand((3, 1, 5)), Rand((1, 4, 1), lo, hi))),
        ]


def _binary(op: str, code: str, fn, b_range=(-1.0, 1.0)):
    return register(type(op, (Binary,), {"op_type": op, "code": code, "numpy_fn": staticmethod(fn),
                                         "b_range": b_range}))


Add = _binary("Add", "DG_ADD", np.add)
Sub = _binary("Sub", "DG_SUB", np.subtract)
Mul = _binary("Mul", "DG_MUL", np.multiply)
Div = _binary("Div", "DG_DIV", np.divide, (0.5, 2.0))
Max = _binary("Max", "DG_MAX", np.maximum)
Min = _binary("Min", "DG_MIN", np.minimum)


@register
class Pow(Binary):
    op_type = "Pow"
    code = "DG_POW"
    numpy_fn = staticmethod(np.power)
    b_range = (-2.0, 2.0)

    def cases(self):
        return [OpCase("pos_base", (Rand((2, 3, 5), 0.1, 2.0), Rand((2, 3, 5), -2, 2))),
                OpCase("square", (Rand((4, 6)), np.float32(2.0))),
                OpCase("bcast", (Rand((3, 1, 5), 0.1, 2.0), Rand((1, 4, 1), -2, 2)))]
