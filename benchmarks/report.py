"""Write docs/benchmarks.md and docs/benchmarks.png: `dietgen bench` on the example models and the three
streaming shapes people compare with RTNeural, side by side in one run, plus stream_steps.py's instructions per
step.

    .venv/bin/python benchmarks/report.py                 # about 20 minutes on 2 cores
    .venv/bin/python benchmarks/report.py --board nano33ble --repeats 7 --baseline-rev 83e3240

--baseline-rev names the commit whose docs/benchmarks.md holds the "before" numbers; the tables are read back
from it (git show), so before and after sit side by side with the commit they came from.

Every number comes from this run on this machine: wall-clock medians (noisy on a shared machine: read the
ratios, measured side by side), callgrind instruction counts and emulator counts (deterministic).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stream_steps  # noqa: E402  (this folder's script, for its model shapes and its table)

from dietgen.bench import STREAM_AUDIO_SECONDS, bench  # noqa: E402
from dietgen.passes.stream import StreamSpec  # noqa: E402
from dietgen.report.plots import blank_figure, png_bytes  # noqa: E402

EXAMPLES = ("ddsp", "sing", "wavenet", "demo")
TARGET_PEAK = 0.30          # of the single-core FMA peak, on the largest conv and dense layers
TARGET_PER_MAC = 2.0        # instructions per MAC on the Cortex-M4F and M7
TARGET_CODE_BYTES = 8192    # the runtime's own code for a GRU model on the M4F
TARGET_COST = 0.10          # the cost model's estimate of an example's step against the emulator's count
PER_MAC_OPS = {"Conv": "Conv", "ConvStream": "Conv", "ConvTranspose": "ConvTranspose",
               "ConvTransposeStream": "ConvTranspose", "Dense": "Dense", "GRU": "GRU", "LSTM": "LSTM"}


class WideConv(nn.Module):
    """The largest conv layer shape of the targets: 128 -> 128 channels, kernel 3, over 512 frames."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(128, 128, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class WideDense(nn.Module):
    """The largest dense layer shape of the targets: 512 -> 512 over 256 rows."""

    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(512, 512)

    def forward(self, x):
        return self.dense(x)


LAYERS = {"conv128": (WideConv, (1, 128, 512)), "dense512": (WideDense, (256, 512))}
# The streaming shapes also run offline, the whole signal in one call as onnxruntime runs it: the like-for-like
# comparison for the offline target. As many frames as their streamed run (STREAM_AUDIO_SECONDS at 16 kHz).
OFFLINE = " offline"
OFFLINE_FRAMES = int(STREAM_AUDIO_SECONDS * 16000)


def models():
    """(label, model, shapes, stream) for each benchmarked model: the examples at their natural step, the
    streaming shapes one frame per step and offline."""
    for name in EXAMPLES:
        yield name, str(ROOT / "examples" / name), None, None
    for case in stream_steps.CASES:
        torch.manual_seed(stream_steps.SEED)
        yield case.name, case.factory().eval(), {"x": case.shape}, StreamSpec(1, {"x": case.time_axis})
    for case in stream_steps.CASES:
        torch.manual_seed(stream_steps.SEED)
        shape = list(case.shape)
        shape[case.time_axis] = OFFLINE_FRAMES
        yield case.name + OFFLINE, case.factory().eval(), {"x": tuple(shape)}, None
    for label, (factory, shape) in LAYERS.items():
        torch.manual_seed(0)
        yield label, factory().eval(), {"x": shape}, None


