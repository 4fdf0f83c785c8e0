"""How a streamed tensor runs along time (see passes/stream.py)."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Time:
    axis: int
    rate: Fraction       # frames of this tensor per input frame
    lag: int = 0         # stream frame t holds offline frame t - lag (in this tensor's own frames)
    clean: bool = True   # the frames streamed before offline frame 0 (t < lag) are zeros
