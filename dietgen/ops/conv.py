"""Conv and ConvTranspose in 1-D (the audio case): stride, dilation, groups, pads, output_padding."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dietgen.ir import Node, Time
from dietgen.ops.common import pack_panels, unpacked
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

_CONV_ATTRS = {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None, "pads": None,
               "strides": None}


# Frames per dg_panel_gemm call (a tile): a multiple of the kernel's columns per weight pass (DG_MR, 2 or 4), so
# only a block's last tile has a remainder. A tile's scratch holds its frames' taps (and a ConvTranspose's
# products). Every layer may take up to TILE_FRAMES frames within TILE_FLOATS (4 KB), which a microcontroller's
# step affords; a layer that reads and writes more than 8 times that (a wide layer over a long window, on a host
# or a Pi) may take up to WIDE_TILE_FRAMES within an eighth of those floats, so its arena grows by an eighth at
# most. Each pass streams every weight from the cache once: conv128 (128 channels, 3 taps, 512 frames) went from
# 19 % of the FMA peak with 2-frame tiles to 38-41 % with 32-frame ones (48 KB).
TILE_FRAMES = 8
TILE_FLOATS = 1024
WIDE_TILE_FRAMES = 32
TILE_SHARE = 8


def tile_frames(frames: int, floats_per_frame: int, data_floats: int) -> int:
    """Frames per tile for a layer of ``frames`` frames whose tile takes ``floats_per_frame`` floats of scratch
    per frame and which reads and writes ``data_floats`` floats."""
    per = max(1, floats_per_frame)
    fit = max(1, min(TILE_FRAMES, TILE_FLOATS // per), min(WIDE_TILE_FRAMES, data_floats // TILE_SHARE // per))
    tile = fit // 4 * 4 if fit >= 4 else min(fit, 2)
    return min(frames, tile)


# Taps a one-frame streamed conv multiplies in place, each where it is kept (DG_CONV_RUNS in
# firmware/include/dietgen/conv.h: the kernel's array of their addresses); wider kernels gather.
IN_PLACE_TAPS = 16


def pack_conv(w: np.ndarray, groups: int) -> np.ndarray:
    """Conv weight (cout, cin/groups, k) as dg_conv1d reads it: per group, rows = its output channels, tap j of
    input channel i at column j*cin_g + i (the order the taps are gathered in), packed in panels."""
    cout_g = w.shape[0] // groups
    return np.concatenate([pack_panels(w[g * cout_g:(g + 1) * cout_g].transpose(0, 2, 1).reshape(cout_g, -1))
                           for g in range(groups)])


def pack_conv_transpose(w: np.ndarray, groups: int) -> np.ndarray:
    """ConvTranspose weight (cin, cout/groups, k) as dg_conv_transpose1d reads it: per group, row o*k + j holds
    tap j of output channel o against the group's cin/groups input channels, packed in panels."""
    cin_g, cout_g, k = w.shape[0] // groups, w.shape[1], w.shape[2]
    return np.concatenate([pack_panels(w[g * cin_g:(g + 1) * cin_g].transpose(1, 2, 0).reshape(cout_g * k, cin_g))
                           for g in range(groups)])


def pack_conv_taps(w: np.ndarray, groups: int) -> np.ndarray:
    """Conv weight (cout, cin/groups, k) as dg_conv1d_stream reads it for a one-frame step: per group, per tap j,
    the (cout/groups, cin/groups) matrix of tap j packed in panels (each tap multiplies its frame in place)."""
    cout_g = w.shape[0] // groups
    return np.concatenate([pack_panels(w[g * cout_g:(g + 1) * cout_g, :, j])
                           for g in range(groups) for j in range(w.shape[2])])


