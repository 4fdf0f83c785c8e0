"""GRU and LSTM (ONNX opset 14+): forward direction, default activations, layout 0 and 1.

The kernel updates a (batch, hidden) state buffer in place frame by frame, so the same call serves an offline
sequence (state loaded from initial_h or zeros first) and a streaming block (state kept between calls). Weights
are packed at export for dg_panel_gemm (firmware/include/dietgen/rnn.h says how), biases merged where ONNX adds
two.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dietgen.ir import Time
from dietgen.ops.common import pack_panels, unpacked
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

_RNN_ATTRS = {"activation_alpha": None, "activation_beta": None, "activations": None, "clip": None,
              "direction": "forward", "hidden_size": None, "layout": 0}
_INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
# Optional inputs dietgen refuses, and why.
_UNSUPPORTED = {4: "every batch entry must run the whole sequence (export without packed sequences)",
                7: "peephole connections are not supported"}
# Frames whose input projections one product computes: more share each pass over W, and each costs
# gates * hidden floats of scratch per batch entry.
_FRAMES = 16


class Geometry(NamedTuple):
    seq: int
    batch: int
    input: int
    hidden: int


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _at(items, i):
    return items[i] if i < len(items) else None


def _output(node, i: int) -> str:
    return node.outputs[i] if i < len(node.outputs) else ""


class _Rnn(OpSpec):
    kernel = "rnn"
    flash_inputs = (1, 2, 3)
    gates: int                            # gate blocks stacked in W, R and each half of B
    state_inputs: tuple[int, ...]         # initial_h (, initial_c); outputs 1.. are the matching final states
    default_activations: tuple[str, ...]
    c_function: str

    # -- validation ----------------------------------------------------------------------------
    def check_attrs(self, node) -> None:
        a = node.attrs
        if a["direction"] != "forward":
            raise self.refuse(node, f"direction {a['direction']!r} is not supported; only 'forward' (export a "
                                    f"unidirectional layer: bidirectional=False)")
        acts = a["activations"]
        if acts and tuple(s.lower() for s in acts) != tuple(s.lower() for s in self.default_activations):
            raise self.refuse(node, f"activations {list(acts)} are not supported; only the defaults "
                                    f"{list(self.default_activations)}")
        for key in ("activation_alpha", "activation_beta"):
            if a[key]:
                raise self.refuse(node, f"attribute {key!r} is not supported (only the default activations, "
                                        f"which take no parameters)")
        if a["clip"] is not None:
            raise self.refuse(node, "attribute 'clip' is not supported; remove the cell clipping")
        if a["layout"] not in (0, 1):
            raise self.refuse(node, f"layout {a['layout']} is not 0 or 1")

    def geometry(self, node, x_shape, w_shape) -> Geometry:
        if len(x_shape) != 3 or len(w_shape) != 3:
            raise self.refuse(node, f"X {x_shape} and W {w_shape} must have rank 3")
        seq, batch = x_shape[:2] if node.attrs["layout"] == 0 else x_shape[1::-1]
        if seq < 1 or batch < 1:
            raise self.refuse(node, f"X {x_shape} is empty")
        hidden = node.attrs["hidden_size"] or w_shape[1] // self.gates
        if hidden < 1:
            raise self.refuse(node, f"hidden_size {hidden} must be positive")
        if w_shape != (1, self.gates * hidden, x_shape[2]):
            raise self.refuse(node, f"W {w_shape} should be (1, {self.gates * hidden}, {x_shape[2]}) for "
                                    f"hidden_size {hidden}, input size {x_shape[2]} and one direction")
        return Geometry(seq, batch, x_shape[2], hidden)

    def state_shape(self, node, g: Geometry) -> tuple[int, int, int]:
        return (1, g.batch, g.hidden) if node.attrs["layout"] == 0 else (g.batch, 1, g.hidden)

    def infer(self, node, inputs):
        self.check_attrs(node)
        self.require_float(node, inputs, 0, *self.state_inputs)
        for i, why in _UNSUPPORTED.items():
            if _at(inputs, i) is not None:
                raise self.refuse(node, f"input {_INPUTS[i]} is not supported: {why}")
        if len(inputs) < 3 or any(t is None for t in inputs[:3]):
            raise self.refuse(node, "inputs X, W and R are required")
        x, w = inputs[0], inputs[1]
        g = self.geometry(node, x.shape, w.shape)
        gh = self.gates * g.hidden
        state = self.state_shape(node, g)
        expected = {1: (1, gh, g.input), 2: (1, gh, g.hidden), 3: (1, 2 * gh)}
        expected.update({i: state for i in self.state_inputs})
        for i, shape in expected.items():
            t = _at(inputs, i)
            if t is None:
                continue
            if i in self.flash_inputs:
                self.require_const(node, inputs, i, _INPUTS[i])
            if t.shape != shape:
                raise self.refuse(node, f"{_INPUTS[i]} {t.shape} should be {shape}")
        y = (g.seq, 1, g.batch, g.hidden) if node.attrs["layout"] == 0 else (g.batch, g.seq, 1, g.hidden)
        shapes = [y] + [state] * len(self.state_inputs)
        return [(s, "float32") for s in shapes[:len(node.outputs)]]

    # -- reference -----------------------------------------------------------------------------
    def cell(self, node, x, w, r, wb, rb, states):
        """States after one frame; x (batch, input), states [(batch, hidden)...]."""
        raise NotImplementedError

    def reference(self, node, inputs):
        layout = node.attrs["layout"]
        x = inputs[0] if layout == 0 else inputs[0].transpose(1, 0, 2)
        w, r = inputs[1][0], inputs[2][0]
        g = self.geometry(node, inputs[0].shape, inputs[1].shape)
        gh = self.gates * g.hidden
        b = inputs[3][0] if _at(inputs, 3) is not None else np.zeros(2 * gh, np.float32)
        states = [np.zeros((g.batch, g.hidden), np.float32) if _at(inputs, i) is None
                  else inputs[i].reshape(g.batch, g.hidden) for i in self.state_inputs]
        frames = []
        for t in range(g.seq):
            states = self.cell(node, x[t], w, r, b[:gh], b[gh:], states)
            frames.append(states[0])
        y = np.stack(frames)[:, None]
        if layout == 0:
            outs = [y] + [s[None] for s in states]
        else:
            outs = [y.transpose(2, 0, 1, 3)] + [s[:, None] for s in states]
        return [np.ascontiguousarray(o, dtype=np.float32) for o in outs[:len(node.outputs)]]

    # -- cost and code -------------------------------------------------------------------------
    def _geometry_of(self, node, graph) -> Geometry:
        return self.geometry(node, graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape)

    def cost(self, node, graph):
        g = self._geometry_of(node, graph)
        io = super().cost(node, graph)
        macs = g.seq * g.batch * self.gates * g.hidden * (g.input + g.hidden)
        # the input projections of up to _FRAMES frames per batch entry at once, then the recurrent ones per frame
        products = g.batch * -(-g.seq // _FRAMES) + g.seq * self.recurrent_products(node)
        return Cost(macs, io.bytes_read, io.bytes_written, products=products,
                    **unpacked(macs, self.gates * g.hidden, 2 * g.seq * g.batch))

    def recurrent_products(self, node) -> int:
        """Panel products per frame for the recurrent weights."""
        return 1

    def gate_floats(self, node, g: Geometry) -> int:
        """Floats of scratch per batch entry for one step's recurrent products."""
        return self.gates * g.hidden

    def frames(self, g: Geometry) -> int:
        return min(g.seq, _FRAMES)

    def scratch(self, node, graph):
        g = self._geometry_of(node, graph)
        carried = 0 if "_states" in node.attrs else len(self.state_inputs)
        gates = g.batch * (self.frames(g) * self.gates * g.hidden + self.gate_floats(node, g))
        return [g.batch * g.hidden] * carried + [gates]

    def pack_recurrent(self, node, r: np.ndarray) -> np.ndarray:
        """R (1, gates*hidden, hidden) in the order the kernel streams it."""
        return pack_panels(r[0])

    def input_bias(self, node, b: np.ndarray) -> np.ndarray:
        """What the kernel adds to W x: both halves of B (1, 2*gates*hidden), which ONNX adds together."""
        gh = b.shape[1] // 2
        return b[0, :gh] + b[0, gh:]

    def recurrent_packing(self, node) -> str:
        """Name of pack_recurrent's layout, and of the bias merged for it (a weight packed two ways is two
        flash constants)."""
        return "panels"

    def weights(self, node, ctx) -> tuple[str, ...]:
        """C symbols of W and R packed for dg_panel_gemm, and of the bias added to W x (NULL without B)."""
        w = ctx.derived_weight(node.inputs[1], "panels", lambda v: pack_panels(v[0]))
        r = ctx.derived_weight(node.inputs[2], self.recurrent_packing(node), lambda v: self.pack_recurrent(node, v))
        if not node.input(3):
            return (w, r, "NULL")
        return (w, r, ctx.derived_weight(node.inputs[3], self.recurrent_packing(node) + "_bias",
                                         lambda v: self.input_bias(node, v)))

    def initial_state(self, node, graph, ctx, i: int) -> str:
        """Pointer to initial state input i; NULL (zeros) when absent or a constant zero."""
        name = node.input(i)
        value = graph.const(name)
        if not name or (value is not None and not value.any()):
            return "NULL"
        return ctx.ptr(name)

    def emit(self, node, graph, ctx):
        g = self._geometry_of(node, graph)
        n = str(g.batch * g.hidden)
        if "_states" in node.attrs:
            # streaming: the states persist between steps (NAME_init sets constant initial states); an initial
            # state computed at run time is loaded on the first step
            states = [ctx.ptr(s) for s in node.attrs["_states"]]
            calls = [KernelCall("dg_rnn_prime", (s, ctx.ptr(node.inputs[i]), n, ctx.ptr(flag)))
                     for s, i, flag in zip(states, self.state_inputs, node.attrs["_primed"]) if flag]
        else:
            states = [ctx.scratch(node, k) for k in range(len(self.state_inputs))]
            calls = [KernelCall("dg_rnn_copy", (s, self.initial_state(node, graph, ctx, i), n))
                     for s, i in zip(states, self.state_inputs)]
        if node.attrs["layout"] == 0:
            strides = (g.batch * g.input, g.input, g.batch * g.hidden, g.hidden)
        else:
            strides = (g.input, g.seq * g.input, g.hidden, g.seq * g.hidden)
        y = ctx.ptr(_output(node, 0)) if _output(node, 0) else "NULL"
        calls.append(KernelCall(self.c_function, (
            ctx.ptr(node.inputs[0]), *self.weights(node, ctx), *states,
            ctx.scratch(node, 0 if "_states" in node.attrs else len(states)), y, *map(str, g), *map(str, strides),
            str(self.frames(g)), *self.extra_args(node))))
        calls += [KernelCall("dg_rnn_copy", (ctx.ptr(_output(node, k + 1)), s, n))
                  for k, s in enumerate(states) if _output(node, k + 1)]
        return calls

    def extra_args(self, node) -> tuple[str, ...]:
        return ()

    def stream(self, node, s):
        """Hidden (and cell) states carried from block to block, starting from the initial states."""
        t = s.time[node.inputs[0]]
        seq_axis = 0 if node.attrs["layout"] == 0 else 1
        if t.axis != seq_axis:
            raise self.refuse(node, f"cannot stream: time runs along axis {t.axis} of X, not its sequence axis "
                                    f"{seq_axis}")
        if any(s.time.get(n) is not None for n in node.inputs[1:] if n):
            raise self.refuse(node, "cannot stream: a weight or an initial state changes with time")
        if t.lag > 0:
            raise self.refuse(node, f"cannot stream: it reads a branch delayed by {t.lag} frames of lookahead "
                                    f"(a centred convolution before it), and a recurrent state cannot wait; "
                                    f"make the layers before it causal")
        for k, out in enumerate(node.outputs[1:], 1):
            if out and (s.consumers.get(out) or out in s.offline.outputs):
                raise self.refuse(node, f"cannot stream: its final state {out!r} is used, and a stream has no "
                                        f"final frame; use the per-frame output Y")
        src = s.materialised(node.inputs[0])
        x, w = s.offline.tensors[node.inputs[0]], s.offline.tensors[node.inputs[1]]
        g = self.geometry(node, x.shape, w.shape)
        states, primed = [], []
        for i in self.state_inputs:
            name = node.input(i)
            value = s.offline.const(name) if name else None
            states.append(s.state(f"h{i - 5}" if i == 5 else "c", (g.batch * g.hidden,), init=value))
            primed.append(s.state(f"primed{i - 5}", (1,), "int32") if name and value is None else "")
        y = s.output(node.outputs[0], Time(seq_axis, t.rate, 0, clean=False)) if node.outputs[0] else ""
        extra = tuple(n for n in (*states, *primed) if n)
        inputs = tuple(s.name(n) if n else "" for n in node.inputs[:8]) + ("",) * (8 - len(node.inputs[:8]))
        s.emit(node.with_(inputs=(src, *inputs[1:], *extra), outputs=(y, "", "", *extra),
                          attrs={**node.attrs, "_states": tuple(states), "_primed": tuple(primed)}))