def baseline(rev: str) -> dict:
    """The tables of docs/benchmarks.md at commit ``rev``: C instructions per call and C -O3/onnxruntime time
    ratios per model, board instructions per MAC per (model, op) and per step, -O3 instructions per streaming
    step."""
    text = subprocess.run(["git", "show", f"{rev}:docs/benchmarks.md"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| model")]
    num = lambda v: float(v.replace(",", "").rstrip("x %")) if v else None  # noqa: E731
    out = {"instructions": {}, "ms": {}, "per_mac": {}, "board_step": {}, "stream": {}}
    for r in rows:
        if len(r) == 9:            # per runtime
            out["ms"][(r[0], r[1])] = num(r[2])
            if r[6]:
                out["instructions"][r[0]] = num(r[6])
        elif len(r) == 7:          # per op on the board
            out["per_mac"][(r[0], r[1])] = num(r[5])
        elif len(r) == 4:          # per step on the board
            out["board_step"][r[0]] = num(r[2])
        elif len(r) == 10 and r[1] == "1":   # streaming steps, one frame
            out["stream"][r[0]] = num(r[5])
    return out


def runtime_code_bytes(model, board_id: str, shapes=None, stream=None) -> tuple[int, list[str]]:
    """Bytes of code and data of the model's generated library without its weights (the model's step, the
    kernels it uses) plus the app layer's ring and MIDI parser, built for ``board_id`` with -Os as PlatformIO
    builds them (the model's unity file, the app's runtime on its own), and the libm functions it calls. The
    unity file includes the weights: their object, built alone, is taken off."""
    from dietgen.boards import get_board
    from dietgen.codegen.render import render, runtime_files, unity_name
    from dietgen.pipeline import compile_model
    board = get_board(board_id)
    compiled = compile_model(model, shapes=shapes, stream=stream)
    files = {**runtime_files({"ring", "midi"}), **render(compiled.graph)}
    built = {unity_name(compiled.c_name): 1, "dietgen/ring.c": 1, "dietgen/midi.c": 1,
             f"{compiled.c_name}_weights.c": -1}
    total, undefined = 0, set()
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(text)
        for rel, sign in built.items():
            obj = Path(tmp) / (rel + ".o")
            subprocess.run([board.toolchain.cc, *board.toolchain.cflags, "-std=c99", "-Os", "-ffunction-sections",
                            "-fdata-sections", f"-I{tmp}", "-c", str(Path(tmp) / rel), "-o", str(obj)], check=True)
            size = subprocess.run([board.toolchain.cc.replace("gcc", "size"), str(obj)], capture_output=True,
                                  text=True, check=True).stdout.splitlines()[1].split()
            total += sign * (int(size[0]) + int(size[1]))
            nm = subprocess.run([board.toolchain.cc.replace("gcc", "nm"), "-u", str(obj)], capture_output=True,
                                text=True, check=True).stdout
            undefined |= {line.split()[-1] for line in nm.splitlines() if line.strip()}
    libm = sorted(u for u in undefined if re.fullmatch(r"(exp|log|pow|sin|cos|tan|sqrt|erf|floor|ceil|fmod|"
                                                        r"log1p|expm1|atan2?|fmin|fmax|fma|round|trunc)f?", u))
    return total, libm


def runtime_table(reports: dict) -> list[str]:
    lines = ["| model | runtime | ms per call | min..max ms | ms per s of audio | vs C -O2 | instructions per call "
             "| MACs/s | % of FMA peak |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in reports.items():
        for row in r.rows:
            instr = f"{row.instructions:,.0f}" if row.instructions else ""
            lines.append(f"| {label} | {row.runtime} | {row.median * 1e3:.4g} | {row.minimum * 1e3:.4g}.."
                         f"{row.maximum * 1e3:.4g} | {row.ms_per_audio_second:.4g} | {row.ratio_vs_c_o2:.2f}x | "
                         f"{instr} | {row.macs_per_second / 1e6:,.1f} M | {row.fma_peak_fraction * 100:.2f} % |")
    return lines


def board_table(reports: dict) -> list[str]:
    lines = ["| model | op | nodes | instructions per step | MACs | instructions per MAC | share |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for label, r in reports.items():
        if r.board is None:
            continue
        for op in r.board.ops:
            per_mac = f"{op.per_mac:.1f}" if op.per_mac is not None else ""
            lines.append(f"| {label} | {op.op} | {op.nodes} | {op.count:,} | {op.macs:,.0f} | {per_mac} | "
                         f"{op.count / r.board.total * 100:.1f} % |")
    lines += ["", "| model | board | instructions per step | real-time factor |", "|---|---|---:|---:|"]
    lines += [f"| {label} | {r.board.board} | {r.board.total:,} | {r.board.rtf:.3g} |"
              for label, r in reports.items() if r.board is not None]
    return lines


def chart(reports: dict) -> bytes:
    """ms per second of audio per runtime and model, log scale (the models span four decades)."""
    runtimes = sorted({row.runtime for r in reports.values() for row in r.rows})
    fig = blank_figure(10, 5)
    ax = fig.subplots()
    width = 0.8 / len(runtimes)
    labels = list(reports)
    for i, runtime in enumerate(runtimes):
        values = [next((row.ms_per_audio_second for row in r.rows if row.runtime == runtime), 0.0)
                  for r in reports.values()]
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=runtime)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("ms of compute per second of audio (one thread)")
    ax.axhline(1000, color="black", lw=0.8, ls="--")
    ax.text(len(labels) - 0.5, 1000, " real time", va="bottom", ha="right", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title("dietgen bench: generated C vs onnxruntime and PyTorch, same inputs")
    fig.tight_layout()   # room for the slanted model names
    return png_bytes(fig)


def before_after(reports: dict, steps: list[dict], base: dict, rev: str) -> list[str]:
    lines = [f"Before: docs/benchmarks.md at commit {rev}. After: this run.", "",
             "| model | C -O2 instructions per call | C -O3 time / onnxruntime time | board instructions per step "
             "| x86 -O3 instructions per streaming step |", "|---|---:|---:|---:|---:|"]
    after_stream = {r["model"]: r["instructions_per_step"] for r in steps if r["block"] == 1 and r["opt"] == "-O3"}
    arrow = lambda a, b, f: f"{f(a)} -> {f(b)}" if a is not None and b is not None else (f(b) if b else "")  # noqa
    for label, r in reports.items():
        rows = {row.runtime: row for row in r.rows}
        c2, c3 = rows.get("C -O2"), rows.get("C -O3 -march=native")
        ort = rows.get("onnxruntime (1 thread)")
        ratio_now = c3.median / ort.median if c3 and ort else None
        o3_b, ort_b = base["ms"].get((label, "C -O3 -march=native")), base["ms"].get((label, "onnxruntime (1 thread)"))
        ratio_before = o3_b / ort_b if o3_b and ort_b else None
        lines.append(f"| {label} | {arrow(base['instructions'].get(label), c2.instructions if c2 else None, '{:,.0f}'.format)} "
                     f"| {arrow(ratio_before, ratio_now, '{:.2f}x'.format)} "
                     f"| {arrow(base['board_step'].get(label), r.board.total if r.board else None, '{:,.0f}'.format)} "
                     f"| {arrow(base['stream'].get(label), after_stream.get(label), '{:,.0f}'.format)} |")
    lines += ["", "Instructions per MAC on the board, per op (activations included for the RNNs):", "",
              "| model | op | before | after |", "|---|---|---:|---:|"]
    for label, r in reports.items():
        for op in (r.board.ops if r.board else ()):
            if op.op in PER_MAC_OPS and op.per_mac is not None:
                before = base["per_mac"].get((label, op.op))
                lines.append(f"| {label} | {op.op} | {'' if before is None else f'{before:.1f}'} | {op.per_mac:.2f} |")
    return lines


def targets(reports: dict, steps: list[dict], m7: dict, code: tuple[int, list[str]],
            costs: dict[tuple[str, str], tuple[str, float]]) -> list[str]:
    """The issue's targets, each with the number measured in this run and the distance to it."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for row in steps:
        if row["block"] == 1 and row["opt"] == "-O3":
            lo, hi = row["rtneural_reference"]
            n = row["instructions_per_step"]
            lines.append(f"| {row['model']}: one-sample step <= RTNeural ({lo:,}-{hi:,} instructions) | {n:,.0f} "
                         f"({n / lo:.2f}x RTNeural's best) | {'yes' if n <= hi else 'no'} |")
    for label, r in reports.items():
        rows = {row.runtime: row for row in r.rows}
        c3, ort = rows.get("C -O3 -march=native"), rows.get("onnxruntime (1 thread)")
        if c3 and ort:
            ratio = c3.median / ort.median
            how = (" (the C one frame per call, onnxruntime the whole signal in one)"
                   if label in stream_steps.CASES_BY_NAME else "")
            lines.append(f"| {label}: at least as fast as onnxruntime (one thread){how} | C -O3 takes {ratio:.2f}x "
                         f"onnxruntime's time | {'yes' if ratio <= 1 else 'no'} |")
    for label in LAYERS:
        c3 = next(row for row in reports[label].rows if row.runtime == "C -O3 -march=native")
        lines.append(f"| {label}: >= {TARGET_PEAK:.0%} of the FMA peak | {c3.fma_peak_fraction:.1%} | "
                     f"{'yes' if c3.fma_peak_fraction >= TARGET_PEAK else 'no'} |")
    for board, per_op in (("Cortex-M4F", _worst_per_mac(reports)), ("Cortex-M7", m7)):
        for op, (per_mac, where) in sorted(per_op.items()):
            lines.append(f"| {board} {op}: <= {TARGET_PER_MAC:g} instructions per MAC | {per_mac:.2f} (worst: "
                         f"{where}) | {'yes' if per_mac <= TARGET_PER_MAC else 'no'} |")
    size, libm = code
    lines.append(f"| gru24 on the Cortex-M4F: runtime code <= {TARGET_CODE_BYTES:,} bytes | {size:,} bytes "
                 f"(libm calls: {', '.join(libm) or 'none'}) | {'yes' if size <= TARGET_CODE_BYTES else 'no'} |")
    within = sum(abs(error) <= TARGET_COST for _, error in costs.values())
    (core, name), (_, error) = max(costs.items(), key=lambda kv: abs(kv[1][1]))
    lines.append(f"| cost model within {TARGET_COST:.0%} of the emulator on the examples | {within} of {len(costs)} "
                 f"example-core pairs (worst: {name} on the {core}, {error:+.1%}) | "
                 f"{'yes' if within == len(costs) else 'no'} |")
    return lines


def cost_model() -> dict[tuple[str, str], tuple[str, float]]:
    """(core, example) -> (board, estimate / count - 1): the cost model's estimate of each example's step
    (dietgen.cost, the committed tables) against the emulator's count of a steady-state step, on every core with
    a table and an emulator (the AVR holds none of the examples)."""
    from dietgen.calibrate import calibration_boards, measure
    from dietgen.cost import block_counts, has_cost_table
    from dietgen.pipeline import compile_model
    compiled = {name: compile_model(ROOT / "examples" / name) for name in EXAMPLES}
    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for core, board in sorted(calibration_boards().items()):
            if core == "avr" or not has_cost_table(core):
                continue
            for name, c in compiled.items():
                _, counted = measure(c, board, Path(tmp) / f"{core}-{name}")
                errors[core, name] = (board.id, block_counts(c.graph, core)[0] / counted - 1)
    return errors


def cost_model_table(errors: dict[tuple[str, str], tuple[str, float]]) -> list[str]:
    cores = sorted({core for core, _ in errors}, key=lambda c: (not c.startswith("cortex-m"), c))
    lines = ["Estimate (dietgen.cost) over the emulator's count of one step, per core (the board it is emulated "
             f"as) and example; the issue's bound is {TARGET_COST:.0%}.", "",
             f"| core | {' | '.join(EXAMPLES)} |", "|---|" + "---:|" * len(EXAMPLES)]
    for core in cores:
        board = errors[core, EXAMPLES[0]][0]
        lines.append(f"| {core} ({board}) | " + " | ".join(f"{errors[core, name][1]:+.1%}" for name in EXAMPLES)
                     + " |")
    return lines


def _worst_per_mac(reports: dict) -> dict[str, tuple[float, str]]:
    worst: dict[str, tuple[float, str]] = {}
    for label, r in reports.items():
        for op in (r.board.ops if r.board else ()):
            kind = PER_MAC_OPS.get(op.op)
            if kind and op.per_mac is not None and op.per_mac > worst.get(kind, (0.0, ""))[0]:
                worst[kind] = (op.per_mac, label)
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", default="nano33ble", help="emulated board for the per-op counts (a Cortex-M4F)")
    ap.add_argument("--m7-board", default="teensy41", help="emulated Cortex-M7 board for its per-MAC target")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--baseline-rev", default="83e3240", help="commit whose docs/benchmarks.md is 'before'")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args(argv)
    reports, m7 = {}, {}
    for label, model, shapes, stream in models():
        print(f"bench {label}", file=sys.stderr)
        board = None if label.endswith(OFFLINE) else args.board   # the board runs the streamed step
        reports[label] = bench(model, shapes=shapes, stream=stream, board=board, repeats=args.repeats)
        if label in stream_steps.CASES_BY_NAME or label in LAYERS:
            r7 = bench(model, shapes=shapes, stream=stream, board=args.m7_board, repeats=1)
            for op in r7.board.ops:
                kind = PER_MAC_OPS.get(op.op)
                if kind and op.per_mac is not None and op.per_mac > m7.get(kind, (0.0, ""))[0]:
                    m7[kind] = (op.per_mac, label)
    print("stream_steps", file=sys.stderr)
    table = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(table):
        stream_steps.main(["--blocks", "1,64", "--json", f"{tmp}/steps.json"])
        steps = json.loads(Path(f"{tmp}/steps.json").read_text())
    torch.manual_seed(stream_steps.SEED)
    gru = stream_steps.CASES_BY_NAME["gru24"]
    code = runtime_code_bytes(gru.factory().eval(), args.board, {"x": gru.shape}, StreamSpec(1, {"x": gru.time_axis}))
    print("cost model", file=sys.stderr)
    costs = cost_model()
    peaks = [r.fma_peak_macs_per_second / 1e9 for r in reports.values()]
    text = [
        "# Benchmarks",
        "",
        f"Written by `benchmarks/report.py` on {date.today().isoformat()} ({platform.machine()}, "
        f"{platform.processor() or 'CPU'}; one thread per runtime; FMA peak of this core "
        f"{min(peaks):.1f}-{max(peaks):.1f} G MACs/s as measured in each model's run, "
        f"{next(iter(reports.values())).fma_peak_how}; each row's share of the peak is of its own run's). "
        f"Wall-clock figures are medians "
        f"of {args.repeats} repeats run side by side in one run on a shared machine: read the ratios. Instruction "
        f"counts (callgrind, QEMU) are deterministic. Nothing here is asserted by a test.",
        "",
        "The examples run their natural step (DDSP and SING one frame, WaveNet one sample) as the board runs them;"
        " `lstm20`, `gru24` and `conv16` are the streaming shapes RTNeural publishes counts for, one frame per step;"
        f" `lstm20{OFFLINE}`, `gru24{OFFLINE}` and `conv16{OFFLINE}` are the same models run offline over"
        f" {OFFLINE_FRAMES:,} frames in one call, as onnxruntime runs them;"
        " `conv128` and `dense512` are single large layers run offline, for the share of the FMA peak."
        " onnxruntime and PyTorch run the offline model over the same input (they cannot carry state between calls"
        " of a streamed step), so their time per call is that run's time divided by the steps.",
        "",
        "![ms per second of audio](benchmarks.png)",
        "",
        "## Targets",
        "",
        *targets(reports, steps, m7, code, costs),
        "",
        "## Before and after the kernel work",
        "",
        *before_after(reports, steps, baseline(args.baseline_rev), args.baseline_rev),
        "",
        "## Per runtime",
        "",
        *runtime_table(reports),
        "",
        f"## On an emulated board ({args.board}): where the instructions go",
        "",
        *board_table(reports),
        "",
        "## The cost model against the emulators",
        "",
        *cost_model_table(costs),
        "",
        "## Instructions per streaming step against RTNeural",
        "",
        table.getvalue().strip(),
        "",
        "## Where this stands",
        "",
        (ROOT / "benchmarks" / "standing.md").read_text().strip(),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    args.out.with_suffix(".png").write_bytes(chart(reports))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
