"""CumSum along one axis (a constant input), optionally exclusive and/or reversed."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import normalise_axis, split_at
from dietgen.ir import Node, Time
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register


@register
class CumSum(OpSpec):
    op_type = "CumSum"
    kernel = "cumsum"
    attributes = {"exclusive": 0, "reverse": 0}

    def axis(self, node, rank: int, value: np.ndarray) -> int:
        if value.size != 1:
            raise self.refuse(node, f"axis should be a single value, got shape {value.shape}")
        return normalise_axis(f"node {node.name!r} ({self.op_type})", int(value.reshape(())), rank)

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        for flag in ("exclusive", "reverse"):
            if node.attrs[flag] not in (0, 1):
                raise self.refuse(node, f"{flag}={node.attrs[flag]} should be 0 or 1")
        self.axis(node, len(inputs[0].shape), self.require_const(node, inputs, 1, "the axis"))
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, x):
        axis = self.axis(node, x[0].ndim, x[1])
        data = np.flip(x[0], axis) if node.attrs["reverse"] else x[0]
        y = np.cumsum(data, axis=axis, dtype=x[0].dtype)
        if node.attrs["exclusive"]:
            y = np.concatenate([np.zeros_like(np.take(y, [0], axis=axis)), np.delete(y, -1, axis=axis)], axis)
        return [np.flip(y, axis) if node.attrs["reverse"] else y]

    def cost(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        return Cost(x.size, x.nbytes, x.nbytes)

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        dims = split_at(x.shape, self.axis(node, len(x.shape), graph.const(node.inputs[1])))
        return [KernelCall("dg_cumsum", (ctx.ptr(x.name), ctx.ptr(node.outputs[0]), *map(str, dims),
                                         str(node.attrs["exclusive"]), str(node.attrs["reverse"])))]

    def stream(self, node, s):
        """Along time, the running sum is carried from block to block."""
        t = s.time[node.inputs[0]]
        x = s.offline.tensors[node.inputs[0]]
        if self.axis(node, len(x.shape), s.offline.const(node.inputs[1])) != t.axis:
            return NotImplemented
        if node.attrs["reverse"]:
            raise self.refuse(node, "cannot stream: a reversed running sum along time needs the signal's end")
        src, lag = s.from_start(node.inputs[0])
        outer, _, inner = split_at(x.shape, t.axis)
        carry = s.state("sum", (outer * inner,))
        y = s.output(node.outputs[0], Time(t.axis, t.rate, lag, clean=False))
        s.emit(Node("CumSumStream", node.name, (src, carry), (y, carry),
                    {"axis": t.axis, "exclusive": node.attrs["exclusive"]}, "dietgen"))

    def cases(self):
        last, chans = np.array(-1, dtype=np.int64), np.array(1, dtype=np.int32)
        return [OpCase("time", (Rand((2, 3, 12)), last)),
                OpCase("channels_exclusive", (Rand((2, 5, 4)), chans), {"exclusive": 1}),
                OpCase("reverse", (Rand((3, 9)), last), {"reverse": 1}),
                OpCase("reverse_exclusive", (Rand((2, 4, 6)), chans), {"exclusive": 1, "reverse": 1}),
                OpCase("vector", (Rand((20,)), np.array([0], dtype=np.int64)))]


@register
class CumSumStream(OpSpec):
    """The streaming pass's running sum along time, its carry in a STATE tensor."""
    op_type = "CumSumStream"
    cost_as = "CumSum"
    domain = "dietgen"
    kernel = "cumsum"
    stream_only = True
    attributes = {"axis": 0, "exclusive": 0}

    def infer(self, node, inputs):
        raise self.refuse(node, "made by the streaming pass only")

    def cost(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        return Cost(x.size, x.nbytes, x.nbytes)

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        dims = split_at(x.shape, node.attrs["axis"])
        return [KernelCall("dg_cumsum_stream", (ctx.ptr(x.name), ctx.ptr(node.outputs[0]), ctx.ptr(node.inputs[1]),
                                                *map(str, dims), str(node.attrs["exclusive"])))]
