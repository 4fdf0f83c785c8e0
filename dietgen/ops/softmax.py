"""Softmax and LogSoftmax (opset 13 semantics: one axis, default -1), stable: the maximum is subtracted."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import normalise_axis, split_at
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register


class _Softmax(OpSpec):
    kernel = "softmax"
    attributes = {"axis": -1}
    log: bool

    def axis(self, node, rank: int) -> int:
        return normalise_axis(f"node {node.name!r} ({self.op_type})", node.attrs["axis"], rank)

    def mixes_axes(self, node, graph):
        return {self.axis(node, len(graph.tensors[node.inputs[0]].shape))}

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        self.axis(node, len(inputs[0].shape))
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, x):
        axis = self.axis(node, x[0].ndim)
        shifted = x[0] - np.max(x[0], axis=axis, keepdims=True)
        if self.log:
            y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        else:
            e = np.exp(shifted)
            y = e / np.sum(e, axis=axis, keepdims=True)
        return [y.astype(x[0].dtype)]

    def cost(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        return Cost(3 * x.size, x.nbytes, x.nbytes)

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        outer, n, inner = split_at(x.shape, self.axis(node, len(x.shape)))
        return [KernelCall("dg_softmax", (ctx.ptr(x.name), ctx.ptr(node.outputs[0]), str(outer), str(n),
                                          str(inner), "1" if self.log else "0"))]

    def cases(self):
        return [OpCase("last", (Rand((2, 3, 10), -4, 4),)),
                OpCase("channels", (Rand((2, 5, 7), -4, 4),), {"axis": 1}),
                OpCase("first_negative", (Rand((4, 6), -4, 4),), {"axis": -2}),
                OpCase("large_values", (Rand((3, 8), 50, 90),))]


@register
class Softmax(_Softmax):
    op_type = "Softmax"
    log = False


@register
class LogSoftmax(_Softmax):
    op_type = "LogSoftmax"
    log = True
