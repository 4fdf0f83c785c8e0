"""Streaming: the offline graph (a whole signal in) becomes a step graph (one block in, state carried).

The pass follows the time axis from the inputs through every node, as the trim tracer follows channels. Every
tensor that carries time gets a ``Time``: which axis, how many of its frames one input frame makes (its rate:
a hop-sized upsampling makes 160, a stride-4 encoder 1/4), and its lag: stream frame t of the tensor holds
offline frame t - lag. A left pad makes the lag negative (the padded zeros are never streamed: a ring buffer's
initial zeros stand for them), a crop or a centred convolution's lookahead makes it positive (latency).

Nodes fall into three kinds:
- time-local (element-wise, channel mixing, views): run on the block as they are, with shapes re-inferred;
  inputs whose lags differ are first aligned by delay lines, so the sums of branches line up;
- time-mixing with a bounded past (convolutions, transposed convolutions, RNNs, cumulative sums, pads and
  crops along time, dietgen synthesis ops): each op module's ``stream`` hook rewrites the node to read and
  update STATE tensors;
- time-global (softmax, normalisation or reductions over time, anything else that needs the whole axis):
  refused, naming the node.
The model's latency is the lag of its outputs once they are aligned; the streamed output equals the offline
output delayed by it.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.ir import Graph, Node, Tensor, TensorKind, Time
from dietgen.ops import get_op


@dataclass(frozen=True)
class StreamSpec:
    """What the user asked for: input frames per step and, optionally, each input's time axis (None: the input
    has no time axis and is read whole on every step)."""
    block: int | None            # None: the model's natural block (see pipeline.stream_request)
    time_axes: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamInfo:
    """What the pass found, kept in graph.meta["stream"] for codegen, inspect and verify."""
    block: int                                      # input frames per step
    time_axes: dict[str, int | None]                # per graph input
    out_axes: dict[str, int]                        # per graph output, its time axis
    out_blocks: dict[str, int]                      # per graph output, frames per step
    latency: dict[str, int]                         # per graph output, in its own frames
    in_blocks: dict[str, int] = field(default_factory=dict)    # per graph input with time, frames per step
    node_latency: dict[str, int] = field(default_factory=dict)  # node name -> the lag of its output

    @property
    def out_block(self) -> int:
        return next(iter(self.out_blocks.values()))

    @property
    def model_latency(self) -> int:
        return max(self.latency.values(), default=0)


def refuse(node: Node, why: str) -> DietgenError:
    return DietgenError(f"node {node.name!r} ({node.op_type}) cannot stream: {why}")


class StreamBuilder:
    """The step graph under construction; op modules' ``stream`` hooks call it."""

    def __init__(self, graph: Graph, spec: StreamSpec):
        self.offline = graph
        self.block = spec.block
        self.tensors: dict[str, Tensor] = {n: t for n, t in graph.tensors.items()
                                           if t.kind in (TensorKind.WEIGHT, TensorKind.STATE)}
        self.nodes: list[Node] = []
        self.time: dict[str, Time | None] = {}
        self.names: dict[str, str] = {}       # offline tensor -> the step tensor that holds it
        self.delays: dict[tuple[str, int], str] = {}
        self.node_lag: dict[str, int] = {}
        self._current: Node | None = None
        self.mixing_seen = False              # a time-mixing op was rewritten (what time-axis detection looks for)
        self.consumers = {n: users for n, users in graph.consumers().items() if users}

    # -- what hooks read --------------------------------------------------------------------------------
    def name(self, offline: str) -> str:
        return self.names.get(offline, offline)

    def frames(self, t: Time) -> int:
        """Frames per step of a tensor with time ``t`` (check_block has made sure they are whole)."""
        n = t.rate * self.block
        if n.denominator != 1:
            raise DietgenUsageError(f"--block {self.block} does not make whole frames after a stride of "
                                    f"{t.rate.denominator}")
        return int(n)

    def step_shape(self, offline: str, t: Time | None) -> tuple[int, ...]:
        shape = list(self.offline.tensors[offline].shape)
        if t is not None:
            shape[t.axis] = self.frames(t)
        return tuple(shape)

    # -- what hooks write -------------------------------------------------------------------------------
    def add_tensor(self, name: str, shape: tuple[int, ...], dtype: str = "float32",
                   kind: TensorKind = TensorKind.ACTIVATION, value: np.ndarray | None = None) -> str:
        if name in self.tensors:
            raise DietgenError(f"streaming: tensor name {name!r} is taken")
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dtype, kind, value)
        return name

    def constant(self, hint: str, value: np.ndarray) -> str:
        value = np.require(value, requirements="C")
        value.setflags(write=False)
        return self.add_tensor(self.fresh(hint), value.shape, str(value.dtype), TensorKind.WEIGHT, value)

    def state(self, hint: str, shape: tuple[int, ...], dtype: str = "float32", init: Any = None) -> str:
        """A STATE tensor for the node being rewritten, reset to ``init`` (zeros by default) by NAME_init."""
        value = np.zeros(shape, dtype) if init is None else np.asarray(init, dtype).reshape(shape)
        return self.add_tensor(self.fresh(f"{self._current.name}::{hint}"), shape, dtype, TensorKind.STATE, value)

    def fresh(self, hint: str) -> str:
        name, i = hint, 1
        while name in self.tensors or name in self.offline.tensors:
            name, i = f"{hint}_{i}", i + 1
        return name

    def emit(self, node: Node) -> None:
        self.nodes.append(node)

    def output(self, offline: str, t: Time | None, shape: tuple[int, ...] | None = None) -> str:
        """Declare the step tensor holding offline tensor ``offline``, with time ``t``."""
        src = self.offline.tensors[offline]
        kind = TensorKind.ACTIVATION if src.kind == TensorKind.OUTPUT else src.kind
        self.add_tensor(offline, shape or self.step_shape(offline, t), src.dtype, kind)
        self.time[offline] = t
        if t is not None and self._current is not None:
            self.node_lag[self._current.name] = t.lag
        return offline

    def alias(self, offline: str, step_name: str, t: Time | None) -> None:
        """Offline tensor ``offline`` is ``step_name`` seen with time ``t`` (a pad or crop along time: no code)."""
        self.names[offline] = step_name
        self.time[offline] = t

    def delayed(self, offline: str, lag: int) -> str:
        """The step tensor of ``offline`` delayed to ``lag`` (a delay line when its lag is smaller)."""
        t = self.time.get(offline)
        src = self.name(offline)
        if t is None or t.lag == lag:
            return src
        if t.lag > lag:
            raise DietgenError(f"streaming: cannot advance {offline!r} from lag {t.lag} to {lag}")
        key = (src, lag)
        if key not in self.delays:
            self.delays[key] = self._delay(src, t, lag, self.fresh(f"{src}_delayed{lag - t.lag}"))
        return self.delays[key]

    def _delay(self, src: str, t: Time, lag: int, out: str) -> str:
        frames = lag - t.lag
        x = self.tensors[src]
        outer = int(np.prod(x.shape[:t.axis], dtype=np.int64))
        inner = int(np.prod(x.shape[t.axis + 1:], dtype=np.int64))
        node = Node("Delay", self.fresh_node(f"{src}::delay{frames}"), (), (), {"axis": t.axis, "frames": frames},
                    "dietgen")
        saved, self._current = self._current, node
        ring = self.state("ring", (outer * frames * inner,))
        pos = self.state("pos", (1,), "int32")
        self._current = saved
        if out not in self.tensors:
            self.add_tensor(out, x.shape)
        self.emit(node.with_(inputs=(src, ring, pos), outputs=(out, ring, pos)))
        return out

    def fresh_node(self, hint: str) -> str:
        taken = {n.name for n in self.nodes} | {n.name for n in self.offline.nodes}
        name, i = hint, 1
        while name in taken:
            name, i = f"{hint}_{i}", i + 1
        return name

    def finish_output(self, offline: str, lag: int | None) -> None:
        """Make graph output ``offline`` a tensor of that name written by the step, delayed to ``lag``."""
        t = self.time.get(offline)
        src = self.name(offline)
        if src == offline and (t is None or t.lag == lag):
            self.tensors[offline] = self.tensors[offline].with_(kind=TensorKind.OUTPUT)
            return
        if src == offline:      # computed under the output's name, but early: rename it, delay into the name
            early = self.fresh(f"{offline}_early")
            self.tensors[early] = self.tensors.pop(offline).with_(name=early)
            self.nodes = [n.with_(inputs=tuple(early if i == offline else i for i in n.inputs),
                                  outputs=tuple(early if o == offline else o for o in n.outputs))
                          for n in self.nodes]
            self.names[offline] = src = early
        shape = self.tensors[src].shape
        self.add_tensor(offline, shape, self.tensors[src].dtype, TensorKind.OUTPUT)
        if t is None or t.lag == lag:
            self.emit(Node("Identity", f"{offline}::copy", (src,), (offline,)))
        else:
            self._delay(src, t, lag, offline)
        self.names.pop(offline, None)
        self.time[offline] = None if t is None else replace(t, lag=lag)

    def zero_prehistory(self, offline: str) -> str:
        """The step tensor of ``offline`` with the frames streamed before offline frame 0 zeroed, for readers
        that pad with zeros (convolutions): the offline model pads its first frames with zeros too."""
        t = self.time[offline]
        src = self.name(offline)
        if t is None or t.lag <= 0 or t.clean:
            return src
        x = self.tensors[src]
        remaining = self.state("prehistory", (1,), "int32", t.lag)
        out = self.add_tensor(self.fresh(f"{src}_gated"), x.shape)
        self.emit(Node("Gate", self.fresh_node(f"{src}::gate"), (src, remaining), (out, remaining),
                       {"axis": t.axis}, "dietgen"))
        return out

    def from_start(self, offline: str) -> tuple[str, int]:
        """The step tensor of ``offline`` and its lag, made to start with the offline signal: no frame skipped
        (a negative lag is delayed to 0) and the frames before the first real one zeroed."""
        t = self.time[offline]
        if t.lag < 0:
            return self.delayed(offline, 0), 0
        return self.zero_prehistory(offline), t.lag

    def materialised(self, offline: str) -> str:
        """A tensor with a negative lag (its padded zeros not streamed yet) delayed to lag 0, for readers that
        need its frames as they are."""
        t = self.time.get(offline)
        return self.delayed(offline, 0) if t is not None and t.lag < 0 else self.name(offline)

    def reshaped(self, node: Node, t: Time) -> None:
        """Emit ``node`` (Reshape, Expand: input 1 is the target shape) with its output running along time as
        ``t``: the target becomes the output's shape for one block."""
        out = node.outputs[0]
        shape = self.step_shape(out, t)
        self.output(out, t)
        target = self.constant(f"{node.name}::shape", np.array(shape, np.int64))
        self.emit(node.with_(inputs=(self.name(node.inputs[0]), target), outputs=(out,)))

    # -- time-local nodes --------------------------------------------------------------------------------
    def local(self, node: Node) -> None:
        """Run ``node`` on the block as it is: align the lags of its inputs, re-infer its shapes, and find each
        output's time axis by inferring at two block lengths."""
        spec = get_op(node.op_type, node.domain, node.name)
        timed = [n for n in node.inputs if n and self.time.get(n) is not None]
        rates = {self.time[n].rate for n in timed}
        if len(rates) > 1:
            raise refuse(node, f"its inputs run at different rates ({', '.join(map(str, sorted(rates)))} frames "
                               f"per input frame)")
        rate = rates.pop()
        lag = max(0, *(self.time[n].lag for n in timed))
        mixed = spec.mixes_axes(node, self.offline)
        x0 = self.time.get(node.inputs[0]) if node.inputs else None
        if x0 is not None and x0.axis in mixed:
            raise refuse(node, f"it mixes its input along the time axis {x0.axis} (offline it sees the whole "
                               f"signal: softmax, normalisation or reduction over time); apply it over channels")
        names = [self.delayed(n, lag) if n else "" for n in node.inputs]
        shapes = self._infer(node, spec, names, 1)
        probe = self._infer(node, spec, names, 2)
        outs = []
        for out, a, b in zip(node.outputs, shapes, probe):
            if not out:
                outs.append("")
                continue
            moved = [i for i, (x, y) in enumerate(zip(a[0], b[0])) if x != y]
            if len(moved) != 1:
                raise refuse(node, "its output has no time axis left (it reduces or mixes over time)"
                             if not moved else "its output depends on time in more than one axis")
            axis = moved[0]
            out_rate = Fraction(a[0][axis], self.block)
            if out_rate != rate:
                raise refuse(node, f"it changes the number of frames along time ({rate} -> {out_rate} per input "
                                   f"frame) in a way dietgen does not stream")
            outs.append(self.output(out, Time(axis, rate, lag, clean=False), a[0]))
        self.emit(node.with_(inputs=tuple(names), outputs=tuple(outs)))

    def _infer(self, node: Node, spec, names: list[str], scale: int):
        """Output (shape, dtype) of ``node`` on block-shaped inputs, with blocks ``scale`` times longer."""
        args = []
        for offline, n in zip(node.inputs, names):
            if not n:
                args.append(None)
                continue
            t, tensor = self.time.get(offline), self.tensors[n]
            if t is not None and scale != 1:
                shape = list(tensor.shape)
                shape[t.axis] *= scale
                tensor = tensor.with_(shape=tuple(shape))
            args.append(tensor)
        try:
            return spec.infer(node, args)
        except DietgenError as exc:
            raise refuse(node, f"it does not run on a block of frames ({exc}); it needs the whole signal, or a "
                               f"constant that varies along time")


