"""Views: Reshape, Flatten, Squeeze, Unsqueeze and Identity give input 0's bytes a new shape.

The memory planner lets the output share its input's storage; only when it cannot (the output is a graph
output) does the node copy.
"""
from __future__ import annotations

import numpy as np

from fractions import Fraction

from dietgen.ir import TensorKind, Time
from dietgen.ops.registry import Cost, KernelCall, OpCase, Rand, register
from dietgen.ops.strided import CopyOp, array_ints, const_ints, i64, normalise_axes


class View(CopyOp):
    view = True
    arg: str | None = None       # what the optional constant input 1 holds, if the op takes one

    def out_shape(self, node, shape: tuple[int, ...], arg: list[int] | None) -> tuple[int, ...]:
        raise NotImplementedError

    def infer(self, node, inputs):
        arg = const_ints(self, node, inputs, 1, self.arg) if self.arg else None
        return self.checked(node, inputs, [(self.out_shape(node, inputs[0].shape, arg), inputs[0].dtype)])

    def reference(self, node, x):
        return [np.reshape(x[0], self.out_shape(node, x[0].shape, array_ints(x, 1)))]

    def cost(self, node, graph):
        if graph.tensors[node.outputs[0]].kind == TensorKind.ACTIVATION:
            return Cost()  # shares its input's storage (see passes.memory.liveness)
        return super().cost(node, graph)

    def emit(self, node, graph, ctx):
        out = node.outputs[0]
        if ctx.aliased(out):
            return []
        return [KernelCall("dg_copy", (ctx.ptr(node.inputs[0]), ctx.ptr(out), str(graph.tensors[out].size)))]


@register
class Reshape(View):
    op_type = "Reshape"
    attributes = {"allowzero": 0}
    arg = "the target shape"

    def out_shape(self, node, shape, arg):
        if arg is None:
            raise self.refuse(node, "the target shape (input 1) is required")
        size = int(np.prod(shape, dtype=np.int64))
        keep = not node.attrs["allowzero"]
        if keep and any(d == 0 and i >= len(shape) for i, d in enumerate(arg)):
            raise self.refuse(node, f"target shape {arg} copies (0) a dimension the input {shape} lacks")
        out = [shape[i] if d == 0 and keep else d for i, d in enumerate(arg)]
        if out.count(-1) > 1 or min(out, default=0) < -1:
            raise self.refuse(node, f"target shape {arg} should hold sizes, 0 and at most one -1")
        if -1 in out:
            known = int(np.prod([d for d in out if d != -1], dtype=np.int64))
            if known == 0 or size % known:
                raise self.refuse(node, f"cannot infer the -1 of target shape {arg} for input {shape}")
            out[out.index(-1)] = size // known
        if int(np.prod(out, dtype=np.int64)) != size:
            raise self.refuse(node, f"cannot reshape {shape} ({size} elements) to {tuple(out)}")
        return tuple(out)

    def stream(self, node, s):
        """Time stays the outer part of whatever it is merged with or split into: (frames, hop) -> samples, or
        back. Reshapes that interleave time with other axes are refused."""
        t = s.time[node.inputs[0]]
        x, y = s.offline.tensors[node.inputs[0]].shape, s.offline.tensors[node.outputs[0]].shape
        outer, length = int(np.prod(x[:t.axis], dtype=np.int64)), x[t.axis]
        for axis, size in enumerate(y):
            if int(np.prod(y[:axis], dtype=np.int64)) == outer and size > 1 and \
                    (size % length == 0 or length % size == 0):
                factor = Fraction(size, length)
                lag = t.lag * factor
                if lag.denominator != 1:
                    raise self.refuse(node, f"cannot stream: it regroups frames while the stream is {t.lag} "
                                            f"frames late, which is not a whole number of its groups")
                return s.reshaped(node, Time(axis, t.rate * factor, int(lag), t.clean))
        raise self.refuse(node, f"cannot stream: it reshapes {x} to {y}, mixing time (axis {t.axis}) with other "
                                f"axes; keep time the outer dimension of what it is merged with")

    def cases(self):
        return [OpCase("minus_one", (Rand((2, 3, 4)), i64(4, -1))),
                OpCase("zero_copies", (Rand((2, 3, 4)), i64(0, 0, 2, 2))),
                OpCase("allowzero", (Rand((2, 3, 4)), i64(6, 4)), {"allowzero": 1})]


@register
class Flatten(View):
    op_type = "Flatten"
    attributes = {"axis": 1}

    def out_shape(self, node, shape, arg):
        axis = node.attrs["axis"]
        if not -len(shape) <= axis <= len(shape):
            raise self.refuse(node, f"axis {axis} is out of range for rank {len(shape)}")
        axis += len(shape) if axis < 0 else 0
        return (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64)))

    def cases(self):
        return [OpCase("default", (Rand((2, 3, 4)),)),
                OpCase("axis0", (Rand((2, 3, 4)),), {"axis": 0}),
                OpCase("axis_end", (Rand((2, 3, 4)),), {"axis": 3}),
                OpCase("neg_axis", (Rand((2, 3, 4, 2)),), {"axis": -2})]


@register
class Squeeze(View):
    op_type = "Squeeze"
    arg = "the axes"

    def out_shape(self, node, shape, arg):
        if arg is None:
            return tuple(d for d in shape if d != 1)
        axes = normalise_axes(self, node, arg, len(shape))
        if any(shape[a] != 1 for a in axes):
            raise self.refuse(node, f"cannot squeeze axes {arg} of shape {shape}: their size must be 1")
        return tuple(d for i, d in enumerate(shape) if i not in axes)

    def cases(self):
        return [OpCase("all", (Rand((1, 3, 1, 4)),)),
                OpCase("axes", (Rand((1, 3, 1, 4)), i64(0))),
                OpCase("neg_axes", (Rand((2, 1, 4, 1)), i64(-1, 1)))]


@register
class Unsqueeze(View):
    op_type = "Unsqueeze"
    arg = "the axes"

    def out_shape(self, node, shape, arg):
        if arg is None:
            raise self.refuse(node, "the axes (input 1) are required")
        axes = normalise_axes(self, node, arg, len(shape) + len(arg))
        dims = iter(shape)
        return tuple(1 if i in axes else next(dims) for i in range(len(shape) + len(arg)))

    def cases(self):
        return [OpCase("front", (Rand((3, 4)), i64(0))),
                OpCase("neg_two", (Rand((3, 4)), i64(-1, 1))),
                OpCase("scalar_like", (Rand((5,)), i64(0, 2)))]


@register
class Identity(View):
    op_type = "Identity"

    def out_shape(self, node, shape, arg):
        return tuple(shape)

    def cases(self):
        return [OpCase("3d", (Rand((2, 3, 4)),))]
