"""dietgen::Harmonic, the oscillator bank as one op: its numpy reference, the PyTorch synthesizer
(dietgen.models.synth.oscillators) and the host-compiled C agree, offline and streamed block by block, and the
uint32 phase accumulator keeps a long note from drifting."""
from __future__ import annotations


import numpy as np
import onnx
import pytest
import torch
from onnx import helper
from torch import nn

from dietgen.errors import DietgenError
from dietgen.frontend.onnx_model import OPSET
from dietgen.models.synth import harmonic_bank, oscillators
from dietgen.ops import Rand, get_op
from dietgen.ops.harmonic import harmonic
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model
from dietgen.verify import compare, run_c

SR = 16000


def float64_oscillators(f0: np.ndarray, amps: np.ndarray, hop: int, sample_rate: int) -> np.ndarray:
    """synth.oscillators over the whole note from phase 0 and silence, amplitudes in float64 too."""
    f, a = torch.from_numpy(f0.astype(np.float64)), torch.from_numpy(amps.astype(np.float64))
    phase0 = torch.zeros(f.shape[0], dtype=torch.float64)
    audio, _ = oscillators(phase0, f, a, torch.zeros_like(a[:, 0]), hop, sample_rate)
    return audio.numpy()


def harmonic_model(f0_shape, harmonics: int, hop: int, sample_rate: int) -> onnx.ModelProto:
    node = helper.make_node("Harmonic", ["f0", "amps"], ["y"], domain="dietgen", hop=hop, sample_rate=sample_rate)
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph([node], "harmonic",
                              [helper.make_tensor_value_info("f0", f, f0_shape),
                               helper.make_tensor_value_info("amps", f, (*f0_shape, harmonics))],
                              [helper.make_tensor_value_info("y", f, (*f0_shape[:-1], f0_shape[-1] * hop))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("dietgen", 1)])
    model.ir_version = 8
    return model


class Bank(nn.Module):
    def __init__(self, hop: int, sample_rate: int):
        super().__init__()
        self.hop, self.sample_rate = hop, sample_rate

    def forward(self, f0, amps):
        return harmonic_bank(f0, amps, self.hop, self.sample_rate)


def random_note(rows: int, frames: int, harmonics: int, low: float, high: float, seed: int = 0):
    """f0 jumping anywhere in [low, high) from frame to frame, amplitudes in [0, 1)."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(low, high, (rows, frames)).astype(np.float32),
            rng.uniform(0, 1, (rows, frames, harmonics)).astype(np.float32))


def glide(frames: int, harmonics: int, hop: int, sample_rate: int, seed: int = 1):
    """Row 0 glides from 150 Hz up to 2.6 kHz with vibrato (harmonics 4 and up cross Nyquist at 8 kHz on the way);
    row 1 is a vibrato on 330 Hz. Amplitudes are smooth and zero over the frame before a harmonic falls silent
    and the frame before it plays again, as DDSP's Nyquist mask makes them, so the audio has no step anywhere."""
    t = np.arange(frames) / frames
    vibrato = 2 ** (0.4 / 12 * np.sin(2 * np.pi * 6 * t))
    f0 = np.stack([150 * (2600 / 150) ** t * vibrato, 330 * vibrato]).astype(np.float32)
    rng = np.random.default_rng(seed)
    amps = np.cumsum(rng.uniform(-0.05, 0.05, (2, frames, harmonics)), 1) + 0.5
    k = np.arange(1, harmonics + 1)
    loudest_next = np.maximum(f0, np.concatenate([f0[:, 1:], f0[:, -1:]], 1))
    amps *= k * loudest_next.astype(np.float64)[..., None] < sample_rate / 2
    return f0, amps.astype(np.float32)


def rel_err(want: np.ndarray, got: np.ndarray) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / np.sqrt(np.mean(want.astype(np.float64) ** 2)))


@pytest.mark.parametrize("hop, harmonics, low, high", [(16, 8, 50, 900), (7, 12, 100, 3000), (160, 40, 60, 1500),
                                                       (1, 3, 20, 7000)])