def _weights(gates, hidden, inputs, seed):
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(hidden)
    w = rng.uniform(-scale, scale, (1, gates * hidden, inputs)).astype(np.float32)
    r = rng.uniform(-scale, scale, (1, gates * hidden, hidden)).astype(np.float32)
    b = rng.uniform(-scale, scale, (1, 2 * gates * hidden)).astype(np.float32)
    return w, r, b


def _state(shape, seed):
    return np.random.default_rng(seed).uniform(-0.8, 0.8, shape).astype(np.float32)


def _block_cases(gates, shapes, seed):
    """Cases over the kernel's blocking: hidden sizes around the 8-row panels (R has gates * hidden rows), input
    sizes with remainders, sequences shorter and longer than the frames projected at once (_FRAMES), one or two
    batch entries, a random initial state. shapes: (hidden, input, seq, batch, extra attributes, bias or not)."""
    cases = []
    for k, (hidden, inputs, seq, batch, attrs, bias) in enumerate(shapes):
        w, r, b = _weights(gates, hidden, inputs, seed + k)
        name = f"h{hidden}_in{inputs}_seq{seq}_batch{batch}" + ("_lbr" if attrs.get("linear_before_reset") else "")
        cases.append(OpCase(name + ("" if bias else "_no_bias"),
                            (Rand((seq, batch, inputs)), w, r, b if bias else None, None, Rand((1, batch, hidden))),
                            {"hidden_size": hidden, **attrs}, n_outputs=2))
    return cases


