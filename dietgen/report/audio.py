"""Comparing and describing generated audio: the spectral distance between two renderings, level and health
figures of one, and writing it as a WAV file."""
from __future__ import annotations

import math

import numpy as np

from dietgen.data.wav import FULL_SCALE, write_wav

__all__ = ["spectral_distance", "audio_stats", "write_wav"]

# Below half a 16-bit step every sample rounds to 0: the WAV written would be digital silence.
SILENCE_PEAK = 0.5 / FULL_SCALE
RMS_FLOOR_DBFS = -120.0
_RMS_FLOOR = 10.0 ** (RMS_FLOOR_DBFS / 20.0)


def spectral_distance(a: np.ndarray, b: np.ndarray, sample_rate: int) -> float:
    """Multi-scale spectral distance between two mono signals (cropped to the shorter): for FFT sizes 2048 down
    to 64, mean L1 of linear magnitudes plus mean L1 of log magnitudes, summed over the sizes. It is
    ``dietgen.models.losses.multiscale_spectral_loss``, the number `dietgen evaluate` reports as
    spectral_distance; 0 for identical audio. Defined on samples, so ``sample_rate`` does not change it."""
    # torch takes seconds to import and only the distance needs it.
    import torch

    from dietgen.models.losses import multiscale_spectral_loss

    def tensor(x: np.ndarray):
        return torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(1, -1))

    with torch.no_grad():
        return float(multiscale_spectral_loss(tensor(a), tensor(b)))


def audio_stats(a: np.ndarray) -> dict:
    """Level and health of a float signal (full scale 1.0): ``peak`` (largest magnitude), ``rms_dbfs`` (RMS in
    dB re 1.0, so a full-scale sine reads -3 dB; floored at -120), ``dc_offset`` (mean), ``clipped`` (samples
    beyond full scale, which a WAV file clips), ``non_finite`` (NaN or infinite samples) and ``is_silent``
    (every sample would be 0 in a 16-bit WAV)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if len(a) == 0:
        return {"peak": 0.0, "rms_dbfs": RMS_FLOOR_DBFS, "dc_offset": 0.0, "clipped": 0, "non_finite": 0,
                "is_silent": True}
    peak = float(np.max(np.abs(a)))
    rms = float(np.sqrt(np.mean(a ** 2)))
    # max(nan, floor) is nan: a signal with NaN in it does not pass for a quiet one.
    return {"peak": peak, "rms_dbfs": 20.0 * math.log10(max(rms, _RMS_FLOOR)), "dc_offset": float(np.mean(a)),
            "clipped": int(np.count_nonzero(np.abs(a) > 1.0)),
            "non_finite": int(np.count_nonzero(~np.isfinite(a))), "is_silent": bool(peak < SILENCE_PEAK)}
