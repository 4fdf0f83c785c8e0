"""WaveNet (van den Oord et al. 2016): gated dilated causal convolutions over 8-bit mu-law samples, residual and
skip paths, a 256-way softmax over the next sample. Global conditioning on pitch, velocity and instrument
embeddings lets it generate a chosen note; optional local conditioning on the frame-rate f0 and loudness."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dietgen.models import architecture
from dietgen.models.base import HOP, PITCHES, VELOCITIES, AudioModel, f0_feature, loudness_feature

CLASSES = 256


def mu_law_encode(audio: Tensor, classes: int = CLASSES) -> Tensor:
    """[-1, 1] audio -> integer codes 0..classes-1."""
    mu = classes - 1
    x = torch.clamp(audio, -1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return torch.clamp(((y + 1) / 2 * mu + 0.5).long(), 0, mu)


def mu_law_decode(codes: Tensor, classes: int = CLASSES) -> Tensor:
    mu = classes - 1
    y = codes.float() / mu * 2 - 1
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu


def dilations(layers: int, cycle: int) -> list[int]:
    return [2 ** (i % cycle) for i in range(layers)]


class Block(nn.Module):
    def __init__(self, residual: int, skip: int, dilation: int, cond: int, local: int):
        super().__init__()
        self.dilation = dilation
        self.gate = nn.Conv1d(residual, 2 * residual, kernel_size=2, dilation=dilation)
        self.cond = nn.Linear(cond, 2 * residual, bias=False)
        self.local = nn.Conv1d(local, 2 * residual, 1, bias=False) if local else None
        self.residual = nn.Conv1d(residual, residual, 1)
        self.skip = nn.Conv1d(residual, skip, 1)

    def activate(self, pre: Tensor, g: Tensor, local: Tensor | None) -> tuple[Tensor, Tensor]:
        """Gate pre-activations (B, 2R, T) -> (residual added to the stream, skip contribution)."""
        pre = pre + self.cond(g).unsqueeze(-1)
        if self.local is not None:
            pre = pre + self.local(local)
        a, b = pre.chunk(2, dim=1)
        z = torch.tanh(a) * torch.sigmoid(b)
        return self.residual(z), self.skip(z)

    def forward(self, x: Tensor, g: Tensor, local: Tensor | None) -> tuple[Tensor, Tensor]:
        res, skip = self.activate(self.gate(nn.functional.pad(x, (self.dilation, 0))), g, local)
        return x + res, skip


@architecture("wavenet")
class WaveNet(AudioModel):
    stream_block = 1     # one sample per step, as autoregressive generation runs
    family = "wavenet"
    presets = {
        "paper": dict(layers=20, cycle=10, residual=128, skip=256),     # about 2.9 M MAC per sample
        "small": dict(layers=10, cycle=10, residual=32, skip=64),
        "tiny": dict(layers=6, cycle=6, residual=8, skip=16, embed=4),
    }

    def __init__(self, layers: int = 20, cycle: int = 10, residual: int = 128, skip: int = 256, embed: int = 16,
                 local: bool = False, num_instruments: int = 16, export_length: int = 64):
        super().__init__(layers=layers, cycle=cycle, residual=residual, skip=skip, embed=embed, local=local,
                         num_instruments=num_instruments, export_length=export_length)
        self.num_instruments = num_instruments
        self.pitch = nn.Embedding(PITCHES, embed)
        self.velocity = nn.Embedding(VELOCITIES, embed)
        self.instrument = nn.Embedding(num_instruments, embed)
        self.input = nn.Embedding(CLASSES, residual)    # a 1x1 convolution over the one-hot input, stored lean
        local_channels = 2 if local else 0
        self.blocks = nn.ModuleList(Block(residual, skip, d, 3 * embed, local_channels)
                                    for d in dilations(layers, cycle))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(skip, skip, 1), nn.ReLU(), nn.Conv1d(skip, CLASSES, 1))

    @property
    def receptive_field(self) -> int:
        return 1 + sum(b.dilation for b in self.blocks)

    def conditioning(self, batch: dict[str, Tensor]) -> Tensor:
        return torch.cat([self.pitch(batch["pitch"]), self.velocity(batch["velocity"]),
                          self.instrument(batch["instrument"])], -1)

    def local_features(self, batch: dict[str, Tensor], samples: int) -> Tensor | None:
        """(B, 2, samples): f0 and loudness features held over each frame of HOP samples."""
        if not self.config["local"]:
            return None
        frames = torch.stack([f0_feature(batch["f0"]), loudness_feature(batch["loudness"])], 1)
        return frames.repeat_interleave(HOP, -1)[..., :samples]

    def network(self, x: Tensor, g: Tensor, local: Tensor | None) -> Tensor:
        """Residual-stream input (B, R, T) -> logits (B, 256, T); position t sees inputs up to t."""
        skips = 0
        for block in self.blocks:
            x, s = block(x, g, local)
            skips = skips + s
        return self.head(skips)

    def logits(self, batch: dict[str, Tensor]) -> Tensor:
        """Teacher-forced logits (B, 256, N): position t predicts sample t + 1 from samples 0..t."""
        codes = mu_law_encode(batch["audio"])
        x = self.input(codes).transpose(1, 2)
        return self.network(x, self.conditioning(batch), self.local_features(batch, codes.shape[-1]))

    def loss(self, batch):
        logits = self.logits(batch)
        target = mu_law_encode(batch["audio"])[:, 1:]
        return nn.functional.cross_entropy(logits[..., :-1], target)

    def generate(self, batch, seed: int = 0):
        """Samples drawn one at a time from the softmax, as many as batch["audio"] holds (slow in Python:
        every sample runs every layer; shorten batch["audio"] for quick listening)."""
        stream = self.streaming()
        gen = torch.Generator().manual_seed(seed)
        code = torch.full((batch["pitch"].shape[0], 1), CLASSES // 2, dtype=torch.long)
        out = []
        with torch.no_grad():
            state = stream.initial_state(batch)
            for t in range(batch["audio"].shape[-1]):
                step = {"codes": code}
                if stream.local is not None:
                    step["local"] = stream.local[..., t:t + 1]
                logits, state = stream(step, state)
                code = torch.multinomial(torch.softmax(logits[:, :, 0], -1), 1, generator=gen)
                out.append(code)
        return mu_law_decode(torch.cat(out, 1))

    def streaming(self):
        return WaveNetStream(self)

    def export_module(self):
        t = self.config["export_length"]
        shapes = {"x": (1, CLASSES, t), "pitch": (1, PITCHES), "velocity": (1, VELOCITIES),
                  "instrument": (1, self.num_instruments)}
        if self.config["local"]:
            shapes["local"] = (1, 2, t)
        return WaveNetExport(self), shapes


class WaveNetExport(nn.Module):
    """Teacher-forced logits over a window, from float inputs: one-hot mu-law samples (1, 256, T) and one-hot
    pitch, velocity and instrument (the embeddings become products with constant matrices)."""

    def __init__(self, model: WaveNet):
        super().__init__()
        self.model = model

    def forward(self, x, pitch, velocity, instrument, local=None):
        m = self.model
        g = torch.cat([pitch @ m.pitch.weight, velocity @ m.velocity.weight, instrument @ m.instrument.weight], -1)
        h = (x.transpose(1, 2) @ m.input.weight).transpose(1, 2)
        return m.network(h, g, local)


class WaveNetStream(nn.Module):
    """One block of samples at a time (teacher-forced), each sample through every layer in turn. State: a step
    counter and, per layer, a ring buffer of the last ``dilation`` residual-stream inputs (the dilated
    convolution's only other tap). The note's conditioning is folded into per-layer biases by initial_state."""

    def __init__(self, model: WaveNet):
        super().__init__()
        self.model = model
        self.bias: list[Tensor] = []
        self.local: Tensor | None = None

    def initial_state(self, batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
        m = self.model
        g = m.conditioning(batch)
        self.bias = [blk.gate.bias + blk.cond(g) for blk in m.blocks]
        self.local = m.local_features(batch, batch["audio"].shape[-1])
        b, r = batch["pitch"].shape[0], m.input.embedding_dim
        return (torch.zeros((), dtype=torch.long), *(torch.zeros(blk.dilation, b, r) for blk in m.blocks))

    @staticmethod
    def length(batch: dict[str, Tensor]) -> int:
        return batch["audio"].shape[-1]

    def inputs(self, batch: dict[str, Tensor], start: int, stop: int) -> dict[str, Tensor]:
        block = {"codes": mu_law_encode(batch["audio"][:, start:stop])}
        if self.local is not None:
            block["local"] = self.local[..., start:stop]
        return block

    def forward(self, block: dict[str, Tensor], state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        m = self.model
        step, caches = int(state[0]), [c.clone() for c in state[1:]]
        linear = nn.functional.linear
        out = []
        for t in range(block["codes"].shape[1]):
            x = m.input(block["codes"][:, t])                                     # (B, R)
            skips = 0
            for blk, cache, bias in zip(m.blocks, caches, self.bias):
                slot = (step + t) % blk.dilation
                past = cache[slot]                                                # x[t - dilation]
                pre = bias + linear(past, blk.gate.weight[:, :, 0]) + linear(x, blk.gate.weight[:, :, 1])
                if blk.local is not None:
                    pre = pre + linear(block["local"][..., t], blk.local.weight[:, :, 0])
                cache[slot] = x
                a, b = pre.chunk(2, dim=1)
                z = torch.tanh(a) * torch.sigmoid(b)
                x = x + linear(z, blk.residual.weight[:, :, 0], blk.residual.bias)
                skips = skips + linear(z, blk.skip.weight[:, :, 0], blk.skip.bias)
            out.append(m.head(skips.unsqueeze(-1)))
        return torch.cat(out, -1), (torch.tensor(step + block["codes"].shape[1]), *caches)
