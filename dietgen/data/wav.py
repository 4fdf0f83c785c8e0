"""Mono WAV files through soundfile (libsndfile): 16-bit PCM out, any PCM or float WAV in, never resampled."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile

from dietgen.errors import DietgenError
from dietgen.output import write_bytes_atomic

FULL_SCALE = 32767.0


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV of ``audio`` in [-1, 1] (clipped): the same samples always give the same bytes."""
    # Quantised here rather than by libsndfile, so the samples do not depend on its float-to-int scaling.
    pcm = np.round(np.clip(np.asarray(audio, dtype=np.float64).reshape(-1), -1.0, 1.0) * FULL_SCALE)
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm.astype(np.int16), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio`` (float, clipped to [-1, 1]) as a 16-bit PCM mono WAV file, atomically, so a reader never
    sees half a file."""
    return write_bytes_atomic(path, wav_bytes(audio, sample_rate))


def read_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """float32 samples (full scale 1.0) of a mono (or first channel of a multi-channel) WAV at exactly ``sample_rate``.

    A file at another rate is refused rather than resampled: a silent resampler would change the data a model
    is trained and evaluated on."""
    if not Path(path).is_file():
        raise DietgenError(f"{path}: WAV file missing; the dataset's examples.json lists it")
    try:
        with soundfile.SoundFile(str(path)) as f:
            rate, container = f.samplerate, f.format
            samples = f.read(dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, OSError) as exc:
        # libsndfile's own reason, without the "Error opening <path>:" prefix that would name the file twice.
        raise DietgenError(f"{path}: not a readable WAV file ({getattr(exc, 'error_string', None) or exc})")
    if container not in ("WAV", "WAVEX", "RF64"):
        raise DietgenError(f"{path}: a {container} file; dietgen reads WAV files, convert it first "
                           f"(e.g. sox in.{container.lower()} out.wav)")
    if rate != sample_rate:
        raise DietgenError(f"{path}: sample rate {rate} Hz, dietgen models need {sample_rate} Hz; resample the "
                           f"file first (e.g. sox in.wav -r {sample_rate} out.wav)")
    return np.ascontiguousarray(samples[:, 0])
