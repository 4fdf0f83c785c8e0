"""How fast a model's generated C runs, side by side with onnxruntime and PyTorch, in one run on the same inputs.

Runtimes: the generated C built for this machine with -O2 and with -O3 -march=native (firmware/harness/
time_main.c times steps with a monotonic clock); onnxruntime on one thread; PyTorch eager on one thread when the
model came from PyTorch. Each is timed --repeats times; the report gives medians, min and max, time per second of
audio and ratios against C -O2, plus the -O2 build's instructions per call (callgrind), MACs per second against
this core's FMA peak (firmware/harness/fma_peak.c, measured in the same run), and with a board its emulator's
counts per op and real-time factor. Nothing here asserts a speed: the numbers are for people to read.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.resources import firmware

DEFAULT_REPEATS = 7
MIN_REPEAT_SECONDS = 0.02      # a Python-timed repeat loops calls until it lasts this long (as time_main.c does)
CALLGRIND_CALLS = 20           # calls counted by callgrind: instructions are deterministic, a few suffice
BOARD_BLOCKS = 3               # steps run on the emulator; the last one is counted (state filled by then)
STREAM_AUDIO_SECONDS = 0.25    # a streamed input at least this long, so the offline runtimes run real work
C_OPTS = {"C -O2": ("-O2",), "C -O3 -march=native": ("-O3", "-march=native")}


@dataclass(frozen=True)
class RuntimeRow:
    runtime: str
    seconds: tuple[float, ...]        # per call, one per repeat
    instructions: float | None        # per call (callgrind), C -O2 only
    note: str = ""
    median: float = 0.0
    minimum: float = 0.0
    maximum: float = 0.0
    ms_per_audio_second: float = 0.0
    ratio_vs_c_o2: float = 0.0
    macs_per_second: float = 0.0
    fma_peak_fraction: float = 0.0


@dataclass(frozen=True)
class OpRow:
    op: str
    nodes: int
    count: int                        # emulator instructions or cycles per step
    macs: float
    per_mac: float | None             # count / MACs; None for ops without multiplies


@dataclass(frozen=True)
class BoardBench:
    board: str
    core: str
    unit: str
    total: int
    ops: tuple[OpRow, ...]
    rtf: float
    rtf_how: str


@dataclass(frozen=True)
class BenchReport:
    model: str
    stream: bool
    calls_per_input: int              # NAME_step calls that cover the input the offline runtimes run at once
    out_frames: int                   # audio frames per call
    sample_rate: int
    macs_per_call: float
    fma_peak_macs_per_second: float
    fma_peak_how: str
    rows: tuple[RuntimeRow, ...]
    board: BoardBench | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def audio_seconds_per_call(self) -> float:
        return self.out_frames / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if k not in ("rows", "board")}
        doc["rows"] = [{**asdict(r), "seconds": list(r.seconds)} for r in self.rows]
        doc["board"] = None if self.board is None else {**asdict(self.board),
                                                        "ops": [asdict(o) for o in self.board.ops]}
        return doc


def callgrind_instructions(cmd: list, function: str, out_file: Path,
                           stdin: bytes | None = None) -> tuple[int, str]:
    """Instructions executed inside ``function`` and all it calls when ``cmd`` runs under callgrind, and the
    program's stdout. Symbols are bound up front so the dynamic linker's lazy binding is not counted."""
    env = {**os.environ, "LD_BIND_NOW": "1"}
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--toggle-collect={function}",
                        f"--callgrind-out-file={out_file}", *map(str, cmd)], input=stdin, capture_output=True,
                       env=env)
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 or "Unrecognised instruction" in err:
        raise DietgenError(f"callgrind failed on {Path(cmd[0]).name} (status {r.returncode}): "
                           f"{(err.strip().splitlines() or [''])[-1]}")
    m = re.search(r"^(?:summary|totals):\s*(\d+)", out_file.read_text(), re.M)
    if not m or int(m.group(1)) == 0:
        raise DietgenError(f"callgrind counted nothing in {function} of {Path(cmd[0]).name} (inlined or renamed?)")
    return int(m.group(1)), r.stdout.decode(errors="replace")


def fma_peak(workdir: Path) -> tuple[float, str]:
    """This core's FMA peak in MACs per second, measured by firmware/harness/fma_peak.c, and how."""
    from dietgen.toolchain.host import STRICT, find_compiler
    exe = workdir / "fma_peak"
    cmd = [find_compiler(), *STRICT, "-O3", "-march=native", str(firmware() / "harness" / "fma_peak.c"),
           "-o", str(exe), "-lm"]
    _checked(cmd, "the FMA peak probe")
    lanes, chains, _, gflops = _checked([str(exe)], "the FMA peak probe").split()
    return float(gflops) * 1e9 / 2, f"{lanes}-lane FMA x {chains} independent chains, best of 5 (fma_peak.c)"


