"""Notes as training batches: "audio" (B, N) in [-1, 1], "pitch", "velocity", "instrument" (B,) long, and
"f0" and "loudness" (B, N // 160) at 100 frames per second."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dietgen.data.features import a_weighted_loudness, frame_f0
from dietgen.data.nsynth import Note, read_notes
from dietgen.data.wav import read_wav
from dietgen.errors import DietgenError
from dietgen.models.base import HOP, SAMPLE_RATE


class NoteDataset(torch.utils.data.Dataset):
    """Notes of one split. ``crop`` (samples, a multiple of the hop) takes a random frame-aligned excerpt of
    each note, drawn from ``seed`` and the epoch (set_epoch), so a run is reproducible."""

    def __init__(self, notes: Sequence[Note], instruments: Sequence[str], note_samples: int,
                 crop: int | None = None, seed: int = 0, sample_rate: int = SAMPLE_RATE):
        if crop is not None and (crop <= 0 or crop % HOP or crop > note_samples):
            raise DietgenError(f"crop of {crop} samples: give a multiple of {HOP} up to the note length "
                               f"({note_samples})")
        index = {name: i for i, name in enumerate(instruments)}
        unknown = sorted({n.instrument for n in notes} - set(index))
        if unknown:
            raise DietgenError(f"instrument {unknown[0]!r} is not among the model's instruments "
                               f"({', '.join(instruments)}); evaluate on the data the model was trained on")
        self.notes, self.index, self.note_samples = list(notes), index, note_samples
        self.crop, self.seed, self.sample_rate, self.epoch = crop, seed, sample_rate, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.notes)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        note = self.notes[i]
        audio = read_wav(note.path, self.sample_rate)[:self.note_samples]
        audio = np.pad(audio, (0, self.note_samples - len(audio)))
        if self.crop is not None:
            frames = (self.note_samples - self.crop) // HOP
            start = HOP * int(np.random.default_rng([self.seed, self.epoch, i]).integers(frames + 1))
            audio = audio[start:start + self.crop]
        audio = torch.from_numpy(np.ascontiguousarray(audio))
        pitch = torch.tensor(note.pitch)
        n_frames = audio.shape[-1] // HOP
        return {"audio": audio, "pitch": pitch, "velocity": torch.tensor(note.velocity),
                "instrument": torch.tensor(self.index[note.instrument]),
                "f0": frame_f0(pitch[None], n_frames)[0],
                "loudness": a_weighted_loudness(audio[None], self.sample_rate)[0]}


class Dataset:
    """A rendered dataset or an NSynth copy: its notes by split and the instrument names, in a stable order."""

    def __init__(self, folder: str | Path, sample_rate: int = SAMPLE_RATE):
        self.folder, self.sample_rate = Path(folder), sample_rate
        self.notes = read_notes(folder, sample_rate)
        self.instruments = sorted({n.instrument for n in self.notes})
        # Every note is as long as the first: NSynth and rendered notes all have one length.
        self.note_samples = len(read_wav(self.notes[0].path, sample_rate))
        self.note_samples -= self.note_samples % HOP

    def held_frames(self, hop: int) -> int:
        """Frames of each note before its note-off: a rendered dataset says (seconds - release); NSynth notes
        are held 3 s of their 4."""
        settings = {}
        path = self.folder / "dataset.json"
        if path.is_file():
            try:
                settings = json.loads(path.read_text()).get("settings", {})
            except (OSError, ValueError, AttributeError):
                settings = {}
        try:
            held = float(settings["seconds"]) - float(settings.get("release", 0.0))
        except (KeyError, TypeError, ValueError):
            held = 0.75 * self.note_samples / self.sample_rate
        return max(1, min(self.note_samples // hop, int(round(held * self.sample_rate / hop))))

    def split(self, name: str) -> list[Note]:
        notes = [n for n in self.notes if n.split == name]
        if not notes:
            raise DietgenError(f"{self.folder}: no notes in the {name} split; render with more pitches or "
                               f"velocities, or use a folder with nsynth-{name}")
        return notes

    def loader(self, split: str, batch_size: int, *, instruments: Sequence[str] | None = None,
               crop: int | None = None, shuffle: bool = False, seed: int = 0,
               limit: int | None = None) -> torch.utils.data.DataLoader:
        notes = self.split(split)
        if limit is not None and limit < len(notes):
            # Every k-th note: a limited pass still covers every instrument, pitch and velocity.
            notes = [notes[i * len(notes) // limit] for i in range(limit)]
        dataset = NoteDataset(notes, instruments or self.instruments, self.note_samples, crop, seed,
                              self.sample_rate)
        generator = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
