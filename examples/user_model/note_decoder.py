"""A model of your own through dietgen trim: a small note decoder written without dietgen, following the
interface dietgen.trim.lottery documents.

Each 10 ms frame's pitch and loudness go through a convolution over neighbouring frames, a GRU over the note and
a linear layer that writes the frame's 160 samples. dietgen trim trains it on the data folder's notes (loss),
traces it on random inputs of input_shapes() to find the units it can lose (the convolution's channels and the
GRU's hidden units), and dietgen export compiles forward to C.

    dietgen trim --model note_decoder:make --data data/small -o runs/trim-user --set hidden=32 \\
        --criterion magnitude --rounds 6 --epochs 20      # from this folder, or with it on PYTHONPATH
    dietgen export runs/trim-user/round-05 -o build/user  # a round's checkpoint, rebuilt by make()
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

HOP = 160            # samples per frame: dietgen's notes carry f0 and loudness at 100 frames per second of 16 kHz
SAMPLE_RATE = 16000


def controls(batch: dict[str, Tensor]) -> Tensor:
    """(B, 2, frames): pitch (f0 in octaves around A4) and loudness (A-weighted dB over 120, about 0..1)."""
    pitch = torch.log2(batch["f0"].clamp(min=20.0) / 440.0) / 4.0
    loudness = batch["loudness"] / 120.0 + 1.0
    return torch.stack([pitch, loudness], 1)


def spectral_distance(audio: Tensor, target: Tensor) -> Tensor:
    """Mean L1 distance of linear and log magnitude spectra at three resolutions."""
    total = audio.new_zeros(())
    for n_fft in (128, 256, 512):
        window = torch.hann_window(n_fft, device=audio.device)
        spectra = [torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs()
                   for x in (audio, target)]
        total = total + (spectra[0] - spectra[1]).abs().mean()
        total = total + (torch.log(spectra[0] + 1e-5) - torch.log(spectra[1] + 1e-5)).abs().mean()
    return total


class NoteDecoder(nn.Module):
    sample_rate = SAMPLE_RATE   # what dietgen trim's MACs per second of audio are counted at

    def __init__(self, hidden: int = 32, frames: int = 100):
        super().__init__()
        self.frames = frames
        self.conv = nn.Conv1d(2, hidden, 3, padding=1)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, HOP)

    def forward(self, controls: Tensor) -> Tensor:
        """(1, 2, frames) controls -> (1, frames * 160) samples: what dietgen export compiles."""
        x = torch.tanh(self.conv(controls)).transpose(1, 2)     # (B, frames, hidden)
        x, _ = self.gru(x)
        samples = torch.tanh(self.out(x))                       # (B, frames, 160)
        return samples.reshape(samples.shape[0], -1)

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """forward's input for export and tracing: one window of ``frames`` frames."""
        return {"controls": (1, 2, self.frames)}

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The training loss of a batch of dietgen notes: the decoded notes against the recorded ones."""
        audio = self(controls(batch))
        n = min(audio.shape[-1], batch["audio"].shape[-1])
        return spectral_distance(audio[:, :n], batch["audio"][:, :n])


def make(hidden: int = 32, frames: int = 100) -> NoteDecoder:
    """The factory dietgen trim calls: --set hidden=16 becomes make(hidden=16)."""
    return NoteDecoder(hidden=hidden, frames=frames)
