"""NSynth-style notes rendered from a General MIDI SoundFont with FluidSynth.

Each instrument is one FluidSynth run over a MIDI file that plays its notes one after another, each in its own
slot: note on, note off after the held part, "all sound off" at the note's end, then a short gap, so no tail
leaks into the next note. Slots are whole multiples of FluidSynth's 64-sample block, so every note starts at the
same place in its slot. An instrument finished is kept (its WAVs and a part file), so an interrupted render
resumes where it stopped; examples.json, written last, marks the dataset complete."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from dietgen.data.features import pitch_check
from dietgen.data.nsynth import SPLITS
from dietgen.data.wav import wav_bytes
from dietgen.errors import DietgenError
from dietgen.models.base import SAMPLE_RATE
from dietgen.output import write_bytes_atomic

GM_PROGRAMS = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano 1", "electric piano 2", "harpsichord", "clavinet", "celesta", "glockenspiel", "music box",
    "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer", "drawbar organ", "percussive organ",
    "rock organ", "church organ", "reed organ", "accordion", "harmonica", "tango accordion",
    "acoustic guitar nylon", "acoustic guitar steel", "electric guitar jazz", "electric guitar clean",
    "electric guitar muted", "overdriven guitar", "distortion guitar", "guitar harmonics", "acoustic bass",
    "electric bass finger", "electric bass pick", "fretless bass", "slap bass 1", "slap bass 2", "synth bass 1",
    "synth bass 2", "violin", "viola", "cello", "contrabass", "tremolo strings", "pizzicato strings",
    "orchestral harp", "timpani", "string ensemble 1", "string ensemble 2", "synth strings 1",
    "synth strings 2", "choir aahs", "voice oohs", "synth voice", "orchestra hit", "trumpet", "trombone", "tuba",
    "muted trumpet", "french horn", "brass section", "synth brass 1", "synth brass 2", "soprano sax",
    "alto sax", "tenor sax", "baritone sax", "oboe", "english horn", "bassoon", "clarinet", "piccolo", "flute",
    "recorder", "pan flute", "blown bottle", "shakuhachi", "whistle", "ocarina", "lead 1 square",
    "lead 2 sawtooth", "lead 3 calliope", "lead 4 chiff", "lead 5 charang", "lead 6 voice", "lead 7 fifths",
    "lead 8 bass and lead", "pad 1 new age", "pad 2 warm", "pad 3 polysynth", "pad 4 choir", "pad 5 bowed",
    "pad 6 metallic", "pad 7 halo", "pad 8 sweep", "fx 1 rain", "fx 2 soundtrack", "fx 3 crystal",
    "fx 4 atmosphere", "fx 5 brightness", "fx 6 goblins", "fx 7 echoes", "fx 8 sci-fi", "sitar", "banjo",
    "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai", "tinkle bell", "agogo", "steel drums",
    "woodblock", "taiko drum", "melodic tom", "synth drum", "reverse cymbal", "guitar fret noise",
    "breath noise", "seashore", "bird tweet", "telephone ring", "helicopter", "applause", "gunshot")
# NSynth's family names for the sixteen General MIDI groups of eight programs.
GM_FAMILIES = ("keyboard", "mallet", "organ", "guitar", "bass", "string", "string", "brass", "reed", "flute",
               "synth_lead", "synth_pad", "synth_effect", "ethnic", "percussive", "sound_effect")
# One pitched instrument from each of NSynth's families: keyboard, mallet, organ, guitar, bass, string, vocal,
# brass, reed, flute, synth lead.
DEFAULT_INSTRUMENTS = (0, 11, 19, 24, 32, 40, 52, 56, 65, 73, 80)
DEFAULT_PITCHES = (36, 84)
DEFAULT_VELOCITIES = (25, 50, 75, 100, 127)
SOUNDFONTS = (("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
              ("/usr/share/sounds/sf2/TimGM6mb.sf2", "timgm6mb-soundfont"))
GAP_SAMPLES = 4096          # between slots; with the note, a multiple of FluidSynth's 64-sample block
SILENCE_PEAK = 1e-3         # a note quieter than this is not played by the SoundFont and is left out
GAIN = 1.0
MS_PER_TICK = 1             # tempo 1 s per quarter, 1000 ticks per quarter


def find_soundfont(soundfont: str | os.PathLike | None) -> Path:
    packages = ", ".join(f"{path} (Debian package {pkg})" for path, pkg in SOUNDFONTS)
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file():
            raise DietgenError(f"SoundFont {path} not found; give an .sf2 file, e.g. {packages}")
        check_soundfont(path)
        return path
    for path, _ in SOUNDFONTS:
        if Path(path).is_file():
            check_soundfont(Path(path))
            return Path(path)
    raise DietgenError("no General MIDI SoundFont found; install Debian package fluid-soundfont-gm (or "
                       "timgm6mb-soundfont, smaller) or pass --soundfont FILE.sf2")


def check_soundfont(path: Path) -> None:
    """Refuse a file that is not a whole SoundFont before FluidSynth sees it: given one, FluidSynth plays its
    own default SoundFont instead, exits 0, and the dataset would name the wrong instruments after this file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            problem = _riff_problem(f, size)
    except OSError as exc:
        raise DietgenError(f"SoundFont {path}: cannot read it ({exc.strerror}); give a readable .sf2 file")
    if problem:
        raise DietgenError(f"{path} is not a SoundFont: {problem}; give a General MIDI .sf2 file")


