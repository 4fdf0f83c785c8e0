"""Verification: the generated C, built for the host, against onnxruntime on the same inputs."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from dietgen.codegen.render import render
from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.frontend.onnx_model import Shapes, free_time_dims, read_onnx
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import Compiled, compile_model
from dietgen.toolchain.host import build_harness, run_harness

if TYPE_CHECKING:
    from dietgen.passes.stream import StreamInfo
    from dietgen.toolchain.emulate import BoardRun

DEFAULT_TOL = 1e-4


@dataclass(frozen=True)
class OutputError:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float      # max abs error / RMS of the reference output
    snr_db: float
    ok: bool


@dataclass(frozen=True)
class VerifyReport:
    c_name: str
    tol: float
    outputs: tuple[OutputError, ...]
    board_run: "BoardRun | None" = None     # set when the C ran on a board's emulator (verify --board)
    stream: "StreamInfo | None" = None      # set when the step program ran block by block

    blocks: int = 1                         # NAME_step calls run

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outputs)

    def stream_summary(self) -> dict | None:
        if self.stream is None:
            return None
        return {"block": self.stream.block, "out_block": self.stream.out_block, "blocks": self.blocks,
                "latency": self.stream.model_latency, "time_axes": self.stream.time_axes}


def compare(name: str, ref: np.ndarray, got: np.ndarray, tol: float) -> OutputError:
    ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
    same_nan = np.array_equal(np.isnan(ref64), np.isnan(got64))
    finite = ~np.isnan(ref64)
    err = np.abs(ref64 - got64)[finite] if same_nan else np.array([np.inf])
    rms = float(np.sqrt(np.mean(ref64[finite] ** 2))) if finite.any() else 0.0
    max_abs = float(err.max()) if err.size else 0.0
    max_rel = max_abs / rms if rms > 0 else (0.0 if max_abs == 0 else np.inf)
    noise = float(np.sum(err ** 2))
    signal = float(np.sum(ref64[finite] ** 2))
    snr = np.inf if noise == 0 else (10 * np.log10(signal / noise) if signal > 0 else -np.inf)
    return OutputError(name, tuple(ref.shape), max_abs, max_rel, float(snr), bool(max_rel <= tol))


def input_shapes(compiled: Compiled) -> dict[str, tuple[int, ...]]:
    """The whole input the offline model takes (a step program takes it block by block)."""
    dims = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim) for i in compiled.onnx.graph.input}
    return {n: dims[n] for n in compiled.graph.inputs}


def random_inputs(compiled: Compiled, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-1, 1, shape).astype(np.float32) for n, shape in input_shapes(compiled).items()}


def load_inputs(path: str | Path, compiled: Compiled) -> dict[str, np.ndarray]:
    """Inputs from a .npy (the single input) or .npz (by input name); never unpickles."""
    g = compiled.graph
    arrays = load_arrays(path, g.inputs)
    out = {}
    for name in g.inputs:
        if name not in arrays:
            raise DietgenError(f"{path}: no array named {name!r}; the model's inputs are {', '.join(g.inputs)}")
        want = input_shapes(compiled)[name]
        if tuple(arrays[name].shape) != want:
            raise DietgenError(f"{path}: input {name!r} has shape {arrays[name].shape}, the model takes {want}")
        out[name] = np.asarray(arrays[name], dtype=np.float32)
    return out


def run_onnxruntime(compiled: Compiled, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = list(compiled.graph.outputs)
    custom = [node for node in compiled.onnx.graph.node if node.domain not in ("", "ai.onnx")]
    if custom:
        return _run_with_custom_ops(compiled.onnx, custom, inputs, names)
    return dict(zip(names, _session_run(compiled.onnx, names, inputs)))


def _session_run(model: onnx.ModelProto, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """onnxruntime's answer; where onnxruntime does not implement a node (batch-first GRU and LSTM layouts),
    onnx's own reference evaluator's. A model neither can run is a one-line error, not a crash."""
    import onnxruntime as ort
    state = ort.capi.onnxruntime_pybind11_state
    refusals = tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))
    opts = ort.SessionOptions()
    opts.log_severity_level = 4     # its refusals become our one-line errors; its own log lines would precede them
    try:
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except (state.Fail, state.NotImplemented) as exc:
        from onnx.reference import ReferenceEvaluator
        try:
            return ReferenceEvaluator(model).run(names, feeds)
        except Exception:  # the evaluator's own errors are bare; onnxruntime's says what the model lacks
            raise _reference_error("refuses", exc)
    except refusals as exc:
        raise _reference_error("refuses", exc)
    run_opts = ort.RunOptions()
    run_opts.log_severity_level = 4
    try:
        return session.run(names, feeds, run_opts)
    except refusals as exc:
        raise _reference_error("fails running", exc)


def _reference_error(what: str, exc: Exception) -> DietgenError:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    text = text.split(" : ", 3)[-1]    # past "[ONNXRuntimeError] : 1 : FAIL : "
    return DietgenError(f"onnxruntime {what} the model, so there is no reference to verify against: {text}")


def _run_with_custom_ops(model: onnx.ModelProto, custom: list, inputs: dict[str, np.ndarray],
                         names: list[str]) -> dict[str, np.ndarray]:
    """onnxruntime cannot run dietgen-domain ops: it runs the standard parts between them, and each dietgen op
    is evaluated by its registry numpy reference on what onnxruntime computed."""
    from dietgen.ir import Node
    from dietgen.ops import get_op
    known = dict(inputs)
    for proto in custom:
        missing = [n for n in proto.input if n and n not in known]
        known.update(zip(missing, _ort_run(model, known, missing)))
        spec = get_op(proto.op_type, proto.domain, proto.name)
        node = Node(proto.op_type, proto.name, tuple(proto.input), tuple(proto.output), {}, proto.domain)
        node = node.with_(attrs=spec.attrs_for(node, {a.name: onnx.helper.get_attribute_value(a)
                                                      for a in proto.attribute}))
        known.update(zip(proto.output, spec.reference(node, [known[n] if n else None for n in proto.input])))
    missing = [n for n in names if n not in known]
    known.update(zip(missing, _ort_run(model, known, missing)))
    return {n: known[n] for n in names}


def _ort_run(model: onnx.ModelProto, known: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
    """Values ``names`` of ``model`` computed by onnxruntime from the ``known`` values, running only the nodes
    they depend on (so dietgen-domain nodes whose outputs are known are cut away)."""
    if not names:
        return []
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {out: node for node in g.node for out in node.output}
    order = {id(n): i for i, n in enumerate(g.node)}
    needed, stack, feeds = {}, list(names), {}
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        if name in known:
            feeds[name] = known[name]
        elif name not in inits and order[id(producer[name])] not in needed:
            needed[order[id(producer[name])]] = producer[name]
            stack.extend(producer[name].input)
    types = {v.name: v.type.tensor_type.elem_type for v in (*g.value_info, *g.output, *g.input)}
    sub = onnx.helper.make_graph(
        [needed[i] for i in sorted(needed)], g.name,
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in feeds.items()],
        [onnx.helper.make_tensor_value_info(n, types.get(n, onnx.TensorProto.FLOAT), None) for n in names],
        [inits[n] for n in seen if n in inits])
    proto = onnx.helper.make_model(sub, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return _session_run(proto, names, feeds)


def to_blocks(compiled: Compiled, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """The harness's input: one row per NAME_step call, all inputs back to back. Offline, one row holds the
    whole window; streaming, row k holds block k of every input with a time axis (the others whole)."""
    g = compiled.graph
    info = g.meta.get("stream")
    if info is None:
        return np.concatenate([feeds[n].reshape(-1) for n in g.inputs])[None, :]
    axes, frames = info.time_axes, info.in_blocks
    count = min(feeds[n].shape[axes[n]] // frames[n] for n in frames)
    rows = []
    for k in range(count):
        rows.append(np.concatenate([
            (feeds[n] if axes[n] is None else
             np.take(feeds[n], range(k * frames[n], (k + 1) * frames[n]), axis=axes[n])).reshape(-1)
            for n in g.inputs]))
    return np.stack(rows)


def from_blocks(compiled: Compiled, out: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs by name from the harness's rows: offline the one row, streaming the blocks joined along time."""
    g = compiled.graph
    info = g.meta.get("stream")
    rows = [split_outputs(g, row) for row in out]
    if info is None:
        return rows[0]
    return {n: np.concatenate([r[n] for r in rows], axis=info.out_axes[n]) if n in info.out_axes else rows[-1][n]
            for n in g.outputs}