def _checked(cmd: list[str], what: str, stdin: bytes | None = None) -> str:
    r = subprocess.run(cmd, input=stdin, capture_output=True)
    if r.returncode != 0:
        detail = (r.stderr.decode(errors="replace").strip().splitlines() or [""])
        line = next((x for x in detail if "error" in x), detail[0])
        raise DietgenError(f"{what} failed (status {r.returncode}): {line.strip()}")
    return r.stdout.decode()


def build_timer(src: Path, name: str, out: Path, opt: tuple[str, ...]) -> Path:
    """The generated library in ``src`` linked with firmware/harness/time_main.c, built with ``opt``."""
    from dietgen.toolchain.host import build_harness
    return build_harness(src, name, out, opt=opt[0], extra=opt[1:], main="time_main.c")


def time_c(exe: Path, blocks: np.ndarray, repeats: int) -> list[float]:
    """Seconds per call of each repeat."""
    lines = _checked([str(exe), str(repeats), "0"], exe.name,
                     np.ascontiguousarray(blocks, np.float32).tobytes()).split("\n")
    calls = int(lines[0].split()[1])
    return [float(x) / calls for x in lines[1:1 + repeats]]


def time_python(run, repeats: int) -> list[float]:
    """Seconds per ``run()`` of each repeat; a repeat loops until it lasts MIN_REPEAT_SECONDS."""
    run()                                    # warm-up: first-call allocations and lazy set-up
    start = time.perf_counter()
    run()
    loops = max(1, int(np.ceil(MIN_REPEAT_SECONDS / max(time.perf_counter() - start, 1e-9))))
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        out.append((time.perf_counter() - start) / loops)
    return out