def test_reference_is_the_pytorch_synthesizer(hop, harmonics, low, high):
    f0, amps = random_note(3, 11, harmonics, low, high)
    want = float64_oscillators(f0, amps, hop, SR)
    assert rel_err(want, harmonic(f0, amps, hop, SR)) < 1e-5    # both round their sines to float32
    got = harmonic_bank(torch.from_numpy(f0), torch.from_numpy(amps), hop, SR).numpy()
    assert rel_err(want, got) < 1e-5
    # leading axes are rows
    stacked = harmonic(f0.reshape(3, 1, 11), amps.reshape(3, 1, 11, harmonics), hop, SR)
    assert np.array_equal(stacked.reshape(3, -1), harmonic(f0, amps, hop, SR))


def test_harmonics_at_or_above_nyquist_are_silent():
    f0 = np.array([[1000.0, 2000.0, 4000.0]], np.float32)     # harmonic 4 reaches 8 kHz in the second frame
    amps = np.zeros((1, 3, 4), np.float32)
    amps[..., 3] = 1.0
    for y in (harmonic(f0, amps, 32, SR), float64_oscillators(f0, amps, 32, SR)):
        assert np.abs(y[0, :32]).max() > 0.1 and not y[0, 32:].any()


@pytest.mark.parametrize("case", get_op("Harmonic", "dietgen").cases(), ids=lambda c: c.id)
def test_op_cases_compile_and_match_the_reference(case, tmp_path):
    """The registry's cases, as tests/test_ops.py runs them for standard ops, with the reference as the oracle."""
    f0_in, amps_in = case.inputs
    rng = np.random.default_rng(0)
    feeds = {name: rng.uniform(r.low, r.high, r.shape).astype(np.float32)
             for name, r in (("f0", f0_in), ("amps", amps_in)) if isinstance(r, Rand)}
    hop, sample_rate = case.attrs["hop"], case.attrs["sample_rate"]
    want = harmonic(feeds["f0"], feeds["amps"], hop, sample_rate)
    assert rel_err(float64_oscillators(feeds["f0"].reshape(-1, f0_in.shape[-1]),
                                       feeds["amps"].reshape(-1, *amps_in.shape[-2:]), hop, sample_rate),
                   want.reshape(-1, f0_in.shape[-1] * hop)) < 1e-5
    compiled = compile_model(harmonic_model(f0_in.shape, amps_in.shape[-1], hop, sample_rate), name="bank")
    assert [n.op_type for n in compiled.graph.nodes] == ["Harmonic"]
    got = run_c(compiled, feeds, sanitize=True, workdir=tmp_path)["y"]
    report = compare("y", want, got, case.tol)
    assert report.ok and got.shape == want.shape, report


def test_offline_c_never_holds_harmonics_by_hop():
    """The whole graph is the one op writing straight into the output: no arena at all, where the dense form
    needs frames x hop x harmonics floats."""
    compiled = compile_model(Bank(160, SR), {"f0": (1, 50), "amps": (1, 50, 60)}, stream=False)
    assert [n.op_type for n in compiled.graph.nodes] == ["Harmonic"]
    assert compiled.graph.meta["plan"].arena_bytes == 0
    cost = get_op("Harmonic", "dietgen").cost(compiled.graph.nodes[0], compiled.graph)
    assert cost.macs == 50 * 160 * 60 and cost.bytes_written == 50 * 160 * 4


@pytest.mark.parametrize("block", [1, 2, 3])
def test_streamed_blocks_join_without_clicks(block, tmp_path):
    hop, harmonics, frames = 32, 8, 96
    f0, amps = glide(frames, harmonics, hop, SR)
    feeds = {"f0": f0, "amps": amps}
    offline = compile_model(Bank(hop, SR), {"f0": (2, frames), "amps": (2, frames, harmonics)}, stream=False)
    whole = run_c(offline, feeds, sanitize=True, workdir=tmp_path / "offline")[offline.graph.outputs[0]]
    streamed = compile_model(Bank(hop, SR), {"f0": (2, 6), "amps": (2, 6, harmonics)}, stream=StreamSpec(block))
    info = streamed.graph.meta["stream"]
    assert (info.block, info.out_block, info.model_latency) == (block, block * hop, 0)
    assert [n.op_type for n in streamed.graph.nodes] == ["HarmonicStream"]
    assert streamed.graph.meta["plan"].all_state_bytes == 2 * 4 + 2 * harmonics * 4
    got = run_c(streamed, feeds, sanitize=True, workdir=tmp_path / "stream")[streamed.graph.outputs[0]]
    assert got.shape == whole.shape == (2, frames * hop)
    assert rel_err(whole, got) <= 1e-4
    assert rel_err(float64_oscillators(f0, amps, hop, SR), got) <= 1e-4
    edge = block * hop
    for row in got:
        jumps = np.abs(np.diff(row))
        joins = np.arange(edge - 1, jumps.size, edge)
        assert jumps[joins].max() <= np.delete(jumps, joins).max()


