"""dietgen generate: the note player's C against its Python twin, the examples played by their generated C on
the host and on an emulated board against PyTorch, and every bad input as a one-line error."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest

from clirun import assert_one_line_error, run
from dietgen.codegen.render import render
from dietgen.control import Envelope, StepNote, conditioning, in_steps, note_at, perform
from dietgen.generate import _phrase_bytes, generate, playable
from dietgen.notes import Note, parse_notes
from dietgen.output import write_tree
from dietgen.pipeline import compile_model
from dietgen.toolchain.host import build_harness, run_harness

PHRASE = "60:100:0.05:0.3,64:90:0.4:0.25,67:120:0.7:0.3"


def example(root, family):
    return str(root / "examples" / family)


# -- the Python twin -------------------------------------------------------------------------------------------
def test_notes_land_on_the_step_grid_and_the_note_at_a_step_is_the_last_begun():
    placed = in_steps([Note(60, 100, 0.0, 0.1), Note(62, 100, 0.2, 0.001)], 160, 16000)
    assert [(n.on, n.off) for n in placed] == [(0, 10), (20, 21)]     # a note lasts at least one step
    assert [note_at(placed, s) for s in (0, 9, 10, 19, 20, 500)] == [0, 0, 0, 0, 1, 1]
    assert note_at(placed[1:], 5) == -1


def test_envelope_follows_its_tables_then_their_slopes_down_to_the_floor():
    env = Envelope(np.array([[-30.0, -20.0, -21.0]], np.float32), np.array([[0.0, -10.0, -30.0]], np.float32))
    assert env.level(0, 127, 1, 10) == pytest.approx(-20.0)
    assert env.level(0, 127, 5, 10) == pytest.approx(-21.0 - 3.0)             # held past the table: its slope
    assert env.level(0, 127, 3, 2) == pytest.approx(-21.0 - 10.0)             # released after 2 frames
    assert env.level(0, 127, 6, 2) == pytest.approx(-21.0 - 30.0 - 2 * 20.0)  # release slope continues
    assert env.level(0, 127, 40, 2) == -120.0
    assert env.level(0, 60, 1, 10) == pytest.approx(-20.0 + 40 * np.log10(60 / 127), abs=1e-5)


def test_a_note_longer_than_the_time_table_holds_its_last_row():
    """SING plays notes of any length: past its time embedding's last frame the frame index stays there, as its
    offline synthesize clamps it."""
    from dietgen.control import Control, NoteFacts
    control = Control({"time": "onehot_frame"}, "audio", 64, reset_per_note=True)
    notes = [StepNote(60, 100, 0, 0, 12)]
    rows = conditioning(control, NoteFacts(), notes, 12, {"time": 5})["time"]
    assert [int(r.argmax()) for r in rows] == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4]


# -- the player's C against the twin ---------------------------------------------------------------------------
def _player_and_step(compiled, perf, tmp: Path):
    src = write_tree(render(compiled.graph), tmp / "src")
    played = build_harness(src, compiled.c_name, tmp / "play", player=True, sanitize=True)
    import subprocess
    out = subprocess.run([str(played)], input=_phrase_bytes(perf, 1, 1.0), capture_output=True, check=True).stdout
    stepper = build_harness(src, compiled.c_name, tmp / "step")
    return np.frombuffer(out, np.float32), stepper


def test_ddsp_player_feeds_the_step_what_the_python_twin_computes(root, tmp_path):
    """f0 held through the gaps, the loudness envelope of each note and its release: the C player's audio is
    the step program's audio on the twin's conditioning, sample for sample."""
    model = example(root, "ddsp")
    module, control, facts = playable(model)
    compiled = compile_model(model)
    sizes = {n: compiled.graph.tensors[n].size for n in compiled.graph.inputs}
    perf = perform(control, facts, parse_notes(PHRASE), 16000, sizes)
    played, stepper = _player_and_step(compiled, perf, tmp_path)
    blocks = np.concatenate([perf.inputs[n] for n in compiled.graph.inputs], axis=1)
    stepped = run_harness(stepper, blocks, control.step_samples).reshape(-1)
    assert played.size == perf.samples
    np.testing.assert_allclose(played, stepped, rtol=0, atol=1e-6 * np.abs(stepped).max())
    loud = perf.inputs["loudness"][:, 0]
    assert loud[0] == -120.0 and loud[perf.notes[0].on + 5] > -40.0     # silent before the first note


def test_sing_player_restarts_each_note_and_is_silent_between(root, tmp_path):
    model = example(root, "sing")
    module, control, facts = playable(model)
    compiled = compile_model(model)
    sizes = {n: compiled.graph.tensors[n].size for n in compiled.graph.inputs}
    perf = perform(control, facts, [Note(60, 100, 0.1, 0.2, 1), Note(62, 100, 0.4, 0.2, 1)], 16000, sizes)
    played, stepper = _player_and_step(compiled, perf, tmp_path)
    first, second = perf.notes
    hop = control.step_samples
    assert not played[:first.on * hop].any() and not played[first.off * hop:second.on * hop].any()
    # The second note is the first note's program restarted: the step harness from init on its conditioning.
    rows = slice(second.on, second.off)
    blocks = np.concatenate([perf.inputs[n][rows] for n in compiled.graph.inputs], axis=1)
    alone = run_harness(stepper, blocks, hop).reshape(-1)
    np.testing.assert_allclose(played[second.on * hop:second.off * hop], alone, rtol=0, atol=1e-7)
    # the frame one-hot counts from each note's start, clamped to the table
    assert perf.inputs["time"][second.on].argmax() == 0 and perf.inputs["time"][second.on + 3].argmax() == 3


# -- the examples, played ----------------------------------------------------------------------------------------
# Spectral distance (multi-scale, as dietgen evaluate reports it) between the generated C and PyTorch on the
# same notes, measured at 0.00066 (DDSP: float32 C against float64 PyTorch), 0.000054 (SING) and 7e-7 (WaveNet:
# the same classes drawn throughout). The bounds leave room for compilers, not for a wrong sample; WaveNet's
# allows the C and Python to part at a near-tie (two different realisations measured 0.23 apart).
DISTANCE_BOUND = {"ddsp": 0.005, "sing": 0.001, "wavenet": 0.3}


@pytest.mark.parametrize("family", ["ddsp", "sing", "wavenet"])
def test_examples_play_their_notes_from_generated_c_like_pytorch(root, family):
    result = generate(example(root, family), parse_notes("60:100:0:0.4:1,65:110:0.5:0.4:1"), compare=True)
    stats = result.stats
    assert not stats["is_silent"] and stats["clipped"] == 0 and stats["non_finite"] == 0
    assert result.distance < DISTANCE_BOUND[family], result.distance
    assert result.rtf > 0


def _codes(audio: np.ndarray, reference_codes: np.ndarray) -> np.ndarray:
    """The classes a WaveNet player played, read back from its mu-law samples (-1 where it was silent)."""
    from dietgen.models.wavenet import mu_law_decode_np
    table = mu_law_decode_np(np.arange(256))
    codes = np.abs(audio[:, None] - table[None]).argmin(1)
    return np.where(reference_codes < 0, -1, codes)


NEAR_TIE = 1e-4   # the margin (relative to the softmax sum) below which C and numpy rounding may pick neighbours


def _first_divergence(played, module, perf, seed, temperature) -> tuple[int | None, float]:
    """(first step where the generated C's class differs from the Python reference's, that step's margin)."""
    codes, margins = module.sample_notes(perf, seed, temperature)
    differ = np.flatnonzero(_codes(played, codes) != codes)
    return (None, np.inf) if not differ.size else (int(differ[0]), float(margins[differ[0]]))


def test_wavenet_samples_in_c_what_python_samples_until_a_near_tie(root, record_property):
    """The same PRNG, the same softmax: the C's classes equal the Python reference's sample for sample; where
    they part, the reference's draw sat within a rounding of a class boundary."""
    model = example(root, "wavenet")
    module, _, _ = playable(model)
    result = generate(model, parse_notes("62:100:0:0.1:1,65:110:0.12:0.1:1"), seed=7, temperature=0.9)
    step, margin = _first_divergence(result.audio, module, result.performance, 7, 0.9)
    record_property("first_divergence", step)
    assert step is None or margin < NEAR_TIE, (step, margin)
    assert step is None or step > 100


def test_wavenet_generation_is_deterministic_for_a_seed(root):
    model, notes = example(root, "wavenet"), parse_notes("60:100:0:0.05:1")
    a, b = (generate(model, notes, seed=3).audio for _ in range(2))
    c = generate(model, notes, seed=4).audio
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_wavenet_teacher_forced_logits_equal_pytorch(root, tmp_path):
    """The step program fed a real sampled sequence (each step the previous class) gives PyTorch's logits."""
    import torch
    model = example(root, "wavenet")
    module, control, facts = playable(model)
    compiled = compile_model(model)
    sizes = {n: compiled.graph.tensors[n].size for n in compiled.graph.inputs}
    perf = perform(control, facts, [Note(64, 100, 0.0, 0.02, 2)], 16000, sizes)
    codes, _ = module.sample_notes(perf, 5, 1.0)
    fed = np.concatenate([[control.start_code], codes[:-1]]).astype(np.float32)[:, None]
    blocks = np.concatenate([fed if n == "x" else perf.inputs[n] for n in compiled.graph.inputs], axis=1)
    src = write_tree(render(compiled.graph), tmp_path / "src")
    logits = run_harness(build_harness(src, compiled.c_name, tmp_path / "step"), blocks, 256)
    stream = module.streaming()
    batch = {"pitch": torch.tensor([64]), "velocity": torch.tensor([100]), "instrument": torch.tensor([2]),
             "audio": torch.zeros(1, len(codes))}
    with torch.no_grad():
        state = stream.initial_state(batch)
        expected, _ = stream({"codes": torch.from_numpy(fed[:, 0].astype(np.int64))[None]}, state)
    expected = expected[0].T.numpy()
    rms = np.sqrt((expected ** 2).mean())
    assert np.abs(logits - expected).max() < 1e-4 * rms


@pytest.mark.slow
@pytest.mark.parametrize("family, notes, board_id", [("ddsp", "62:100:0:0.2", "nano33ble"),
                                                     ("sing", "62:100:0:0.1:1", "nano33ble"),
                                                     ("wavenet", "62:100:0:0.02:1", "nano33ble"),
                                                     ("wavenet", "62:100:0:0.02:1", "rpi4")])
def test_examples_play_on_emulated_boards_as_on_the_host(root, family, notes, board_id):
    # rpi4: its -O3 build inlines WaveNet's step into the player's and links without it
    model, notes = example(root, family), parse_notes(notes)
    host = generate(model, notes)
    board = generate(model, notes, board=board_id)
    assert board.where == board_id and board.rtf > 0 and board.worst_step_rtf >= board.rtf
    assert "emulator" in board.rtf_source and not board.stats["is_silent"]
    if family == "wavenet":
        module, _, _ = playable(model)
        step, margin = _first_divergence(board.audio, module, board.performance, 1, 1.0)
        assert step is None or margin < NEAR_TIE, (step, margin)
    else:
        np.testing.assert_allclose(board.audio, host.audio, rtol=0, atol=1e-4 * np.abs(host.audio).max())


# -- the command and its bad input ---------------------------------------------------------------------------------
def test_generate_command_writes_the_wav_and_the_comparison(root, tmp_path):
    wav = tmp_path / "out.wav"
    result = run("generate", example(root, "sing"), "--notes", "60:100:0:0.2:1", "-o", wav, "--compare", "--json")
    assert result.exit_code == 0, result.output
    import json
    summary = json.loads(result.output)
    assert summary["wav"] == str(wav) and Path(summary["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import soundfile
    audio, rate = soundfile.read(wav)
    assert rate == 16000 and audio.size == summary["samples"]


@pytest.mark.parametrize("args, words", [
    (["--notes", "20:100:0:1"], ["pitch", "48"]),
    (["--notes", "60:0:0:1"], ["velocity"]),
    (["--notes", "60:100:0:-1"], ["duration"]),
    (["--notes", "60:100:0:1,62:100:0.5:1"], ["monophonic"]),
    (["--notes", "60:100:0:1:9"], ["instrument"]),
    (["--notes", "60:100:0:1", "--temperature", "0"], ["temperature"]),
    ([], ["--notes", "--midi"]),
])
def test_bad_notes_are_one_line_errors_and_write_nothing(root, tmp_path, args, words):
    wav = tmp_path / "out.wav"
    result = run("generate", example(root, "ddsp"), *args, "-o", wav)
    assert_one_line_error(result, *words)
    assert not wav.exists()


def test_unreadable_midi_and_unwritable_output_and_an_effect_model(root, tmp_path):
    garbage = tmp_path / "song.mid"
    garbage.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    assert_one_line_error(run("generate", example(root, "ddsp"), "--midi", garbage, "-o", tmp_path / "a.wav"),
                          "song.mid")
    assert_one_line_error(run("generate", example(root, "ddsp"), "--notes", "60:100:0:1",
                              "-o", tmp_path / "missing" / "a.wav"), "does not exist")
    assert_one_line_error(run("generate", example(root, "demo"), "--notes", "60:100:0:1",
                              "-o", tmp_path / "a.wav"), "not a generative model")
    assert not list(tmp_path.glob("*.wav"))


def test_boards_without_stdio_in_their_emulator_are_refused(root, tmp_path):
    assert_one_line_error(run("generate", example(root, "ddsp"), "--notes", "60:100:0:0.1", "--board", "uno",
                              "-o", tmp_path / "a.wav"), "uno", "emulator")
    assert not (tmp_path / "a.wav").exists()


def test_make_demo_ends_with_a_wav_and_a_comparison_plot(root, tmp_path):
    """The demo's generate step as the Makefile runs it (its phrase read from the Makefile)."""
    import re
    makefile = (root / "Makefile").read_text()
    notes = re.search(r"^DEMO_NOTES := (.+)$", makefile, re.M).group(1)
    step = re.search(r"\$\(DIETGEN\) generate (\S+) --notes \"\$\(DEMO_NOTES\)\" -o \S+ --compare\n", makefile)
    assert step, "make demo no longer plays the phrase on the host"
    wav = tmp_path / "ddsp-host.wav"
    result = run("generate", root / step.group(1), "--notes", notes, "-o", wav, "--compare")
    assert result.exit_code == 0, result.output
    assert "spectral distance" in result.output and "real-time factor" in result.output
    assert wav.stat().st_size > 44 and wav.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


# -- budgets of generation as it runs ---------------------------------------------------------------------------------
def test_ddsp_tiny_runs_in_32_kib_and_in_real_time_on_a_nano_33_ble(root):
    """The synthesizer streams: one frame's arena plus the carried state, not a window of [harmonics x
    samples] tensors (242 KiB before); and the cost model's time per frame is under the frame's 10 ms."""
    from dietgen.budget import check
    compiled = compile_model(example(root, "ddsp"))
    plan = compiled.graph.meta["plan"]
    assert plan.arena_bytes + plan.all_state_bytes <= 32 * 1024
    ops = {n.op_type for n in compiled.graph.nodes}
    assert {"HarmonicStream", "NoiseFIRStream"} <= ops and not ops & {"Sin", "Floor"}
    report = check(compiled=compiled, board="nano33ble", measure=False)
    assert report.ok and report.time.used < report.time.limit


def test_the_budget_counts_wavenet_sampling_per_sample(root):
    """Generation as it runs: one sample per step, and per step the player's draw over 256 classes besides the
    network."""
    from dietgen.boards import get_board
    from dietgen.budget import SAMPLING, check
    from dietgen.cost import block_cycles
    report = check(example(root, "wavenet"), board="rpi4", measure=False)
    assert report.block == 1
    network, _ = block_cycles(report.graph, get_board("rpi4"))
    sampling = report.time.parts["cycles"] - network
    assert sampling > 256 * 8 * 0.7                 # classes x (an expf + the passes) x cycles per instruction
    assert SAMPLING in dict(report.time.layers)     # named where the time goes


@pytest.mark.slow
def test_ddsp_small_trimmed_20x_fits_and_plays_in_real_time_on_teensy41_and_pico2(tmp_path):
    """The paper's target: DDSP small with 95 % of its units removed (here by magnitude, untrained: time and
    memory depend on the widths, not on the weights) fits both boards by the budget and runs in real time on
    their emulators, reverb and oscillator bank included."""
    import torch
    from dietgen.budget import check
    from dietgen.models import save_checkpoint
    from dietgen.models.base import build
    from dietgen.trim import find_units, score_units, select_units, trim_model
    torch.manual_seed(0)
    dense = build("ddsp", "small").eval()
    _, shapes = dense.export_module()
    units = find_units(dense, inputs=tuple(torch.rand(*s) * 400 + 100 for s in shapes.values()))
    keep = select_units(score_units(dense, units, "magnitude", []), 0.905, "global", floor=3, ties=units.ties)
    trimmed = trim_model(dense, units, keep).eval()
    count = lambda m: sum(p.numel() for p in m.parameters())   # noqa: E731
    assert count(dense) / count(trimmed) >= 20
    checkpoint = tmp_path / "ddsp-small-20x.json"
    save_checkpoint(trimmed, checkpoint, "ddsp", trimmed.config, {k: list(v) for k, v in shapes.items()})
    for board in ("teensy41", "rpipico2"):
        report = check(str(checkpoint), board=board, measure=False)
        assert report.ok, report.error().message
        played = generate(str(checkpoint), parse_notes("60:100:0:0.1"), board=board)
        assert played.worst_step_rtf < 1, (board, played.worst_step_rtf)
