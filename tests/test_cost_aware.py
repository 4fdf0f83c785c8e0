"""dietgen trim --selection cost: units ranked by score over what removing them saves on the boards. On hand-made
scores and savings the threshold removes exactly what it should (the costly group first, a unit saving nothing
last, floors and ties as in plain selection); the saving probe on the DDSP tiny example measures positive time
and flash savings for every group, the same each time; the setting validates, is stored only when not plain,
reaches the CLI and sweeps; and a short run on synthetic notes records the savings each round chose by."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dietgen import models
from dietgen.data import synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.trim import lottery
from dietgen.trim.lottery import TrimSettings, run_lottery
from dietgen.trim.report import load_run, run_label
from dietgen.trim.saving import budget_weights, combine, probe_count, unit_savings
from dietgen.trim.select import select_units
from dietgen.trim.sweep import load_sweep
from dietgen.trim.units import find_units
from clirun import assert_one_line_error, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ddsp"
BOARD = "nano33ble"
QUICK = dict(epochs=2, rewind=1, patience=2, batch_size=8, lr=3e-3, crop=1600, score_examples=4)


def removed(keep: list[np.ndarray]) -> list[list[int]]:
    return [np.flatnonzero(~k).tolist() for k in keep]


def test_the_costlier_group_goes_first():
    scores = [np.ones(10), np.ones(10)]
    # Plain: equal scores go to the earlier group. Cost-aware: group 1 saves 10x more per unit.
    assert removed(select_units(scores, 0.3, floor=0)) == [[0, 1, 2, 3, 4, 5], []]
    assert removed(select_units(scores, 0.3, floor=0, costs=[np.full(10, 1.0), np.full(10, 10.0)])) == \
        [[], [0, 1, 2, 3, 4, 5]]


def test_score_over_saving_decides():
    scores = [np.array([1.0, 0.75, 0.375, 0.3]), np.array([1.0, 0.5, 0.125, 0.0625])]
    costs = [np.full(4, 4.0), np.full(4, 1.0)]
    # Normalised savings 1 and 1/4: group 0 ranks by its scores (1, .75, .375, .3), group 1 by 4x its
    # (4, 2, .5, .25). The three lowest: group 1's .25, group 0's .3 and .375.
    assert removed(select_units(scores, 3 / 8, floor=0, costs=costs)) == [[2, 3], [3]]
    assert removed(select_units(scores, 2 / 8, floor=0, costs=costs)) == [[3], [3]]
    # Plain: group 1's .0625 and .125, then group 0's .3.
    assert removed(select_units(scores, 3 / 8, floor=0)) == [[3], [2, 3]]


def test_a_unit_that_saves_nothing_goes_last():
    scores = [np.array([0.1, 0.2, 1.0]), np.array([0.5, 0.6, 1.0])]
    nothing = [np.zeros(3), np.full(3, 2.0)]
    # Group 0 scores lowest but saves nothing: group 1 goes first, whole, before any of group 0.
    assert removed(select_units(scores, 3 / 6, floor=0, costs=nothing)) == [[], [0, 1, 2]]
    # Past that, the units saving nothing go lowest score first; a negative saving is none either.
    assert removed(select_units(scores, 4 / 6, floor=0, costs=[np.full(3, -1.0), np.full(3, 2.0)])) == \
        [[0], [0, 1, 2]]
    # Nothing saves anything: the scores alone decide, as plain selection.
    assert removed(select_units(scores, 2 / 6, floor=0, costs=[np.zeros(3), np.zeros(3)])) == [[0, 1], []]


def test_floors_and_ties_still_hold():
    scores = [np.linspace(0.1, 1.0, 10), np.linspace(0.1, 1.0, 10), np.linspace(0.1, 1.0, 10)]
    costs = [np.full(10, 1.0), np.full(10, 100.0), np.full(10, 1.0)]
    # The 10 units removed are all group 1's, the dearest; the floor gives its best 3 back.
    keep = select_units(scores, 1 / 3, floor=3, costs=costs)
    assert [int(k.sum()) for k in keep] == [10, 3, 10] and removed(keep)[1] == [0, 1, 2, 3, 4, 5, 6]
    # 12 removed: group 1's 10 and the first unit of groups 0 and 2; the floor as above. Groups 1 and 2 are then
    # one recurrent module: they keep equal counts (the mean of 3 and 9), their best units.
    keep = select_units(scores, 0.4, floor=3, costs=costs, ties=[None, "gru", "gru"])
    assert [int(k.sum()) for k in keep] == [9, 6, 6]
    assert removed(keep) == [[0], [0, 1, 2, 3], [0, 1, 2, 3]]


def test_cost_aware_selection_is_global_only():
    with pytest.raises(ValueError, match="scope global"):
        select_units([np.ones(4)], 0.5, scope="local", costs=[np.ones(4)])
    with pytest.raises(ValueError, match="one saving per unit"):
        select_units([np.ones(4)], 0.5, costs=[np.ones(3)])


def test_weights_lean_on_the_budgets_still_over():
    base = {"a": {"time": {"used": 3.0, "limit": 1.0}, "ram": {"used": 50.0, "limit": 100.0}},
            "b": {"time": {"used": 1.0, "limit": 2.0}, "ram": {"used": 110.0, "limit": 100.0}}}
    weights = budget_weights(base)
    assert weights == {"a": {"time": 2.0, "ram": 0.0}, "b": {"time": 0.0, "ram": pytest.approx(0.1)}}
    saved = {"a": {"time": 0.5, "ram": 10.0}, "b": {"time": 1.0, "ram": 20.0}}
    # 2 x 0.5 / 1 from a's time, 0.1 x 20 / 100 from b's RAM; what fits counts nothing.
    assert combine(saved, base, weights) == pytest.approx(1.0 + 0.02)
    fitting = {"a": {"time": {"used": 0.5, "limit": 1.0}, "ram": {"used": 50.0, "limit": 100.0}}}
    assert budget_weights(fitting) == {"a": {"time": 1.0, "ram": 1.0}}


def test_the_probe_keeps_clear_of_panel_edges():
    # Whole panels of 8 rows above 8 units; a tenth (at least one, never all) below.
    assert [probe_count(n) for n in (1, 2, 5, 8, 9, 16, 64, 100, 256)] == [0, 1, 1, 1, 8, 8, 8, 8, 24]


@pytest.fixture(scope="module")
def ddsp_tiny():
    model, _ = models.load_checkpoint(EXAMPLE)
    units = find_units(model)
    return model, units, unit_savings(model, units, [BOARD], 0.5, 10.0)


def test_the_probe_measures_what_each_group_saves(ddsp_tiny):
    model, units, (savings, record) = ddsp_tiny
    assert [g["group"] for g in record["groups"]] == [g.name for g in units.groups]
    for group, entry, saving in zip(units.groups, record["groups"], savings):
        per_unit = entry["per_unit"][BOARD]
        assert entry["probe_removed"] == probe_count(group.size) and entry["saving"] == saving
        # Every DDSP layer multiplies: fewer units, less time per block and fewer weight bytes in flash.
        assert per_unit["time"] > 0 and per_unit["flash"] > 0 and saving > 0
    # The GRU's units each carry three gates of recurrent weights: the dearest of DDSP tiny.
    assert max(zip(savings, [g.name for g in units.groups]))[1] == "gru.l0"
    # DDSP tiny fits the Nano 33 BLE even at half the real-time factor: no budget over, all weights 1.
    assert record["weights"] == {BOARD: {"time": 1.0, "ram": 1.0, "flash": 1.0}}
    assert unit_savings(model, units, [BOARD], 0.5, 10.0) == (savings, record)
    assert json.loads(json.dumps(record)) == record


@pytest.mark.parametrize("changes, words", [
    (dict(selection="cost"), ["selection cost", "name a board"]),
    (dict(selection="cost", boards=(BOARD,), scope="local"), ["scope local", "scope global"]),
    (dict(selection="price", boards=(BOARD,)), ["selection 'price'", "plain, cost"]),
])
def test_bad_selections_are_one_line_errors(changes, words):
    with pytest.raises(DietgenError) as failed:
        TrimSettings(family="ddsp", preset="tiny", data="d", criterion="magnitude", **changes).validate()
    assert all(word in failed.value.message for word in words) and "\n" not in failed.value.message


def test_plain_selection_is_not_stored():
    plain = TrimSettings(family="ddsp", preset="tiny", data="d", boards=(BOARD,), rtf=0.7)
    assert "selection" not in plain.to_dict()
    cost = TrimSettings(family="ddsp", preset="tiny", data="d", boards=(BOARD,), rtf=0.7, selection="cost")
    assert list(cost.to_dict())[-1] == "selection" and cost.to_dict()["selection"] == "cost"
    assert TrimSettings(**cost.to_dict()) == cost and TrimSettings(**plain.to_dict()) == plain


def test_comparisons_tell_cost_aware_runs_apart():
    plain, cost = ({"settings": TrimSettings(family="ddsp", preset="small", data="d", boards=(BOARD,),
                                             selection=selection).to_dict()} for selection in ("plain", "cost"))
    assert [run_label(doc, [plain, cost]) for doc in (plain, cost)] == ["global", "global cost-aware"]


def test_sweeps_and_the_cli_take_the_selection(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    file = tmp_path / "sweep.toml"
    file.write_text(f'family = "ddsp"\npreset = "tiny"\ndata = "{tmp_path / "data"}"\nboards = ["{BOARD}"]\n'
                    f'[grid]\nselection = ["plain", "cost"]\n')
    assert [(j.name, j.settings.selection) for j in load_sweep(file).jobs] == [
        ("ddsp-tiny-plain-seed0", "plain"), ("ddsp-tiny-cost-seed0", "cost")]
    seen = []
    fitted = [{"round": 0, "boards": {BOARD: {"fits": True}}}]
    monkeypatch.setattr(lottery, "run_lottery", lambda settings, out_dir, **kwargs: seen.append(settings) or {
        "settings": settings.to_dict(), "stopped": f"fits {BOARD}", "rounds": fitted})
    monkeypatch.setattr("dietgen.trim.report.rounds_table", lambda doc: "")
    form = ["trim", "--model", "ddsp", "--preset", "tiny", "--data", tmp_path, "-o", tmp_path / "run"]
    assert run(*form, "--board", BOARD, "--selection", "cost").exit_code == 0
    run(*form, "--board", BOARD)
    assert [s.selection for s in seen] == ["cost", "plain"]
    assert_one_line_error(run(*form, "--selection", "cost"), "--selection cost", "--board", code=(2,))


def test_a_cost_aware_run_records_the_savings_it_chose_by(tmp_path):
    data = synthetic_dataset(tmp_path / "notes", seconds=0.32)
    settings = TrimSettings(family="ddsp", preset="tiny", data=str(data), criterion="magnitude", rate=30.0,
                            rounds=2, boards=(BOARD,), rtf=0.01, selection="cost", **QUICK)
    with pytest.raises(DietgenError, match="does not fit"):   # no round meets a real-time factor of 0.01
        run_lottery(settings, tmp_path / "run")
    doc = load_run(tmp_path / "run")
    first, second = doc["rounds"]
    assert doc["settings"]["selection"] == "cost" and "savings" not in first
    assert second["units"] < first["units"] and second["parameters"] < first["parameters"]
    savings = second["savings"]
    # Only time is over: it alone weighs, by how far round 0 was over.
    rtf = first["boards"][BOARD]["real_time_factor"]
    assert savings["weights"][BOARD] == {"time": pytest.approx(rtf / 0.01 - 1), "ram": 0.0, "flash": 0.0}
    assert all(g["saving"] > 0 and g["per_unit"][BOARD]["time"] > 0 for g in savings["groups"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert "global cost-aware selection" in report and "\nSelection: cost-aware: " in report