def detect_time_axes(graph: Graph, given: dict[str, int | None]) -> dict[str, int | None]:
    """Each input's time axis: the user's ``--time-axis``, else found by trying every assignment of the inputs'
    axes (of size > 1, or none) and keeping those through which the whole graph streams and that reach a
    time-mixing op (a convolution, a recurrent layer, a running sum...). Inputs that only ever meet channel
    mixing (a one-hot pitch into a Linear layer) come out with no time axis."""
    choices = []
    for name in graph.inputs:
        shape = graph.tensors[name].shape
        choices.append([given[name]] if name in given else
                       [None, *(a for a, d in enumerate(shape) if d > 1)])
    combos = list(itertools.product(*choices))
    if all(name in given for name in graph.inputs):    # the real run says what does not stream
        return dict(given)
    if len(combos) > _MAX_TRIES:
        raise DietgenUsageError("the model has too many inputs to find their time axes by trying; name each "
                                "with --time-axis NAME=AXIS (or NAME=none)")
    found, refusals = [], []
    for combo in combos:
        if all(a is None for a in combo):
            continue
        # probed with the whole offline length as the block, which any stride divides
        length = next(graph.tensors[n].shape[a] for n, a in zip(graph.inputs, combo) if a is not None)
        try:
            builder = _run(graph, StreamSpec(length, dict(zip(graph.inputs, combo))), probe=True)
        except DietgenError as exc:
            refusals.append(exc)
            continue
        found.append((builder.mixing_seen, combo))
    best = [c for seen, c in found if seen] or [c for _, c in found]
    # a time axis that reached a convolution or a recurrent layer before a node refused it: that node is why
    deepest = max((e for e in refusals if getattr(e, "mixing_seen", False)), key=lambda e: e.progress, default=None)
    if not best and deepest is not None:
        raise deepest
    if not best:
        shapes = ", ".join(f"{n} {graph.tensors[n].shape}" for n in graph.inputs)
        raise DietgenUsageError(f"no input of the model has a time axis that streams through it ({shapes}); "
                                f"name one with --time-axis NAME=AXIS")
    if len(best) > 1:
        i = next(k for k in range(len(graph.inputs)) if len({c[k] for c in best}) > 1)
        name = graph.inputs[i]
        options = ", ".join(str(c[i]) for c in best)
        raise DietgenUsageError(f"input {name!r} {graph.tensors[name].shape}: its time axis is ambiguous (it "
                                f"could be {options}); name it with --time-axis {name}=AXIS")
    return dict(zip(graph.inputs, best[0]))


