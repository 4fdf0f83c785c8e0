"""Mono PCM WAV files through the standard library: 16-bit out, 16- or 32-bit in, never resampled."""
from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from dietgen.errors import DietgenError


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV of ``audio`` in [-1, 1] (clipped): the same samples always give the same bytes."""
    pcm = np.round(np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def read_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """float32 samples of a mono (or first channel of a multi-channel) PCM WAV at exactly ``sample_rate``.

    A file at another rate is refused rather than resampled: a silent resampler would change the data a model
    is trained and evaluated on."""
    try:
        with wave.open(str(path), "rb") as f:
            rate, width, channels, frames = f.getframerate(), f.getsampwidth(), f.getnchannels(), f.getnframes()
            raw = f.readframes(frames)
    except FileNotFoundError:
        raise DietgenError(f"{path}: WAV file missing; the dataset's examples.json lists it")
    except (wave.Error, EOFError, OSError) as exc:
        raise DietgenError(f"{path}: not a readable PCM WAV file ({exc})")
    if rate != sample_rate:
        raise DietgenError(f"{path}: sample rate {rate} Hz, dietgen models need {sample_rate} Hz; resample the "
                           f"file first (e.g. sox in.wav -r {sample_rate} out.wav)")
    if width not in (2, 4):
        raise DietgenError(f"{path}: {8 * width}-bit samples; dietgen reads 16- and 32-bit PCM WAV files")
    samples = np.frombuffer(raw, dtype="<i2" if width == 2 else "<i4").reshape(-1, channels)[:, 0]
    return (samples.astype(np.float32) / float(2 ** (8 * width - 1))).astype(np.float32)
