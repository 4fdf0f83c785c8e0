"""What removing one unit of each group saves on the boards a run aims at (dietgen trim --selection cost).

Measured, not modelled: the current model is compiled once and, per group, a copy without a few of the group's
units (see probe_count; a group tied to others, the layers of one nn.GRU / nn.LSTM, loses them in every tied
layer at once, as the selection removes them), each checked against every board by dietgen.budget.check with
measure=False (estimates: no cross build per group). The differences over the units removed are the saving per
unit, per board, in three budgets: time per block (the per-core cost model's cycles at the board's clock), RAM
(arena, state and, where the board keeps them in RAM, weights and code, as budget.check counts them) and flash
(weights and code).

One saving per unit, the sum over boards and budgets of

    weight x saving / limit        limit: rtf x the block's deadline, the RAM limit less the headroom, the flash

with weight = used / limit - 1, how far the current model is over that limit, and 0 for a budget within it;
when no budget of any board is over, every weight is 1. Why: a budget's saving only counts relative to what the
board offers (a byte of a 256 KiB RAM is worth more than a byte of an 8 MiB flash); a budget that already fits
needs nothing more, so the units that pay for it are no reason to trim; and the further a budget is over, the
more a round should cut from it. A board without a time estimate (no cost table for its core) contributes no
time saving: nothing measures it. A saving at or below 0 is no saving: the selection removes such units last.

The compiler and the budget are imported when first used, as in dietgen.trim.fit."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from torch import nn

from dietgen.trim.fit import ram_limit
from dietgen.trim.surgery import trim_model
from dietgen.trim.units import Units

BUDGETS = ("time", "ram", "flash")
PROBE_SHARE = 0.1     # of a group's units removed to measure its saving


def probe_count(size: int) -> int:
    """Units of a group of ``size`` the probe removes: a tenth, at least one, never all; in whole panels of the
    matrix kernels (PANEL_ROWS output rows packed together) when the group has more than one panel's worth.
    Why whole panels: rows left out of a panel run in a slower loop, so removing 2 of 16 units makes the
    cost model's time go up (measured on DDSP tiny's out_mlp.0 on every Cortex-M core), and the probe would call
    a layer that costs time free to keep. Whole panels leave the rest as it was: the saving is the trend."""
    from dietgen.ops.common import PANEL_ROWS
    count = max(1, round(PROBE_SHARE * size))
    if size > PANEL_ROWS:
        count = PANEL_ROWS * max(1, round(count / PANEL_ROWS))
    return min(count, size - 1)


def unit_savings(model: nn.Module, units: Units, boards: Iterable[str], rtf: float,
                 headroom_ram: float) -> tuple[list[float], dict[str, Any]]:
    """The saving per unit of each group of ``model`` on ``boards`` (see the module docstring), and what trim.json
    records of it: the weights per board and budget, and per group the units the probe removed, the saving used
    and the saving per unit per board (seconds per block, RAM and flash bytes)."""
    boards = tuple(boards)
    base = _budgets(_compile(model), boards, rtf, headroom_ram)
    per_unit: list[dict[str, dict[str, float]] | None] = [None] * len(units.groups)
    removed = [0] * len(units.groups)
    for tied in _probes(units):
        count = probe_count(min(units.groups[g].size for g in tied))
        if count < 1:
            continue
        keep = [np.ones(g.size, dtype=bool) for g in units.groups]
        for g in tied:
            keep[g][-count:] = False
        trimmed = _budgets(_compile(trim_model(model, units, keep)), boards, rtf, headroom_ram)
        saved = {b: {k: (base[b][k]["used"] - trimmed[b][k]["used"]) / (count * len(tied)) for k in base[b]}
                 for b in boards}
        for g in tied:
            per_unit[g], removed[g] = saved, count
    weights = budget_weights(base)
    savings = [combine(saved, base, weights) if saved is not None else 0.0 for saved in per_unit]
    record = {"weights": weights,
              "groups": [{"group": group.name, "probe_removed": removed[g], "saving": savings[g],
                          "per_unit": per_unit[g] or {}} for g, group in enumerate(units.groups)]}
    return savings, record


def budget_weights(base: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per board and budget, how far the model is over the limit (0 within it); all 1 when nothing is over."""
    over = {b: {k: max(0.0, v["used"] / v["limit"] - 1) for k, v in budgets.items()} for b, budgets in base.items()}
    if not any(w for budgets in over.values() for w in budgets.values()):
        return {b: {k: 1.0 for k in budgets} for b, budgets in base.items()}
    return over


def combine(saved: dict[str, dict[str, float]], base: dict[str, dict[str, dict[str, float]]],
            weights: dict[str, dict[str, float]]) -> float:
    """One saving per unit: each budget's saving relative to its limit, weighted, summed over budgets and boards."""
    return float(sum(weights[b][k] * saved[b][k] / base[b][k]["limit"] for b in saved for k in saved[b]))


def _probes(units: Units) -> list[list[int]]:
    """The groups removed together in one probe: each untied group alone, the groups of one tie together."""
    probes: dict[Any, list[int]] = {}
    for g, tie in enumerate(units.ties):
        probes.setdefault(g if tie is None else tie, []).append(g)
    return list(probes.values())


def _compile(model: nn.Module):
    """``model`` compiled as `dietgen check` compiles its checkpoint (the checkpoint carries its sample rate,
    block and note control), so the probe measures what each round's board check does."""
    from dietgen.pipeline import compile_model
    from dietgen.train import save_run_checkpoint
    with tempfile.TemporaryDirectory(prefix="dietgen-saving-") as tmp:
        save_run_checkpoint(model, Path(tmp), {})
        return compile_model(tmp)


def _budgets(compiled, boards: tuple[str, ...], rtf: float,
             headroom_ram: float) -> dict[str, dict[str, dict[str, float]]]:
    """Per board, each budget's used amount and limit with the run's margins (time only where it is estimated)."""
    from dietgen.budget import check
    found = {}
    for board in boards:
        report = check(board=board, compiled=compiled, measure=False)
        budgets = {"ram": {"used": report.ram.used, "limit": ram_limit(report, headroom_ram)},
                   "flash": {"used": report.flash.used, "limit": report.flash.limit}}
        if report.time is not None:
            budgets = {"time": {"used": report.time.used, "limit": rtf * report.time.limit}, **budgets}
        found[board] = budgets
    return found