_MAX_TRIES = 256


def check_spec(graph: Graph, spec: StreamSpec) -> None:
    if spec.block < 1:
        raise DietgenUsageError(f"--block {spec.block}: a block holds at least one frame")
    for name, axis in spec.time_axes.items():
        if name not in graph.inputs:
            raise DietgenUsageError(f"--time-axis names {name!r}, which is not an input of the model (inputs: "
                                    f"{', '.join(graph.inputs)})")
        if axis is None:
            continue
        shape = graph.tensors[name].shape
        if not -len(shape) <= axis < len(shape):
            raise DietgenUsageError(f"--time-axis {name}={axis} is out of range for input {name!r} of shape "
                                    f"{shape}")


def _run(graph: Graph, spec: StreamSpec, probe: bool = False) -> StreamBuilder:
    s = StreamBuilder(graph, spec)
    # inputs at other rates (samples beside frames) keep the ratio of their offline lengths to the first one's
    reference = next((graph.tensors[n].shape[a] for n, a in spec.time_axes.items() if a is not None), 1)
    for name in graph.inputs:
        axis = spec.time_axes.get(name)
        t = None
        if axis is not None:
            axis %= len(graph.tensors[name].shape)
            t = Time(axis, Fraction(graph.tensors[name].shape[axis], reference))
            if graph.tensors[name].shape[axis] == 1 and not probe:
                raise DietgenUsageError(f"input {name!r} has a time length of 1 along axis {axis}: there is "
                                        f"nothing to stream; export it without --stream")
        s.time[name] = t
        s.add_tensor(name, s.step_shape(name, t), graph.tensors[name].dtype, TensorKind.INPUT)
    for step, node in enumerate(graph.nodes):
        try:
            _stream_node(s, node)
        except DietgenError as exc:
            exc.progress, exc.mixing_seen = step, s.mixing_seen
            raise
    s._current = None
    return s


