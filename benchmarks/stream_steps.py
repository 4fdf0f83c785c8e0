"""Instructions per streaming step of dietgen's generated C, counted with callgrind.

For three model shapes that users compare against RTNeural:

- ``lstm20``: LSTM(1->20) + Dense(20->1), input (1, T, 1), time axis 1;
- ``gru24``: 2-layer GRU 8->24->24 + Dense(24->4), input (1, T, 8), time axis 1;
- ``conv16``: 10 causal Conv1d(16->16, kernel 3, dilations 1, 2, 4, ..., 512), tanh after every layer but the
  last, input (1, 16, T), time axis 2;

and for each block size (1 and 64 input frames per step by default), the script compiles the step program with
``dietgen.pipeline.compile_model(..., stream=StreamSpec(...))``, renders the C, writes a small ``main.c`` beside it
and builds it with ``gcc -std=c99 -O3 -march=native -ffp-contract=off`` (and ``-O2`` as a second column), the
library as its one translation unit ``<name>_unity.c`` as dietgen builds it (``--separate``: file by file, the
kernels then external and compiled without the model's sizes). The
program calls ``<name>_init()``, runs ``--warmup`` steps, then exactly ``--steps`` steps inside
``bench_steps()`` (``noinline``/``noclone``). ``valgrind --tool=callgrind --toggle-collect=bench_steps`` counts
the instructions executed inside ``bench_steps`` and everything it calls (libm included); instructions per
step = that total / ``--steps``, and per frame = per step / block. The input is pseudo-random and fixed
(numpy, seeded), prepared before ``bench_steps`` and read from a file, so neither input generation nor I/O is
counted. The few loop instructions in ``bench_steps`` itself (under 10 per step) are.

Before measuring, each program is run natively and its streamed output is compared with the PyTorch
module run offline on the same signal (shifted by the model's latency), so a broken program is never timed.

Valgrind cannot decode AVX-512 instructions. When ``-march=native`` enables AVX-512 on this machine, the script
adds ``-mno-avx512f`` (all other native extensions, e.g. AVX2 and FMA, stay on) and says so; the flags used are
printed and stored in the JSON.

The table also shows RTNeural's published compile-time-API counts (AVX2, callgrind) as a reference. They
are copied from RTNeural's figures, not measured here.

Run from the repository root:

    .venv/bin/python benchmarks/stream_steps.py
    .venv/bin/python benchmarks/stream_steps.py --json build/stream_steps.json
    .venv/bin/python benchmarks/stream_steps.py --models lstm20 --blocks 1 --steps 100 --build-dir build/bench

It needs gcc, valgrind (callgrind, callgrind_annotate not required) and the project's virtualenv. Build files go to
a temporary folder removed at the end unless ``--build-dir`` is given.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dietgen.bench import callgrind_instructions
from dietgen.toolchain.host import library_sources
from dietgen.codegen.render import render
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model

BASE_CFLAGS = ["-std=c99", "-march=native", "-ffp-contract=off"]
OPT_LEVELS = ("-O3", "-O2")
SEED = 0               # torch.manual_seed before building each model
INPUT_SEED = 1234      # numpy seed of the streamed input
INPUT_SCALE = 0.5      # input uniform in [-0.5, 0.5)


# -- the three model shapes --------------------------------------------------------------------------------------
class LSTMDense(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(1, 20, batch_first=True)
        self.dense = nn.Linear(20, 1)

    def forward(self, x):
        return self.dense(self.rnn(x)[0])


class GRUDense(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 24, num_layers=2, batch_first=True)
        self.dense = nn.Linear(24, 4)

    def forward(self, x):
        return self.dense(self.rnn(x)[0])


class DilatedConvStack(nn.Module):
    def __init__(self, channels: int = 16, layers: int = 10, kernel: int = 3):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=2 ** i) for i in range(layers))

    def forward(self, x):                 # dietgen names the input after this argument: "x"
        h = x
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            d = conv.dilation[0]
            h = conv(F.pad(h, ((conv.kernel_size[0] - 1) * d, 0)))   # causal: (kernel-1)*d zeros on the left
            if i < last:
                h = torch.tanh(h)
        return h


@dataclass(frozen=True)
class Case:
    name: str                       # also the C prefix
    description: str
    factory: Callable[[], nn.Module]
    shape: tuple[int, ...]          # offline input shape (only used for export)
    time_axis: int
    rtneural: tuple[int, int]       # RTNeural's published instructions/step (min, max): reference only


CASES = [
    Case("lstm20", "LSTM(1->20) + Dense(20->1)", LSTMDense, (1, 256, 1), 1, (1323, 1502)),
    Case("gru24", "GRU 8->24->24 (2 layers) + Dense(24->4)", GRUDense, (1, 256, 8), 1, (2740, 3289)),
    Case("conv16", "10x causal Conv1d(16->16, k3, d=1..512) + tanh", DilatedConvStack, (1, 16, 256), 2,
         (4728, 5178)),
]
CASES_BY_NAME = {case.name: case for case in CASES}


# -- the C driver --------------------------------------------------------------------------------------------------
MAIN_C = r"""/* Generated by benchmarks/stream_steps.py: callgrind driver for {c_name}_step. */
#include <stdio.h>
#include <stdlib.h>
#include "{c_name}.h"

