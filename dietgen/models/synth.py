"""DDSP's differentiable synthesizer in PyTorch: additive harmonic oscillators plus filtered noise.

Frame-rate controls (one frame = ``hop`` samples) drive audio-rate synthesis. Both forms here, offline over a
whole note and block by block with explicit state, compute every sample the same way, so they agree to float
rounding: oscillator phase is carried in float64 cycles, advanced per frame by an increment quantised to
2^-32 cycles (dietgen::Harmonic's exact uint32 phase accumulator), harmonic amplitudes ramp linearly from the
previous frame's value to the current one across each frame, and the noise is dietgen::NoiseFIR's seeded
generator.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from dietgen.ops.harmonic import PHASE_ONE
from dietgen.ops.noise_fir import noise_stream, xorshift32


def exp_sigmoid(x: Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7) -> Tensor:
    """DDSP's positive, bounded amplitude nonlinearity."""
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def nyquist_mask(f0: Tensor, harmonics: int, sample_rate: int, ramp_hz: float = 100.0) -> Tensor:
    """(..., harmonics) weights fading harmonic k out over the last ``ramp_hz`` below Nyquist (no aliasing);
    a ramp rather than a step so the exported graph needs no comparison op."""
    k = torch.arange(1, harmonics + 1, dtype=f0.dtype, device=f0.device)
    return torch.clamp((sample_rate / 2 - f0.unsqueeze(-1) * k) / ramp_hz, 0.0, 1.0)


def harmonic_amplitudes(amplitude: Tensor, distribution: Tensor, f0: Tensor, sample_rate: int) -> Tensor:
    """Per-harmonic amplitudes (B, F, H): the global amplitude times a distribution normalised over the
    harmonics that lie below Nyquist."""
    dist = distribution * nyquist_mask(f0, distribution.shape[-1], sample_rate)
    dist = dist / (dist.sum(-1, keepdim=True) + 1e-7)
    return amplitude * dist


def ramp(hop: int) -> Tensor:
    """(hop, 1): how far each sample of a frame has moved from the previous frame's amplitude to this one's."""
    return (torch.arange(1, hop + 1, dtype=torch.float32) / hop).unsqueeze(-1)


def sample_step(f0: Tensor, sample_rate: int) -> Tensor:
    """Phase step per sample of each frame in float64 cycles: frac(f0 / sample_rate) rounded to 2^-32 cycles,
    as dietgen::Harmonic's kernel computes it, so the phase PyTorch accumulates is the C's to the bit."""
    per_sample = f0.double() / sample_rate
    per_sample = per_sample - torch.floor(per_sample)
    return torch.floor(per_sample * PHASE_ONE + 0.5) / PHASE_ONE


def oscillators(phase0: Tensor, f0: Tensor, amps: Tensor, prev_amps: Tensor, hop: int, sample_rate: int
                ) -> tuple[Tensor, Tensor]:
    """Harmonic audio (B, F * hop) and the phase (in cycles, float64) after the last frame.

    phase0 (B,) float64 cycles at the first sample; f0 (B, F) Hz, held over each frame; amps (B, F, H);
    prev_amps (B, H): the amplitudes of the frame before the first. Harmonic k is silent over a frame whose
    k * f0 is at or above Nyquist (whatever its amplitude), so the C kernel skips it.
    """
    b, frames, harmonics = amps.shape
    step = sample_step(f0, sample_rate)
    per_frame = hop * step
    per_frame = per_frame - torch.floor(per_frame)
    starts = phase0.unsqueeze(-1) + torch.cumsum(per_frame, -1) - per_frame      # exclusive running sum
    end = starts[:, -1] + per_frame[:, -1]
    starts = starts - torch.floor(starts)
    n = torch.arange(hop, dtype=torch.float64, device=f0.device)
    theta = starts.unsqueeze(-1) + step.unsqueeze(-1) * n                             # (B, F, hop) cycles
    k = torch.arange(1, harmonics + 1, dtype=torch.float64, device=f0.device)
    cycles = theta.unsqueeze(-1) * k
    sines = torch.sin(2 * math.pi * (cycles - torch.floor(cycles)).float())          # (B, F, hop, H)
    before = torch.cat([prev_amps.unsqueeze(1), amps[:, :-1]], 1)
    w = ramp(hop).to(amps.device)
    live = (f0.double().unsqueeze(-1) * k < sample_rate / 2).to(amps.dtype)         # (B, F, H)
    envelope = before.unsqueeze(2) + (amps - before).unsqueeze(2) * w                # (B, F, hop, H)
    audio = (envelope * live.unsqueeze(2) * sines).sum(-1).reshape(b, frames * hop)
    return audio, end - torch.floor(end)


