"""The program a generated project runs on the board, on the host: the app layer (src/dietgen_app.h) under a fake
audio clock (tests/tools/fake_board.c): blocks computed while the previous one plays, no gap, late blocks
counted as underruns and played as silence, MIDI bytes turned into the note player's conditioning; the same
audio as `dietgen generate`. Also the roles (generator, effect) and the AVR glue's timer-driven PWM on simavr."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from dietgen.boards import get_board
from dietgen.budget import sample_rate_of
from dietgen.control import Control, NoteFacts, demo_phrase
from dietgen.errors import DietgenUsageError
from dietgen.generate import generate, playable
from dietgen.notes import Note
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model
from dietgen.project import project_role, render_project
from dietgen.toolchain import platformio
from dietgen.verify import run_onnxruntime
from golden_models import causal_effect, tiny_conv_dense

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tests" / "tools"
DDSP = ROOT / "examples" / "ddsp"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


@pytest.fixture(scope="module")
def ddsp_project(tmp_path_factory):
    compiled = compile_model(str(DDSP))
    project = write_tree(render_project(compiled, get_board("rpi4")), tmp_path_factory.mktemp("ddsp") / "project")
    _, control, facts = playable(str(DDSP))
    return project, compiled.c_name, control, facts, sample_rate_of(compiled.graph)


def fake_board(project: Path, name: str, chunk: int) -> Path:
    """The project's app layer and library built with the fake board, its rings sized for ``chunk``; the library's
    sources are those its library.json names, as PlatformIO builds it."""
    lib = project / "lib" / name
    exe = project / f"fake_board_{chunk}"
    if not exe.exists():
        kept = json.loads((lib / "library.json").read_text())["build"]["srcFilter"]
        sources = [str(TOOLS / "fake_board.c"), *(str(lib / f[2:-1]) for f in kept if f.startswith("+<"))]
        subprocess.run(["gcc", "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", *SANITIZE,
                        f"-DDG_HW_CHUNK={chunk}", f"-I{project / 'src'}", f"-I{lib}", *sources, "-o", str(exe),
                        "-lm"], check=True)
    return exe


def run_board(exe: Path, cost: int, chunk: int, samples: int, midi: Path | None = None):
    """What the fake hardware played (int16), its underrun count, and the MIDI log [(time, steps before)]."""
    proc = subprocess.run([str(exe), str(cost), str(chunk), str(samples), *([str(midi)] if midi else [])],
                          capture_output=True, check=True, timeout=300)
    lines = proc.stderr.decode().splitlines()
    underruns = next(int(line.split()[1]) for line in lines if line.startswith("underruns"))
    log = [tuple(map(int, line.split()[1:])) for line in lines if line.startswith("midi")]
    return np.frombuffer(proc.stdout, "<i2"), underruns, log


def pcm(audio: np.ndarray) -> np.ndarray:
    return np.trunc(np.clip(audio, -1, 1).astype(np.float32) * np.float32(32767)).astype(np.int16)


def as_notes(steps, step_samples: int, rate: int) -> list[Note]:
    seconds = step_samples / rate
    return [Note(n.pitch, n.velocity, n.on * seconds, (n.off - n.on) * seconds, n.instrument) for n in steps]


def demo_pcm(control: Control, facts: NoteFacts, rate: int) -> tuple[np.ndarray, int]:
    steps, total = demo_phrase(control, facts, rate)
    played = generate(str(DDSP), as_notes(steps, control.step_samples, rate)).audio
    assert played.size == total * control.step_samples
    return pcm(played), total


@pytest.mark.parametrize("chunk", [128, 1, 97])
def test_every_block_plays_without_a_gap_while_the_next_is_computed(ddsp_project, chunk):
    # A step that takes 99 % of its own duration keeps up: what the hardware plays, in callbacks of 128 samples
    # (Teensy), one sample (a timer interrupt) or an odd count, is the built-in phrase exactly as `dietgen
    # generate` plays it, with no silence and no underrun.
    project, name, control, facts, rate = ddsp_project
    want, steps = demo_pcm(control, facts, rate)
    step = control.step_samples
    got, underruns, _ = run_board(fake_board(project, name, chunk), step * 99 // 100, chunk, want.size + step)
    assert underruns == 0
    assert np.abs(got[:want.size].astype(int) - want).max() <= 1
    # Then the phrase starts again from a fresh state.
    assert np.abs(got[want.size:want.size + step].astype(int) - want[:step]).max() <= 1


def test_a_block_not_ready_in_time_is_an_underrun_counted_and_played_as_silence(ddsp_project):
    project, name, control, facts, rate = ddsp_project
    want, _ = demo_pcm(control, facts, rate)
    step = control.step_samples
    got, underruns, _ = run_board(fake_board(project, name, 128), step * 3 // 2, 128, 40 * step)
    blocks, expected = got.reshape(-1, step), want.reshape(-1, step)
    silent, k = 0, 0
    for block in blocks:
        if np.abs(block.astype(int) - expected[k]).max() <= 1:
            k += 1
        else:
            assert not block.any(), "a late block must be silence, not a glitch"
            silent += 1
    # Every late block was counted, and the timing of what followed stayed true: a step 1.5x too slow delivers
    # two blocks for every three played.
    assert silent == underruns > 0
    assert abs(k / len(blocks) - 2 / 3) < 0.1


def test_midi_bytes_become_the_players_notes(ddsp_project, tmp_path):
    project, name, control, facts, rate = ddsp_project
    step = control.step_samples
    lo, hi = facts.pitches
    a, b = lo + 2, min(lo + 7, hi)
    # Note on A (channel 1), a clock byte between, A off by running status (velocity 0), a SysEx (which cancels
    # running status: the stray data bytes after it are ignored), a drum note ignored, a program change, B on
    # and off on channel 2.
    events = [(1000, [0x90, a, 100]), (1500, [0xF8]), (9000, [a, 0]), (9200, [0xF0, 0x7E, 0x01, 0xF7]),
              (9300, [b, 100]), (9500, [0x99, 36, 127]), (12000, [0xC1, 0]), (12500, [0x91, b, 64]),
              (20000, [0x81, b, 0])]
    midi = tmp_path / "midi.txt"
    midi.write_text("".join(f"{t} {' '.join(map(str, data))}\n" for t, data in events))
    total = 30000
    got, underruns, log = run_board(fake_board(project, name, 128), step // 2, 128, total, midi)
    assert underruns == 0
    # The step at which each message's last byte was read is when it took effect; the first note started live
    # play (the phrase stopped) at that step.
    at = {}
    for t, data in events:
        at[t] = next(steps for time, steps in log if time >= t)
    start = at[1000]
    notes = [Note(a, 100, 0.0, (at[9000] - start) * step / rate),
             Note(b, 64, (at[12500] - start) * step / rate, (at[20000] - at[12500]) * step / rate)]
    want = pcm(generate(str(DDSP), notes).audio)
    live = got[start * step:]
    n = min(live.size, want.size)
    assert n > (at[20000] - start) * step
    assert np.abs(live[:n].astype(int) - want[:n]).max() <= 1


def test_roles_inferred_from_the_signature_and_refused_when_impossible():
    ddsp = compile_model(str(DDSP))
    assert project_role(ddsp.graph, True, None) == "generator"
    with pytest.raises(DietgenUsageError, match="--role effect: an effect takes one audio input, ddsp has 2"):
        project_role(ddsp.graph, True, "effect")
    with pytest.raises(DietgenUsageError, match="expected one of generator, effect"):
        project_role(ddsp.graph, True, "synth")


SIMAVR_HEADERS = Path("/usr/include/simavr")


def test_avr_plays_from_a_timer_interrupt_at_the_sample_rate(tmp_path):
    if platformio.offline_missing(get_board("uno")) or not (SIMAVR_HEADERS / "sim_avr.h").is_file():
        pytest.skip("avr-gcc, Debian's Arduino core and libsimavr-dev are needed")
    model = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), model)
    # tiny's step takes the Uno milliseconds: at 100 Hz it keeps up (at 16 kHz the budget refuses it).
    compiled = compile_model(str(model), sample_rate=100)
    project = write_tree(render_project(compiled, get_board("uno")), tmp_path / "uno")
    elf = platformio.build(project)
    tool = tmp_path / "simavr_uart"
    subprocess.run(["gcc", "-O2", f"-I{SIMAVR_HEADERS}", str(TOOLS / "simavr_uart.c"), "-o", str(tool),
                    "-lsimavr"], check=True)
    # Two simulated seconds, the PWM duty read once per sample period (16 MHz / 100 Hz).
    pwm_file = tmp_path / "pwm.bin"
    serial = subprocess.run([str(tool), "atmega328p", "16000000", str(elf), "32000000", "160000", str(pwm_file)],
                            capture_output=True, timeout=120, check=True).stdout
    duty = np.frombuffer(pwm_file.read_bytes(), np.uint8)
    assert duty.size == 200
    # The model's audio with zero conditioning, one sample per period from the first interrupt on, no gap and
    # no underrun report on the serial port.
    x = np.zeros((1, 2, 8), np.float32)
    out = run_onnxruntime(compiled, {"x": x})["y"].reshape(-1)
    want = ((pcm(out).astype(int) + 32768) >> 8).astype(np.uint8)
    played = duty[np.argmax(duty != 0):]
    tiled = np.resize(want, played.size)
    assert np.array_equal(played[:-1], tiled[:-1])
    assert b"underruns" not in serial


@pytest.mark.parametrize("board_id", ["uno", "nano33ble"])
def test_an_effect_is_recognised_and_its_project_builds_offline(tmp_path, board_id):
    missing = platformio.offline_missing(get_board(board_id))
    if missing:
        pytest.skip(missing)
    onnx.save(causal_effect(16), tmp_path / "drive.onnx")
    # Mono audio in, as many samples out, streamed: an effect without being told.
    compiled = compile_model(str(tmp_path / "drive.onnx"), sample_rate=8000, stream=StreamSpec(16))
    files = render_project(compiled, get_board(board_id))
    assert "#define DG_EFFECT 1" in files["src/dietgen_app.h"] and "dg_ring_put" in files["src/dietgen_board.h"]
    elf = platformio.build(write_tree(files, tmp_path / board_id))
    assert elf.is_file()


def test_an_effect_processes_the_hardwares_input_block_by_block(tmp_path):
    # The fake board records a ramp and plays what the effect's step makes of it: the streamed model on the
    # input, delayed by the rings (the primed blocks of silence), with no block lost or repeated.
    onnx.save(causal_effect(16), tmp_path / "drive.onnx")
    compiled = compile_model(str(tmp_path / "drive.onnx"), stream=StreamSpec(16))
    project = write_tree(render_project(compiled, get_board("rpi4")), tmp_path / "project")
    exe = fake_board(project, compiled.c_name, 16)
    n = 16 * 40
    signal = (np.sin(np.arange(n) * 0.05) * 20000).astype("<i2")
    proc = subprocess.run([str(exe), "12", "16", str(n)], input=signal.tobytes(), capture_output=True, check=True)
    got = np.frombuffer(proc.stdout, "<i2")
    assert proc.stderr.decode().startswith("underruns 0 overruns 0")
    want = onnxruntime.InferenceSession(causal_effect(n).SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": (signal.astype(np.float32) / 32768).reshape(1, 1, n)})[0].reshape(-1)
    delay = np.argmax(got != 0)
    assert delay % 16 == 0 and delay > 0
    assert np.abs(got[delay:].astype(int) - pcm(want)[:n - delay]).max() <= 1