def _riff_problem(f, size: int) -> str | None:
    """What is wrong with the RIFF layout of a SoundFont 2 file (``RIFF <size> sfbk`` holding the INFO, sdta
    and pdta lists, chunk sizes tiling the file exactly, as FluidSynth requires), or None. Reads only the
    chunk headers, so a 150 MB SoundFont is checked in a few reads."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"sfbk":
        return f"it does not start with a RIFF 'sfbk' header (found {head[:4]!r}...{head[8:12]!r})"
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if declared != size:
        return f"its header gives {declared} bytes but the file holds {size} (truncated or damaged)"
    lists, pos = [], 12
    while pos < size:
        f.seek(pos)
        chunk = f.read(12)
        if len(chunk) < 8:
            return f"a chunk header is cut off at byte {pos}"
        length = struct.unpack("<I", chunk[4:8])[0]
        end = pos + 8 + length + (length & 1)
        if end > size:
            return f"chunk {chunk[:4].decode('latin-1')!r} at byte {pos} runs past the end of the file"
        if chunk[:4] == b"LIST":
            lists.append(chunk[8:12])
        pos = end
    missing = [name.decode() for name in (b"INFO", b"sdta", b"pdta") if name not in lists]
    if missing:
        return f"it has no {missing[0]} list"
    return None


def note_name(program: int, pitch: int, velocity: int) -> str:
    return f"{GM_FAMILIES[program // 8]}_gm_{program:03d}-{pitch:03d}-{velocity:03d}"


def _midi_file(program: int, notes: Sequence[tuple[int, int]], slot_ms: int, held_ms: int, note_ms: int) -> bytes:
    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        n >>= 7
        while n:
            out.append(0x80 | (n & 0x7F))
            n >>= 7
        return bytes(reversed(out))

    events = [(0, bytes([0xC0, program]))]
    for k, (pitch, velocity) in enumerate(notes):
        start = k * slot_ms
        events += [(start, bytes([0x90, pitch, velocity])), (start + held_ms, bytes([0x80, pitch, 0])),
                   (start + note_ms, bytes([0xB0, 120, 0]))]   # all sound off: cut the tail at the note's end
    track, last = b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"), 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        track += vlq(tick - last) + message
        last = tick
    track += vlq(slot_ms) + b"\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 1000 // MS_PER_TICK) + b"MTrk" + struct.pack(">I", len(track))
            + track)


def _fluidsynth(soundfont: Path, midi: bytes, sample_rate: int, workdir: Path) -> np.ndarray:
    executable = shutil.which("fluidsynth")
    if executable is None:
        raise DietgenError("fluidsynth not found; install Debian package fluidsynth")
    (workdir / "notes.mid").write_bytes(midi)
    # The shell's "fonts" command lists what was actually loaded: when the SoundFont fails to load, FluidSynth
    # says so on stderr, loads its default SoundFont instead and still exits 0.
    (workdir / "fonts.cmd").write_text("fonts\n")
    raw = workdir / "notes.raw"
    command = [executable, "-n", "-i", "-q", "-F", str(raw), "-T", "raw", "-O", "float", "-r", str(sample_rate),
               "-g", str(GAIN), "-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
               "-o", "synth.cpu-cores=1", "-f", str(workdir / "fonts.cmd"), str(soundfont.resolve()),
               str(workdir / "notes.mid")]
    result = subprocess.run(command, capture_output=True, text=True)
    detail = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    if result.returncode != 0 or not raw.is_file():
        raise DietgenError(f"fluidsynth failed on {soundfont}: {detail[0] if detail else result.returncode}")
    loaded = _loaded_fonts(result.stdout)
    if loaded != [soundfont.resolve()]:
        errors = [line.strip().removeprefix("fluidsynth: error: ") for line in result.stderr.splitlines()
                  if "error" in line.lower()]
        why = (errors or ["no reason given"])[0]
        instead = ", ".join(map(str, loaded)) or "nothing"
        raise DietgenError(f"fluidsynth could not load {soundfont} ({why}) and loaded {instead} instead; give a "
                           f"General MIDI .sf2 file that FluidSynth reads")
    stereo = np.fromfile(raw, dtype="<f4").reshape(-1, 2)
    return stereo.mean(axis=1)


def _loaded_fonts(listing: str) -> list[Path]:
    """The SoundFonts of a "fonts" listing ("ID  Name" then one "<id>  <path>" line per font)."""
    fonts = []
    for line in listing.splitlines():
        number, _, name = line.strip().partition(" ")
        if number.isdigit() and name.strip():
            fonts.append(Path(name.strip()).resolve())
    return fonts


def _check_loads(soundfont: Path, sample_rate: int) -> None:
    """FluidSynth loads ``soundfont`` (an empty MIDI file played in a scratch folder), checked before the
    dataset folder is created or replaced so a SoundFont it rejects leaves nothing behind."""
    with tempfile.TemporaryDirectory(prefix="dietgen-soundfont.") as workdir:
        _fluidsynth(soundfont, _midi_file(0, [], 1, 0, 0), sample_rate, Path(workdir))


def _settings(soundfont: Path, instruments, pitches, velocities, seconds, release, sample_rate, seed, fractions):
    return {"soundfont": soundfont.name, "soundfont_bytes": soundfont.stat().st_size,
            "instruments": list(instruments), "pitches": list(pitches), "velocities": list(velocities),
            "seconds": seconds, "release": release, "sample_rate": sample_rate, "seed": seed,
            "split_fractions": dict(zip(SPLITS, fractions))}


def _check(instruments, pitches, velocities, seconds, release, sample_rate, fractions):
    bad = [p for p in instruments if not 0 <= p < 128]
    if bad:
        raise DietgenError(f"instrument program {bad[0]} is not a General MIDI program (0-127)")
    if not pitches or not all(0 <= p < 128 for p in pitches):
        raise DietgenError(f"pitches {list(pitches)[:3]}...: give a MIDI pitch range within 0-127")
    if not velocities or not all(1 <= v < 128 for v in velocities):
        raise DietgenError(f"velocities {list(velocities)}: give MIDI velocities within 1-127")
    note_samples = seconds * sample_rate
    if not 0 <= release < seconds or note_samples != int(note_samples) or int(note_samples) % 64:
        raise DietgenError(f"note length {seconds} s with release {release} s: the note must be a whole number "
                           f"of 64-sample blocks at {sample_rate} Hz and longer than its release")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise DietgenError(f"split fractions {fractions}: give three non-negative fractions summing to 1")


def _render_instrument(out: Path, soundfont: Path, program: int, pitches, velocities, note_samples: int,
                       held_samples: int, sample_rate: int) -> dict:
    notes = [(p, v) for p in pitches for v in velocities]
    slot = note_samples + GAP_SAMPLES
    per_ms = sample_rate // 1000
    with tempfile.TemporaryDirectory(prefix=".render.", dir=out) as workdir:
        audio = _fluidsynth(soundfont, _midi_file(program, notes, slot // per_ms, held_samples // per_ms,
                                                  note_samples // per_ms), sample_rate, Path(workdir))
    audio = np.pad(audio, (0, max(0, len(notes) * slot - len(audio))))
    entries, silent = {}, 0
    for k, (pitch, velocity) in enumerate(notes):
        note = np.clip(audio[k * slot:k * slot + note_samples], -1.0, 1.0)
        if np.abs(note).max() < SILENCE_PEAK:
            silent += 1
            continue
        name = note_name(program, pitch, velocity)
        write_bytes_atomic(out / "audio" / f"{name}.wav", wav_bytes(note, sample_rate))
        estimate, agrees = pitch_check(note, pitch, sample_rate)
        entries[name] = {"note_str": name, "instrument": program, "instrument_str": f"gm_{program:03d}",
                         "instrument_name": GM_PROGRAMS[program], "instrument_family_str": GM_FAMILIES[program // 8],
                         "instrument_source_str": "synthetic", "pitch": pitch, "velocity": velocity,
                         "sample_rate": sample_rate,
                         "f0_estimate_hz": None if estimate is None else round(estimate, 3), "pitch_ok": agrees}
    return {"entries": entries, "silent": silent}


def _assign_splits(entries: dict, seed: int, fractions) -> None:
    """Per instrument, a seeded shuffle of its notes cut by the fractions, so every split holds every
    instrument that has enough notes, and the same seed always gives the same splits."""
    by_instrument: dict[int, list[str]] = {}
    for name, entry in sorted(entries.items()):
        by_instrument.setdefault(entry["instrument"], []).append(name)
    for program, names in by_instrument.items():
        order = np.random.default_rng([seed, program]).permutation(len(names))
        n_valid = int(round(fractions[1] * len(names)))
        n_test = int(round(fractions[2] * len(names)))
        if len(names) >= 3:
            n_valid, n_test = max(n_valid, 1 if fractions[1] else 0), max(n_test, 1 if fractions[2] else 0)
        for rank, index in enumerate(order):
            split = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
            entries[names[index]]["split"] = split


def render_dataset(out_dir, soundfont=None, instruments: Sequence[int] = DEFAULT_INSTRUMENTS,
                   pitches: Sequence[int] = tuple(range(DEFAULT_PITCHES[0], DEFAULT_PITCHES[1] + 1)),
                   velocities: Sequence[int] = DEFAULT_VELOCITIES, seconds: float = 4.0, release: float = 1.0,
                   sample_rate: int = SAMPLE_RATE, seed: int = 0, fractions=(0.8, 0.1, 0.1), force: bool = False,
                   progress: Callable[[Iterable, str], Iterable] = lambda items, label: items) -> dict:
    """Render (or finish rendering) a dataset into ``out_dir``; returns its summary.

    ``progress(instruments, label)`` wraps the loop over instruments (a progress bar)."""
    soundfont = find_soundfont(soundfont)
    _check(instruments, pitches, velocities, seconds, release, sample_rate, fractions)
    out = Path(out_dir)
    settings = _settings(soundfont, instruments, pitches, velocities, seconds, release, sample_rate, seed,
                         fractions)
    settings_path = out / "dataset.json"
    if out.exists() and not force:
        previous = None
        if settings_path.is_file():
            try:
                previous = json.loads(settings_path.read_text()).get("settings")
            except (OSError, ValueError, AttributeError):
                previous = None
        if previous != settings:
            what = "a render with other settings" if previous is not None else "something else than a render"
            raise DietgenError(f"{out}: holds {what}; choose another folder, or pass --force to replace it")
        summary = json.loads(settings_path.read_text()).get("summary")
        if summary is not None and (out / "examples.json").is_file():
            return summary
    _check_loads(soundfont, sample_rate)
    if out.exists() and force:
        shutil.rmtree(out)
    parts = out / ".parts"
    try:
        parts.mkdir(parents=True, exist_ok=True)
        (out / "audio").mkdir(exist_ok=True)
        if not settings_path.is_file():
            write_bytes_atomic(settings_path, (json.dumps({"settings": settings}, indent=2) + "\n").encode())
    except OSError as exc:
        raise DietgenError(f"{out}: cannot write there ({exc.strerror}); choose a writable folder")
    note_samples = int(seconds * sample_rate)
    held_samples = int((seconds - release) * sample_rate)
    results = {}
    for program in progress(instruments, "rendering instruments"):
        part = parts / f"{program:03d}.json"
        if part.is_file():
            results[program] = json.loads(part.read_text())
        else:
            results[program] = _render_instrument(out, soundfont, program, pitches, velocities, note_samples,
                                                  held_samples, sample_rate)
            write_bytes_atomic(part, json.dumps(results[program], sort_keys=True).encode())
    entries = {name: e for r in results.values() for name, e in r["entries"].items()}
    if not entries:
        raise DietgenError(f"{soundfont}: no note sounded for these instruments and pitches; choose others")
    _assign_splits(entries, seed, fractions)
    write_bytes_atomic(out / "examples.json", (json.dumps(entries, indent=1, sort_keys=True) + "\n").encode())
    summary = {"notes": len(entries),
               "silent_skipped": sum(r["silent"] for r in results.values()),
               "pitch_disagreements": sum(not e["pitch_ok"] for e in entries.values()),
               "splits": {s: sum(e["split"] == s for e in entries.values()) for s in SPLITS}}
    document = {"settings": settings, "summary": summary}
    write_bytes_atomic(settings_path, (json.dumps(document, indent=2) + "\n").encode())
    shutil.rmtree(parts)
    return summary
