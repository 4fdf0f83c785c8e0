"""The Raspberry Pi (Linux) board program: its Standard MIDI File reader (firmware/src/smf.c) against dietgen's
own (dietgen.notes.read_midi), and the cross-compiled program under qemu-user against `dietgen generate` (a
song, the built-in phrase) and against the streamed model (an effect)."""
from __future__ import annotations

import random
import shutil
import subprocess
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from dietgen.errors import DietgenError
from dietgen.notes import read_midi
from dietgen.resources import firmware
from dietgen.toolchain.host import SANITIZE, STRICT
from golden_models import causal_effect

TOOLS = Path(__file__).resolve().parent / "tools"


@pytest.fixture(scope="module")
def smf_reader(tmp_path_factory):
    """tests/tools/smf_main.c with the reader, under the address and undefined-behaviour sanitizers."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("smf") / "smf"
    subprocess.run(["gcc", *STRICT, "-O1", *SANITIZE, f"-I{firmware() / 'include'}", str(TOOLS / "smf_main.c"),
                    str(firmware() / "src" / "smf.c"), "-o", str(exe), "-lm"], check=True)
    return exe


def read_c(exe: Path, path: Path) -> tuple[list[tuple] | None, str]:
    """(notes as (pitch, velocity, start, duration, program), or None when refused; the refusal's message)."""
    result = subprocess.run([str(exe), str(path)], capture_output=True, text=True, timeout=30)
    if result.returncode == 1:
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
        return None, result.stderr.strip()
    assert result.returncode == 0 and result.stderr == "", f"status {result.returncode}: {result.stderr}"
    notes = []
    for line in result.stdout.splitlines():
        pitch, velocity, program, start, duration = line.split()
        notes.append((int(pitch), int(velocity), float.fromhex(start), float.fromhex(duration), int(program)))
    return notes, ""


def read_python(path: Path) -> list[tuple] | None:
    try:
        return [(n.pitch, n.velocity, n.start, n.duration, n.instrument) for n in read_midi(path)]
    except DietgenError:
        return None


def message(kind: str, **fields) -> mido.Message:
    return mido.Message(kind, **fields)


def song(path: Path) -> Path:
    """Two tracks at 384 ticks per beat: tempo changes (one mid-note) in the first, running status (mido writes
    repeated note-ons that way), program changes, drums on channel 10, a note struck again before its note-off,
    a note off with velocity 0, a note on and off at once, and a note still held when the file ends."""
    midi = mido.MidiFile(type=1, ticks_per_beat=384)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000, time=0),
                            mido.MetaMessage("key_signature", key="Bb", time=0),
                            mido.MetaMessage("set_tempo", tempo=437500, time=500),
                            mido.MetaMessage("set_tempo", tempo=733333, time=1111)])
    part = mido.MidiTrack([
        message("program_change", channel=0, program=24, time=0),
        message("note_on", channel=0, note=60, velocity=100, time=0),
        message("note_on", channel=0, note=60, velocity=0, time=333),
        message("note_on", channel=0, note=62, velocity=90, time=51),
        message("note_on", channel=0, note=62, velocity=70, time=211),       # struck again
        message("note_off", channel=0, note=62, velocity=40, time=157),
        message("note_on", channel=9, note=36, velocity=127, time=0),        # drums
        message("note_on", channel=0, note=64, velocity=80, time=13),
        message("note_off", channel=9, note=36, time=7),
        message("note_on", channel=0, note=64, velocity=0, time=599),
        message("note_on", channel=0, note=65, velocity=80, time=0),         # on and off at once
        message("note_off", channel=0, note=65, time=0),
        message("control_change", channel=0, control=7, value=90, time=3),
        message("pitchwheel", channel=0, pitch=-300, time=0),
        message("sysex", data=(1, 2, 3), time=17),
        message("program_change", channel=2, program=40, time=5),
        message("note_on", channel=2, note=67, velocity=77, time=1),
        message("note_off", channel=2, note=67, time=1000),
        message("note_on", channel=2, note=69, velocity=55, time=2),         # held to the end
        mido.MetaMessage("end_of_track", time=289),
    ])
    midi.tracks += [tempo, part]
    midi.save(path)
    return path


def test_smf_reader_reads_a_song_as_dietgen_does(smf_reader, tmp_path):
    path = song(tmp_path / "song.mid")
    want = read_python(path)
    got, error = read_c(smf_reader, path)
    assert error == "" and got == want
    # The song has what it says: a re-struck note, a held note, three programs, no drums.
    assert [n[0] for n in want].count(62) == 2 and want[-1][0] == 69 and {n[4] for n in want} == {24, 40}