def test_four_seconds_of_a_note_do_not_drift(tmp_path):
    """440 Hz with 16 harmonics for 4 s: with the phase advance summed in float32 the 16th harmonic would be
    0.01 rad off by the end; the uint32 accumulator keeps the C on the float64 synthesizer throughout."""
    hop, harmonics, frames = 160, 16, 4 * SR // 160
    f0 = np.full((1, frames), 440.0, np.float32)
    amps = np.broadcast_to(1.0 / np.arange(1, harmonics + 1, dtype=np.float32), (1, frames, harmonics)).copy()
    want = float64_oscillators(f0, amps, hop, SR)
    compiled = compile_model(harmonic_model((1, frames), harmonics, hop, SR), name="note")
    got = run_c(compiled, {"f0": f0, "amps": amps}, workdir=tmp_path)["y"]
    assert rel_err(want, got) <= 1e-4
    last = slice(-hop, None)    # the last frame alone: no drift has built up there either
    assert np.abs(got[0, last] - want[0, last]).max() <= 1e-4 * np.sqrt(np.mean(want ** 2))


def test_a_hundred_harmonics_in_phase_stay_exact(tmp_path):
    """A low note with 100 equal harmonics peaks at over 10 times its RMS, where every harmonic's rounding adds
    up: the ramps and phasors re-anchored every few samples keep the frame's last samples as exact as its first."""
    f0, amps = random_note(2, 60, 100, 60, 400, seed=3)
    want = float64_oscillators(f0, amps, 160, SR)
    compiled = compile_model(harmonic_model((2, 60), 100, 160, SR), name="pulse")
    got = run_c(compiled, {"f0": f0, "amps": amps}, workdir=tmp_path)["y"]
    assert np.abs(want).max() > 10 * np.sqrt(np.mean(want ** 2))
    assert rel_err(want, got) <= 2e-5


def test_harmonics_on_and_just_below_nyquist(tmp_path):
    """f0 putting harmonic k exactly on Nyquist (silent) or one float step below it (playing at full amplitude,
    where a rotation's rounding matters most), in frames that start off phase 0: the live harmonics are those of
    the float64 synthesizer to the last one, and the fastest phasors stay as exact as the slowest."""
    on = np.array([SR / 2 / k for k in (1, 2, 3, 5, 7, 11)], np.float32)
    below = np.nextafter(on, np.float32(0))
    f0 = np.stack([np.tile(np.stack([on, below], 1).ravel(), 3), np.tile(np.stack([below, on], 1).ravel(), 3)])
    amps = np.ones((2, f0.shape[1], 12), np.float32)
    want = float64_oscillators(f0, amps, 160, SR)
    compiled = compile_model(harmonic_model(f0.shape, 12, 160, SR), name="edge")
    got = run_c(compiled, {"f0": f0, "amps": amps}, workdir=tmp_path)["y"]
    assert rel_err(want, got) <= 2e-5


def test_refuses_what_it_cannot_run_or_stream():
    with pytest.raises(DietgenError, match="hop=0"):
        compile_model(harmonic_model((1, 4), 3, 0, SR))
    with pytest.raises(DietgenError, match="sample_rate=0"):
        compile_model(harmonic_model((1, 4), 3, 8, 0))
    bad = harmonic_model((1, 4), 3, 8, SR)
    bad.graph.input[1].type.tensor_type.shape.dim[1].dim_value = 5
    with pytest.raises(DietgenError, match="harmonics axis"):
        compile_model(bad)

    class Lookahead(nn.Module):
        """Amplitudes from a centred convolution: they need the next frame, the phase cannot wait for it."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(3, 3, 3, padding=1)

        def forward(self, f0, amps):
            return harmonic_bank(f0, self.conv(amps.transpose(1, 2)).transpose(1, 2), 8, SR)

    with pytest.raises(DietgenError, match="lookahead"):
        compile_model(Lookahead(), {"f0": (1, 6), "amps": (1, 6, 3)}, stream=StreamSpec(1, {"f0": 1, "amps": 1}))