def _stream_node(s: StreamBuilder, node: Node) -> None:
    s._current = node
    if not any(n and s.time.get(n) is not None for n in node.inputs):
        for out in node.outputs:
            if out:
                s.output(out, None)
        s.emit(node)
        return
    spec = get_op(node.op_type, node.domain, node.name)
    # the hooks rewrite ops whose data input (input 0) runs along time; anything else is time-local
    if s.time.get(node.inputs[0]) is None or spec.stream(node, s) is NotImplemented:
        s.local(node)
    else:
        s.mixing_seen = True


def stream(graph: Graph) -> Graph:
    """The step graph of ``graph`` when graph.meta["stream_request"] asks for one; the graph itself otherwise."""
    spec: StreamSpec | None = graph.meta.get("stream_request")
    if spec is None:
        return graph.replace(meta={**graph.meta, "out_time_axis": offline_time_axis(graph)})
    check_spec(graph, spec)
    spec = replace(spec, time_axes=detect_time_axes(graph, spec.time_axes))
    check_block(graph, spec)
    s = _run(graph, spec)
    timed = [o for o in graph.outputs if s.time.get(o) is not None]
    if not timed:
        raise DietgenUsageError("no output of the model depends on time; there is nothing to stream")
    latency: dict[str, int] = {}
    for rate in {s.time[o].rate for o in timed}:
        same = [o for o in timed if s.time[o].rate == rate]
        lag = max(0, *(s.time[o].lag for o in same))
        latency.update((o, lag) for o in same)
    for o in graph.outputs:
        s.finish_output(o, latency.get(o))
    out_axes = {o: s.time[o].axis for o in timed}
    out_blocks = {o: s.frames(s.time[o]) for o in timed}
    in_blocks = {n: s.frames(s.time[n]) for n in graph.inputs if s.time[n] is not None}
    info = StreamInfo(spec.block, spec.time_axes, out_axes, out_blocks, latency, in_blocks, dict(s.node_lag))
    meta = {k: v for k, v in graph.meta.items() if k != "stream_request"}
    meta.update({"stream": info, "block": spec.block})
    return graph.replace(tensors=s.tensors, nodes=tuple(s.nodes), meta=meta)


