"""Structured lottery trimming (Esling et al., DAFx 2020): find the units of a model (channels, hidden units)
and the dependencies that tie them, score them, select the ones to remove globally or per layer, and remove
them physically, so that the model really is smaller and faster.

    units = find_units(model, batch=batch)                    # trace: groups of coupled units
    scores = score_units(model, units, "information", batches)
    keep = select_units(scores, 0.2, "global", floor=3, ties=units.ties)
    smaller = trim_model(model, units, keep)

The lottery loop around these (train, score, trim, rewind, retrain) is dietgen.trim.lottery.
"""
from dietgen.trim.criteria import CRITERIA, score_units
from dietgen.trim.masked import masked_model
from dietgen.trim.select import SCOPES, select_units
from dietgen.trim.surgery import trim_model
from dietgen.trim.units import Group, Units, find_units

__all__ = ["CRITERIA", "SCOPES", "Group", "Units", "find_units", "masked_model", "score_units", "select_units",
           "trim_model"]
