"""The NSynth layout, which rendered datasets share: a folder with examples.json (one entry per note, keyed by
its name) and audio/NAME.wav. A user's NSynth copy is either one such folder (nsynth-valid) or a folder holding
nsynth-train, nsynth-valid and nsynth-test; a rendered dataset is one folder whose entries name their split."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dietgen.errors import DietgenError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Note:
    name: str
    path: Path
    pitch: int
    velocity: int
    instrument: str
    split: str


def _split_of_folder(folder: Path) -> str | None:
    suffix = folder.name.rsplit("-", 1)[-1]
    return suffix if suffix in SPLITS else None


def _read_examples(folder: Path, sample_rate: int) -> list[Note]:
    path = folder / "examples.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DietgenError(f"{path}: not a readable examples.json ({exc})")
    if not isinstance(entries, dict):
        raise DietgenError(f"{path}: expected an object of notes keyed by name, as NSynth's examples.json")
    folder_split = _split_of_folder(folder)
    notes = []
    for name, entry in sorted(entries.items()):
        try:
            rate = int(entry.get("sample_rate", sample_rate))
            split = entry.get("split", folder_split)
            note = Note(name, folder / "audio" / f"{name}.wav", int(entry["pitch"]), int(entry["velocity"]),
                        str(entry["instrument_str"]), split)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DietgenError(f"{path}: note {name!r} lacks pitch, velocity or instrument_str ({exc})")
        if rate != sample_rate:
            raise DietgenError(f"{path}: note {name!r} is at {rate} Hz, dietgen models need {sample_rate} Hz; "
                               f"resample the dataset first")
        if note.split not in SPLITS:
            raise DietgenError(f"{path}: note {name!r} has no split (train, valid or test); name the folder "
                               f"nsynth-train, nsynth-valid or nsynth-test, or give each note a \"split\"")
        notes.append(note)
    return notes


def read_notes(folder: str | Path, sample_rate: int) -> list[Note]:
    """Every note of a rendered dataset or an NSynth copy, sorted by split folder then name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DietgenError(f"{folder}: data folder does not exist; render one with `dietgen data render -o "
                           f"{folder}` or give an NSynth folder")
    if (folder / "examples.json").is_file():
        notes = _read_examples(folder, sample_rate)
    else:
        parts = sorted(p for p in folder.iterdir() if (p / "examples.json").is_file() and _split_of_folder(p))
        if not parts:
            hint = " (an interrupted render: rerun the same `dietgen data render` to finish it)" \
                if (folder / "dataset.json").is_file() else ""
            raise DietgenError(f"{folder}: no examples.json here nor in nsynth-train/valid/test subfolders"
                               f"{hint}; render a dataset with `dietgen data render` or give an NSynth folder")
        notes = [n for part in parts for n in _read_examples(part, sample_rate)]
    if not notes:
        raise DietgenError(f"{folder}: the dataset holds no notes; render one with `dietgen data render`")
    return notes