def run_c(compiled: Compiled, inputs: dict[str, np.ndarray], *, sanitize: bool = False,
          cc: str | None = None, workdir: Path | None = None) -> dict[str, np.ndarray]:
    """The generated C built for the host, run on ``inputs`` (block after block when it streams)."""
    g = compiled.graph
    with tempfile.TemporaryDirectory(prefix="dietgen-verify-") as tmp:
        base = Path(workdir or tmp)
        src = write_tree(render(g), base / "src", force=True)
        exe = build_harness(src, compiled.c_name, base / "model", sanitize=sanitize, cc=cc)
        out = run_harness(exe, to_blocks(compiled, inputs), g.meta["plan"].out_size)
    return from_blocks(compiled, out)


def split_outputs(g, flat: np.ndarray) -> dict[str, np.ndarray]:
    """The harness's output block (all outputs back to back) as arrays by output name."""
    outs, pos = {}, 0
    for name in g.outputs:
        t = g.tensors[name]
        outs[name] = flat[pos:pos + t.size].reshape(t.shape)
        pos += t.size
    return outs


def aligned(compiled: Compiled, want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, tuple]:
    """(reference, streamed) pairs to compare: the streamed output is the offline one delayed by the latency, so
    its first ``latency`` frames (before the signal) are dropped, and the offline one's last frames (not streamed
    yet) with them."""
    info = compiled.graph.meta.get("stream")
    if info is None:
        return {n: (want[n], got[n]) for n in compiled.graph.outputs}
    pairs = {}
    for n in compiled.graph.outputs:
        axis, lag = info.out_axes.get(n), info.latency.get(n, 0)
        if axis is None:
            pairs[n] = (want[n], got[n])
            continue
        length = got[n].shape[axis]
        pairs[n] = (np.take(want[n], range(0, length - lag), axis=axis), np.take(got[n], range(lag, length), axis=axis))
    return pairs


