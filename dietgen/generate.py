"""dietgen generate: a phrase of notes played by the generated C (the model's step and its note player), on the
host or on a board's emulator, written as the WAV a board would play; optionally beside PyTorch's rendering of
the same notes.

This sits above the compiler: it compiles the model (dietgen.pipeline), renders its C with the player, builds
the play harness and runs it.
"""
from __future__ import annotations

import struct
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dietgen.codegen.player import check_playable
from dietgen.codegen.render import render
from dietgen.control import Control, NoteFacts, Performance, perform
from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.notes import Note, validate
from dietgen.output import write_tree
from dietgen.pipeline import Compiled, compile_model


@dataclass
class Generated:
    audio: np.ndarray                  # (samples,) float32, what the generated C played
    sample_rate: int
    where: str                         # "host" or a board id
    rtf: float                         # compute time / audio time (< 1: real time)
    rtf_source: str                    # how rtf was obtained
    performance: Performance
    compiled: Compiled
    worst_step_rtf: float | None = None          # the slowest step against its own deadline (boards)
    reference: np.ndarray | None = None          # PyTorch's rendering of the same notes
    distance: float | None = None                # multi-scale spectral distance, generated C vs PyTorch
    stats: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        perf = self.performance
        return {"where": self.where, "samples": int(self.audio.size), "seconds": self.audio.size / self.sample_rate,
                "sample_rate": self.sample_rate, "notes": len(perf.notes), "steps": perf.steps,
                "samples_per_step": perf.control.step_samples, "rtf": self.rtf, "rtf_source": self.rtf_source,
                "worst_step_rtf": self.worst_step_rtf, "spectral_distance": self.distance, **self.stats}


def playable(model: Any) -> tuple[Any, Control, NoteFacts]:
    """(PyTorch module, its control, its training notes' facts), or a one-line error saying why not."""
    from dietgen.frontend.sources import load_torch
    loaded = load_torch(model)
    if loaded is None:
        raise DietgenUsageError(f"{model}: an ONNX file does not say how notes play it; generate takes a dietgen "
                                f"checkpoint (a zoo family) or a PyTorch model with a control()")
    module, _, _, _, meta = loaded
    control = module.control() if hasattr(module, "control") else None
    if control is None:
        raise DietgenUsageError(f"{model}: not a generative model played from notes (an effect or a plain network "
                                f"takes audio or features); run it with dietgen verify --inputs FILE.npz")
    facts = NoteFacts.from_json(meta.get("notes"), getattr(module, "num_instruments", None))
    return module, control, facts


def _phrase_bytes(perf: Performance, seed: int, temperature: float) -> bytes:
    header = struct.pack("=iIfi", len(perf.notes), seed, temperature, perf.steps)
    return header + b"".join(struct.pack("=5i", n.on, n.off, n.pitch, n.velocity, n.instrument)
                             for n in perf.notes)


def _run_host(src: Path, compiled: Compiled, data: bytes, workdir: Path, timeout: float) -> tuple[np.ndarray, float]:
    from dietgen.toolchain.host import build_harness
    exe = build_harness(src, compiled.c_name, workdir / "play", player=True)
    try:
        result = subprocess.run([str(exe)], input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DietgenError(f"the generated player did not finish within {timeout:.0f} s")
    if result.returncode != 0:
        raise DietgenError(f"the generated player failed with status {result.returncode}")
    seconds = float(result.stderr.decode().split()[-1])
    return np.frombuffer(result.stdout, dtype=np.float32).copy(), seconds


def _run_board(src: Path, compiled: Compiled, data: bytes, board_id: str, workdir: Path,
               timeout: float) -> tuple[np.ndarray, list[int], Any]:
    from dietgen.boards import get_board
    from dietgen.toolchain.cross import build_elf
    from dietgen.toolchain.emulate import run_elf_raw
    board = get_board(board_id)
    elf = build_elf(src, compiled.c_name, board, workdir / "build", "play")
    stdout, steps = run_elf_raw(elf, board, compiled.c_name, data, timeout)
    return np.frombuffer(stdout, dtype=np.float32).copy(), [s.total for s in steps], board


def board_rtf(counts: Sequence[int], board, step_seconds: float) -> tuple[float, float, str]:
    """(mean and worst real-time factor, how obtained) from emulator counts per step."""
    from dietgen.cost import CYCLES_PER_INSTRUCTION
    from dietgen.toolchain.emulate import unit_of
    unit = unit_of(board)
    cpi, _ = CYCLES_PER_INSTRUCTION.get(board.core, (1.0, "")) if unit == "instructions" else (1.0, "")
    seconds = np.asarray(counts, np.float64) * cpi / board.clock_hz
    how = (f"{board.id} emulator {unit} x {cpi} cycles per instruction at {board.clock_hz / 1e6:g} MHz"
           if unit == "instructions" else f"{board.id} simulated cycles at {board.clock_hz / 1e6:g} MHz")
    return float(seconds.mean() / step_seconds), float(seconds.max() / step_seconds), how


def generate(model: Any, notes: Sequence[Note], *, board: str | None = None, seed: int = 1,
             temperature: float = 1.0, compare: bool = False, programs: bool = False,
             timeout: float = 600.0) -> Generated:
    """Play ``notes`` with the generated C of ``model`` (host build, or ``board``'s emulator). ``programs``: the
    notes' instruments are General MIDI programs (from a MIDI file), mapped to the model's instruments."""
    if not temperature > 0:
        raise DietgenUsageError(f"temperature {temperature}: give a number above 0 (1 samples the model as "
                                f"trained; lower is more conservative)")
    if not 0 < seed < 2**32:
        raise DietgenUsageError(f"seed {seed}: give a whole number from 1 to {2**32 - 1}")
    module, control, facts = playable(model)
    if programs:
        notes = [replace(n, instrument=facts.instrument_of_program(n.instrument)) for n in notes]
    notes = validate(notes, pitch_range=facts.pitches, instruments=facts.instruments)
    compiled = compile_model(model)
    check_playable(compiled.graph, control)
    sample_rate = int(compiled.graph.meta.get("sample_rate", getattr(module, "sample_rate", 16000)))
    sizes = {n: compiled.graph.tensors[n].size for n in compiled.graph.inputs}
    perf = perform(control, facts, notes, sample_rate, sizes)
    data = _phrase_bytes(perf, seed, temperature)
    seconds_of_audio = perf.samples / sample_rate
    with tempfile.TemporaryDirectory(prefix="dietgen-generate-") as tmp:
        src = write_tree(render(compiled.graph), Path(tmp) / "src")
        if board is None:
            audio, spent = _run_host(src, compiled, data, Path(tmp), timeout)
            rtf, worst, how, where = spent / seconds_of_audio, None, "measured on this host (-O2)", "host"
        else:
            audio, counts, b = _run_board(src, compiled, data, board, Path(tmp), timeout)
            rtf, worst, how = board_rtf(counts, b, control.step_samples / sample_rate)
            where = b.id
    if audio.size != perf.samples:
        raise DietgenError(f"the generated player wrote {audio.size} samples, expected {perf.samples}")
    result = Generated(audio, sample_rate, where, rtf, how, perf, compiled, worst)
    from dietgen.report.audio import audio_stats, spectral_distance
    result.stats = audio_stats(audio)
    if compare:
        import torch
        with torch.no_grad():
            reference = module.perform(perf, seed, temperature)
        result.reference = reference.detach().numpy().astype(np.float32).reshape(-1)[:audio.size]
        result.distance = float(spectral_distance(audio, result.reference, sample_rate))
    return result
