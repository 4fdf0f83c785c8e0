"""Spectral losses shared by training (DDSP, SING) and evaluation."""
from __future__ import annotations

import torch
from torch import Tensor

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def _magnitudes(x: Tensor, n_fft: int) -> Tensor:
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    # 75 % overlap: hop a quarter of the window. Zero padding (not reflection) so crops shorter than the
    # largest FFT still work.
    return torch.stft(x, n_fft, hop_length=n_fft // 4, window=window, center=True, pad_mode="constant",
                      return_complex=True).abs()


def multiscale_spectral_loss(pred: Tensor, target: Tensor, fft_sizes=FFT_SIZES, log_weight: float = 1.0,
                             eps: float = 1e-7) -> Tensor:
    """Sum over FFT sizes of mean |S_pred - S_target| + log_weight * mean |log S_pred - log S_target|.

    ``pred`` and ``target``: (B, N) audio, cropped to the shorter of the two.
    """
    n = min(pred.shape[-1], target.shape[-1])
    pred, target = pred[..., :n], target[..., :n]
    total = pred.new_zeros(())
    for n_fft in fft_sizes:
        p, t = _magnitudes(pred, n_fft), _magnitudes(target, n_fft)
        total = total + (p - t).abs().mean()
        total = total + log_weight * (torch.log(p + eps) - torch.log(t + eps)).abs().mean()
    return total


def log_power_spectrogram_loss(pred: Tensor, target: Tensor, n_fft: int = 1024) -> Tensor:
    """SING's loss: MSE between log(1 + |STFT|^2) of the two signals."""
    n = min(pred.shape[-1], target.shape[-1])
    p = _magnitudes(pred[..., :n], n_fft)
    t = _magnitudes(target[..., :n], n_fft)
    return torch.mean((torch.log1p(p ** 2) - torch.log1p(t ** 2)) ** 2)