def test_smf_reader_reads_type_0_and_refuses_type_2(smf_reader, tmp_path):
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    midi.tracks.append(mido.MidiTrack([message("note_on", note=50, velocity=64, time=10),
                                       message("note_on", note=50, velocity=0, time=77),
                                       message("note_on", note=52, velocity=64, time=1),
                                       mido.MetaMessage("end_of_track", time=50)]))
    midi.save(tmp_path / "zero.mid")
    got, _ = read_c(smf_reader, tmp_path / "zero.mid")
    assert got == read_python(tmp_path / "zero.mid") and len(got) == 2
    midi.type = 2
    midi.save(tmp_path / "two.mid")
    got, error = read_c(smf_reader, tmp_path / "two.mid")
    assert got is None and "type 2" in error
    drums = mido.MidiFile(type=0)
    drums.tracks.append(mido.MidiTrack([message("note_on", channel=9, note=36, velocity=100),
                                        message("note_off", channel=9, note=36, time=100)]))
    drums.save(tmp_path / "drums.mid")
    got, error = read_c(smf_reader, tmp_path / "drums.mid")
    assert got is None and "no notes outside the drum channel (10)" in error


# Files mido reads and the C reader refuses, on purpose: a variable-length number over the format's 4 bytes,
# a file type other than 0, 1 or 2.
DELIBERATE = ("longer than 4 bytes", "unknown file type")


def test_smf_reader_survives_damaged_files_and_agrees_with_dietgen(smf_reader, tmp_path):
    """A few hundred truncations and bit flips of the song: the C reader never crashes or reads out of bounds
    (the sanitizers abort it), refuses with one line exactly where dietgen.notes.read_midi refuses, and reads
    the same notes where both read."""
    data = song(tmp_path / "song.mid").read_bytes()
    rng = random.Random(7)
    cases = [data[:n] for n in sorted(rng.sample(range(len(data)), 120))] + [b"", b"MThd", data + b"\0junk"]
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 3))):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        cases.append(bytes(damaged))
    path = tmp_path / "case.mid"
    both = refused = 0
    for k, case in enumerate(cases):
        path.write_bytes(case)
        want = read_python(path)
        got, error = read_c(smf_reader, path)
        if want is not None and got is None and any(d in error for d in DELIBERATE):
            continue
        assert got == want, f"case {k}: C {got if got is not None else error!r}, Python {want}"
        both += got is not None
        refused += got is None
    assert both > 50 and refused > 100     # the damage reaches both outcomes


# -- the program on the Pi, under qemu-user -----------------------------------------------------------------

DDSP = Path(__file__).resolve().parents[1] / "examples" / "ddsp"
RATE = 16000


def pi_program(model, out: Path, **options) -> Path:
    """``model`` exported for the Raspberry Pi 4 and built offline (aarch64, static): its program."""
    from dietgen import export
    from dietgen.boards import get_board
    from dietgen.toolchain import platformio

    missing = platformio.offline_missing(get_board("rpi4"))
    if missing:
        pytest.skip(missing)
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 not installed (apt-get install qemu-user)")
    export(model, out, board="rpi4", **options)
    return platformio.build(out)


def run_pi(elf: Path, *args, stdin: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", str(elf), *map(str, args)], input=stdin,
                          capture_output=True, timeout=300, cwd=cwd)


def pcm(audio) -> np.ndarray:
    """float audio as the program's dg_pcm16 makes it 16-bit."""
    return np.trunc(np.clip(audio, -1, 1).astype(np.float32) * np.float32(32767)).astype(np.int16)


