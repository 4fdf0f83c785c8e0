"""Which units stay: per-group normalisation, then one global threshold over every group (or the same share
from each group, ``local``), never taking a group below its floor."""
from __future__ import annotations

import numpy as np

SCOPES = ("global", "local")


def normalise(scores: np.ndarray) -> np.ndarray:
    """A group's scores divided by the group's largest, so groups of different scales compete fairly."""
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = np.abs(scores).max() if len(scores) else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def select_units(scores: list[np.ndarray], rate: float, scope: str = "global", floor: int = 3,
                 ties: list[str | None] | None = None) -> list[np.ndarray]:
    """Keep masks removing ``rate`` (0..1) of the units: ``global``, the units at or below the rate-th quantile
    of all groups' normalised scores; ``local``, the lowest ``rate`` of each group. Then the floor: a group
    left with fewer than ``floor`` units (all of them when smaller) gets its best removed units back. Groups
    with one ``ties`` label (Units.ties: the layers of one recurrent module) then keep their best units up to
    their mean count. Equal scores go to the earlier group and unit, so a selection is reproducible."""
    if not 0 <= rate < 1:
        raise ValueError(f"rate {rate}: give a fraction in [0, 1)")
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: give one of {', '.join(SCOPES)}")
    normalised = [normalise(s) for s in scores]
    keep = [np.ones(len(s), dtype=bool) for s in normalised]
    if scope == "global":
        order = sorted((float(v), g, u) for g, s in enumerate(normalised) for u, v in enumerate(s))
        for _, g, u in order[:round(rate * len(order))]:
            keep[g][u] = False
    else:
        for g, s in enumerate(normalised):
            keep[g][np.argsort(s, kind="stable")[:round(rate * len(s))]] = False
    for g, s in enumerate(normalised):
        missing = min(floor, len(s)) - int(keep[g].sum())
        if missing > 0:
            removed = np.flatnonzero(~keep[g])
            keep[g][removed[np.argsort(-s[removed], kind="stable")[:missing]]] = True
    for tie in {t for t in ties or [] if t is not None}:
        tied = [g for g, t in enumerate(ties) if t == tie]
        count = round(np.mean([keep[g].sum() for g in tied]))
        for g in tied:
            keep[g] = np.zeros(len(normalised[g]), dtype=bool)
            keep[g][np.argsort(-normalised[g], kind="stable")[:count]] = True
    return keep