/* The measured region: callgrind --toggle-collect=bench_steps counts this function and all it calls. */
__attribute__((noinline, noclone)) void bench_steps(const float *in, float *out, long steps)
{{
    long i;
    for (i = 0; i < steps; ++i)
        {c_name}_step(in + i * {P}_IN_SIZE, out + i * {P}_OUT_SIZE);
}}

/* usage: main INPUT.bin WARMUP STEPS [OUTPUT.bin]; INPUT holds (WARMUP + STEPS) * {P}_IN_SIZE floats */
int main(int argc, char **argv)
{{
    long warmup, steps, total, i;
    float *in, *out;
    double checksum = 0.0;
    FILE *f;
    if (argc < 4) {{
        fprintf(stderr, "usage: %s INPUT.bin WARMUP STEPS [OUTPUT.bin]\n", argv[0]);
        return 2;
    }}
    warmup = atol(argv[2]);
    steps = atol(argv[3]);
    total = warmup + steps;
    in = malloc((size_t)total * {P}_IN_SIZE * sizeof(float));
    out = malloc((size_t)total * {P}_OUT_SIZE * sizeof(float));
    if (!in || !out) return 3;
    f = fopen(argv[1], "rb");
    if (!f || fread(in, sizeof(float), (size_t)total * {P}_IN_SIZE, f) != (size_t)total * {P}_IN_SIZE) {{
        fprintf(stderr, "cannot read %ld steps of input from %s\n", total, argv[1]);
        return 4;
    }}
    fclose(f);

    {c_name}_init();
    for (i = 0; i < warmup; ++i)            /* also resolves libm/libc symbols before the measured region */
        {c_name}_step(in + i * {P}_IN_SIZE, out + i * {P}_OUT_SIZE);
    bench_steps(in + warmup * {P}_IN_SIZE, out + warmup * {P}_OUT_SIZE, steps);

    for (i = 0; i < total * {P}_OUT_SIZE; ++i)
        checksum += out[i];
    printf("checksum %.17g\n", checksum);
    if (argc > 4) {{
        f = fopen(argv[4], "wb");
        if (!f || fwrite(out, sizeof(float), (size_t)total * {P}_OUT_SIZE, f) != (size_t)total * {P}_OUT_SIZE)
            return 5;
        fclose(f);
    }}
    free(in);
    free(out);
    return 0;
}}
"""


def native_has_avx512() -> bool:
    r = subprocess.run(["gcc", "-march=native", "-Q", "--help=target"], capture_output=True, text=True)
    return bool(re.search(r"^\s*-mavx512f\s+\[enabled\]", r.stdout, re.M))


def header_macros(header: Path, prefix: str) -> dict[str, int]:
    text = header.read_text()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(rf"^#define {prefix}_(\w+)\s+(-?\d+)\s*$", text, re.M)}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}")
    return r


def split_steps(x: np.ndarray, axis: int, block: int) -> np.ndarray:
    """(.., T, ..) -> (T/block, prod(step shape)): each step's block in C order, steps back to back."""
    steps = x.shape[axis] // block
    parts = np.split(x, steps, axis=axis)
    return np.stack([np.ascontiguousarray(p).reshape(-1) for p in parts])


