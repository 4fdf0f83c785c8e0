"""dietgen::Delay and dietgen::Gate: what the streaming pass puts between layers (passes/stream.py).

Delay holds a branch back by a number of frames through a ring buffer, so that branches with different lags
(one went through a centred convolution's lookahead, the other did not) meet in step. Gate zeroes the frames
streamed before a tensor's first real frame, for readers that pad with zeros.
"""
from __future__ import annotations

from dietgen.ops.common import split_at
from dietgen.ops.registry import Cost, KernelCall, OpSpec, register

DOMAIN = "dietgen"


class _StreamCopy(OpSpec):
    domain = DOMAIN
    kernel = "stream"
    stream_only = True
    cost_as = "Slice"

    def infer(self, node, inputs):
        return [(inputs[0].shape, inputs[0].dtype)] + [(t.shape, t.dtype) for t in inputs[1:]]

    def cost(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        return Cost(0, x.nbytes, x.nbytes)

    def dims(self, node, graph) -> tuple[int, int, int]:
        return split_at(graph.tensors[node.inputs[0]].shape, node.attrs["axis"])


@register
class Delay(_StreamCopy):
    op_type = "Delay"
    attributes = {"axis": 0, "frames": 1}

    def emit(self, node, graph, ctx):
        outer, length, inner = self.dims(node, graph)
        return [KernelCall("dg_delay", (ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), ctx.ptr(node.inputs[1]),
                                        ctx.ptr(node.inputs[2]), str(outer), str(length), str(inner),
                                        str(node.attrs["frames"])))]


@register
class Gate(_StreamCopy):
    op_type = "Gate"
    attributes = {"axis": 0}

    def emit(self, node, graph, ctx):
        outer, length, inner = self.dims(node, graph)
        return [KernelCall("dg_gate", (ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), ctx.ptr(node.inputs[1]),
                                       str(outer), str(length), str(inner)))]