def wav_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def assert_strict(project: Path, name: str):
    """The program compiles warning-free with the strictest flags dietgen holds its C to."""
    result = subprocess.run(["gcc", *STRICT, "-c", str(project / "src" / "main.c"), f"-I{project / 'src'}",
                             f"-I{project / 'lib' / name}", "-o", str(project / "main.o")], capture_output=True,
                            text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr


@pytest.fixture(scope="module")
def ddsp_pi(tmp_path_factory):
    project = tmp_path_factory.mktemp("pi") / "ddsp"
    return pi_program(str(DDSP), project), project


def refused_cleanly(result: subprocess.CompletedProcess, folder: Path, *expected: str):
    """One line on stderr naming the problem, status 1, and nothing written to the folder."""
    error = result.stderr.decode()
    assert result.returncode == 1 and len(error.splitlines()) == 1, error
    assert all(e in error for e in expected), error
    assert sorted(p.name for p in folder.iterdir()) == ["in"]


@pytest.mark.slow
def test_pi_plays_a_midi_file_as_dietgen_generate_does(ddsp_pi, tmp_path):
    from dietgen.generate import generate

    elf, project = ddsp_pi
    assert_strict(project, "ddsp")
    path = song(tmp_path / "song.mid")
    result = run_pi(elf, "-m", path, "-o", tmp_path / "song.wav")
    assert result.returncode == 0, result.stderr
    want = pcm(generate(str(DDSP), read_midi(path), programs=True).audio)
    got = wav_samples(tmp_path / "song.wav")
    assert got.shape == want.shape and np.abs(got.astype(int) - want).max() <= 1 and np.abs(want).max() > 1000


@pytest.mark.slow
def test_pi_plays_the_built_in_phrase_as_dietgen_generate_does(ddsp_pi, tmp_path):
    from dietgen.control import demo_phrase
    from dietgen.generate import generate, playable
    from dietgen.notes import Note

    elf, _ = ddsp_pi
    _, control, facts = playable(str(DDSP))
    steps, total = demo_phrase(control, facts, RATE)
    seconds = control.step_samples / RATE
    notes = [Note(n.pitch, n.velocity, n.on * seconds, (n.off - n.on) * seconds, n.instrument) for n in steps]
    want = pcm(generate(str(DDSP), notes).audio)
    result = run_pi(elf)
    assert result.returncode == 0, result.stderr
    got = np.frombuffer(result.stdout, "<i2")
    assert got.size == total * control.step_samples == want.size
    assert np.abs(got.astype(int) - want).max() <= 1
    # A MIDI port with nothing playing (/dev/null is a character device that never has a byte) plays the same
    # phrase through the app layer every board runs.
    live = run_pi(elf, "-m", "/dev/null", "-n", 7)
    assert live.returncode == 0 and np.array_equal(np.frombuffer(live.stdout, "<i2"),
                                                   got[:7 * control.step_samples])


def test_pi_refuses_a_damaged_midi_file_in_one_line_and_writes_nothing(ddsp_pi, tmp_path):
    elf, _ = ddsp_pi
    folder = tmp_path / "out"
    folder.mkdir()
    data = song(tmp_path / "song.mid").read_bytes()
    (folder / "in").write_bytes(data[:100])
    refused_cleanly(run_pi(elf, "-m", "in", "-o", "out.wav", cwd=folder), folder, "in: not a Standard MIDI File",
                    "track 2 cut short")
    overlapping = mido.MidiFile(type=0)
    overlapping.tracks.append(mido.MidiTrack([message("note_on", note=60, velocity=90),
                                              message("note_on", note=64, velocity=90, time=100),
                                              message("note_off", note=60, time=100),
                                              message("note_off", note=64, time=100)]))
    overlapping.save(folder / "in")
    refused_cleanly(run_pi(elf, "-m", "in", "-o", "out.wav", cwd=folder), folder, "monophonic")


BLOCK = 64


@pytest.fixture(scope="module")
def effect_pi(tmp_path_factory):
    import onnx

    from dietgen.passes.stream import StreamSpec

    folder = tmp_path_factory.mktemp("effect")
    onnx.save(causal_effect(BLOCK), folder / "drive.onnx")
    project = folder / "drive"
    return pi_program(str(folder / "drive.onnx"), project, role="effect", stream=StreamSpec(BLOCK),
                      sample_rate=RATE), project


def test_pi_effect_processes_a_wav_as_the_model_does(effect_pi, tmp_path):
    import onnx
    import onnxruntime

    elf, project = effect_pi
    assert_strict(project, "drive")
    n = 1000     # not a whole number of blocks: the last is padded, the output cut to the input's length
    t = np.arange(n) / RATE
    x = pcm(0.8 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, n) + 0.05 * np.random.default_rng(1).
            standard_normal(n))
    with wave.open(str(tmp_path / "in.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes(x.astype("<i2").tobytes())
    result = run_pi(elf, "-i", tmp_path / "in.wav", "-o", tmp_path / "out.wav")
    assert result.returncode == 0, result.stderr
    got = wav_samples(tmp_path / "out.wav")
    # The model is causal: run whole on the signal as the program hears it (16-bit), it is the streamed answer.
    whole = onnxruntime.InferenceSession(causal_effect(n).SerializeToString(), providers=["CPUExecutionProvider"])
    want = pcm(whole.run(None, {"x": (x.astype(np.float32) / 32768).reshape(1, 1, n)})[0].reshape(-1))
    assert got.size == n and np.abs(got.astype(int) - want).max() <= 1 and np.abs(want).max() > 3000
    # arecord's raw stream on stdin, aplay's on stdout: the same samples.
    raw = run_pi(elf, "-i", "-", stdin=x.astype("<i2").tobytes())
    assert raw.returncode == 0 and np.array_equal(np.frombuffer(raw.stdout, "<i2"), got)


@pytest.mark.parametrize("channels, rate, width, found", [(2, RATE, 2, "2 channels"), (1, 44100, 2, "44100 Hz"),
                                                          (1, RATE, 1, "8-bit")])
def test_pi_effect_refuses_a_wav_it_cannot_play_in_one_line(effect_pi, tmp_path, channels, rate, width, found):
    elf, _ = effect_pi
    with wave.open(str(tmp_path / "in"), "wb") as w:
        w.setnchannels(channels), w.setsampwidth(width), w.setframerate(rate)
        w.writeframes(bytes(width * channels * 100))
    result = run_pi(elf, "-i", "in", "-o", "out.wav", cwd=tmp_path)
    refused_cleanly(result, tmp_path, found, f"expected 16-bit PCM mono at {RATE} Hz",
                    f"sox in -r {RATE} -c 1 -b 16")