def join_steps(flat: np.ndarray, step_shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Inverse of split_steps for an output of ``step_shape`` per step."""
    per = int(np.prod(step_shape))
    steps = flat.size // per
    return np.concatenate([flat[i * per:(i + 1) * per].reshape(step_shape) for i in range(steps)], axis=axis)


@dataclass
class Built:
    case: Case
    block: int
    c_name: str
    dir: Path
    macros: dict[str, int]
    in_axis: int
    out_axis: int
    out_step_shape: tuple[int, ...]
    input_file: Path
    x_full: np.ndarray             # the whole streamed signal, offline layout
    ref: np.ndarray                # the module's offline output on it


def export_case(case: Case, module: nn.Module, block: int, root: Path, warmup: int, steps: int) -> Built:
    spec = StreamSpec(block=block, time_axes={"x": case.time_axis})
    compiled = compile_model(module, {"x": case.shape}, case.name, stream=spec)   # dietgen errors propagate
    d = root / f"{case.name}_b{block}"
    src = write_tree(render(compiled.graph), d / "src", force=True)
    c_name = compiled.c_name
    prefix = c_name.upper()
    macros = header_macros(Path(src) / f"{c_name}.h", prefix)
    for key in ("IN_SIZE", "OUT_SIZE", "STATE_BYTES", "ARENA_BYTES", "LATENCY", "BLOCK"):
        if key not in macros:
            raise RuntimeError(f"{c_name}.h has no {prefix}_{key}")
    if macros["BLOCK"] != block:
        raise RuntimeError(f"{prefix}_BLOCK is {macros['BLOCK']}, asked for {block}")
    info = compiled.graph.meta.get("stream")
    out_name = compiled.graph.outputs[0]
    out_axis = info.out_axes[out_name] if info is not None else case.time_axis
    out_block = macros.get("OUT_BLOCK", block)
    out_step_shape = list(compiled.graph.tensors[out_name].shape)
    out_step_shape[out_axis] = out_block
    if int(np.prod(out_step_shape)) != macros["OUT_SIZE"]:
        raise RuntimeError(f"output step shape {out_step_shape} does not match {prefix}_OUT_SIZE")

    (d / "main.c").write_text(MAIN_C.format(c_name=c_name, P=prefix))
    shape = list(case.shape)
    shape[case.time_axis] = (warmup + steps) * block
    rng = np.random.default_rng(INPUT_SEED)
    x_full = ((rng.random(shape, dtype=np.float32) - 0.5) * (2 * INPUT_SCALE)).astype(np.float32)
    flat = split_steps(x_full, case.time_axis, block)
    if flat.shape[1] != macros["IN_SIZE"]:
        raise RuntimeError(f"input step of {flat.shape[1]} floats, {prefix}_IN_SIZE is {macros['IN_SIZE']}")
    input_file = d / "input.bin"
    flat.astype("<f4").tofile(input_file)
    with torch.no_grad():                      # here, not in the worker threads that overlap the next export
        ref = module(torch.from_numpy(x_full)).numpy()
    return Built(case, block, c_name, d, macros, case.time_axis, out_axis, tuple(out_step_shape), input_file,
                 x_full, ref)


def build(b: Built, opt: str, extra: list[str], unity: bool) -> tuple[Path, list[str]]:
    src = b.dir / "src"
    sources = [b.dir / "main.c", *library_sources(src, b.c_name, unity=unity)]
    flags = [*BASE_CFLAGS[:1], opt, *BASE_CFLAGS[1:], *extra]
    exe = b.dir / f"bench{opt}"
    run(["gcc", *flags, f"-I{src}", *map(str, sources), "-o", str(exe), "-lm"])
    return exe, flags


def check_output(b: Built, exe: Path, warmup: int, steps: int, tol: float) -> float:
    """Run natively, compare the streamed output with the module run offline; return the max abs error."""
    out_file = b.dir / "output.bin"
    run([str(exe), str(b.input_file), str(warmup), str(steps), str(out_file)])
    got = join_steps(np.fromfile(out_file, dtype="<f4"), b.out_step_shape, b.out_axis)
    ref = b.ref
    lat = b.macros["LATENCY"]
    n = got.shape[b.out_axis] - lat
    got = np.take(got, np.arange(lat, lat + n), axis=b.out_axis)
    ref = np.take(ref, np.arange(n), axis=b.out_axis)
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    scale = max(1.0, float(np.max(np.abs(ref))))
    if not np.isfinite(err) or err > tol * scale:
        raise RuntimeError(f"{b.c_name} block {b.block}: streamed C output differs from PyTorch by {err:g} "
                           f"(tolerance {tol * scale:g}); not benchmarking a wrong program")
    return err


def callgrind(b: Built, exe: Path, warmup: int, steps: int) -> tuple[int, str]:
    total, stdout = callgrind_instructions([exe, b.input_file, warmup, steps], "bench_steps",
                                           exe.with_suffix(".callgrind"))
    checksum = re.search(r"checksum (\S+)", stdout)
    return total, checksum.group(1) if checksum else ""


def fmt_int(v: float) -> str:
    return f"{v:,.0f}"


def markdown(rows: list[dict], opts: tuple[str, ...], flags_note: str) -> str:
    by_key: dict[tuple[str, int], dict[str, dict]] = {}
    for r in rows:
        by_key.setdefault((r["model"], r["block"]), {})[r["opt"]] = r
    head = ["model", "block", "state B", "arena B", "latency"]
    for o in opts:
        head += [f"{o} instr/step", f"{o} instr/frame"]
    head.append("RTNeural instr/frame (reference)")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for (model, block), per in by_key.items():
        first = next(iter(per.values()))
        cells = [model, str(block), fmt_int(first["state_bytes"]), fmt_int(first["arena_bytes"]),
                 str(first["latency"])]
        for o in opts:
            r = per.get(o)
            cells += [fmt_int(r["instructions_per_step"]), fmt_int(r["instructions_per_frame"])] if r else ["", ""]
        lo, hi = first["rtneural_reference"]
        cells.append(f"{lo:,}-{hi:,}")
        lines.append("| " + " | ".join(cells) + " |")
    desc = {r["model"]: r["description"] for r in rows}
    notes = ["", *(f"- `{k}`: {v}" for k, v in desc.items()),
             f"- Measured here with callgrind (instructions in `bench_steps` / steps, libm calls included); "
             f"{flags_note}",
             "- RTNeural column: RTNeural's published compile-time-API counts (AVX2, callgrind), per sample; "
             "reference figures, NOT measured here."]
    return "\n".join(lines + notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="PATH", help="write one row per (model, block, opt level) to PATH")
    ap.add_argument("--models", default=",".join(c.name for c in CASES),
                    help="comma-separated subset of " + ", ".join(c.name for c in CASES))
    ap.add_argument("--blocks", default="1,64", help="comma-separated block sizes (default 1,64)")
    ap.add_argument("--steps", type=int, default=200, help="measured steps (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="unmeasured steps before them (default 20)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs error against PyTorch, scaled by max(1, |ref|)")
    ap.add_argument("--build-dir", type=Path, help="keep the generated C, programs and callgrind files here")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel gcc/valgrind runs")
    ap.add_argument("--separate", action="store_true",
                    help="compile the generated files one by one instead of the unity file")
    args = ap.parse_args(argv)

    for tool in ("gcc", "valgrind"):
        if shutil.which(tool) is None:
            ap.error(f"{tool} not found on PATH")
    names = [n for n in args.models.split(",") if n]
    unknown = set(names) - {c.name for c in CASES}
    if unknown:
        ap.error(f"unknown model(s): {', '.join(sorted(unknown))}")
    cases = [c for c in CASES if c.name in names]
    blocks = [int(b) for b in args.blocks.split(",") if b]

    extra: list[str] = []
    flags_note = "gcc flags `-std=c99 -O3|-O2 -march=native -ffp-contract=off`."
    if native_has_avx512():
        extra = ["-mno-avx512f"]
        flags_note = ("gcc flags `-std=c99 -O3|-O2 -march=native -ffp-contract=off -mno-avx512f` (this CPU has "
                      "AVX-512, which valgrind cannot decode; AVX2/FMA stay enabled).")
    flags_note += (" The generated files compiled one by one." if args.separate else
                   " The library compiled as its one translation unit, `<name>_unity.c`.")

    tmp = None
    if args.build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dietgen-stream-steps-")
        root = Path(tmp.name)
    else:
        root = args.build_dir.resolve()
        root.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    rows: list[dict] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = []
            for case in cases:
                torch.manual_seed(SEED)
                module = case.factory().eval()
                for block in blocks:
                    print(f"[{time.time() - t0:5.1f}s] compiling {case.name} block {block}", file=sys.stderr)
                    b = export_case(case, module, block, root, args.warmup, args.steps)
                    futures.append(pool.submit(measure, b, args, extra))   # overlaps the next export
            for f in futures:
                rows.extend(f.result())
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"[{time.time() - t0:5.1f}s] done", file=sys.stderr)

    print(markdown(rows, OPT_LEVELS, flags_note))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def measure(b: Built, args, extra: list[str]) -> list[dict]:
    rows = []
    checksums = {}
    for opt in OPT_LEVELS:
        exe, flags = build(b, opt, extra, unity=not args.separate)
        err = check_output(b, exe, args.warmup, args.steps, args.tol)
        total, checksum = callgrind(b, exe, args.warmup, args.steps)
        checksums[opt] = checksum
        per_step = total / args.steps
        rows.append({
            "model": b.case.name,
            "description": b.case.description,
            "block": b.block,
            "opt": opt,
            "cflags": " ".join(flags),
            "build": "separate" if args.separate else "unity",
            "state_bytes": b.macros["STATE_BYTES"],
            "arena_bytes": b.macros["ARENA_BYTES"],
            "weight_bytes": b.macros.get("WEIGHT_BYTES"),
            "latency": b.macros["LATENCY"],
            "warmup_steps": args.warmup,
            "measured_steps": args.steps,
            "instructions_total": total,
            "instructions_per_step": per_step,
            "instructions_per_frame": per_step / b.block,
            "max_abs_error_vs_torch": err,
            "output_checksum": checksum,
            "rtneural_reference": list(b.case.rtneural),
            "rtneural_reference_note": "RTNeural published compile-time API, AVX2, callgrind, instructions per "
                                       "sample; reference only, not measured here",
        })
    print(f"  {b.case.name} block {b.block}: "
          + ", ".join(f"{r['opt']} {r['instructions_per_step']:,.0f} instr/step" for r in rows), file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.exit(main())