def check_block(graph: Graph, spec: StreamSpec) -> None:
    """Refuse a block that is not a whole number of the model's total stride, naming the smallest valid one."""
    length = next(graph.tensors[n].shape[a] for n, a in spec.time_axes.items() if a is not None)
    s = _run(graph, StreamSpec(length, spec.time_axes), probe=True)
    stride = math.lcm(*(t.rate.denominator for t in s.time.values() if t is not None))
    if spec.block % stride:
        raise DietgenUsageError(f"--block {spec.block} is not a multiple of the model's total stride {stride} "
                                f"(it downsamples time {stride}x); the smallest valid block is {stride}")


def offline_time_axis(graph: Graph) -> int | None:
    """The time axis of the first output of an offline graph, found as streaming finds it (None when the model
    has no time axis to follow)."""
    try:
        axes = detect_time_axes(graph, {})
    except DietgenError:
        return None
    length = next(graph.tensors[n].shape[a] for n, a in axes.items() if a is not None)
    s = _run(graph, StreamSpec(length, axes), probe=True)
    t = s.time.get(graph.outputs[0])
    return None if t is None else t.axis


def out_frames(graph: Graph) -> int:
    """Audio frames one NAME_step call produces: the streamed output block; offline, the recorded block, else the
    first output's length along its time axis (the middle axis of a time-major (N, T, C) output), or its last
    axis when the model has no time axis to follow."""
    info: StreamInfo | None = graph.meta.get("stream")
    if info is not None:
        return info.out_block
    if graph.meta.get("block"):
        return int(graph.meta["block"])
    shape = graph.tensors[graph.outputs[0]].shape
    axis = graph.meta.get("out_time_axis")
    return shape[axis] if axis is not None else (shape[-1] if shape else 1)


def in_frames(graph: Graph) -> int:
    """Input frames one NAME_step call consumes when streaming; offline, the frames it produces."""
    info: StreamInfo | None = graph.meta.get("stream")
    return info.block if info is not None else out_frames(graph)