def packed_weight(ctx, transposed: bool, name: str, groups: int, by_tap: bool = False) -> str:
    """The flash symbol of weight ``name`` packed for its kernel (offline and streamed share it; ``by_tap``: the
    one-frame streamed conv's layout)."""
    if transposed:
        return ctx.derived_weight(name, f"tconv_g{groups}", lambda w: pack_conv_transpose(w, groups))
    if by_tap:
        return ctx.derived_weight(name, f"conv_taps_g{groups}", lambda w: pack_conv_taps(w, groups))
    return ctx.derived_weight(name, f"conv_g{groups}", lambda w: pack_conv(w, groups))


class Tiling(NamedTuple):
    tile: int   # frames per dg_panel_gemm call
    col: int    # floats of the tile's columns (0: none, the input is read in place)
    z: int      # floats of a ConvTranspose tile's products (0 for Conv)
    parts: int = 1  # panel products per tile: a one-frame streamed conv runs one per tap, in place

    def scratch(self) -> list[int]:
        return [size for size in (self.col, self.z) if size]

    def moved(self, frames: int, runs: int) -> int:
        """Floats gathered into columns and products added from z over ``frames`` frames, ``runs`` times (batch
        x groups)."""
        return runs * frames * (self.col + self.z) // self.tile

    def products(self, frames: int, runs: int) -> int:
        """Panel products over ``frames`` frames, ``runs`` times: ``parts`` per tile."""
        return runs * -(-frames // self.tile) * self.parts

    def args(self, node, ctx) -> tuple[str, ...]:
        """The kernel's col (NULL when it needs none) and, for ConvTranspose, z."""
        col = ctx.scratch(node, 0) if self.col else "NULL"
        return (col, ctx.scratch(node, 1 if self.col else 0)) if self.z else (col,)


def tiling(transposed: bool, frames: int, cin_g: int, cout_g: int, k: int, in_place: bool,
           data_floats: int) -> Tiling:
    """Conv gathers a tile's taps into columns; ConvTranspose lays out a tile's input frames as columns and keeps
    their products before adding them into the output. ``in_place``: the kernel reads its one input frame as the
    column (dg_conv1d: a 1x1 conv of one unpadded frame; dg_conv1d_stream: one frame, each tap where it is kept,
    k products; dg_conv_transpose1d*: one input frame)."""
    if transposed:
        tile = tile_frames(frames, cin_g + cout_g * k, data_floats)
        return Tiling(tile, 0 if in_place else tile * cin_g, tile * cout_g * k)
    tile = tile_frames(frames, cin_g * k, data_floats)
    return Tiling(tile, 0, 0, k) if in_place else Tiling(tile, tile * cin_g * k, 0)


class Geometry(NamedTuple):
    n: int
    cin: int
    lin: int
    cout: int
    lout: int
    k: int
    stride: int
    dilation: int
    pad: int      # implicit zeros before the first input frame (conv) / output frames cropped (transpose)
    groups: int


class _Conv1d(OpSpec):
    kernel = "conv"
    flash_inputs = (1, 2)
    fuses_activation = True
    c_function: str

    def geometry(self, node, x_shape, w_shape) -> Geometry:
        raise NotImplementedError

    def _common(self, node, x_shape, w_shape):
        if len(x_shape) != 3 or len(w_shape) != 3:
            raise self.refuse(node, f"only 1-D convolutions (rank-3 input and weight) are supported, got input "
                                    f"{x_shape} and weight {w_shape}")
        a = node.attrs
        stride = (a["strides"] or (1,))[0]
        dilation = (a["dilations"] or (1,))[0]
        k = w_shape[2]
        if a["kernel_shape"] not in (None, (k,)):
            raise self.refuse(node, f"kernel_shape {a['kernel_shape']} does not match the weight {w_shape}")
        if min(stride, dilation, a["group"]) < 1:
            raise self.refuse(node, "strides, dilations and group must be positive")
        return k, stride, dilation, a["group"]

    def pads(self, node, total: int, mode: str | None = None) -> tuple[int, int]:
        """(begin, end) padding; ``total`` is what SAME padding must add."""
        mode = mode or node.attrs["auto_pad"]
        if mode == "NOTSET":
            pads = node.attrs["pads"] or (0, 0)
            if len(pads) != 2 or min(pads) < 0:
                raise self.refuse(node, f"pads {pads} should be two non-negative numbers for a 1-D op")
            return pads[0], pads[1]
        if mode == "VALID":
            return 0, 0
        if mode in ("SAME_UPPER", "SAME_LOWER"):
            total = max(total, 0)
            small = total // 2
            return (small, total - small) if mode == "SAME_UPPER" else (total - small, small)
        raise self.refuse(node, f"auto_pad {mode!r} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        self.require_const(node, inputs, 1, "the weight")
        g = self.geometry(node, inputs[0].shape, inputs[1].shape)
        if len(inputs) > 2 and inputs[2] is not None:
            self.require_const(node, inputs, 2, "the bias")
            if inputs[2].shape != (g.cout,):
                raise self.refuse(node, f"bias shape {inputs[2].shape} should be ({g.cout},)")
        return [((g.n, g.cout, g.lout), "float32")]

    def cost(self, node, graph):
        x, w, y = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]], graph.tensors[node.outputs[0]]
        g = self.geometry(node, x.shape, w.shape)
        # every (input frame or output frame) x weight pair is one MAC
        frames = g.lout if self.op_type == "Conv" else g.lin
        b = graph.tensors[node.inputs[2]].nbytes if node.input(2) else 0
        t = self.tiling(node, graph)[1]
        macs = g.n * w.size * frames
        rows = g.cout // g.groups * (g.k if self.op_type == "ConvTranspose" else 1)
        return Cost(macs, x.nbytes + w.nbytes + b, y.nbytes, t.moved(frames, g.n * g.groups),
                    products=t.products(frames, g.n * g.groups), **unpacked(macs, rows, frames * g.n * g.groups))

    def tiling(self, node, graph) -> tuple[Geometry, Tiling]:
        x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        g = self.geometry(node, x.shape, w.shape)
        data = g.n * (g.cin * g.lin + g.cout * g.lout)
        if self.op_type == "ConvTranspose":
            return g, tiling(True, g.lin, g.cin // g.groups, g.cout // g.groups, g.k, g.lin == 1, data)
        if g.lin == 1 and g.lout == 1 and g.k == 1 and g.pad == 0:     # dg_conv1d's own test
            return g, Tiling(1, 0, 0)
        return g, tiling(False, g.lout, g.cin // g.groups, g.cout // g.groups, g.k, False, data)

    def scratch(self, node, graph):
        return self.tiling(node, graph)[1].scratch()

    def emit(self, node, graph, ctx):
        g, t = self.tiling(node, graph)
        bias = ctx.ptr(node.inputs[2]) if node.input(2) else "NULL"
        w = packed_weight(ctx, self.op_type == "ConvTranspose", node.inputs[1], g.groups)
        return [KernelCall(self.c_function, (ctx.ptr(node.inputs[0]), w, bias, ctx.ptr(node.outputs[0]),
                                             *t.args(node, ctx), *map(str, g), str(t.tile), ctx.fn(node)))]

    # -- streaming --------------------------------------------------------------------------------
    def stream_checks(self, node, s) -> tuple[Time, Geometry]:
        t = s.time[node.inputs[0]]
        if t.axis != 2:
            raise self.refuse(node, f"cannot stream: time runs along axis {t.axis} of its input, not the "
                                    f"convolution's axis 2")
        if any(s.time.get(n) is not None for n in node.inputs[1:] if n):
            raise self.refuse(node, "cannot stream: its weight or bias changes with time")
        x, w = s.offline.tensors[node.inputs[0]], s.offline.tensors[node.inputs[1]]
        return t, self.geometry(node, x.shape, w.shape)

    def stream_attrs(self, node, g: Geometry, **extra) -> dict:
        attrs = {"k": g.k, "stride": g.stride, "dilation": g.dilation, "groups": g.groups, **extra}
        return {**attrs, "_fn": node.attrs["_fn"]} if "_fn" in node.attrs else attrs


def _weight(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, shape).astype(np.float32)


@register
class Conv(_Conv1d):
    op_type = "Conv"
    attributes = _CONV_ATTRS
    c_function = "dg_conv1d"

    def geometry(self, node, x_shape, w_shape):
        k, stride, dilation, groups = self._common(node, x_shape, w_shape)
        n, cin, lin = x_shape
        cout = w_shape[0]
        if cin % groups or cout % groups or w_shape[1] * groups != cin:
            raise self.refuse(node, f"group={groups} does not fit input channels {cin} and weight {w_shape}")
        span = dilation * (k - 1) + 1
        pb, pe = self.pads(node, (-(-lin // stride) - 1) * stride + span - lin)
        lout = (lin + pb + pe - span) // stride + 1
        if lout < 1:
            raise self.refuse(node, f"input length {lin} (padded {lin + pb + pe}) is shorter than the kernel "
                                    f"span {span}")
        return Geometry(n, cin, lin, cout, lout, k, stride, dilation, pb, groups)

    def reference(self, node, x):
        inp, w = x[0], x[1]
        g = self.geometry(node, inp.shape, w.shape)
        xp = np.pad(inp, ((0, 0), (0, 0), (g.pad, max(0, (g.lout - 1) * g.stride + g.dilation * (g.k - 1) + 1
                                                          - g.lin - g.pad))))
        cin_g, cout_g = g.cin // g.groups, g.cout // g.groups
        y = np.zeros((g.n, g.cout, g.lout), np.float32)
        for grp in range(g.groups):
            xs = xp[:, grp * cin_g:(grp + 1) * cin_g]
            win = np.stack([xs[:, :, j * g.dilation: j * g.dilation + g.stride * (g.lout - 1) + 1: g.stride]
                            for j in range(g.k)], axis=2)
            y[:, grp * cout_g:(grp + 1) * cout_g] = np.einsum("nckt,ock->not", win,
                                                              w[grp * cout_g:(grp + 1) * cout_g])
        if len(x) > 2 and x[2] is not None:
            y += x[2][None, :, None]
        return [y]

    def stream(self, node, s):
        """A ring buffer of the (k-1)*dilation frames before the block, read in place through a moving index.
        Whatever padding the offline model had, the stream computes each output as soon as its last input frame
        arrives: padding on the left becomes the ring's initial zeros, padding on the right (lookahead) becomes
        lag, which the pass turns into latency and matching delays on the other branches."""
        t, g = self.stream_checks(node, s)
        span = g.dilation * (g.k - 1)
        if span == 0 and g.stride == 1 and g.pad == 0:
            return NotImplemented       # pointwise: runs on the block as it is
        src = s.zero_prehistory(node.inputs[0])
        phase = (span + t.lag - g.pad) % g.stride
        y = s.output(node.outputs[0], Time(2, t.rate / g.stride, (span + t.lag - g.pad - phase) // g.stride,
                                           clean=False))
        ring = s.state("ring", (g.n * g.cin * span,)) if span else ""
        pos = s.state("pos", (1,), "int32") if span else ""
        s.emit(Node("ConvStream", node.name, (src, node.inputs[1], node.input(2), ring, pos), (y, ring, pos),
                    self.stream_attrs(node, g, phase=phase), "dietgen"))

    def cases(self):
        return [
            OpCase("k3", (Rand((1, 4, 20)), _weight(6, 4, 3), _weight(6, seed=1))),
            OpCase("k2_d4_causal", (Rand((1, 3, 24)), _weight(5, 3, 2), _weight(5, seed=1)),
                   {"dilations": (4,), "pads": (4, 0)}),
            OpCase("stride2_pads", (Rand((2, 4, 17)), _weight(3, 4, 5), None),
                   {"strides": (2,), "pads": (2, 1)}),
            OpCase("groups2", (Rand((1, 4, 12)), _weight(6, 2, 3), _weight(6, seed=1)), {"group": 2}),
            OpCase("depthwise", (Rand((1, 5, 16)), _weight(5, 1, 3), _weight(5, seed=1)),
                   {"group": 5, "dilations": (2,), "pads": (2, 2)}),
            OpCase("same_upper", (Rand((1, 2, 15)), _weight(3, 2, 4), None),
                   {"auto_pad": "SAME_UPPER", "strides": (2,)}),
            OpCase("pointwise", (Rand((1, 8, 10)), _weight(4, 8, 1), _weight(4, seed=1))),
            # blocking remainders: output channels around the 8-row panels, frames around the 8-frame tile and
            # the 2- or 4-column passes, taps reaching into the padding
            OpCase("o17_i3_t17", (Rand((1, 3, 19)), _weight(17, 3, 3), _weight(17, seed=1))),
            OpCase("o1_i17_k1_t5", (Rand((1, 17, 5)), _weight(1, 17, 1), _weight(1, seed=1))),
            OpCase("o5_d5_s2_t5", (Rand((1, 3, 9)), _weight(5, 3, 3), None), {"dilations": (5,), "pads": (10, 0),
                                                                              "strides": (2,)}),
            OpCase("o24_i17_d2_s3_t3", (Rand((2, 17, 11)), _weight(24, 17, 3), _weight(24, seed=1)),
                   {"dilations": (2,), "strides": (3,)}),
            OpCase("o8_t1", (Rand((1, 3, 3)), _weight(8, 3, 3), _weight(8, seed=1))),
            # rows around the x86 port's three panels at once (24 rows), frames past its 4-column passes
            OpCase("o49_i5_t11", (Rand((1, 5, 11)), _weight(49, 5, 3), _weight(49, seed=1)), {"pads": (1, 1)}),
            OpCase("o24_i17_k1_t1_in_place", (Rand((2, 17, 1)), _weight(24, 17, 1), _weight(24, seed=1))),
            OpCase("groups2_o24_t5", (Rand((1, 6, 5)), _weight(24, 3, 3), _weight(24, seed=1)),
                   {"group": 2, "dilations": (2,), "pads": (2, 2)}),
            OpCase("depthwise_c17_t17", (Rand((1, 17, 17)), _weight(17, 1, 3), _weight(17, seed=1)),
                   {"group": 17, "pads": (1, 1)}),
            OpCase("depthwise_x8_s2_t5", (Rand((1, 3, 10)), _weight(24, 1, 3), None),
                   {"group": 3, "strides": (2,), "pads": (1, 1)}),
        ]


@register
class ConvTranspose(_Conv1d):
    op_type = "ConvTranspose"
    attributes = {**_CONV_ATTRS, "output_padding": None, "output_shape": None}
    c_function = "dg_conv_transpose1d"

    def geometry(self, node, x_shape, w_shape):
        k, stride, dilation, groups = self._common(node, x_shape, w_shape)
        n, cin, lin = x_shape
        if w_shape[0] != cin or cin % groups:
            raise self.refuse(node, f"weight {w_shape} does not match {cin} input channels with group={groups}")
        out_pad = (node.attrs["output_padding"] or (0,))[0]
        if not 0 <= out_pad < max(stride, dilation):
            raise self.refuse(node, f"output_padding {out_pad} must be below the stride or the dilation")
        full = stride * (lin - 1) + out_pad + (k - 1) * dilation + 1
        if node.attrs["output_shape"]:
            mode = "SAME_UPPER" if node.attrs["auto_pad"] == "NOTSET" else None
            pb, pe = self.pads(node, full - node.attrs["output_shape"][-1], mode)
        else:
            pb, pe = self.pads(node, full - lin * stride)
        lout = full - pb - pe
        if lout < 1:
            raise self.refuse(node, f"pads ({pb}, {pe}) leave no output")
        return Geometry(n, cin, lin, w_shape[1] * groups, lout, k, stride, dilation, pb, groups)

    def reference(self, node, x):
        inp, w = x[0], x[1]
        g = self.geometry(node, inp.shape, w.shape)
        cin_g, cout_g = g.cin // g.groups, g.cout // g.groups
        full = np.zeros((g.n, g.cout, g.stride * (g.lin - 1) + (g.k - 1) * g.dilation + 1 + g.lout), np.float32)
        for grp in range(g.groups):
            contrib = np.einsum("nct,cok->notk", inp[:, grp * cin_g:(grp + 1) * cin_g],
                                w[grp * cin_g:(grp + 1) * cin_g])
            for j in range(g.k):
                start = j * g.dilation
                full[:, grp * cout_g:(grp + 1) * cout_g, start:start + g.stride * (g.lin - 1) + 1:g.stride] \
                    += contrib[..., j]
        y = full[:, :, g.pad:g.pad + g.lout]
        if len(x) > 2 and x[2] is not None:
            y = y + x[2][None, :, None]
        return [np.ascontiguousarray(y, dtype=np.float32)]

    def stream(self, node, s):
        """Each block's frames are spread over stride * block output frames plus an overlap that reaches into
        the next block: the overlap-add tail is carried. The offline crop of ``pad`` frames becomes lag."""
        t, g = self.stream_checks(node, s)
        src, lag = s.from_start(node.inputs[0])
        tail = max(0, (g.k - 1) * g.dilation + 1 - g.stride)
        y = s.output(node.outputs[0], Time(2, t.rate * g.stride, lag * g.stride + g.pad, clean=False))
        state = s.state("tail", (g.n * g.cout * tail,)) if tail else ""
        s.emit(Node("ConvTransposeStream", node.name, (src, node.inputs[1], node.input(2), state), (y, state),
                    self.stream_attrs(node, g, tail=tail), "dietgen"))

    def cases(self):
        return [
            OpCase("s2_k4_p1", (Rand((1, 4, 8)), _weight(4, 3, 4), _weight(3, seed=1)),
                   {"strides": (2,), "pads": (1, 1)}),
            OpCase("sing_like_k16_s4", (Rand((1, 3, 6)), _weight(3, 2, 16), _weight(2, seed=1)),
                   {"strides": (4,), "pads": (6, 6)}),
            OpCase("outpad_dil", (Rand((2, 2, 5)), _weight(2, 3, 3), None),
                   {"strides": (3,), "dilations": (2,), "output_padding": (1,)}),
            OpCase("groups", (Rand((1, 4, 6)), _weight(4, 1, 3), _weight(4, seed=1)),
                   {"group": 4, "strides": (2,)}),
            # blocking remainders: rows (taps x output channels) around the panels, frames around the tile
            OpCase("o17_i3_s2_t17", (Rand((1, 3, 17)), _weight(3, 17, 3), _weight(17, seed=1)),
                   {"strides": (2,), "pads": (1, 2)}),
            OpCase("o1_i17_k1_s3_t5", (Rand((2, 17, 5)), _weight(17, 1, 1), None), {"strides": (3,)}),
            OpCase("groups2_o6_i34_d5_t3", (Rand((1, 34, 3)), _weight(34, 3, 3), _weight(6, seed=1)),
                   {"group": 2, "dilations": (5,), "pads": (3, 2)}),
            OpCase("depthwise_s2_d2_t5", (Rand((1, 5, 5)), _weight(5, 1, 3), _weight(5, seed=1)),
                   {"group": 5, "strides": (2,), "dilations": (2,), "pads": (1, 0)}),
            OpCase("o24_s3_t1", (Rand((1, 3, 1)), _weight(3, 8, 3), _weight(24, seed=1)),
                   {"group": 3, "strides": (3,)}),
        ]


class _ConvStep(OpSpec):
    """The streaming pass's conv nodes: shapes come from the step graph, geometry from the attributes."""
    domain = "dietgen"
    kernel = "conv"
    flash_inputs = (1, 2)
    stream_only = True

    def infer(self, node, inputs):
        raise self.refuse(node, "made by the streaming pass only")

    def dims(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return x.shape[0], x.shape[1], x.shape[2], y.shape[1], y.shape[2]

    def cost(self, node, graph):
        w = graph.tensors[node.inputs[1]]
        n, cin, lin, cout, lout = self.dims(node, graph)
        frames = lout if self.op_type == "ConvStream" else lin
        b = graph.tensors[node.inputs[2]].nbytes if node.input(2) else 0
        a, t = node.attrs, self.tiling(node, graph)
        macs = n * w.size * frames
        rows = cout // a["groups"] * (a["k"] if self.op_type == "ConvTransposeStream" else 1)
        return Cost(macs, graph.tensors[node.inputs[0]].nbytes + w.nbytes + b,
                    graph.tensors[node.outputs[0]].nbytes, t.moved(frames, n * a["groups"]),
                    products=t.products(frames, n * a["groups"]), **unpacked(macs, rows, frames * n * a["groups"]))

    def one_frame_in_place(self, node, graph) -> bool:
        """dg_conv1d_stream's one-frame step: each tap multiplied where it is kept (weights packed tap by tap)."""
        _, _, lin, _, lout = self.dims(node, graph)
        return self.op_type == "ConvStream" and lin == 1 and lout == 1 and node.attrs["k"] <= IN_PLACE_TAPS

    def tiling(self, node, graph) -> Tiling:
        n, cin, lin, cout, lout = self.dims(node, graph)
        a = node.attrs
        transposed = self.op_type == "ConvTransposeStream"
        in_place = (transposed and lin == 1) or self.one_frame_in_place(node, graph)
        return tiling(transposed, lin if transposed else lout, cin // a["groups"], cout // a["groups"], a["k"],
                      in_place, n * (cin * lin + cout * lout))

    def scratch(self, node, graph):
        return self.tiling(node, graph).scratch()

    def args(self, node, graph, ctx) -> tuple[str, ...]:
        """x, the packed weight, bias, y, then the state tensors (NULL where absent)."""
        w = packed_weight(ctx, self.op_type == "ConvTransposeStream", node.inputs[1], node.attrs["groups"],
                          by_tap=self.one_frame_in_place(node, graph))
        bias = ctx.ptr(node.inputs[2]) if node.input(2) else "NULL"
        states = (ctx.ptr(name) if name else "NULL" for name in node.inputs[3:])
        return (ctx.ptr(node.inputs[0]), w, bias, ctx.ptr(node.outputs[0]), *states)


@register
class ConvStream(_ConvStep):
    op_type = "ConvStream"
    cost_as = "Conv"
    attributes = {"k": 1, "stride": 1, "dilation": 1, "groups": 1, "phase": 0}

    def emit(self, node, graph, ctx):
        a = node.attrs
        n, cin, lin, cout, lout = self.dims(node, graph)
        t = self.tiling(node, graph)
        return [KernelCall("dg_conv1d_stream", (
            *self.args(node, graph, ctx), *t.args(node, ctx),
            *map(str, (n, cin, lin, cout, lout, a["k"], a["stride"], a["dilation"], a["phase"], a["groups"],
                       t.tile)),
            ctx.fn(node)))]


@register
class ConvTransposeStream(_ConvStep):
    op_type = "ConvTransposeStream"
    cost_as = "ConvTranspose"
    attributes = {"k": 1, "stride": 1, "dilation": 1, "groups": 1, "tail": 0}

    def emit(self, node, graph, ctx):
        a = node.attrs
        n, cin, lin, cout, _ = self.dims(node, graph)
        t = self.tiling(node, graph)
        return [KernelCall("dg_conv_transpose1d_stream", (
            *self.args(node, graph, ctx), *t.args(node, ctx),
            *map(str, (n, cin, lin, cout, a["k"], a["stride"], a["dilation"], a["groups"], a["tail"], t.tile)),
            ctx.fn(node)))]
