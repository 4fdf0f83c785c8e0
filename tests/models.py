"""Whole models built in torch for the level-2 tests (and the planner's arena / lower-bound figures)."""
from __future__ import annotations

import torch
from torch import nn

from dietgen.models.demo import DemoModel, GatedResidualBlock


class DilatedStack(nn.Module):
    """WaveNet-like: gated tanh*sigmoid dilated causal convolutions, residual and skip sums, 1x1 head."""
    def __init__(self, channels=8, skip=12, dilations=(1, 2, 4, 8, 1, 2)):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, skip, d) for d in dilations)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(skip, skip, 1), nn.ReLU(), nn.Conv1d(skip, 16, 1))

    def forward(self, x):
        h, skips = self.inp(x), 0
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        return self.head(skips)


class GruModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(3, 16)
        self.gru = nn.GRU(16, 24, batch_first=True)
        self.post = nn.Linear(24, 5)

    def forward(self, x):
        h, _ = self.gru(torch.relu(self.pre(x)))
        return torch.sigmoid(self.post(h))


class LstmModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 20, num_layers=2)
        self.norm = nn.LayerNorm(20)
        self.out = nn.Linear(20, 6)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(self.norm(h))


class Decoder(nn.Module):
    """SING-like: conv, 1x1 convs, then ConvTranspose1d with kernel 4x its stride."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, 3, padding=1)
        self.bn = nn.BatchNorm1d(16)
        self.mix = nn.Sequential(nn.ReLU(), nn.Conv1d(16, 16, 1), nn.ReLU(), nn.Conv1d(16, 16, 1), nn.ReLU())
        self.up = nn.ConvTranspose1d(16, 1, kernel_size=32, stride=8, padding=12)

    def forward(self, z):
        return self.up(self.mix(self.bn(self.conv(z))))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.LeakyReLU(0.1), nn.Linear(32, 32), nn.ELU(),
                                 nn.Linear(32, 32), nn.Softplus(), nn.Linear(32, 4))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=-1)


def _bn_stats(model):
    """Non-trivial BatchNorm statistics, so folding them is really tested."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
    return model


def build(name: str):
    torch.manual_seed(0)
    models = {
        "dilated_stack": (DilatedStack, {"x": (1, 1, 64)}),
        "gru": (GruModel, {"x": (1, 20, 3)}),
        "lstm2": (LstmModel, {"x": (12, 1, 6)}),
        "decoder": (Decoder, {"z": (1, 4, 8)}),
        "mlp": (Mlp, {"x": (3, 10)}),
        "mixed": (DemoModel, {"x": (1, 1, 32)}),
    }
    cls, shapes = models[name]
    return _bn_stats(cls()).eval(), shapes


NAMES = ["dilated_stack", "gru", "lstm2", "decoder", "mlp", "mixed"]