def verify(model: Any, *, shapes: Shapes | None = None, inputs: str | Path | dict | None = None,
           tol: float = DEFAULT_TOL, seed: int = 0, sanitize: bool = False, cc: str | None = None,
           compiled: Compiled | None = None, board: str | None = None,
           stream: StreamSpec | bool | None = None, block: int | None = None,
           blocks: int | None = None) -> VerifyReport:
    """Build ``model``'s generated C for the host (or cross-compile it for ``board`` and run it on the
    emulator of its instruction set, counting instructions or cycles) and compare every output with
    onnxruntime.

    With ``stream``, the step program runs over ``blocks`` consecutive blocks of one long seeded input (by
    default enough to fill every ring buffer and wrap it twice), and every output sample is compared with
    onnxruntime's offline run on the whole input, shifted by the latency. ``stream`` and ``block``: see
    pipeline.stream_request."""
    compiled = compiled or compile_model(model, shapes, block=block, stream=stream)
    info = compiled.graph.meta.get("stream")
    if info is not None and model is not None:
        given = load_arrays(inputs, compiled.graph.inputs) if isinstance(inputs, (str, Path)) else inputs
        compiled = compile_for_length(model, compiled, blocks, given)
    if isinstance(inputs, (str, Path)):
        feeds = load_inputs(inputs, compiled)
    else:
        feeds = inputs or random_inputs(compiled, seed)
    want = run_onnxruntime(compiled, feeds)
    board_run = None
    if board:
        from dietgen.toolchain.emulate import run_on_board
        out, board_run = run_on_board(compiled, to_blocks(compiled, feeds), board)
        got = from_blocks(compiled, out)
    else:
        got = run_c(compiled, feeds, sanitize=sanitize, cc=cc)
    pairs = aligned(compiled, want, got)
    return VerifyReport(compiled.c_name, tol, tuple(compare(n, *pairs[n], tol) for n in compiled.graph.outputs),
                        board_run, compiled.graph.meta.get("stream"), len(to_blocks(compiled, feeds)))


