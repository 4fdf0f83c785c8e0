"""Which units stay: per-group normalisation, then one global threshold over every group (or the same share
from each group, ``local``), never taking a group below its floor.

Cost-aware selection (``costs``, dietgen.trim.saving) ranks the units globally by normalised score over
normalised saving, the quality lost per unit of what the device pays for. It has no local form: every unit of a
group saves the same, so within one group it would rank by score alone, exactly as plain local selection."""
from __future__ import annotations

import numpy as np

SCOPES = ("global", "local")


def normalise(scores: np.ndarray) -> np.ndarray:
    """A group's scores divided by the group's largest, so groups of different scales compete fairly."""
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = np.abs(scores).max() if len(scores) else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def select_units(scores: list[np.ndarray], rate: float, scope: str = "global", floor: int = 3,
                 ties: list[str | None] | None = None,
                 costs: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Keep masks removing ``rate`` (0..1) of the units: ``global``, the units at or below the rate-th quantile
    of all groups' normalised scores; ``local``, the lowest ``rate`` of each group. Then the floor: a group
    left with fewer than ``floor`` units (all of them when smaller) gets its best removed units back. Groups
    with one ``ties`` label (Units.ties: the layers of one recurrent module) then keep their best units up to
    their mean count. Equal scores go to the earlier group and unit, so a selection is reproducible.

    ``costs`` (global scope only): per unit, what removing it saves (one array per group, as ``scores``). The
    threshold then runs over normalised score / normalised saving (savings over the largest of all units);
    a unit saving nothing (at most 0) is removed last, the lowest-scoring of those first."""
    if not 0 <= rate < 1:
        raise ValueError(f"rate {rate}: give a fraction in [0, 1)")
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: give one of {', '.join(SCOPES)}")
    if costs is not None and scope != "global":
        raise ValueError("cost-aware selection ranks every group's units together: give scope global")
    normalised = [normalise(s) for s in scores]
    keep = [np.ones(len(s), dtype=bool) for s in normalised]
    if scope == "global":
        ranks = normalised if costs is None else _per_saving(normalised, costs)
        order = sorted((float(k), float(v), g, u) for g, (r, s) in enumerate(zip(ranks, normalised))
                       for u, (k, v) in enumerate(zip(r, s)))
        for _, _, g, u in order[:round(rate * len(order))]:
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


def _per_saving(normalised: list[np.ndarray], costs: list[np.ndarray]) -> list[np.ndarray]:
    """Normalised score over normalised saving per unit; infinite where a unit saves nothing."""
    if [len(c) for c in costs] != [len(s) for s in normalised]:
        raise ValueError("costs must hold one saving per unit of every group, as the scores")
    savings = [np.maximum(np.asarray(c, dtype=np.float64), 0.0) for c in costs]
    top = max((c.max() for c in savings if len(c)), default=0.0)
    return [np.divide(s, c / top, out=np.full(len(s), np.inf), where=c > 0) if top > 0
            else np.full(len(s), np.inf) for s, c in zip(normalised, savings)]
