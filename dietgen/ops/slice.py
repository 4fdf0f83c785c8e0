"""Slice: constant starts, ends, axes and steps (negative, clamped, reversed); one strided copy."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import strides_of
from dietgen.ir import Time
from dietgen.ops.registry import OpCase, Rand, register
from dietgen.ops.strided import CopyOp, array_ints, const_ints, i64, normalise_axes, offset, strided_copy


def _clamp(v: int, low: int, high: int) -> int:
    return min(max(v, low), high)


@register
class Slice(CopyOp):
    op_type = "Slice"

    def geometry(self, node, shape, starts, ends, axes, steps) -> list[tuple[int, int, int]]:
        """(first index, step, length) of every axis, with ONNX's negative-index and clamping rules."""
        if starts is None or ends is None:
            raise self.refuse(node, "starts and ends (inputs 1 and 2) are required")
        axes = normalise_axes(self, node, list(range(len(starts))) if axes is None else axes, len(shape))
        steps = [1] * len(starts) if steps is None else steps
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise self.refuse(node, f"starts {starts}, ends {ends}, axes and steps {steps} differ in length")
        geo = [(0, 1, d) for d in shape]
        for start, end, axis, step in zip(starts, ends, axes, steps):
            dim = shape[axis]
            if step == 0:
                raise self.refuse(node, f"step 0 on axis {axis}")
            start += dim if start < 0 else 0
            end += dim if end < 0 else 0
            if step > 0:
                start, end = _clamp(start, 0, dim), _clamp(end, 0, dim)
            else:
                start, end = _clamp(start, 0, dim - 1), _clamp(end, -1, dim - 1)
            geo[axis] = (start, step, max(0, -(-(end - start) // step)))
        return geo

    def tensor_geometry(self, node, inputs):
        args = [const_ints(self, node, inputs, i, what) for i, what in
                ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))]
        return self.geometry(node, inputs[0].shape, *args)

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        geo = self.tensor_geometry(node, inputs)
        return self.checked(node, inputs, [(tuple(n for _, _, n in geo), inputs[0].dtype)])

    def reference(self, node, x):
        args = [array_ints(x, i) for i in range(1, 5)]
        y = x[0]
        for axis, (start, step, n) in enumerate(self.geometry(node, y.shape, *args)):
            y = np.take(y, start + step * np.arange(n, dtype=np.int64), axis=axis)
        return [y]

    def emit(self, node, graph, ctx):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        geo = self.tensor_geometry(node, [graph.tensors[n] if n else None for n in node.inputs])
        strides = strides_of(x.shape)
        first = sum(start * s for (start, _, _), s in zip(geo, strides))
        return [strided_copy(ctx, offset(ctx.ptr(x.name), first), ctx.ptr(y.name), y.shape,
                             [step * s for (_, step, _), s in zip(geo, strides)])]

    def stream(self, node, s):
        """A crop along time starting at frame k is the lag going up by k; its end never comes in a stream."""
        t = s.time[node.inputs[0]]
        x = s.offline.tensors[node.inputs[0]]
        args = [s.offline.const(n) if n else None for n in node.inputs[1:5]]
        ints = [None if a is None else [int(v) for v in a.reshape(-1)] for a in args] + [None] * (4 - len(args))
        starts, ends, axes, steps = ints
        axes = normalise_axes(self, node, list(range(len(starts))) if axes is None else axes, len(x.shape))
        if t.axis not in axes:
            return NotImplemented
        geo = self.geometry(node, x.shape, starts, ends, axes, steps)
        start, step, _ = geo[t.axis]
        if step != 1:
            raise self.refuse(node, f"cannot stream: it takes every {step}th frame along time; use a strided "
                                    f"convolution or a pooling layer")
        shifted = Time(t.axis, t.rate, t.lag + start, t.clean)
        keep = [i for i, a in enumerate(axes) if a != t.axis]
        if not keep:
            return s.alias(node.outputs[0], s.name(node.inputs[0]), shifted)
        pick = [s.constant(f"{node.name}::{what}", np.array([vals[i] for i in keep], np.int64))
                for what, vals in (("starts", starts), ("ends", ends), ("axes", axes),
                                   ("steps", steps or [1] * len(axes)))]
        s.output(node.outputs[0], shifted)
        s.emit(node.with_(inputs=(s.name(node.inputs[0]), *pick)))

    def cases(self):
        big = np.iinfo(np.int64).max
        return [
            OpCase("last_axis", (Rand((2, 3, 10)), i64(2), i64(7), i64(-1))),
            OpCase("default_axes", (Rand((4, 6)), i64(1, 2), i64(3, 5))),
            OpCase("negative_idx", (Rand((3, 8)), i64(-6), i64(-1), i64(1))),
            OpCase("clamped_end", (Rand((2, 9)), i64(3), i64(big), i64(1))),
            OpCase("step2", (Rand((2, 3, 11)), i64(1, 0), i64(10, 3), i64(2, 1), i64(3, 2))),
            OpCase("reverse", (Rand((2, 7)), i64(-1), i64(-big), i64(1), i64(-1))),
            OpCase("reverse_step2", (Rand((3, 4, 9)), i64(7, 3), i64(0, 0), i64(-1, 1), i64(-2, -1))),
            OpCase("middle_axis", (Rand((2, 5, 3)), i64(1), i64(4), i64(-2))),
        ]
