"""Calibration of the per-core cost model (dietgen.cost) on the emulators: ``dietgen calibrate``.

It runs a fixed set of small models (convolutions, stacks of gated layers, recurrent layers, transposed-convolution
decoders, embeddings, and a synthesizer's signal ops with dietgen::NoiseFIR, in three sizes each, offline and as
streamed step programs of one and more frames), none of them an example model, on each emulated core, and fits the
table to the per-node counts. The counts of a whole step are exact, but its split into nodes is blurred: in the one
translation unit a model compiles to, the compiler inlines a kernel called once and specialises it to its sizes (on
AArch64 it also vectorises it), so one node costs a quarter of what the same node costs where its kernel is shared.
The fit therefore weighs each node by its relative error (a one-frame step fitted as well as a whole window) or by
the square root of its count (the large nodes that make most of a step pull harder), keeps the weighting whose
estimates of the calibration models' totals come out closer, and scales the table by the factor that centres those
totals (the geometric mean of count over estimate).
It sits above both the cost model and the emulators (which count with the cost model's kernel_calls).
"""
from __future__ import annotations

import itertools
import json
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dietgen.boards import Board, boards
from dietgen.codegen.render import render
from dietgen.cost import (COSTS_DIR, CYCLES_PER_INSTRUCTION, cost_table, features, fused_fn, kernel_calls,
                          node_count)
from dietgen.errors import DietgenError
from dietgen.ops.registry import registry
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model
from dietgen.toolchain.cross import build_elf, cross_available, family
from dietgen.toolchain.emulate import node_counts, run_elf, unit_of


