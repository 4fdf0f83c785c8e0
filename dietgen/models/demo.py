"""A small model that mixes every layer family the deployed zoo uses: a gated, dilated causal Conv1d stack with
residual and skip sums (WaveNet), a GRU (DDSP), a 2-layer LSTM and a ConvTranspose1d decoder (SING), and Linear
heads. It exercises the whole toolchain end to end."""
from __future__ import annotations

import torch
from torch import nn

from dietgen.models import architecture


class GatedResidualBlock(nn.Module):
    def __init__(self, channels: int, skip: int, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.gate = nn.Conv1d(channels, 2 * channels, kernel_size=2, dilation=dilation)
        self.residual = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip, 1)

    def forward(self, x):
        h = self.gate(nn.functional.pad(x, (self.dilation, 0)))  # causal: left padding only
        a, b = h.chunk(2, dim=1)
        h = torch.tanh(a) * torch.sigmoid(b)
        return x + self.residual(h), self.skip(h)


@architecture("demo")
class DemoModel(nn.Module):
    stream_block = 16    # input frames per step (64 output samples)
    def __init__(self, channels: int = 8, skip: int = 8, dilations: tuple = (1, 2, 4), hidden: int = 12,
                 upsample: int = 4):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, skip, d) for d in dilations)
        self.gru = nn.GRU(skip, hidden, batch_first=True)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.decoder = nn.ConvTranspose1d(hidden, 4, kernel_size=4 * upsample, stride=upsample,
                                          padding=(4 * upsample - upsample) // 2)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        h = self.inp(x)
        skips = 0
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        h = torch.relu(skips).transpose(1, 2)
        h, _ = self.gru(h)
        h, _ = self.lstm(h)
        h = self.decoder(h.transpose(1, 2))
        return torch.tanh(self.head(h.transpose(1, 2))).transpose(1, 2)
