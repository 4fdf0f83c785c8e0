"""Pad: constant, reflect and edge modes; constant pads (negative ones crop), value and axes.

Constant padding fills the output and copies the kept block into it; reflect and edge read the input through
one source-index table per axis (dg_gather).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dietgen.codegen.context import c_float
from dietgen.ops.common import strides_of
from dietgen.ir import Time
from dietgen.ops.registry import KernelCall, OpCase, Rand, register
from dietgen.ops.strided import (CopyOp, array_ints, const_ints, gather, i64, normalise_axes, offset,
                                 strided_copy)

_MODES = ("constant", "reflect", "edge")


class Geometry(NamedTuple):
    crop: list[tuple[int, int]]   # input elements dropped at (begin, end) of each axis
    pad: list[tuple[int, int]]    # elements added at (begin, end) of each axis, after cropping
    kept: tuple[int, ...]         # input shape after cropping


@register
class Pad(CopyOp):
    op_type = "Pad"
    attributes = {"mode": "constant"}

    def geometry(self, node, shape, pads: list[int] | None, axes: list[int] | None) -> Geometry:
        mode = node.attrs["mode"]
        if mode not in _MODES:
            raise self.refuse(node, f"mode {mode!r} is not supported (supported: {', '.join(_MODES)})")
        if pads is None:
            raise self.refuse(node, "the pads (input 1) are required")
        axes = normalise_axes(self, node, list(range(len(shape))) if axes is None else axes, len(shape))
        if len(pads) != 2 * len(axes):
            raise self.refuse(node, f"pads {pads} should hold a begin and an end for each of {len(axes)} axes")
        begin, end = [0] * len(shape), [0] * len(shape)
        for i, axis in enumerate(axes):
            begin[axis], end[axis] = pads[i], pads[i + len(axes)]
        crop = [(max(-b, 0), max(-e, 0)) for b, e in zip(begin, end)]
        kept = tuple(d - cb - ce for d, (cb, ce) in zip(shape, crop))
        if min(kept, default=0) < 0:
            raise self.refuse(node, f"pads {pads} crop more than the input {shape} holds")
        pad = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
        if mode != "constant":
            for d, (pb, pe), axis in zip(kept, pad, range(len(shape))):
                if (pb or pe) and (d == 0 or (mode == "reflect" and max(pb, pe) >= d)):
                    raise self.refuse(node, f"{mode} padding of ({pb}, {pe}) needs axis {axis} to be longer "
                                            f"(it has {d} elements)")
        return Geometry(crop, pad, kept)

    def tensor_geometry(self, node, inputs) -> Geometry:
        return self.geometry(node, inputs[0].shape, const_ints(self, node, inputs, 1, "the pads"),
                             const_ints(self, node, inputs, 3, "the axes"))

    def value(self, node, inputs) -> float:
        if len(inputs) < 3 or inputs[2] is None:
            return 0.0
        v = self.require_const(node, inputs, 2, "the constant value")
        if v.size != 1:
            raise self.refuse(node, f"the constant value should be a scalar, got shape {v.shape}")
        return float(v.reshape(()))

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        geo = self.tensor_geometry(node, inputs)
        self.value(node, inputs)
        shape = tuple(d + pb + pe for d, (pb, pe) in zip(geo.kept, geo.pad))
        return self.checked(node, inputs, [(shape, inputs[0].dtype)])

    def reference(self, node, x):
        geo = self.geometry(node, x[0].shape, array_ints(x, 1), array_ints(x, 3))
        kept = x[0][tuple(slice(cb, d - ce) for d, (cb, ce) in zip(x[0].shape, geo.crop))]
        mode = node.attrs["mode"]
        if mode == "constant":
            value = x[2].reshape(()) if len(x) > 2 and x[2] is not None else 0
            return [np.pad(kept, geo.pad, mode="constant", constant_values=value)]
        return [np.pad(kept, geo.pad, mode=mode)]

    def emit(self, node, graph, ctx):
        inputs = [graph.tensors[n] if n else None for n in node.inputs]
        x, y = inputs[0], graph.tensors[node.outputs[0]]
        geo = self.tensor_geometry(node, inputs)
        src, dst = ctx.ptr(x.name), ctx.ptr(y.name)
        if node.attrs["mode"] != "constant":
            maps = [np.pad(np.arange(cb, d - ce), p, mode=node.attrs["mode"])
                    for d, (cb, ce), p in zip(x.shape, geo.crop, geo.pad)]
            return [gather(ctx, src, dst, maps, x.shape)]
        calls = []
        if any(pb or pe for pb, pe in geo.pad):
            calls.append(KernelCall("dg_fill", (dst, str(y.size), c_float(self.value(node, inputs)))))
        if 0 not in geo.kept:
            first_in = sum(cb * s for (cb, _), s in zip(geo.crop, strides_of(x.shape)))
            first_out = sum(pb * s for (pb, _), s in zip(geo.pad, strides_of(y.shape)))
            calls.append(strided_copy(ctx, offset(src, first_in), offset(dst, first_out), geo.kept,
                                      strides_of(x.shape), strides_of(y.shape)))
        return calls

    def stream(self, node, s):
        """Zeros added before the signal cost nothing in a stream: they are the lag going down (the readers'
        state starts as zeros); a crop at the start is the lag going up; what happens at the end never comes."""
        t = s.time[node.inputs[0]]
        inputs = [s.offline.tensors[n] if n else None for n in node.inputs]
        geo = self.tensor_geometry(node, inputs)
        (cb, _), (pb, _) = geo.crop[t.axis], geo.pad[t.axis]
        if node.attrs["mode"] != "constant" and pb:
            raise self.refuse(node, f"cannot stream: {node.attrs['mode']} padding along time needs frames the "
                                    f"stream has not seen; pad with zeros")
        if pb and self.value(node, inputs) != 0:
            raise self.refuse(node, "cannot stream: it pads time with a nonzero value; pad with zeros")
        src = s.zero_prehistory(node.inputs[0]) if pb else s.name(node.inputs[0])
        shifted = Time(t.axis, t.rate, t.lag + cb - pb, t.clean or bool(pb))
        others = [(i, c, p) for i, (c, p) in enumerate(zip(geo.crop, geo.pad)) if i != t.axis and (any(c) or any(p))]
        if not others:
            return s.alias(node.outputs[0], src, shifted)
        begin = [p[0] - c[0] if i != t.axis else 0 for i, (c, p) in enumerate(zip(geo.crop, geo.pad))]
        end = [p[1] - c[1] if i != t.axis else 0 for i, (c, p) in enumerate(zip(geo.crop, geo.pad))]
        pads = s.constant(f"{node.name}::pads", np.array(begin + end, np.int64))
        s.output(node.outputs[0], shifted)
        s.emit(node.with_(inputs=(src, pads, *node.inputs[2:3])))

    def cases(self):
        return [
            OpCase("causal_zeros", (Rand((1, 3, 8)), i64(0, 0, 4, 0, 0, 0))),
            OpCase("value_both_ends", (Rand((2, 3, 5)), i64(1, 0, 2, 0, 2, 1), np.float32(0.5))),
            OpCase("crop_and_pad", (Rand((2, 4, 9)), i64(0, -1, 3, 0, 2, -2))),
            OpCase("axes_neg", (Rand((2, 3, 6)), i64(2, 1), np.float32(-1.0), i64(-1))),
            OpCase("reflect", (Rand((1, 2, 7)), i64(0, 0, 3, 0, 0, 2)), {"mode": "reflect"}),
            OpCase("reflect_2axes", (Rand((2, 4, 5)), i64(1, 2, 1, 3), None, i64(1, 2)),
                   {"mode": "reflect"}),
            OpCase("edge", (Rand((2, 3, 6)), i64(0, 1, 2, 0, 0, 4)), {"mode": "edge"}),
            OpCase("edge_crop", (Rand((2, 6)), i64(0, -2, 0, 3)), {"mode": "edge"}),
        ]