@register
class GRU(_Rnn):
    op_type = "GRU"
    attributes = {**_RNN_ATTRS, "linear_before_reset": 0}
    gates = 3
    state_inputs = (5,)
    default_activations = ("Sigmoid", "Tanh")
    c_function = "dg_gru"

    def check_attrs(self, node):
        super().check_attrs(node)
        if node.attrs["linear_before_reset"] not in (0, 1):
            raise self.refuse(node, f"linear_before_reset {node.attrs['linear_before_reset']} is not 0 or 1")

    def recurrent_products(self, node):
        # without linear_before_reset the h rows multiply r * h, known only after the z and r rows' product
        return 1 if node.attrs["linear_before_reset"] else 2

    def cell(self, node, x, w, r, wb, rb, states):
        (h,) = states
        hs = h.shape[1]
        gx = x @ w.T + wb
        zr = _sigmoid(gx[:, :2 * hs] + h @ r[:2 * hs].T + rb[:2 * hs])
        z, reset = zr[:, :hs], zr[:, hs:]
        if node.attrs["linear_before_reset"]:
            n = np.tanh(gx[:, 2 * hs:] + reset * (h @ r[2 * hs:].T + rb[2 * hs:]))
        else:
            n = np.tanh(gx[:, 2 * hs:] + (reset * h) @ r[2 * hs:].T + rb[2 * hs:])
        return [(1 - z) * n + z * h]

    def gate_floats(self, node, g):
        # without linear_before_reset, reset * h needs its own row
        return (3 if node.attrs["linear_before_reset"] else 4) * g.hidden

    def recurrent_packing(self, node):
        return "panels" if node.attrs["linear_before_reset"] else "panels_zr_h"

    def pack_recurrent(self, node, r):
        if node.attrs["linear_before_reset"]:
            return pack_panels(r[0])
        # the h rows multiply r * h, known only after the z and r rows' product: two blocks, two products
        hs = r.shape[2]
        return np.concatenate([pack_panels(r[0, :2 * hs]), pack_panels(r[0, 2 * hs:])])

    def input_bias(self, node, b):
        if not node.attrs["linear_before_reset"]:
            return super().input_bias(node, b)
        # the reset gate scales R's bias of the h rows: only W's is added to W x there
        gh = b.shape[1] // 2
        hs = gh // 3
        return np.concatenate([b[0, :2 * hs] + b[0, gh:gh + 2 * hs], b[0, 2 * hs:gh]])

    def weights(self, node, ctx):
        # linear_before_reset: R's bias of the h rows, which the reset gate scales, apart
        if not (node.attrs["linear_before_reset"] and node.input(3)):
            return (*super().weights(node, ctx), "NULL")
        return (*super().weights(node, ctx),
                ctx.derived_weight(node.inputs[3], "reset_bias", lambda b: b[0, 5 * (b.shape[1] // 6):]))

    def extra_args(self, node):
        return (str(node.attrs["linear_before_reset"]),)

    def cases(self):
        w, r, b = _weights(3, 6, 3, seed=0)
        w2, r2, _ = _weights(3, 5, 4, seed=1)
        wl, rl, bl = _weights(3, 32, 16, seed=2)
        # onnxruntime insists on hidden_size
        h6, h5, lbr = {"hidden_size": 6}, {"hidden_size": 5}, {"linear_before_reset": 1}
        return [
            OpCase("y_yh", (Rand((5, 1, 3)), w, r, b), h6, n_outputs=2),
            OpCase("lbr_batch2_h0_input", (Rand((4, 2, 3)), w, r, b, None, Rand((1, 2, 6))), {**h6, **lbr},
                   n_outputs=2),
            OpCase("batch2_const_h0_y_only", (Rand((3, 2, 3)), w, r, b, None, _state((1, 2, 6), 3)), h6),
            OpCase("no_bias_const_h0", (Rand((6, 1, 4)), w2, r2, None, None, _state((1, 1, 5), 3)), h5,
                   n_outputs=2),
            OpCase("lbr_no_bias_batch2", (Rand((3, 2, 4)), w2, r2), {**h5, **lbr}, n_outputs=2),
            # what torch.nn.GRU exports (batch_first only adds Transposes around the node)
            OpCase("torch_like", (Rand((12, 1, 16)), wl, rl, bl), {"hidden_size": 32, **lbr}, n_outputs=2),
            OpCase("yh_only", (Rand((5, 2, 3)), w, r, b), h6, n_outputs=2, absent_outputs=(0,)),
            # onnxruntime does not implement batch-first layouts: checked against onnx's reference evaluator
            OpCase("layout1_h0", (Rand((2, 5, 3)), w, r, b, None, Rand((2, 1, 6))), {**h6, "layout": 1},
                   n_outputs=2, oracle="onnx.reference"),
            OpCase("layout1_lbr", (Rand((1, 4, 4)), w2, r2, None), {**h5, **lbr, "layout": 1}, n_outputs=2,
                   oracle="onnx.reference"),
        ] + _block_cases(3, [(1, 1, 1, 1, {}, True), (17, 3, 17, 2, {}, True), (24, 17, 3, 1, {}, True),
                             (3, 17, 17, 1, lbr, True), (8, 1, 3, 2, lbr, False), (17, 3, 1, 2, lbr, True)], seed=10)


@register
class LSTM(_Rnn):
    op_type = "LSTM"
    attributes = {**_RNN_ATTRS, "input_forget": 0}
    gates = 4
    state_inputs = (5, 6)
    default_activations = ("Sigmoid", "Tanh", "Tanh")
    c_function = "dg_lstm"

    def check_attrs(self, node):
        super().check_attrs(node)
        if node.attrs["input_forget"] != 0:
            raise self.refuse(node, "input_forget=1 (coupled input and forget gates) is not supported; only 0")

    def cell(self, node, x, w, r, wb, rb, states):
        h, c = states
        hs = h.shape[1]
        g = x @ w.T + wb + h @ r.T + rb
        i, o, f = (_sigmoid(g[:, k * hs:(k + 1) * hs]) for k in range(3))
        c = f * c + i * np.tanh(g[:, 3 * hs:])
        return [o * np.tanh(c), c]

    def cases(self):
        w, r, b = _weights(4, 5, 3, seed=0)
        wl, rl, bl = _weights(4, 24, 12, seed=2)
        h5 = {"hidden_size": 5}
        zeros = np.zeros((1, 1, 24), np.float32)   # torch's initial states when none are given
        return [
            OpCase("all_outputs", (Rand((5, 1, 3)), w, r, b), h5, n_outputs=3),
            OpCase("batch2_states_input", (Rand((4, 2, 3)), w, r, b, None, Rand((1, 2, 5)), Rand((1, 2, 5))), h5,
                   n_outputs=3),
            OpCase("batch2_const_states", (Rand((2, 2, 3)), w, r, b, None, _state((1, 2, 5), 3),
                                           _state((1, 2, 5), 4)), h5, n_outputs=3),
            OpCase("no_bias_y_only", (Rand((6, 1, 3)), w, r), h5),
            OpCase("h0_only_y_yh", (Rand((3, 2, 3)), w, r, b, None, Rand((1, 2, 5))), h5, n_outputs=2),
            OpCase("batch2_c0_only_no_bias", (Rand((4, 2, 3)), w, r, None, None, None, Rand((1, 2, 5))), h5,
                   n_outputs=3),
            OpCase("torch_like", (Rand((10, 1, 12)), wl, rl, bl, None, zeros, zeros), {"hidden_size": 24},
                   n_outputs=2),
            OpCase("yc_only", (Rand((4, 1, 3)), w, r, b), h5, n_outputs=3, absent_outputs=(0, 1)),
            OpCase("layout1_states", (Rand((2, 4, 3)), w, r, b, None, Rand((2, 1, 5)), Rand((2, 1, 5))),
                   {**h5, "layout": 1}, n_outputs=3, oracle="onnx.reference"),
        ] + _block_cases(4, [(1, 3, 17, 2, {}, True), (20, 1, 17, 1, {}, True), (3, 17, 1, 2, {}, False),
                             (17, 1, 3, 1, {}, True)], seed=20)
