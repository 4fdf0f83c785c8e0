"""The interface every generative audio family in dietgen.models implements, and ``build`` by name.

A family is an ``AudioModel`` registered with ``@architecture(family)``: the trainer only calls ``loss``, the
evaluator ``generate``, the exporter ``export_module`` and the streaming tests ``streaming``. ``config`` holds the
constructor's keyword arguments, so a checkpoint (possibly trimmed to other widths) rebuilds the same network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from dietgen.errors import DietgenError

if TYPE_CHECKING:
    from dietgen.control import Control, Performance

SAMPLE_RATE = 16000
HOP = 160   # 100 frames per second: the frame rate of the "f0" and "loudness" features
PITCHES = VELOCITIES = 128   # MIDI


class AudioModel(nn.Module):
    family: ClassVar[str]
    presets: ClassVar[dict[str, dict[str, Any]]]
    sample_rate: int = SAMPLE_RATE
    # Input frames per step of the exported program when the family streams (dietgen export makes the step
    # program by default, with this block); None: exported as an offline window.
    stream_block: ClassVar[int | None] = None

    def __init__(self, **config: Any):
        super().__init__()
        self.config = dict(config)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "AudioModel":
        if name not in cls.presets:
            raise DietgenError(f"unknown {cls.family} preset {name!r}; valid presets: {', '.join(cls.presets)}")
        try:
            return cls(**{**cls.presets[name], **overrides})
        except TypeError as exc:
            raise DietgenError(f"{cls.family} preset {name!r}: {exc}")

    def forward(self, *inputs: Tensor) -> Tensor:
        """The deployable graph (export_module()'s module) on its inputs, so that the frontend exports a model
        loaded from a checkpoint as it is; training and evaluation go through loss and generate."""
        return self.export_module()[0](*inputs)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def generate(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def export_module(self) -> tuple[nn.Module, dict[str, tuple[int, ...]]]:
        raise NotImplementedError

    def streaming(self) -> nn.Module:
        raise NotImplementedError

    def control(self) -> "Control | None":
        """How notes play the exported step program (dietgen.control); None: not playable from notes."""
        return None

    def perform(self, performance: "Performance", seed: int, temperature: float) -> Tensor:
        """The PyTorch rendering of a performance (dietgen.control.perform): what the generated player must
        sound like, (samples,)."""
        raise NotImplementedError


def run_streaming(stream: nn.Module, batch: dict[str, Tensor], block: int) -> Tensor:
    """A whole note through a streaming form, ``block`` input positions (frames, or samples for WaveNet) per
    call; the concatenated output equals the offline model's.

    A streaming form provides ``initial_state(batch)``, ``length(batch)`` (input positions in the note),
    ``inputs(batch, start, stop)`` (one block's inputs) and ``forward(block, state) -> (output, state)``.
    """
    state = stream.initial_state(batch)
    outs = []
    for start in range(0, stream.length(batch), block):
        out, state = stream(stream.inputs(batch, start, start + block), state)
        outs.append(out)
    return torch.cat(outs, -1)


def crop_samples(seconds: float | None) -> int | None:
    """A crop in seconds (--crop, a sweep file's crop) as the training API takes it: samples, a whole number of
    frames (at least one)."""
    return None if seconds is None else max(1, round(seconds * SAMPLE_RATE / HOP)) * HOP


def families() -> dict[str, type[AudioModel]]:
    from dietgen.models import architectures
    return {name: cls for name, cls in architectures().items()
            if isinstance(cls, type) and issubclass(cls, AudioModel)}


def build(family: str, preset: str, **overrides: Any) -> AudioModel:
    """A freshly initialised model of ``family`` at size ``preset`` (keyword arguments override the preset)."""
    known = families()
    if family not in known:
        raise DietgenError(f"unknown model family {family!r}; valid families: {', '.join(sorted(known))}")
    return known[family].from_preset(preset, **overrides)


def f0_feature(f0: Tensor) -> Tensor:
    """f0 in Hz -> MIDI note / 127 (unvoiced frames read as 20 Hz)."""
    return (69.0 + 12.0 * torch.log2(torch.clamp(f0, min=20.0) / 440.0)) / 127.0


def loudness_feature(loudness: Tensor) -> Tensor:
    """A-weighted dB (about -120..0) -> about 0..1."""
    return loudness / 120.0 + 1.0


def crop_pair(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    n = min(a.shape[-1], b.shape[-1])
    return a[..., :n], b[..., :n]