def ort_session(proto):
    """onnxruntime on one core: one intra-op and one inter-op thread, nodes run one after another."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _torch_seconds(module, feeds: dict, names: list[str], repeats: int) -> list[float]:
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    args = [torch.from_numpy(feeds[n]) for n in names]
    try:
        with torch.no_grad():
            return time_python(lambda: module(*args), repeats)
    finally:
        torch.set_num_threads(threads)


def board_bench(compiled, blocks: np.ndarray, board_id: str, audio_seconds: float) -> BoardBench:
    from dietgen.cost import features
    from dietgen.generate import board_rtf
    from dietgen.boards import get_board
    from dietgen.toolchain.emulate import run_on_board
    _, run = run_on_board(compiled, blocks[:BOARD_BLOCKS], board_id)
    nodes = {n.name: n for n in compiled.graph.nodes}
    by_op: dict[str, list] = {}
    for name, op, count in run.per_node:
        entry = by_op.setdefault(op, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += count
        entry[2] += features(nodes[name], compiled.graph)["macs"]
    ops = tuple(OpRow(op, n, c, m, c / m if m else None)
                for op, (n, c, m) in sorted(by_op.items(), key=lambda kv: -kv[1][1]))
    rtf, _, how = board_rtf([run.total], get_board(board_id), audio_seconds)
    return BoardBench(run.board, run.core, run.unit, run.total, ops, rtf, how)


def check_board(board_id: str) -> None:
    """Refuse a board before anything is measured: unknown, or without an emulator to count on."""
    from dietgen.boards import get_board
    from dietgen.toolchain.cross import family
    board = get_board(board_id)
    if board.emulator.kind == "none":
        raise DietgenUsageError(f"board {board_id!r} has no emulator to count instructions on; choose a Cortex-M, "
                                f"AVR or Raspberry Pi board (see dietgen boards)")
    family(board)


def bench(model: Any, *, shapes=None, stream=None, block: int | None = None, board: str | None = None,
          repeats: int = DEFAULT_REPEATS, seed: int = 0, progress=None) -> BenchReport:
    """Time ``model``'s generated C (-O2, -O3 -march=native), onnxruntime and PyTorch (single thread) on the same
    seeded inputs; with ``board``, also count each op on the board's emulator. ``stream`` and ``block``: see
    pipeline.stream_request. A streamed program runs over enough blocks for STREAM_AUDIO_SECONDS of audio, and
    onnxruntime and PyTorch run the offline model over that whole input (their time per call is that run's time
    divided by the blocks). ``progress(label)`` is told each stage."""
    from dietgen.budget import sample_rate_of
    from dietgen.codegen.render import render
    from dietgen.cost import features
    from dietgen.frontend.sources import load_torch
    from dietgen.output import write_tree
    from dietgen.passes.stream import out_frames
    from dietgen.pipeline import compile_model
    from dietgen.verify import compile_for_length, random_inputs, to_blocks
    if repeats < 1:
        raise DietgenUsageError(f"--repeats {repeats}: time at least one repeat")
    if board:
        check_board(board)
    if shutil.which("valgrind") is None:
        raise DietgenError("valgrind not found (it counts instructions per call); install it: apt-get install "
                           "valgrind")
    say = progress or (lambda label: None)
    say("compiling")
    compiled = compile_model(model, shapes, block=block, stream=stream)
    g = compiled.graph
    info = g.meta.get("stream")
    frames, rate = out_frames(g), sample_rate_of(g)
    if info is not None:
        wanted = int(np.ceil(STREAM_AUDIO_SECONDS * rate / frames))
        compiled = compile_for_length(model, compiled, max(wanted, 8), None)
        g = compiled.graph
    feeds = random_inputs(compiled, seed)
    blocks = to_blocks(compiled, feeds)
    calls = len(blocks)
    macs = sum(features(n, g)["macs"] for n in g.nodes)
    names = [i.name for i in compiled.onnx.graph.input]
    measured: list[tuple[str, list[float], float | None, str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dietgen-bench-") as tmp:
        work = Path(tmp)
        say("measuring the FMA peak")
        peak, peak_how = fma_peak(work)
        src = write_tree(render(g), work / "src")
        for label, opt in C_OPTS.items():
            say(f"timing {label}")
            exe = build_timer(src, compiled.c_name, work / f"time{opt[0]}", opt)
            instructions = None
            if opt == ("-O2",):
                say("counting instructions (callgrind)")
                total, _ = callgrind_instructions([exe, 1, CALLGRIND_CALLS], "dg_time_steps", work / "callgrind.out",
                                                  blocks.astype(np.float32).tobytes())
                instructions = total / CALLGRIND_CALLS
            measured.append((label, time_c(exe, blocks, repeats), instructions, ""))
        whole = (f"the offline model over the same input ({calls} steps' worth), per step"
                 if info is not None else "")
        custom = [n.op_type for n in compiled.onnx.graph.node if n.domain not in ("", "ai.onnx")]
        session = None
        if custom:
            notes.append(f"onnxruntime not timed: it cannot run dietgen's own op {custom[0]}")
        else:
            try:
                session = ort_session(compiled.onnx)
            except Exception as exc:     # onnxruntime refuses some layouts (batch-first GRU / LSTM)
                notes.append(f"onnxruntime not timed: it cannot load the model ({str(exc).splitlines()[0][:120]})")
        if session is not None:
            say("timing onnxruntime")
            outs = [o.name for o in compiled.onnx.graph.output]
            seconds = time_python(lambda: session.run(outs, feeds), repeats)
            measured.append(("onnxruntime (1 thread)", [s / calls for s in seconds], None, whole))
        loaded = load_torch(model, shapes) if not hasattr(model, "SerializeToString") else None
        if loaded is not None:
            say("timing PyTorch")
            seconds = _torch_seconds(loaded[0].eval(), feeds, names, repeats)
            measured.append(("PyTorch eager (1 thread)", [s / calls for s in seconds], None, whole))
        board_result = None
        if board:
            say(f"counting on {board}'s emulator")
            board_result = board_bench(compiled, blocks, board, frames / rate)
    base = statistics.median(measured[0][1])
    rows = []
    for label, seconds, instructions, note in measured:
        med = statistics.median(seconds)
        rows.append(RuntimeRow(label, tuple(seconds), instructions, note, med, min(seconds), max(seconds),
                               1e3 * med * rate / frames, med / base, macs / med, macs / med / peak))
    return BenchReport(compiled.c_name, info is not None, calls, frames, rate, macs, peak, peak_how, tuple(rows),
                       board_result, tuple(notes))


def plot(report: BenchReport) -> bytes:
    """A PNG bar chart: milliseconds of compute per second of audio, per runtime (lower is faster)."""
    from dietgen.report.plots import blank_figure, png_bytes
    fig = blank_figure(7, 0.6 * len(report.rows) + 1.5)
    ax = fig.add_subplot(1, 1, 1)
    labels = [r.runtime for r in report.rows][::-1]
    values = [r.ms_per_audio_second for r in report.rows][::-1]
    ax.barh(labels, values, color="tab:blue")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.3g}", va="center", fontsize=8)
    ax.set_xlabel("ms of compute per second of audio (median, lower is faster)")
    ax.set_title(f"{report.model}: {'streamed' if report.stream else 'offline'}, {report.out_frames} frames per "
                 f"call at {report.sample_rate} Hz", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)
