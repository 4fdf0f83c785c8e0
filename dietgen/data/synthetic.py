"""A small synthetic dataset in the rendered layout for unit tests: harmonic notes whose spectrum depends on
the instrument, with an attack, a held part and a release. Fast, deterministic, needs no FluidSynth."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from dietgen.data.features import midi_to_hz
from dietgen.data.nsynth import SPLITS
from dietgen.data.wav import wav_bytes
from dietgen.models.base import SAMPLE_RATE


def synthetic_note(instrument: int, pitch: int, velocity: int, samples: int,
                   sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(samples) / sample_rate
    f0 = float(midi_to_hz(pitch))
    harmonics = np.arange(1, 9)
    # Instrument k's harmonics fall off as 1/h^(k+1): instrument 0 is bright, later ones darker.
    amplitudes = np.where(harmonics * f0 < sample_rate / 2, 1.0 / harmonics ** (instrument + 1.0), 0.0)
    tone = (amplitudes[:, None] * np.sin(2 * np.pi * f0 * harmonics[:, None] * t)).sum(axis=0)
    envelope = np.minimum(t / 0.01, 1.0) * np.clip((t[-1] - t) / (0.25 * t[-1]), 0.0, 1.0)
    return (0.5 * velocity / 127.0 * envelope * tone / amplitudes.sum()).astype(np.float32)


def synthetic_dataset(out_dir, instruments: int = 2, pitches: Sequence[int] = (48, 52, 55, 60, 64, 67),
                      velocities: Sequence[int] = (64, 127), seconds: float = 1.0,
                      sample_rate: int = SAMPLE_RATE) -> Path:
    """Write the notes and an examples.json with the split taken round-robin (train, train, ..., valid, test)."""
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    entries = {}
    for instrument in range(instruments):
        for k, (pitch, velocity) in enumerate((p, v) for p in pitches for v in velocities):
            name = f"synthetic_{instrument:03d}-{pitch:03d}-{velocity:03d}"
            audio = synthetic_note(instrument, pitch, velocity, int(seconds * sample_rate), sample_rate)
            (out / "audio" / f"{name}.wav").write_bytes(wav_bytes(audio, sample_rate))
            split = SPLITS[1] if k % 6 == 4 else SPLITS[2] if k % 6 == 5 else SPLITS[0]
            entries[name] = {"note_str": name, "instrument_str": f"synthetic_{instrument}", "pitch": pitch,
                             "velocity": velocity, "sample_rate": sample_rate, "split": split}
    (out / "examples.json").write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
    return out