def history_frames(compiled: Compiled) -> int:
    """The longest history any state keeps, in input frames (ring buffers, delays, overlap tails)."""
    g = compiled.graph
    info = g.meta["stream"]
    longest = 0
    for node in g.nodes:
        frames = {"ConvStream": (node.attrs.get("k", 1) - 1) * node.attrs.get("dilation", 1),
                  "Delay": node.attrs.get("frames", 0), "ConvTransposeStream": node.attrs.get("tail", 0)}.get(
            node.op_type, 0)
        if frames:
            x = g.tensors[node.inputs[0]] if node.op_type != "ConvTransposeStream" else g.tensors[node.outputs[0]]
            axis = node.attrs.get("axis", 2)
            rate = x.shape[axis] / info.block
            longest = max(longest, int(np.ceil(frames / rate)))
    return longest


def compile_for_length(model: Any, first: Compiled, blocks: int | None,
                       given: dict[str, np.ndarray] | None) -> Compiled:
    """The step program compiled again from the offline model made as long as the input to stream (``blocks``
    blocks, or the given arrays), so that onnxruntime runs that offline model over the whole input as the
    reference. Default length: enough blocks to fill every ring buffer and wrap it twice."""
    info = first.graph.meta["stream"]
    meta = first.graph.meta
    if given is not None:
        counts = {given[n].shape[a] / info.in_blocks[n] for n, a in info.time_axes.items()
                  if a is not None and n in given and given[n].ndim > a}
        if len(counts) != 1 or not next(iter(counts)).is_integer():
            raise DietgenUsageError(f"the inputs to stream must hold the same whole number of blocks "
                                    f"({', '.join(f'{n}: {b} frames' for n, b in info.in_blocks.items())} each)")
        count = int(counts.pop())
    else:
        count = blocks or max(8, -(-(2 * history_frames(first) + info.model_latency + 1) // info.block) + 1)
    dims = input_shapes(first)
    long = {n: tuple(count * info.in_blocks[n] if i == a else d for i, d in enumerate(dims[n]))
            for n, a in info.time_axes.items()}
    spec = StreamSpec(info.block, dict(info.time_axes))
    if isinstance(model, onnx.ModelProto) or str(model).endswith(".onnx"):
        proto = model if isinstance(model, onnx.ModelProto) else read_onnx(model)
        model = free_time_dims(proto, info.time_axes)
    try:
        return compile_model(model, long, first.c_name, meta.get("sample_rate"), stream=spec)
    except DietgenError as exc:
        raise DietgenUsageError(f"the offline model cannot be made {count} blocks long to serve as the reference "
                                f"({exc}); export it with a free time dimension, or give --input of its length")


def load_arrays(path: str | Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays of a .npy (the model's single input) or .npz (by input name); never unpickles."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DietgenError(f"{path}: cannot read inputs ({exc}); give a .npy or .npz file")
    if isinstance(data, np.ndarray) and len(names) > 1:
        raise DietgenError(f"{path}: the model has {len(names)} inputs; give an .npz with arrays named "
                           f"{', '.join(names)}")
    return {names[0]: data} if isinstance(data, np.ndarray) else {k: data[k] for k in data.files}