def harmonic_bank(f0: Tensor, amps: Tensor, hop: int, sample_rate: int) -> Tensor:
    """The oscillator bank over a whole note, from phase 0 and silence: f0 (..., F) Hz, amps (..., F, H) ->
    (..., F * hop). Exported as the single op dietgen::Harmonic, whose kernel never holds more than one sample
    per harmonic (the dense form here is [F x hop x H])."""
    out_shape = (*f0.shape[:-1], f0.shape[-1] * hop)
    if torch.onnx.is_in_onnx_export():
        return torch.onnx.ops.symbolic("dietgen::Harmonic", (f0, amps), {"hop": hop, "sample_rate": sample_rate},
                                       dtype=torch.float32, shape=out_shape, version=1)
    rows_f0 = f0.reshape(-1, f0.shape[-1])
    rows_amps = amps.reshape(-1, *amps.shape[-2:])
    phase0 = torch.zeros(rows_f0.shape[0], dtype=torch.float64, device=f0.device)
    audio, _ = oscillators(phase0, rows_f0, rows_amps, torch.zeros_like(rows_amps[:, 0]), hop, sample_rate)
    return audio.reshape(out_shape)


@functools.lru_cache(maxsize=8)
def _noise(seed: int, count: int) -> np.ndarray:
    return noise_stream(seed, count)


def impulse_response_matrix(bands: int) -> Tensor:
    """(bands, taps) matrix M with ir = magnitudes @ M: the inverse real DFT of zero-phase band magnitudes,
    centred in the window and Hann-windowed (DDSP's frequency_impulse_response), taps = 2 * (bands - 1)."""
    taps = 2 * (bands - 1)
    n = np.arange(taps, dtype=np.float64)
    k = np.arange(bands, dtype=np.float64)[:, None]
    weight = np.where((k == 0) | (k == bands - 1), 1.0, 2.0)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / taps)
    m = weight * np.cos(2 * np.pi * k * (n - taps // 2) / taps) / taps * hann
    return torch.from_numpy(m.astype(np.float32))


def filtered_noise(ir: Tensor, history: Tensor, fresh: Tensor, hop: int) -> Tensor:
    """(B, F * hop): dietgen::NoiseFIR given the noise: ``history`` (taps - 1,) drawn before, ``fresh``
    (F * hop,) for these frames."""
    b, frames, taps = ir.shape
    noise = torch.cat([history, fresh]).to(ir)
    windows = noise.unfold(0, taps, 1)[:frames * hop].reshape(frames, hop, taps)    # noise[t + i]
    return torch.einsum("fhi,bfi->bfh", windows, ir.flip(-1)).reshape(b, frames * hop)


def noise_for(ir: Tensor, hop: int, seed: int) -> Tensor:
    """Offline filtered noise: the whole stream from the seed."""
    frames, taps = ir.shape[-2:]
    stream = torch.from_numpy(_noise(seed, frames * hop + taps - 1))
    return filtered_noise(ir, stream[:taps - 1], stream[taps - 1:], hop)


class NoiseState:
    """The generator's state between blocks: the next xorshift32 state and the last taps - 1 draws."""

    @staticmethod
    def initial(seed: int, taps: int) -> tuple[Tensor, Tensor]:
        history, state = xorshift32(seed, taps - 1)
        return torch.tensor([state], dtype=torch.int64), torch.from_numpy(history)

    @staticmethod
    def step(ir: Tensor, rng: Tensor, history: Tensor, hop: int) -> tuple[Tensor, Tensor, Tensor]:
        fresh, state = xorshift32(int(rng.item()), ir.shape[-2] * hop)
        fresh = torch.from_numpy(fresh)
        audio = filtered_noise(ir, history, fresh, hop)
        taps = ir.shape[-1]
        history = torch.cat([history, fresh])[-(taps - 1):] if taps > 1 else history
        return audio, torch.tensor([state], dtype=torch.int64), history
