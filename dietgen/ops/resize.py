"""Resize along one axis (time, in the audio case): nearest or linear, with the usual coordinate transforms.

Python works out, at export time and in float32 arithmetic as onnxruntime does, which input positions (and,
for linear, which weights) feed every output position; the kernel only applies those tables.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dietgen.ir import Node, Time
from dietgen.ops.common import normalise_axis, split_at
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

_F = np.float32
_COORDINATES = ("half_pixel", "pytorch_half_pixel", "asymmetric", "align_corners")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


class Geometry(NamedTuple):
    outer: int
    lin: int
    lout: int
    inner: int
    scale: np.float32   # along the resized axis
    axis: int


class Tables(NamedTuple):
    left: np.ndarray    # input position of each output position (the only one for nearest)
    right: np.ndarray
    w_left: np.ndarray | None   # linear weights of left and right (float32)
    w_right: np.ndarray | None


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's roundf (numpy rounds halves to even)."""
    x = x.astype(np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _source_positions(mode: str, g: Geometry) -> np.ndarray:
    """The input coordinate of every output position, float32 throughout as in onnxruntime."""
    x = np.arange(g.lout, dtype=_F)
    if g.scale == 1:
        return x
    if mode == "align_corners":
        return np.zeros(g.lout, _F) if g.lout == 1 else x * _F(g.lin - 1) / _F(g.lout - 1)
    if mode == "asymmetric":
        return x / g.scale
    if mode == "pytorch_half_pixel" and g.lout == 1:
        return np.zeros(1, _F)
    return (x + _F(0.5)) / g.scale - _F(0.5)


def _nearest(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    rounded = _round_half_away(x)
    if mode == "round_prefer_floor":
        return np.where(x == np.trunc(x) + _F(0.5), np.floor(x), rounded)
    return rounded


@register
class Resize(OpSpec):
    op_type = "Resize"
    kernel = "resize"
    # cubic_coeff_a only matters in cubic mode and extrapolation_value in tf_crop_and_resize, both refused.
    attributes = {"antialias": 0, "axes": None, "coordinate_transformation_mode": "half_pixel",
                  "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0,
                  "keep_aspect_ratio_policy": "stretch", "mode": "nearest", "nearest_mode": "round_prefer_floor"}

    def check_attributes(self, node) -> None:
        a = node.attrs
        allowed = (("mode", ("nearest", "linear")), ("coordinate_transformation_mode", _COORDINATES),
                   ("antialias", (0,)), ("exclude_outside", (0,)))
        if a["mode"] == "nearest":
            allowed += (("nearest_mode", _NEAREST),)
        for key, values in allowed:
            if a[key] not in values:
                raise self.refuse(node, f"{key}={a[key]!r} is not supported; supported: "
                                        f"{', '.join(map(str, values))}")

    def axes(self, node, rank: int, count: int) -> list[int]:
        """The axes the scales or sizes input lists."""
        where = f"node {node.name!r} ({self.op_type})"
        axes = [normalise_axis(where, a, rank) for a in node.attrs["axes"]] if node.attrs["axes"] \
            else list(range(rank))
        if len(set(axes)) != len(axes) or count != len(axes):
            raise self.refuse(node, f"scales/sizes have {count} values for axes {axes}")
        return axes

    def geometry(self, node, shape: tuple[int, ...], values: list[np.ndarray | None]) -> Geometry:
        """values[i]: the value of input i, None when absent; roi only matters to tf_crop_and_resize."""
        scales, sizes = (values[i] if i < len(values) and values[i] is not None and values[i].size else None
                         for i in (2, 3))
        self.check_attributes(node)
        if not shape or 0 in shape:
            raise self.refuse(node, f"input shape {shape} should have at least one axis and no empty axis")
        factors, out = [_F(1)] * len(shape), list(shape)
        if (scales is None) == (sizes is None):
            raise self.refuse(node, "exactly one of scales (input 2) and sizes (input 3) must be given")
        if scales is not None:
            for a, s in zip(self.axes(node, len(shape), scales.size), scales.reshape(-1).astype(_F)):
                if not s > 0:
                    raise self.refuse(node, f"scale {s} should be positive")
                factors[a], out[a] = s, int(np.floor(s * _F(shape[a])))
        else:
            axes = self.axes(node, len(shape), sizes.size)
            if node.attrs["keep_aspect_ratio_policy"] != "stretch" and len(axes) > 1:
                raise self.refuse(node, f"keep_aspect_ratio_policy={node.attrs['keep_aspect_ratio_policy']!r} is "
                                        f"only supported with sizes for a single axis (see the axes attribute)")
            for a, n in zip(axes, sizes.reshape(-1)):
                factors[a], out[a] = _F(n) / _F(shape[a]), int(n)
        resized = [a for a, f in enumerate(factors) if f != 1]
        if len(resized) > 1:
            raise self.refuse(node, f"scales {[float(f) for f in factors]} resize more than one axis; only one "
                                    f"axis (time) can be resized, every other scale must be 1")
        axis = resized[0] if resized else len(shape) - 1
        if out[axis] < 1:
            raise self.refuse(node, f"the output of axis {axis} would be empty")
        outer, lin, inner = split_at(shape, axis)
        return Geometry(outer, lin, out[axis], inner, factors[axis], axis)

    def tables(self, node, g: Geometry) -> Tables:
        x = _source_positions(node.attrs["coordinate_transformation_mode"], g)
        top = g.lin - 1
        if node.attrs["mode"] == "nearest":
            idx = np.clip(_nearest(x, node.attrs["nearest_mode"]), 0, top).astype(np.int64)
            return Tables(idx, idx, None, None)
        x = np.clip(x, _F(0), _F(top))
        left = np.minimum(x.astype(np.int64), top)
        right = np.minimum(left + 1, top)
        same = left == right
        w_right = np.where(same, _F(0.5), np.abs(x - left.astype(_F)))
        w_left = np.where(same, _F(0.5), np.abs(x - right.astype(_F)))
        return Tables(left, right, w_left.astype(_F), w_right.astype(_F))

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        values = [None, None] + [self.require_const(node, inputs, i, ("scales", "sizes")[i - 2])
                                 if node.input(i) else None for i in (2, 3)]
        g = self.geometry(node, inputs[0].shape, values)
        out = list(inputs[0].shape)
        out[g.axis] = g.lout
        return [(tuple(out), inputs[0].dtype)]

    def reference(self, node, x):
        g = self.geometry(node, x[0].shape, list(x))
        t = self.tables(node, g)
        rows = x[0].reshape(g.outer, g.lin, g.inner)
        if node.attrs["mode"] == "nearest":
            y = rows[:, t.left]
        else:
            y = t.w_left[:, None] * rows[:, t.left] + t.w_right[:, None] * rows[:, t.right]
        out = list(x[0].shape)
        out[g.axis] = g.lout
        return [y.reshape(out).astype(x[0].dtype)]

    def cost(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        per = 2 if node.attrs["mode"] == "linear" else 0
        return Cost(per * y.size, graph.tensors[node.inputs[0]].nbytes, y.nbytes)

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        g = self.geometry(node, x.shape, [graph.const(name) for name in node.inputs])
        t = self.tables(node, g)
        head = (ctx.ptr(x.name), ctx.ptr(node.outputs[0]), str(g.outer), str(g.lin), str(g.lout), str(g.inner),
                ctx.table(t.left))
        if node.attrs["mode"] == "nearest":
            return [KernelCall("dg_resize_nearest", head)]
        return [KernelCall("dg_resize_linear", head + (ctx.table(t.right), ctx.table(t.w_left, "float"),
                                                       ctx.table(t.w_right, "float")))]

    def stream(self, node, s):
        """Upsampling time by a whole factor (frame rate -> sample rate): every output frame reads input frames at
        fixed offsets from its own, so the stream keeps the few frames before the block (and, where the offsets
        reach ahead, waits for them: latency)."""
        t = s.time[node.inputs[0]]
        x = s.offline.tensors[node.inputs[0]]
        g = self.geometry(node, x.shape, [s.offline.const(n) if n else None for n in node.inputs])
        if g.axis != t.axis:
            return NotImplemented
        factor = g.lout // g.lin
        if g.lout != factor * g.lin or factor < 1 or g.lin < 8:
            raise self.refuse(node, f"cannot stream: it resizes time {g.lin} -> {g.lout} frames; only upsampling "
                                    f"by a whole factor streams (export with at least 8 frames)")
        if t.lag > 0:
            raise self.refuse(node, f"cannot stream: its input is {t.lag} frames late (a lookahead before it) and "
                                    f"it clamps to the first frame; make the layers before it causal")
        tables = self.tables(node, g)
        base = np.arange(g.lout) // factor
        left, right = tables.left - base, tables.right - base
        # one period from the middle, where no clamping at either end applies; it must hold everywhere else
        mid = factor * (g.lin // 2)
        period = [a[mid:mid + factor] for a in (left, right)]
        inner = slice(factor, g.lout - 2 * factor)
        weights = [None if w is None else w[mid:mid + factor] for w in (tables.w_left, tables.w_right)]
        periodic = all(np.array_equal(a[inner], np.resize(p, a.size)[inner]) for a, p in zip((left, right), period))
        if weights[0] is not None:
            periodic &= all(np.array_equal(w[inner], np.resize(p, w.size)[inner])
                            for w, p in zip((tables.w_left, tables.w_right), weights))
        if not periodic:
            raise self.refuse(node, f"cannot stream: with coordinate_transformation_mode="
                                    f"{node.attrs['coordinate_transformation_mode']!r} each output frame depends on "
                                    f"the signal's whole length; use half_pixel or asymmetric")
        behind = max(0, -int(min(p.min() for p in period)))
        ahead = max(0, int(max(p.max() for p in period)))
        window = max(behind + ahead, 1)
        src = s.materialised(node.inputs[0])
        outer, _, inner_size = split_at(x.shape, t.axis)
        history = s.state("history", (outer * window * inner_size,))
        primed = s.state("primed", (1,), "int32")
        y = s.output(node.outputs[0], Time(t.axis, t.rate * factor, (max(t.lag, 0) + ahead) * factor, clean=False))
        consts = [s.constant(f"{node.name}::{n}", v) for n, v in
                  (("left", period[0].astype(np.int64)), ("right", period[1].astype(np.int64)))]
        if weights[0] is not None:
            consts += [s.constant(f"{node.name}::{n}", w.astype(np.float32))
                       for n, w in (("w_left", weights[0]), ("w_right", weights[1]))]
        s.emit(Node("ResizeStream", node.name, (src, history, primed, *consts), (y, history, primed),
                    {"axis": t.axis, "factor": factor, "window": window, "behind": window - ahead}, "dietgen"))

    def cases(self):
        def scales(*s):
            return np.array(s, dtype=np.float32)

        def sizes(*s):
            return np.array(s, dtype=np.int64)
        empty = np.zeros(0, dtype=np.float32)
        x = Rand((2, 3, 8))
        return [
            OpCase("nearest_x2", (x, None, scales(1, 1, 2))),
            OpCase("nearest_down_ceil", (Rand((2, 3, 12)), None, scales(1, 1, 0.5)),
                   {"nearest_mode": "round_prefer_ceil"}),
            OpCase("nearest_floor_asym", (x, None, scales(1, 1, 1.5)),
                   {"nearest_mode": "floor", "coordinate_transformation_mode": "asymmetric"}),
            OpCase("nearest_ceil_sizes", (x, empty, None, sizes(2, 3, 13)),
                   {"nearest_mode": "ceil", "coordinate_transformation_mode": "align_corners"}),
            OpCase("nearest_floor_down3", (Rand((1, 2, 13)), None, scales(1, 1, 1 / 3))),
            OpCase("linear_x4", (x, None, scales(1, 1, 4)), {"mode": "linear"}),
            OpCase("linear_pytorch_sizes", (x, empty, None, sizes(2, 3, 21)),
                   {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}),
            OpCase("linear_align_down", (Rand((2, 3, 17)), None, scales(1, 1, 0.4)),
                   {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
            OpCase("linear_asym_axes", (x, None, scales(2.5)),
                   {"mode": "linear", "coordinate_transformation_mode": "asymmetric", "axes": [-1]}),
            OpCase("linear_channels", (Rand((2, 5, 4)), None, scales(1, 2, 1)), {"mode": "linear"}),
            OpCase("linear_rank2_sizes_one", (Rand((3, 1)), empty, None, sizes(3, 6)), {"mode": "linear"}),
        ]


@register
class ResizeStream(OpSpec):
    """Upsampling along time one block at a time (the streaming pass makes it): the frames before the block are
    carried, the period's offsets and weights are constant tables."""
    op_type = "ResizeStream"
    cost_as = "Resize"
    domain = "dietgen"
    kernel = "resize"
    stream_only = True
    attributes = {"axis": 0, "factor": 1, "window": 0, "behind": 0}

    def infer(self, node, inputs):
        raise self.refuse(node, "made by the streaming pass only")

    def scratch(self, node, graph):
        outer, lin, inner = split_at(graph.tensors[node.inputs[0]].shape, node.attrs["axis"])
        return [(lin + node.attrs["window"]) * inner]

    def cost(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        return Cost(2 * y.size if len(node.inputs) > 5 else 0, graph.tensors[node.inputs[0]].nbytes, y.nbytes)

    def emit(self, node, graph, ctx):
        a = node.attrs
        outer, lin, inner = split_at(graph.tensors[node.inputs[0]].shape, a["axis"])
        left, right = (ctx.table(graph.const(n)) for n in node.inputs[3:5])
        weights = tuple(ctx.table(graph.const(n), "float") for n in node.inputs[5:7]) or ("NULL", "NULL")
        return [KernelCall("dg_resize_stream", (
            ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), ctx.ptr(node.inputs[1]), ctx.ptr(node.inputs[2]),
            ctx.scratch(node), *map(str, (outer, lin, inner, a["factor"], a["window"], a["behind"])),
            left, right, *weights))]