def calibration_models() -> list[tuple[str, Callable, dict, Any]]:
    """Small models covering the layer and op families of the zoo, each in three sizes (all but the largest of
    each family fit 8 KB of AVR RAM), offline and as step programs (the last item: what compile_model's
    ``stream`` takes)."""
    import torch
    from torch import nn

    from dietgen.models.synth import harmonic_bank, noise_for
    from dietgen.ops.causal_fir import causal_fir

    class Gated(nn.Module):
        def __init__(self, c, d):
            super().__init__()
            self.d = d
            self.inp = nn.Conv1d(1, c, 1)
            self.gate = nn.Conv1d(c, 2 * c, 2, dilation=d)
            self.res = nn.Conv1d(c, c, 1)
            self.out = nn.Conv1d(c, 4, 1)
            self.skip = nn.Conv1d(c, 4, 1)

        def forward(self, x):
            h = self.inp(torch.relu(x))
            a, b = self.gate(nn.functional.pad(h, (self.d, 0))).chunk(2, dim=1)
            g = torch.tanh(a) * torch.sigmoid(b)
            y = self.out(torch.relu(h + self.res(g)))
            return (y + self.skip(g)).transpose(1, 2)

    class Stack(nn.Module):
        """Gated residual layers of doubling dilation summed into a skip path, as a sample-level WaveNet stacks
        them: every layer calls the same kernels, which the compiler then shares between the layers rather than
        specialising each call (a one-layer model's kernels are inlined where they are called)."""

        def __init__(self, c, layers):
            super().__init__()
            self.inp = nn.Conv1d(1, c, 1)
            self.dilations = [2 ** i for i in range(layers)]
            self.gate = nn.ModuleList(nn.Conv1d(c, 2 * c, 2, dilation=d) for d in self.dilations)
            self.res = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in self.dilations)
            self.skip = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in self.dilations)
            self.out = nn.Conv1d(c, 4, 1)

        def forward(self, x):
            h, s = self.inp(x), 0
            for d, gate, res, skip in zip(self.dilations, self.gate, self.res, self.skip):
                a, b = gate(nn.functional.pad(h, (d, 0))).chunk(2, dim=1)
                g = torch.tanh(a) * torch.sigmoid(b)
                h = h + res(g)
                s = s + skip(g)
            return self.out(torch.relu(s)).transpose(1, 2)

    class Recurrent(nn.Module):
        def __init__(self, i, h, w=None):
            super().__init__()
            self.pre = nn.Linear(i, w or h)
            self.gru = nn.GRU(w or h, h, batch_first=True)
            self.lstm = nn.LSTM(h, h, batch_first=True)
            self.post = nn.Linear(h, 2)

        def forward(self, x):
            y, _ = self.gru(torch.relu(self.pre(x)))
            y, _ = self.lstm(y)
            return torch.sigmoid(self.post(y))

    class Decoder(nn.Module):
        """A transposed convolution fed by a ReLU, as a decoder's layers follow one another: about half its inputs
        are zeros, which the soft-float cores (Cortex-M0+, M3) multiply and add in a fraction of the time (SING's
        decoder on the M3 costs 58 instructions per MAC, the same layer on dense inputs 89-97)."""

        def __init__(self, c, s):
            super().__init__()
            self.up = nn.ConvTranspose1d(c, 3, 4 * s, stride=s, padding=(3 * s) // 2)
            self.head = nn.Linear(3, 1)

        def forward(self, z):
            return torch.tanh(self.head(self.up(torch.relu(z)).transpose(1, 2)))

    class Projection(nn.Module):
        """A wide input projected to a few outputs (a decoder's head): rows of W outside the packed panels."""

        def __init__(self, i, o):
            super().__init__()
            self.proj = nn.Linear(i, o)

        def forward(self, x):
            return torch.tanh(self.proj(x))

    class Upsampler(nn.Module):
        """A wide transposed convolution, channels in as many out (a sample-level decoder's upsampling)."""

        def __init__(self, c, s):
            super().__init__()
            self.up = nn.ConvTranspose1d(c, c, 4 * s, stride=s, padding=(3 * s) // 2)
            self.out = nn.Conv1d(c, 1, 1)

        def forward(self, z):
            return self.out(torch.tanh(self.up(z)))

    class Embedded(nn.Module):
        """Learned per-frame embeddings (Gather, Expand, Concat) into an LSTM, upsampled by a wide-stride
        transposed convolution and smoothed: the shapes of a sample-level decoder."""

        def __init__(self, frames, h, c, s):
            super().__init__()
            self.frames = frames
            self.time = nn.Embedding(frames, 4)
            self.lstm = nn.LSTM(6, h, batch_first=True)
            self.proj = nn.Linear(h, c)
            self.up = nn.ConvTranspose1d(c, c, 4 * s, stride=s, padding=(3 * s) // 2)
            self.smooth = nn.Conv1d(c, 1, 3, padding=1)

        def forward(self, x):
            t = self.time(torch.arange(self.frames)).unsqueeze(0).expand(x.shape[0], -1, -1)
            picked = x.index_select(2, torch.tensor([1, 0])) + x[:, :, :1].expand(-1, -1, 2)
            y, _ = self.lstm(torch.cat([picked, t], -1))
            return self.smooth(self.up(self.proj(y).transpose(1, 2)))

    class Synth(nn.Module):
        """Frame controls to audio with the signal ops of a sinusoidal-plus-noise synthesizer: phase
        accumulation, sines, envelopes and reductions written out in ONNX ops, and the synthesis ops of the
        dietgen domain (Harmonic, NoiseFIR, and CausalFIR for a reverb of ``reverb`` taps)."""

        def __init__(self, frames, hop, harmonics, taps, reverb):
            super().__init__()
            self.hop, self.harmonics, self.taps = hop, harmonics, taps
            self.reverb = nn.Parameter(torch.randn(reverb) * 0.01)
            self.pre = nn.Linear(2, 8)
            self.norm = nn.LayerNorm(8)
            self.gru = nn.GRU(8, 8, batch_first=True)
            self.post = nn.Linear(8, harmonics + taps)

        def forward(self, f0, loudness):
            h = torch.relu(self.norm(self.pre(torch.stack([torch.log(f0 + 1.0), loudness], -1))))
            c = self.post(self.gru(h)[0])
            amps = torch.clamp(c[..., :self.harmonics], -4.0, 4.0)
            ir = 2.0 * torch.sigmoid(c[..., self.harmonics:]) ** 2.3 + 1e-7
            amps = amps / (ir.sum(-1, keepdim=True) + 1.0)
            step = f0 * (self.hop / 16000)
            phase = torch.cumsum(step - torch.floor(step), -1)
            phase = phase - torch.floor(phase)
            theta = phase.unsqueeze(-1) + f0.unsqueeze(-1) * (torch.arange(self.hop, dtype=torch.float32) / 16000)
            cycles = theta.unsqueeze(-1) * torch.arange(1, self.harmonics + 1, dtype=torch.float32)
            sines = torch.sin(6.283185307 * (cycles - torch.floor(cycles)))
            harmonic = (amps.unsqueeze(2) * sines).sum(-1).reshape(f0.shape[0], -1)
            if torch.onnx.is_in_onnx_export():
                noise = torch.onnx.ops.symbolic("dietgen::NoiseFIR", (ir,), {"hop": self.hop, "seed": 7},
                                                dtype=torch.float32, shape=(f0.shape[0], f0.shape[1] * self.hop),
                                                version=1)
            else:
                noise = noise_for(ir, self.hop, 7)
            dry = harmonic + harmonic_bank(f0, amps.abs(), self.hop, 16000) + noise
            if torch.onnx.is_in_onnx_export():
                wet = torch.onnx.ops.symbolic("dietgen::CausalFIR", (dry, self.reverb), {}, dtype=torch.float32,
                                              shape=tuple(dry.shape), version=1)
            else:
                wet = torch.from_numpy(causal_fir(dry.detach().numpy(), self.reverb.detach().numpy()))
            return dry + wet + nn.functional.pad(dry, (3, 0))[:, :-3]

    class Centred(nn.Module):
        """A centred convolution summed with its input (its lookahead delays the other branch), then a causal
        one."""

        def __init__(self, c):
            super().__init__()
            self.inp = nn.Conv1d(1, c, 1)
            self.mid = nn.Conv1d(c, c, 3, padding=1)
            self.out = nn.Conv1d(c, 2, 2)

        def forward(self, x):
            h = self.inp(x)
            h = h + torch.tanh(self.mid(h))
            return self.out(nn.functional.pad(h, (1, 0)))

    offline = False
    return [("gated-4", lambda: Gated(4, 1), {"x": (1, 1, 16)}, offline),
            ("gated-6", lambda: Gated(6, 2), {"x": (1, 1, 40)}, offline),
            ("gated-10", lambda: Gated(10, 4), {"x": (1, 1, 24)}, offline),
            ("recurrent-4", lambda: Recurrent(3, 4), {"x": (1, 3, 3)}, offline),
            ("recurrent-8", lambda: Recurrent(3, 8), {"x": (1, 12, 3)}, offline),
            ("recurrent-12", lambda: Recurrent(4, 12), {"x": (1, 5, 4)}, offline),
            ("decoder-2", lambda: Decoder(2, 2), {"z": (1, 2, 4)}, offline),
            ("decoder-4", lambda: Decoder(4, 4), {"z": (1, 4, 4)}, offline),
            ("decoder-8", lambda: Decoder(8, 4), {"z": (1, 8, 8)}, offline),
            ("embedded-12", lambda: Embedded(3, 12, 6, 8), {"x": (1, 3, 2)}, offline),
            ("embedded-20", lambda: Embedded(4, 20, 8, 16), {"x": (1, 4, 2)}, offline),
            ("embedded-32", lambda: Embedded(4, 32, 16, 16), {"x": (1, 4, 2)}, offline),
            ("synth-4", lambda: Synth(3, 8, 4, 5, 12), {"f0": (1, 3), "loudness": (1, 3)}, offline),
            ("synth-6", lambda: Synth(4, 16, 6, 9, 40), {"f0": (1, 4), "loudness": (1, 4)}, offline),
            ("synth-8", lambda: Synth(6, 32, 8, 17, 100), {"f0": (1, 6), "loudness": (1, 6)}, offline),
            ("gated-4-step1", lambda: Gated(4, 1), {"x": (1, 1, 16)}, StreamSpec(1)),
            ("gated-10-step1", lambda: Gated(10, 8), {"x": (1, 1, 32)}, StreamSpec(1)),
            ("gated-16-step8", lambda: Gated(16, 4), {"x": (1, 1, 32)}, StreamSpec(8)),
            # one-sample steps of wider stacks, as WaveNet runs: 1x1 convolutions on one frame take no gather
            ("gated-16-step1", lambda: Gated(16, 2), {"x": (1, 1, 16)}, StreamSpec(1)),
            ("gated-24-step1", lambda: Gated(24, 4), {"x": (1, 1, 16)}, StreamSpec(1)),
            ("stack-6x3", lambda: Stack(6, 3), {"x": (1, 1, 24)}, offline),
            ("stack-8x4-step1", lambda: Stack(8, 4), {"x": (1, 1, 32)}, StreamSpec(1)),
            ("stack-16x6-step1", lambda: Stack(16, 6), {"x": (1, 1, 96)}, StreamSpec(1)),
            ("stack-12x3-step4", lambda: Stack(12, 3), {"x": (1, 1, 32)}, StreamSpec(4)),
            ("recurrent-8-step1", lambda: Recurrent(3, 8), {"x": (1, 12, 3)}, StreamSpec(1)),
            ("recurrent-16-step1", lambda: Recurrent(4, 16, 32), {"x": (1, 4, 4)}, StreamSpec(1)),
            ("recurrent-12-step4", lambda: Recurrent(4, 12), {"x": (1, 8, 4)}, StreamSpec(4)),
            ("decoder-4-step1", lambda: Decoder(4, 4), {"z": (1, 4, 8)}, StreamSpec(1)),
            ("decoder-8-step2", lambda: Decoder(8, 4), {"z": (1, 8, 8)}, StreamSpec(2)),
            ("decoder-16-step1", lambda: Decoder(16, 32), {"z": (1, 16, 4)}, StreamSpec(1)),
            # SING's decoder: many channels into a kernel of 4 x a stride of 64 samples, one frame per step
            ("decoder-32-step1", lambda: Decoder(32, 64), {"z": (1, 32, 4)}, StreamSpec(1)),
            ("project-600", lambda: Projection(600, 4), {"x": (1, 1, 600)}, offline),
            ("project-200", lambda: Projection(200, 3), {"x": (1, 3, 200)}, offline),
            ("upsample-24", lambda: Upsampler(24, 4), {"z": (1, 24, 8)}, offline),
            ("upsample-8-step1", lambda: Upsampler(8, 4), {"z": (1, 8, 8)}, StreamSpec(1)),
            ("upsample-16-step2", lambda: Upsampler(16, 8), {"z": (1, 16, 8)}, StreamSpec(2)),
            ("centred-4-step1", lambda: Centred(4), {"x": (1, 1, 16)}, StreamSpec(1)),
            ("centred-12-step4", lambda: Centred(12), {"x": (1, 1, 16)}, StreamSpec(4)),
            # frames of the hops synthesizers step by (DDSP: 160 samples), their reverbs streamed by partitioned
            # FFT, and directly where the block has no partition (14 samples)
            ("synth-4-step1", lambda: Synth(3, 40, 4, 5, 300), {"f0": (1, 3), "loudness": (1, 3)}, StreamSpec(1)),
            ("synth-6-step1", lambda: Synth(3, 80, 6, 9, 1000), {"f0": (1, 3), "loudness": (1, 3)}, StreamSpec(1)),
            ("synth-8-step1", lambda: Synth(3, 160, 8, 17, 2000), {"f0": (1, 3), "loudness": (1, 3)}, StreamSpec(1)),
            ("synth-5-step1", lambda: Synth(4, 14, 5, 7, 50), {"f0": (1, 4), "loudness": (1, 4)}, StreamSpec(1)),
            # wider oscillator banks (a DDSP decoder's 16 harmonics and more): on the Cortex-A cores a harmonic
            # costs more in a bank of 16 than in one of 8, which the smaller banks alone cannot show
            ("synth-16-step1", lambda: Synth(3, 80, 16, 9, 1000), {"f0": (1, 3), "loudness": (1, 3)},
             StreamSpec(1)),
            ("synth-32-step1", lambda: Synth(3, 40, 32, 5, 300), {"f0": (1, 3), "loudness": (1, 3)},
             StreamSpec(1))]


def calibration_boards(cores: tuple[str, ...] | None = None) -> dict[str, Board]:
    """One board per core with an emulator: the one with the most RAM (the calibration models must fit)."""
    chosen: dict[str, Board] = {}
    for b in sorted(boards().values(), key=lambda b: (-b.ram_bytes, b.id)):
        if b.emulator.kind == "none" or b.core in chosen or (cores and b.core not in cores):
            continue
        try:
            family(b)
        except DietgenError:
            continue
        if cross_available(b):
            chosen[b.core] = b
    missing = sorted(set(cores or ()) - set(chosen))
    if missing:
        raise DietgenError(f"no board with an installed cross compiler emulates core {missing[0]}; known cores "
                           f"with one: {', '.join(sorted(chosen)) or 'none'}")
    return chosen


@dataclass(frozen=True)
class Sample:
    op_type: str
    fn: str | None
    features: dict[str, float]
    count: float


def measure(compiled, board: Board, workdir: Path) -> tuple[list[Sample], int]:
    """Per-node emulator counts of one model on ``board`` (bench harness, steady-state step)."""
    g = compiled.graph
    src = write_tree(render(g), workdir / "src", force=True)
    elf = build_elf(src, compiled.c_name, board, workdir / "build", "bench", count_nodes=True)
    run = run_elf(elf, board, compiled.c_name, None, g.meta["plan"].out_size)
    counts = node_counts(g, run.steps[-1])
    calls = dict((n.name, c) for n, c in kernel_calls(g))
    samples = [Sample(n.op_type, fused_fn(n), features(n, g), counts[n.name]) for n in g.nodes if calls[n.name]]
    return samples, run.steps[-1].total


# How a node's error weighs in the fit: its error over its count to this power (1: relative error).
WEIGHTINGS = {"relative": 1.0, "sqrt": 0.5}


def _fit(rows: list[dict[str, float]], ys: np.ndarray, candidates: list[tuple[str, ...]],
         power: float = WEIGHTINGS["relative"]) -> dict[str, float]:
    """fixed + sum(coefficient * feature) by non-negative least squares on the error over the count to ``power``
    (1: the relative error, a one-frame step's node counts as much as a whole window's), over the first candidate
    feature set with fewer unknowns than samples and independent columns; a proportional fit when none has.
    Non-negative rather than dropping every set in which some coefficient comes out negative: that dropped
    features a few samples depend on (the Cortex-M4F's Dense lost its unpacked rows' MACs, and the one-output
    projections their cost, 46 % low)."""
    from scipy.optimize import nnls
    weight = 1.0 / np.maximum(np.abs(ys), 1.0) ** power
    for names in candidates:
        x = np.array([[1.0, *(r[k] for k in names)] for r in rows])
        if len(rows) <= x.shape[1] or np.linalg.matrix_rank(x) < x.shape[1]:
            continue
        coef = nnls(x * weight[:, None], ys * weight)[0]
        return {"fixed": float(coef[0]), **{k: float(c) for k, c in zip(names, coef[1:]) if c > 0}}
    key = candidates[-1][0]
    xs = np.array([r[key] for r in rows])
    if np.any(xs):
        return {"fixed": 0.0, key: float(max(np.sum(xs * ys) / np.sum(xs * xs), 0.0))}
    return {"fixed": float(max(ys.mean(), 0.0))}


# What an op that multiplies and accumulates may be fitted on, largest set first: MACs always, then what its
# kernel does besides (see dietgen.cost.features); the fit takes the largest set its samples determine.
EXTRA_FEATURES = ("elements", "params", "moved", "unpacked_macs", "unpacked_dots", "products")
MULTIPLY_FEATURE_SETS = [("macs", *extra) for size in range(len(EXTRA_FEATURES), -1, -1)
                         for extra in itertools.combinations(EXTRA_FEATURES, size)]


def fit_table(samples: list[Sample], core: str, unit: str, weighting: str = "relative") -> dict:
    """The cost table that best explains ``samples`` with the node ``weighting`` (see WEIGHTINGS), unscaled."""
    power = WEIGHTINGS[weighting]
    fn_of_op = {spec.op_type: getattr(spec, "fn", None) for spec in registry().values()}
    ops: dict[str, dict] = {}
    fn_cost: dict[str, float] = {}
    by_op: dict[str, list[Sample]] = {}
    for s in samples:
        by_op.setdefault(s.op_type, []).append(s)

    def own(s: Sample) -> float:
        """The sample's count less what its fused function adds."""
        return s.count - (fn_cost.get(s.fn, 0.0) * s.features["elements"] if s.fn else 0.0)

    # Pointwise ops first: their per-element cost is also what a fused function adds to its producer.
    for op in sorted(by_op, key=lambda op: (fn_of_op.get(op) is None, op)):
        group = by_op[op]
        multiplies = any(s.features["macs"] for s in group)
        entry = _fit([s.features for s in group], np.array([own(s) for s in group]),
                     MULTIPLY_FEATURE_SETS if multiplies else [("elements",)], power)
        ops[op] = {k: round(v, 4) for k, v in entry.items()} | {"samples": len(group)}
        if fn_of_op.get(op):
            fn_cost[fn_of_op[op]] = entry.get("elements", 0.0)
    default = _fit([s.features for s in samples], np.array([s.count for s in samples]), [("bytes",)], power)
    table = {"core": core, "unit": unit, "weighting": weighting, "scale": 1.0,
             "ops": dict(sorted(ops.items())),
             "fn": {k: round(v, 4) for k, v in sorted(fn_cost.items())},
             "default": {k: round(v, 4) for k, v in default.items()}}
    if unit == "instructions":
        cpi, source = CYCLES_PER_INSTRUCTION[core]
        table.update(cycles_per_instruction=cpi, cycles_per_instruction_source=source)
    return table


def _scaled_table(samples: list[Sample], totals: list[tuple[Any, int]], core: str, unit: str) -> tuple[dict, float]:
    """Of the tables fitted with each weighting and scaled to centre the calibration models' totals, the one
    whose largest error on those totals is smallest, with that error."""
    best = None
    for weighting in WEIGHTINGS:
        table = fit_table(samples, core, unit, weighting)
        estimates = [sum(node_count(n, c.graph, table, k) for n, k in kernel_calls(c.graph)) for c, _ in totals]
        ratios = np.array([total / max(est, 1.0) for est, (_, total) in zip(estimates, totals)])
        scale = float(np.exp(np.mean(np.log(ratios))))
        table["scale"] = round(scale, 4)
        error = max(abs(table["scale"] / r - 1) for r in ratios)
        if best is None or error < best[1]:
            best = (table, float(error))
    return best


def _seeded(factory: Callable):
    """The model with fixed weights: float timings depend a little on the values, and a rerun of the
    calibration should reproduce the committed tables."""
    import torch
    torch.manual_seed(0)
    return factory().eval()


@dataclass(frozen=True)
class CalibrationResult:
    core: str
    board: str
    unit: str
    path: Path
    models: int
    nodes: int
    fit_error: float        # largest |estimate - count| / count over the calibration models' totals
    skipped: tuple[str, ...]  # calibration models too large for the board's memory


def calibrate(cores: tuple[str, ...] | None = None, out_dir: Path | None = None,
              progress: Callable[[str], None] | None = None) -> list[CalibrationResult]:
    """Run the calibration models on each core's emulator and write dietgen/costs/<core>.json (or into
    ``out_dir``)."""
    chosen = calibration_boards(cores)
    out_dir = Path(out_dir) if out_dir else COSTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    compiled = [(name, compile_model(_seeded(factory), shapes, name=name.replace("-", "_"), stream=stream))
                for name, factory, shapes, stream in calibration_models()]
    results = []
    for core, board in sorted(chosen.items()):
        samples, totals, skipped = [], [], []
        with tempfile.TemporaryDirectory(prefix="dietgen-calibrate-") as tmp:
            for name, c in compiled:
                if progress:
                    progress(f"{core}: {name} on {board.id}")
                try:
                    got, total = measure(c, board, Path(tmp) / name)
                except DietgenError:
                    # The larger models do not fit an AVR's memory: the core is fitted on the others.
                    skipped.append(name)
                    continue
                samples += got
                totals.append((c, total))
        table, error = _scaled_table(samples, totals, core, unit_of(board))
        table["calibrated"] = (f"dietgen calibrate on {date.today().isoformat()}: {len(totals)} models, "
                               f"{len(samples)} nodes, on {board.id}'s emulator")
        path = out_dir / f"{core}.json"
        path.write_text(json.dumps(table, indent=1) + "\n")
        cost_table.cache_clear()
        results.append(CalibrationResult(core, board.id, table["unit"], path, len(totals), len(samples), error,
                                         tuple(skipped)))
    return results

