"""Note lists for `dietgen generate`: parsed from the command line or read from a MIDI file, then checked against
what the model was trained on. Times are in seconds."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dietgen.errors import DietgenError

NOTE_FORM = "pitch:velocity:start:duration[:instrument]"
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0 as mido does
# Float seconds summed over many MIDI deltas drift in the last bits; a microsecond is far below a sample period.
TIME_DIGITS = 6
# Notes that touch (one ends exactly as the next starts) must not count as overlapping after float arithmetic.
OVERLAP_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Note:
    pitch: int
    velocity: int
    start: float
    duration: float
    instrument: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration


def _describe(index: int, note: Note) -> str:
    return (f"note {index + 1} (pitch {note.pitch}, velocity {note.velocity}, start {note.start:g} s, "
            f"duration {note.duration:g} s, instrument {note.instrument})")


def parse_notes(text: str) -> list[Note]:
    """Notes from the command-line form "60:100:0:1.0,64:100:1.0:1.0": comma-separated
    pitch:velocity:start:duration[:instrument], whitespace around any part ignored."""
    notes = []
    items = [item.strip() for item in text.split(",")]
    for k, item in enumerate(i for i in items if i):
        fields = [f.strip() for f in item.split(":")]
        if len(fields) not in (4, 5):
            raise DietgenError(f"note {k + 1} {item!r}: {len(fields)} fields; write {NOTE_FORM}, "
                               f"e.g. 60:100:0:1.0")
        try:
            pitch, velocity = int(fields[0]), int(fields[1])
            instrument = int(fields[4]) if len(fields) == 5 else 0
        except ValueError:
            raise DietgenError(f"note {k + 1} {item!r}: pitch, velocity and instrument must be whole numbers "
                               f"({NOTE_FORM})") from None
        try:
            start, duration = float(fields[2]), float(fields[3])
        except ValueError:
            raise DietgenError(f"note {k + 1} {item!r}: start and duration must be numbers of seconds "
                               f"({NOTE_FORM})") from None
        notes.append(Note(pitch, velocity, start, duration, instrument))
    if not notes:
        raise DietgenError(f"{text!r}: no notes; give {NOTE_FORM}, comma separated, e.g. 60:100:0:1.0")
    return notes


def _load_midi(path: Path) -> list:
    """The file's messages in time order, each ``time`` the seconds since the previous one."""
    import mido

    try:
        midi = mido.MidiFile(path)
        asynchronous = midi.type == 2
        messages = [] if asynchronous else list(midi)
    except FileNotFoundError:
        raise DietgenError(f"{path}: MIDI file missing") from None
    # The file is untrusted and mido reports malformed input through many exception types (OSError, EOFError,
    # ValueError, IndexError, KeyError, ZeroDivisionError, its own KeySignatureError...): any of them means the
    # file cannot be read.
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
        raise DietgenError(f"{path}: not a readable Standard MIDI File ({reason})") from None
    if asynchronous:
        raise DietgenError(f"{path}: a type 2 (asynchronous) MIDI file; dietgen reads types 0 and 1, export the "
                           f"part as a type 0 or 1 file")
    return messages


def read_midi(path) -> list[Note]:
    """The notes of a Standard MIDI File (type 0 or 1), sorted by start: all channels but 10 (drums) merged,
    tempo changes honoured, each note's instrument the channel's program (0 until a program change); a note
    still held at the end of the file ends there."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DietgenError(f"{path}: empty file; expected a Standard MIDI File")
    messages = _load_midi(path)
    now = 0.0
    programs: dict[int, int] = {}
    held: dict[tuple[int, int], tuple[float, int, int]] = {}
    notes = []

    def release(key: tuple[int, int]) -> None:
        start, velocity, program = held.pop(key)
        start, end = round(start, TIME_DIGITS), round(now, TIME_DIGITS)
        # A note switched on and off at the same instant makes no sound.
        if end > start:
            notes.append(Note(key[1], velocity, start, round(end - start, TIME_DIGITS), program))

    for message in messages:
        now += message.time
        channel = getattr(message, "channel", None)
        if channel is None or channel == DRUM_CHANNEL:
            continue
        if message.type == "program_change":
            programs[channel] = message.program
        elif message.type in ("note_on", "note_off"):
            key = (channel, message.note)
            if key in held:
                # A repeated note-on without a note-off in between re-strikes the note: the first one ends.
                release(key)
            if message.type == "note_on" and message.velocity > 0:
                held[key] = (now, message.velocity, programs.get(channel, 0))
    for key in list(held):
        release(key)
    if not notes:
        raise DietgenError(f"{path}: no notes outside the drum channel (10); give a MIDI file with a melodic part")
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.instrument))


def _problem(note: Note, pitch_range: tuple[int, int], instruments: int | None) -> str | None:
    low, high = pitch_range
    if not low <= note.pitch <= high:
        return f"pitch outside the model's trained range {low}..{high}; transpose it into that range"
    if not 1 <= note.velocity <= 127:
        return "velocity outside 1..127"
    if not (math.isfinite(note.start) and note.start >= 0):
        return "start must be 0 s or later"
    if not (math.isfinite(note.duration) and note.duration > 0):
        return "duration must be more than 0 s"
    if note.instrument < 0 or (instruments is not None and note.instrument >= instruments):
        known = "0 or more" if instruments is None else f"0..{instruments - 1}"
        return f"instrument outside {known}, the instruments the model was trained on"
    return None


def validate(notes: list[Note], *, pitch_range: tuple[int, int], instruments: int | None) -> list[Note]:
    """``notes`` sorted by start, after checking each against the model: ``pitch_range`` (lowest, highest)
    inclusive, ``instruments`` the number the model knows (None: it takes no instrument, any number 0 or more
    passes). Notes are named by their 1-based position in ``notes``. dietgen models are monophonic, so a note
    starting before the previous one ends is an error."""
    if not notes:
        raise DietgenError("no notes to generate; give at least one note")
    for k, note in enumerate(notes):
        problem = _problem(note, pitch_range, instruments)
        if problem:
            raise DietgenError(f"{_describe(k, note)}: {problem}")
    order = sorted(range(len(notes)), key=lambda k: notes[k].start)
    for before, after in zip(order, order[1:]):
        if notes[after].start < notes[before].end - OVERLAP_TOLERANCE:
            raise DietgenError(f"{_describe(after, notes[after])} starts before {_describe(before, notes[before])} "
                               f"ends at {notes[before].end:g} s; dietgen models are monophonic: shorten note "
                               f"{before + 1} or use a monophonic part")
    return [notes[k] for k in order]


def total_seconds(notes: list[Note], tail: float) -> float:
    """Seconds of audio to generate: to the end of the last note, plus ``tail`` seconds for its release."""
    if not (math.isfinite(tail) and tail >= 0):
        raise DietgenError(f"tail {tail} s: give 0 s or more")
    return max((note.end for note in notes), default=0.0) + tail
