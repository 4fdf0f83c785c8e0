"""WaveNet (van den Oord et al. 2016): gated dilated causal convolutions over 8-bit mu-law samples, residual and
skip paths, a 256-way softmax over the next sample. Global conditioning on pitch, velocity and instrument
embeddings lets it generate a chosen note; optional local conditioning on the frame-rate f0 and loudness."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from dietgen.control import Control
from dietgen.models import architecture
from dietgen.models.base import HOP, PITCHES, VELOCITIES, AudioModel, f0_feature, loudness_feature
from dietgen.ops.noise_fir import xorshift32

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


def mu_law_decode_np(codes, classes: int = CLASSES) -> np.ndarray:
    """mu_law_decode in numpy, in float32 step for step as it and the C runtime's dg_mulaw_decode compute it.
    expm1 goes through float64 to come out correctly rounded, as torch's does (numpy's and C libraries' float32
    expm1 may be an ulp off)."""
    mu = np.float32(classes - 1)
    y = np.asarray(codes).astype(np.float32) / mu * np.float32(2) - np.float32(1)
    scaled = np.abs(y) * np.float32(math.log1p(classes - 1))
    magnitude = np.expm1(scaled.astype(np.float64)).astype(np.float32) / mu
    return np.where(y < 0, -magnitude, magnitude).astype(np.float32)


def sample_reference(logits, temperature: float, rng_state: int):
    """What the C runtime's dg_sample_categorical draws, in float32 with its order of summation: for one row of
    logits (classes,), (code, next rng state, margin); for rows (T, classes), drawn in order from one
    generator, (codes (T,), next state, margins (T,)).

    The margin is the distance from u * sum to the nearest running-sum boundary the search compares it with,
    relative to the sum: C's expf and numpy's exp may differ in the last bit, so where the margin is within a
    few float32 roundings (below 1e-5, say) the two may pick neighbouring classes."""
    rows = np.asarray(logits, dtype=np.float32)
    single = rows.ndim == 1
    inv_t = np.float32(1) / np.float32(temperature)
    state = int(rng_state)
    codes, margins = [], []
    for row in np.atleast_2d(rows):
        state = xorshift32(state, 1)[1]
        running = np.cumsum(np.exp((row - row.max()) * inv_t), dtype=np.float32)    # sequential, as in C
        total = running[-1]
        target = np.float32((state >> 8) * 2.0 ** -24) * total
        above = np.flatnonzero(running[:-1] > target)
        codes.append(int(above[0]) if above.size else len(row) - 1)
        gaps = np.abs(running[:-1].astype(np.float64) - float(target))
        margins.append(float(gaps.min() / total) if gaps.size else math.inf)
    if single:
        return codes[0], state, margins[0]
    return np.array(codes, dtype=np.int64), state, np.array(margins)


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
        # Half the paper's widths: the smallest preset whose 256-class embedding and output leave room to trim
        # it 100x (the floor of 3 units per layer is at 154x).
        "medium": dict(layers=20, cycle=10, residual=64, skip=128),
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
        self.input = nn.Embedding(CLASSES, residual)    # a 1x1 convolution over the codes' one-hot, as a lookup
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
        device = batch["pitch"].device
        code = torch.full((batch["pitch"].shape[0], 1), CLASSES // 2, dtype=torch.long, device=device)
        out = []
        with torch.no_grad():
            state = stream.initial_state(batch)
            for t in range(batch["audio"].shape[-1]):
                step = {"codes": code}
                if stream.local is not None:
                    step["local"] = stream.local[..., t:t + 1]
                logits, state = stream(step, state)
                # drawn on the CPU (gen is a CPU generator), so a seed gives the same samples on every device
                code = torch.multinomial(torch.softmax(logits[:, :, 0], -1).cpu(), 1, generator=gen).to(device)
                out.append(code)
        return mu_law_decode(torch.cat(out, 1))

    def streaming(self):
        return WaveNetStream(self)

    def control(self):
        # one sample per step, the sampled class fed back; local conditioning (f0, loudness features) has no
        # note role yet, so a model with it is refused by the player
        return Control({"x": "code", "pitch": "onehot_pitch", "velocity": "onehot_velocity",
                        "instrument": "onehot_instrument"}, "logits", 1, reset_per_note=True,
                       start_code=CLASSES // 2)

    def sample_notes(self, performance, seed: int, temperature: float) -> tuple[np.ndarray, np.ndarray]:
        """(codes, margins) per step: each note sampled from a fresh stream, the sampled class fed back, with
        the C player's generator (sample_reference) carried across notes; steps outside notes are code -1."""
        codes = np.full(performance.steps, -1, np.int64)
        margins = np.full(performance.steps, np.inf)
        state = seed
        stream = self.streaming()
        with torch.no_grad():
            for n in performance.notes:
                batch = {"pitch": torch.tensor([n.pitch]), "velocity": torch.tensor([n.velocity]),
                         "instrument": torch.tensor([n.instrument]), "audio": torch.zeros(1, n.off - n.on)}
                caches = stream.initial_state(batch)
                code = CLASSES // 2
                for t in range(n.on, n.off):
                    logits, caches = stream({"codes": torch.tensor([[code]])}, caches)
                    code, state, margins[t] = sample_reference(logits[0, :, 0].numpy(), temperature, state)
                    codes[t] = code
        return codes, margins

    def perform(self, performance, seed, temperature):
        """Sampled sample by sample (slow in Python: every sample runs every layer) and mu-law decoded;
        silence between notes."""
        codes, _ = self.sample_notes(performance, seed, temperature)
        audio = np.where(codes >= 0, mu_law_decode_np(np.maximum(codes, 0)), 0.0).astype(np.float32)
        return torch.from_numpy(audio)

    def export_module(self):
        t = self.config["export_length"]
        shapes = {"x": (1, t), "pitch": (1, PITCHES), "velocity": (1, VELOCITIES),
                  "instrument": (1, self.num_instruments)}
        if self.config["local"]:
            shapes["local"] = (1, 2, t)
        return WaveNetExport(self), shapes


class WaveNetExport(nn.Module):
    """Teacher-forced logits over a window, from float inputs: mu-law codes (1, T) as floats, looked up in the
    input embedding by dietgen::Embedding (per sample, so a table read rather than a 256-wide one-hot product),
    and one-hot pitch, velocity and instrument (once per note: the embeddings become products with constant
    matrices)."""

    def __init__(self, model: WaveNet):
        super().__init__()
        self.model = model

    def forward(self, x, pitch, velocity, instrument, local=None):
        m = self.model
        g = torch.cat([pitch @ m.pitch.weight, velocity @ m.velocity.weight, instrument @ m.instrument.weight], -1)
        if torch.onnx.is_in_onnx_export():
            h = torch.onnx.ops.symbolic("dietgen::Embedding", (x, m.input.weight), {}, dtype=torch.float32,
                                        shape=(*x.shape, m.input.embedding_dim), version=1)
        else:
            h = m.input(x.long())
        return m.network(h.transpose(1, 2), g, local)


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
        return (torch.zeros((), dtype=torch.long, device=g.device),
                *(torch.zeros(blk.dilation, b, r, device=g.device) for blk in m.blocks))

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
