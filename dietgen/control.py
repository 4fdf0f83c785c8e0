"""Control: a note list turned into a generative model's conditioning, step by step.

This is the Python twin of the control code the generated player runs in C (templates/c/player.c.j2 and
firmware/src/control.c): the same notes in model steps, the same conditioning per step. It serves three
purposes: the player's C is tested against it, the PyTorch reference of ``dietgen generate --compare`` is
driven by it, and it holds the decisions the C only lays out (which input plays which role, what the
loudness envelope is).

A family says how it is played through ``AudioModel.control()`` (a ``Control``); what its training data looked
like (the pitch range, the loudness envelope of the rendered notes) is measured by ``describe_notes`` when it is
trained and kept in the checkpoint.

Roles of the model's inputs:
- ``f0_hz``: the note's fundamental in Hz, held after the note ends (so its release keeps its pitch);
- ``loudness_db``: the A-weighted loudness the training notes had at this velocity and time since note-on or
  note-off (``Envelope``);
- ``onehot_pitch``, ``onehot_velocity``, ``onehot_instrument``: one-hot rows of the note's values;
- ``onehot_frame``: one-hot of the steps since the note began, clamped to the last row (SING's time);
- ``code``: the class sampled at the previous step, fed back (WaveNet); ``start_code`` at a note's start.
The output is ``audio`` (samples per step) or ``logits`` (a class sampled, then mu-law decoded).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dietgen.errors import DietgenError
from dietgen.notes import Note

LOUDNESS_FLOOR_DB = -120.0
REFERENCE_VELOCITY = 127
INPUT_ROLES = ("f0_hz", "loudness_db", "onehot_pitch", "onehot_velocity", "onehot_instrument", "onehot_frame",
               "code")


@dataclass(frozen=True)
class Envelope:
    """Loudness (dB) per frame of a note at velocity 127, per instrument: ``hold`` from note-on while the note is
    held, ``release`` relative to the level at note-off; beyond either table the last step's slope goes on, down
    to the floor. Velocity adds ``velocity_db`` per decade (General MIDI's 40 dB: level ~ velocity squared)."""
    hold: np.ndarray           # (instruments, H) dB
    release: np.ndarray        # (instruments, R) dB relative to the level at note-off, release[:, 0] = 0 or less
    velocity_db: float = 40.0
    floor_db: float = LOUDNESS_FLOOR_DB

    def slope(self, table: np.ndarray) -> np.ndarray:
        """(instruments,) dB per frame beyond the table: its last step, never rising."""
        if table.shape[1] < 2:
            return np.zeros(table.shape[0], np.float32)
        return np.minimum(table[:, -1] - table[:, -2], 0.0).astype(np.float32)

    def level(self, instrument: int, velocity: int, since_on: int, held: int) -> float:
        """dB ``since_on`` frames after note-on of a note held ``held`` frames, in float32 as the C computes it
        (dg_envelope_db)."""
        f = np.float32
        row = min(instrument, self.hold.shape[0] - 1)

        def along(table, slope, k):
            last = table.shape[1] - 1
            return f(table[row, min(k, last)]) + f(max(k - last, 0)) * f(slope[row])

        level = along(self.hold, self.slope(self.hold), min(since_on, held))
        if since_on >= held:
            level = f(level + along(self.release, self.slope(self.release), since_on - held))
        level = f(level + f(self.velocity_db) * f(math.log10(max(velocity, 1) / REFERENCE_VELOCITY)))
        return float(max(level, f(self.floor_db)))

    def to_json(self) -> dict:
        return {"hold": np.round(self.hold, 3).tolist(), "release": np.round(self.release, 3).tolist(),
                "velocity_db": self.velocity_db, "floor_db": self.floor_db}

    @classmethod
    def from_json(cls, doc: dict) -> "Envelope":
        try:
            hold = np.asarray(doc["hold"], np.float32)
            release = np.asarray(doc["release"], np.float32)
            env = cls(hold, release, float(doc.get("velocity_db", 40.0)), float(doc.get("floor_db",
                                                                                      LOUDNESS_FLOOR_DB)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DietgenError(f"the checkpoint's loudness envelope is malformed ({exc}); retrain or remove it")
        if hold.ndim != 2 or release.ndim != 2 or hold.shape[0] != release.shape[0] or not hold.size \
                or not release.size or not (np.isfinite(hold).all() and np.isfinite(release).all()):
            raise DietgenError("the checkpoint's loudness envelope should be two finite tables (instruments x "
                               "frames) with one row per instrument; retrain or remove it")
        return env


def default_envelope() -> Envelope:
    """For a model whose checkpoint does not say: a plain organ-like shape (10 frames of attack from the floor
    to -20 dB, held level, 25 frames of release down 60 dB), labelled as such by ``dietgen generate``."""
    attack = np.linspace(-60.0, -20.0, 10, dtype=np.float32)
    return Envelope(attack[None], np.linspace(0.0, -60.0, 26, dtype=np.float32)[None])


@dataclass(frozen=True)
class Control:
    """How a family is played: the role of each exported input, what its output is, and its step."""
    inputs: dict[str, str]              # exported input name -> role
    output: str                         # "audio" or "logits"
    step_samples: int                   # audio samples each step produces
    reset_per_note: bool                # a note model: state reset at each note, silence between notes
    start_code: int = 128               # the code fed at a note's first step (role "code")
    tail_seconds: float = 0.0           # what sounds after the last note (a release, a reverb)

    def __post_init__(self):
        unknown = sorted(set(self.inputs.values()) - set(INPUT_ROLES))
        if unknown or self.output not in ("audio", "logits"):
            raise ValueError(f"control roles {unknown or self.output!r}")

    def to_json(self) -> dict:
        return {"inputs": dict(self.inputs), "output": self.output, "step_samples": self.step_samples,
                "reset_per_note": self.reset_per_note, "start_code": self.start_code,
                "tail_seconds": self.tail_seconds}


@dataclass(frozen=True)
class NoteFacts:
    """What the training notes were: the model is played within them."""
    pitches: tuple[int, int] = (0, 127)
    instruments: int | None = None
    envelope: Envelope | None = None       # None: default_envelope()
    measured: bool = False                 # from the training data, not defaults
    instrument_names: tuple[str, ...] = ()  # the data's names: "gm_024" is General MIDI program 24

    def to_json(self) -> dict:
        doc = {"pitches": list(self.pitches), "instruments": self.instruments,
               "instrument_names": list(self.instrument_names)}
        if self.envelope is not None:
            doc["loudness"] = self.envelope.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: dict | None, instruments: int | None = None) -> "NoteFacts":
        if not doc:
            return cls(instruments=instruments)
        try:
            lo, hi = (int(p) for p in doc.get("pitches", (0, 127)))
        except (TypeError, ValueError):
            raise DietgenError("the checkpoint's note facts give no readable pitch range; retrain or remove them")
        envelope = Envelope.from_json(doc["loudness"]) if doc.get("loudness") else None
        names = doc.get("instrument_names") or ()
        count = doc.get("instruments", instruments)
        if not isinstance(count, int) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DietgenError("the checkpoint's note facts are malformed (instruments); retrain or remove them")
        return cls((lo, hi), count, envelope, True, tuple(names))

    def instrument_of_program(self, program: int) -> int:
        """The model's instrument index for a General MIDI program, when the data named its instruments by
        program (rendered data: gm_NNN); else the program itself as the index."""
        name = f"gm_{program:03d}"
        if name in self.instrument_names:
            return self.instrument_names.index(name)
        if self.instrument_names and all(n.startswith("gm_") for n in self.instrument_names):
            programs = ", ".join(str(int(n[3:])) for n in self.instrument_names)
            raise DietgenError(f"MIDI program {program} is not one the model was trained on (programs {programs}); "
                               f"change the part's program or give --instrument")
        return program


def describe_notes(dataset, hop: int) -> dict:
    """The training notes' facts (NoteFacts.to_json): their pitch range, instrument count, and per instrument
    the mean A-weighted loudness per frame from note-on (at velocity 127, by the velocity law fitted across the
    notes) and after note-off, as the data's features compute it."""
    from dietgen.data.dataset import NoteDataset
    notes = [n for split in ("train", "valid", "test") for n in dataset.split(split)]
    if not notes:
        raise DietgenError("the dataset has no notes to describe")
    data = NoteDataset(notes, dataset.instruments, dataset.note_samples)
    curves = np.stack([data[i]["loudness"].numpy() for i in range(len(data))]).astype(np.float64)
    velocity = np.array([n.velocity for n in notes], np.float64)
    instrument = np.array([data.index[n.instrument] for n in notes])
    held = dataset.held_frames(hop)
    # Velocity law: the level of the held part against log10(velocity), over notes of the same instrument.
    peaks = curves[:, :held].max(1)
    centred_x = np.log10(velocity) - np.array([np.log10(velocity[instrument == i]).mean() for i in instrument])
    centred_y = peaks - np.array([peaks[instrument == i].mean() for i in instrument])
    velocity_db = float(centred_x @ centred_y / (centred_x @ centred_x)) if centred_x @ centred_x > 0 else 40.0
    at_reference = curves - velocity_db * np.log10(velocity / REFERENCE_VELOCITY)[:, None]
    count = len(dataset.instruments)
    hold = np.stack([at_reference[instrument == i, :held].mean(0) if (instrument == i).any()
                     else np.full(held, LOUDNESS_FLOOR_DB) for i in range(count)])
    after = np.stack([at_reference[instrument == i, held - 1:].mean(0) if (instrument == i).any()
                      else np.full(curves.shape[1] - held + 1, LOUDNESS_FLOOR_DB) for i in range(count)])
    release = after[:, 1:] - after[:, :1]
    pitches = [n.pitch for n in notes]
    return NoteFacts((min(pitches), max(pitches)), count,
                     Envelope(hold.astype(np.float32), np.concatenate([np.zeros((count, 1)), release], 1)
                              .astype(np.float32), round(velocity_db, 3)),
                     instrument_names=tuple(dataset.instruments)).to_json()


# -- notes in steps ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepNote:
    """A note in model steps: it sounds over steps [on, off)."""
    pitch: int
    velocity: int
    instrument: int
    on: int
    off: int


def in_steps(notes: Sequence[Note], step_samples: int, sample_rate: int) -> list[StepNote]:
    """Notes (sorted, not overlapping: see dietgen.notes.validate) on the grid of model steps; a note lasts at
    least one step."""
    per_second = sample_rate / step_samples
    out = []
    for n in notes:
        on = int(round(n.start * per_second))
        off = max(on + 1, int(round((n.start + n.duration) * per_second)))
        if out and on < out[-1].off:
            raise DietgenError(f"notes at {out[-1].on / per_second:.3f} s and {n.start:.3f} s overlap once "
                               f"placed on the model's grid of {step_samples} samples; space them further apart")
        out.append(StepNote(n.pitch, n.velocity, n.instrument, on, off))
    return out


AUDIBLE_DB = -80.0
MAX_RELEASE_SECONDS = 3.0


def total_steps(notes: Sequence[StepNote], control: Control, facts: NoteFacts, sample_rate: int) -> int:
    """Steps to the end of the last note, its release (a loudness-driven model: until the envelope falls below
    -80 dB, at most 3 s) and the control's tail (a reverb)."""
    if not notes:
        return 0
    last, per_second = notes[-1], sample_rate / control.step_samples
    release = 0
    if "loudness_db" in control.inputs.values():
        envelope = facts.envelope or default_envelope()
        held = last.off - last.on
        while release < MAX_RELEASE_SECONDS * per_second and \
                envelope.level(last.instrument, last.velocity, held + release, held) > AUDIBLE_DB:
            release += 1
    return last.off + release + int(math.ceil(control.tail_seconds * per_second))


def note_at(notes: Sequence[StepNote], step: int) -> int:
    """Index of the note sounding at ``step`` or, between notes, the last one released; -1 before the first."""
    index = -1
    for i, n in enumerate(notes):
        if n.on > step:
            break
        index = i
    return index


def conditioning(control: Control, facts: NoteFacts, notes: Sequence[StepNote], steps: int,
                 sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Per input (not ``code``, which depends on what was sampled) its value at every step: (steps, size)."""
    envelope = facts.envelope or default_envelope()
    out = {name: np.zeros((steps, sizes[name]), np.float32) for name, role in control.inputs.items()
           if role != "code"}
    for step in range(steps):
        i = note_at(notes, step)
        note = notes[max(i, 0)] if notes else None
        for name, role in control.inputs.items():
            row = out.get(name)
            if row is None or note is None:
                continue
            if role == "f0_hz":
                row[step] = np.float32(440.0) * np.float32(2.0) ** (np.float32(note.pitch - 69) / np.float32(12))
            elif role == "loudness_db":
                row[step] = envelope.floor_db if i < 0 else envelope.level(note.instrument, note.velocity,
                                                                           step - note.on, note.off - note.on)
            elif role == "onehot_frame":
                row[step, min(max(step - note.on, 0), sizes[name] - 1)] = 1.0
            else:
                value = {"onehot_pitch": note.pitch, "onehot_velocity": note.velocity,
                         "onehot_instrument": note.instrument}[role]
                row[step, min(value, sizes[name] - 1)] = 1.0
    return out


def sounding(notes: Sequence[StepNote], steps: int) -> np.ndarray:
    """(steps,) bool: steps inside a note (a note model is silent elsewhere)."""
    mask = np.zeros(steps, bool)
    for n in notes:
        mask[n.on:min(n.off, steps)] = True
    return mask


@dataclass
class Performance:
    """Everything a renderer needs: the notes in steps, how long, the conditioning per step."""
    control: Control
    facts: NoteFacts
    notes: list[StepNote]
    steps: int
    inputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return self.steps * self.control.step_samples


def perform(control: Control, facts: NoteFacts, notes: Sequence[Note], sample_rate: int,
            sizes: dict[str, int]) -> Performance:
    placed = in_steps(notes, control.step_samples, sample_rate)
    steps = total_steps(placed, control, facts, sample_rate)
    return Performance(control, facts, placed, steps, conditioning(control, facts, placed, steps, sizes))


DEMO_INTERVALS = (0, 4, 7, 12, 7, 4, 0)    # a major arpeggio up an octave and back
DEMO_NOTE_SECONDS, DEMO_GAP_SECONDS = 0.5, 0.125


def demo_phrase(control: Control, facts: NoteFacts, sample_rate: int,
                instrument: int = 0) -> tuple[list[StepNote], int]:
    """The phrase a board plays while no MIDI is connected: a major arpeggio from the middle of the trained
    pitch range (folded into it), velocity 100; with the steps it lasts, its release and tail included."""
    low, high = facts.pitches
    root = (low + high - 12) // 2 if high - low >= 12 else low
    pitches = [min(max(root + k, low), high) for k in DEMO_INTERVALS]
    period = DEMO_NOTE_SECONDS + DEMO_GAP_SECONDS
    notes = [Note(p, 100, round(i * period, 6), DEMO_NOTE_SECONDS, instrument) for i, p in enumerate(pitches)]
    steps = in_steps(notes, control.step_samples, sample_rate)
    return steps, total_steps(steps, control, facts, sample_rate)
