"""Per-frame conditioning features at 100 frames per second (hop 160 at 16 kHz): f0 from the MIDI pitch, checked
by a simple pitch estimate, and A-weighted loudness as DDSP computes it."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from dietgen.models.base import HOP, SAMPLE_RATE

LOUDNESS_FFT = 2048
LOUDNESS_REF_DB = 20.7    # DDSP's reference level for a 2048-point FFT
LOUDNESS_RANGE_DB = 120.0
PITCH_TOLERANCE_CENTS = 50.0


def midi_to_hz(pitch):
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def hz_to_cents(estimate_hz: float, reference_hz: float) -> float:
    return 1200.0 * math.log2(estimate_hz / reference_hz)


def frame_f0(pitch: Tensor, n_frames: int) -> Tensor:
    """(B,) MIDI pitches -> (B, n_frames) f0 in Hz: a held note keeps its pitch."""
    hz = 440.0 * torch.pow(2.0, (pitch.to(torch.float32) - 69.0) / 12.0)
    return hz[:, None].expand(-1, n_frames).contiguous()


def estimate_f0(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, start: float = 0.1, seconds: float = 0.5,
                fmin: float = 25.0, threshold: float = 0.15) -> float | None:
    """f0 in Hz of the held part of a note (YIN's cumulative-mean-normalised difference), None if unpitched or
    silent. Only a check of the MIDI pitch, so one window after the attack is enough."""
    begin = int(start * sample_rate)
    frame = np.asarray(audio[begin:begin + int(seconds * sample_rate)], dtype=np.float64)
    max_lag = min(int(sample_rate / fmin), len(frame) // 2)
    if max_lag < 4 or np.sqrt(np.mean(frame ** 2)) < 1e-4:
        return None
    window = len(frame) - max_lag
    energy = np.concatenate([[0.0], np.cumsum(frame ** 2)])
    # d(tau) = sum (x[t] - x[t+tau])^2 over a fixed window, via one FFT cross-correlation.
    size = 1 << int(np.ceil(np.log2(2 * len(frame))))
    spectrum_head = np.fft.rfft(frame[:window], size)
    spectrum_all = np.fft.rfft(frame, size)
    cross = np.fft.irfft(np.conj(spectrum_head) * spectrum_all, size)[:max_lag]
    lags = np.arange(max_lag)
    diff = energy[window] + (energy[lags + window] - energy[lags]) - 2.0 * cross
    cumulative = np.cumsum(diff[1:]) / np.arange(1, max_lag)
    normalised = np.concatenate([[1.0], diff[1:] / np.maximum(cumulative, 1e-12)])
    below = np.nonzero(normalised[2:] < threshold)[0]
    if len(below) == 0:
        return None
    tau = int(below[0]) + 2
    while tau + 1 < max_lag and normalised[tau + 1] < normalised[tau]:
        tau += 1
    # Parabolic interpolation around the dip for sub-sample precision.
    if 1 <= tau < max_lag - 1:
        a, b, c = normalised[tau - 1], normalised[tau], normalised[tau + 1]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    else:
        shift = 0.0
    return float(sample_rate / (tau + shift))


def pitch_check(audio: np.ndarray, pitch: int, sample_rate: int = SAMPLE_RATE) -> tuple[float | None, bool]:
    """(estimated f0 in Hz, whether it lies within 50 cents of the MIDI pitch)."""
    estimate = estimate_f0(audio, sample_rate)
    if estimate is None:
        return None, False
    return estimate, abs(hz_to_cents(estimate, float(midi_to_hz(pitch)))) <= PITCH_TOLERANCE_CENTS


def _a_weighting_db(frequencies: Tensor) -> Tensor:
    f2 = frequencies.clamp_min(1e-3) ** 2
    c = (12194.217 ** 2, 20.6 ** 2, 107.7 ** 2, 737.9 ** 2)
    return 2.0 + 20.0 * (math.log10(c[0]) + 2 * torch.log10(f2) - torch.log10(f2 + c[0]) - torch.log10(f2 + c[1])
                         - 0.5 * torch.log10(f2 + c[2]) - 0.5 * torch.log10(f2 + c[3]))


def a_weighted_loudness(audio: Tensor, sample_rate: int = SAMPLE_RATE, hop: int = HOP) -> Tensor:
    """(B, N) audio -> (B, N // hop) loudness in dB: the A-weighted power averaged over frequency (DDSP's
    definition), floored 120 dB down."""
    window = torch.hann_window(LOUDNESS_FFT, device=audio.device, dtype=audio.dtype)
    spectrum = torch.stft(audio, LOUDNESS_FFT, hop_length=hop, window=window, center=True, return_complex=True)
    frequencies = torch.linspace(0, sample_rate / 2, spectrum.shape[-2], device=audio.device, dtype=audio.dtype)
    weighting = torch.pow(10.0, _a_weighting_db(frequencies) / 10.0)[:, None]
    power = (spectrum.abs().pow(2) * weighting).mean(dim=-2)
    loudness = (10.0 * torch.log10(power.clamp_min(1e-20)) - LOUDNESS_REF_DB).clamp_min(-LOUDNESS_RANGE_DB)
    return loudness[..., :audio.shape[-1] // hop]
