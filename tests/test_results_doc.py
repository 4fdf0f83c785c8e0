"""docs/results.md reproducible from the repo: its marked tables equal those regenerated from the committed
trim.json files (docs/results/runs); the mechanism (dietgen trim results) on hand-written runs; and
examples/sweeps/results.toml expands to the runs the page reports, without running anything."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dietgen.errors import DietgenError
from dietgen.trim.lottery import TrimSettings
from dietgen.trim.report import compare, compare_table
from dietgen.trim.results import check_doc, render, runs_folder, sections, update_doc
from dietgen.trim.sweep import PLAN, load_sweep
from clirun import assert_one_line_error, run

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "results.md"
SWEEP_FILE = ROOT / "examples" / "sweeps" / "results.toml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DENSE = 100_000


@pytest.mark.skipif(not runs_folder(DOC).is_dir(), reason="docs/results/runs is not committed yet: the runs of "
                    "examples/sweeps/results.toml are still running (dietgen trim results copies them there)")
def test_docs_results_tables_are_those_of_the_committed_runs():
    text = DOC.read_text()
    regenerated = render(text, runs_folder(DOC), str(DOC))
    lines, expected = text.splitlines(), regenerated.splitlines()
    for section in sections(text, str(DOC)):
        assert lines[section.start:section.end] == expected[section.start:section.end], section.key
    assert regenerated == text


def settings(name: str, **values) -> dict:
    family, preset = name.split("-")[:2]
    return TrimSettings(family=family, preset=preset, data="data/notes", rounds=4,
                        seed=int(name.rsplit("seed", 1)[1]), **values).to_dict()


def trim_doc(settings: dict, compressions, losses, stopped: str | None = None) -> dict:
    """A run's trim.json: one round per (compression, normalised loss), MACs halving each round."""
    rounds = [{"round": n, "checkpoint": f"round-{n:02d}", "parameters": round(DENSE / c), "units": 100 - 20 * n,
               "weights_left": 1 / c, "compression": c, "macs_per_second": 4_000_000 >> n,
               "file_bytes": 4 * round(DENSE / c), "valid_loss": 2.0 * loss, "test_loss": 2.0 * loss,
               "normalised_loss": loss, "best_epoch": 3, "epochs": 4, "seconds": 1.5}
              for n, (c, loss) in enumerate(zip(compressions, losses))]
    doc = {"format": "dietgen-trim-run", "version": 1, "settings": settings,
           "dense": {"parameters": DENSE, "test_loss": 2.0}, "rounds": rounds}
    return {**doc, "stopped": stopped} if stopped else doc


# name: (settings, compressions, normalised losses, stopped early)
RUNS = {
    "ddsp-small-magnitude-global-seed0": ({"criterion": "magnitude"}, [1, 2, 6, 12], [1, 0.9, 1.0, 1.2], None),
    "ddsp-small-magnitude-global-seed1": ({"criterion": "magnitude"}, [1, 2, 4, 8], [1, 1.0, 1.1, 1.3], None),
    "ddsp-small-magnitude-local-seed0": ({"criterion": "magnitude", "scope": "local"}, [1, 3], [1, 1.5],
                                         "floor reached"),
    "ddsp-small-mask-seed0": ({"method": "mask", "criterion": "magnitude"}, [1, 2], [1, 1.1], None),   # unfinished
    "sing-tiny-information-global-seed0": ({}, [1, 1.5, 2, 2.5], [1, 0.95, 0.97, 0.99], None),
}
PROSE = "# Results\n\nSome prose that stays.\n\n## DDSP\n\n"


def make_sweep(folder: Path) -> Path:
    plan = {"format": "dietgen-trim-sweep", "version": 1, "device": "cpu", "job_cpus": 1, "job_gpus": 0,
            "runs": [{"name": name, "settings": settings(name, **values)} for name, (values, *_) in RUNS.items()]}
    folder.mkdir()
    (folder / PLAN).write_text(json.dumps(plan))
    for name, (values, compressions, losses, stopped) in RUNS.items():
        (folder / name).mkdir()
        (folder / name / "trim.json").write_text(
            json.dumps(trim_doc(settings(name, **values), compressions, losses, stopped)))
        (folder / name / "round-00").mkdir()   # checkpoints stay in the sweep
    return folder


def make_doc(folder: Path) -> Path:
    doc = folder / "results.md"
    doc.write_text(PROSE + "<!-- results: ddsp-small -->\n| stale |\n<!-- /results -->\n\n## SING\n\n"
                   "<!-- results: sing-tiny -->\n<!-- /results -->\n\nThe end.\n")
    return doc


def test_results_copies_finished_runs_and_rewrites_only_the_marked_tables(tmp_path):
    sweep, doc = make_sweep(tmp_path / "sweep"), make_doc(tmp_path)
    done = update_doc(doc, sweep)
    runs = tmp_path / "results" / "runs"
    assert done.copied == ("ddsp-small-magnitude-global-seed0", "ddsp-small-magnitude-global-seed1",
                           "ddsp-small-magnitude-local-seed0", "sing-tiny-information-global-seed0")
    assert done.unfinished == ("ddsp-small-mask-seed0",) and done.tables == ("ddsp-small", "sing-tiny")
    # Only the plan and one trim.json per finished run are committed, copied byte for byte.
    assert sorted(str(p.relative_to(runs)) for p in runs.rglob("*") if p.is_file()) == sorted(
        [PLAN] + [f"{name}/trim.json" for name in done.copied])
    assert (runs / done.copied[0] / "trim.json").read_bytes() == (sweep / done.copied[0] / "trim.json").read_bytes()
    for key in done.tables:
        assert (tmp_path / "results" / f"{key}.png").read_bytes().startswith(PNG_MAGIC)
    text = doc.read_text()
    assert text.startswith(PROSE + "<!-- results: ddsp-small -->\n| configuration | seeds | rounds |")
    assert text.endswith("<!-- /results -->\n\nThe end.\n") and "stale" not in text
    table = text.split("<!-- results: ddsp-small -->\n")[1].split("<!-- /results -->")[0]
    lines = table.splitlines()
    assert lines[1] == "|---|" + "---:|" * 10
    # Seeds 0 and 1 are one configuration: at 5x, seed 0 lies between 2x and 6x, seed 1 between 4x and 8x.
    global_row, local_row = lines[2].split(" | "), lines[3].split(" | ")
    assert global_row[0] == "| global" and global_row[1:4] == ["2", "4", "10x"]
    assert local_row[0] == "| local" and local_row[1:5] == ["1", "2", "3x", "1.500"]
    # The MACs of the largest compression's round, mean over seeds: 4 M >> 3 = 0.5 M; dense 4 M.
    assert global_row[-1] == "500 k (dense 4 M) |" and local_row[-1] == "2 M (dense 4 M) |"
    # Within 10 % of the dense loss: seed 0 up to 6x (1.0; 1.2 at 12x), seed 1 up to 4x (1.1).
    assert global_row[5] == "5x (4-6)" and local_row[5:10] == ["1x", "-", "-", "-", "-"]
    assert "| 1 | 4 | 2.5x | 0.990 | 2.5x | - | - | - | - | 500 k (dense 4 M) |" in text
    # Rerunning from the committed runs alone changes nothing, and the check passes.
    assert update_doc(doc).copied == () and doc.read_text() == text
    check_doc(doc)


def test_the_table_is_report_compare_table_and_check_fails_on_an_edit(tmp_path):
    doc = make_doc(tmp_path)
    update_doc(doc, make_sweep(tmp_path / "sweep"))
    runs = tmp_path / "results" / "runs"
    names = ["ddsp-small-magnitude-global-seed0", "ddsp-small-magnitude-global-seed1",
             "ddsp-small-magnitude-local-seed0"]
    docs = [json.loads((runs / n / "trim.json").read_text()) for n in names]
    assert compare_table(compare(docs, names=names), markdown=True) in doc.read_text()
    doc.write_text(doc.read_text().replace("| 10x |", "| 11x |"))
    with pytest.raises(DietgenError, match="differ from those of the runs"):
        check_doc(doc)
    assert_one_line_error(run("trim", "results", "--doc", doc, "--check"), "differ", code=(1,))
    result = run("trim", "results", "--doc", doc)
    assert result.exit_code == 0, result.output
    assert "tables ddsp-small, sing-tiny regenerated" in result.output
    assert run("trim", "results", "--doc", doc, "--check").exit_code == 0


def test_results_command_from_a_sweep_folder(tmp_path):
    sweep, doc = make_sweep(tmp_path / "sweep"), make_doc(tmp_path)
    result = run("trim", "results", sweep, "--doc", doc)
    assert result.exit_code == 0, result.output
    assert "copied 4 finished runs" in result.output and "left out 1 unfinished: ddsp-small-mask-seed0" in \
        result.output
    assert run("trim", "results", "--doc", doc, "--check").exit_code == 0


@pytest.mark.parametrize("body, words", [
    ("<!-- results: ddsp-small -->\n| x |\n", ["never closed", "results.md:1"]),
    ("| x |\n<!-- /results -->\n", ["closes no", "results.md:2"]),
    ("<!-- results: a -->\n<!-- results: b -->\n<!-- /results -->\n", ["opens before", "results.md:2"]),
    ("<!-- results: ddsp-small -->\n<!-- /results -->\n" * 2, ["marked twice"]),
    ("No markers.\n", ["no table marked"]),
    ("<!-- results: wavenet-tiny -->\n<!-- /results -->\n", ["no finished run named wavenet-tiny-*"]),
])
def test_bad_markers_and_missing_runs_are_one_line_errors(tmp_path, body, words):
    sweep = make_sweep(tmp_path / "sweep")
    doc = tmp_path / "results.md"
    doc.write_text(body)
    assert_one_line_error(run("trim", "results", sweep, "--doc", doc), *words, code=(1,))


def test_results_without_committed_runs_or_finished_runs_are_one_line_errors(tmp_path):
    doc = make_doc(tmp_path)
    assert_one_line_error(run("trim", "results", "--doc", doc), "no committed runs", code=(1,))
    sweep = tmp_path / "empty"
    sweep.mkdir()
    (sweep / PLAN).write_text(json.dumps({"format": "dietgen-trim-sweep", "version": 1, "runs": []}))
    assert_one_line_error(run("trim", "results", sweep, "--doc", doc), "no run of this sweep has finished",
                          code=(1,))
    assert_one_line_error(run("trim", "results", tmp_path / "sweep", "--doc", doc, "--check"), "no SWEEP_DIR",
                          code=(2,))


# Every run of docs/results.md: (the budget, the configurations and the settings that make each, the seeds) per
# family and preset, as its Set-up says, in the page's order.
THREE = (0, 1, 2)
CLAIM = {"magnitude-global": {"criterion": "magnitude"}}   # the paper's claim: global magnitude only
FAMILIES = {
    "ddsp-small": ({"crop": 4000, "epochs": 8, "patience": 3, "rounds": 12},
                   {"magnitude-global": {"criterion": "magnitude"}, "information-global": {"criterion": "information"},
                    "information-target-global": {"criterion": "information-target"},
                    "information-projection-global": {"criterion": "information-projection"},
                    "magnitude-local": {"criterion": "magnitude", "scope": "local"},
                    "magnitude-global-reinit": {"criterion": "magnitude", "reset": "reinit"},
                    "mask": {"method": "mask", "criterion": "magnitude", "rate": 30.0}}, THREE),
    "sing-tiny": ({"crop": None, "epochs": 5, "patience": 2, "rounds": 9},
                  {"magnitude-global": {"criterion": "magnitude"}, "information-global": {"criterion": "information"},
                   "mask": {"method": "mask", "criterion": "magnitude", "rate": 30.0}}, THREE),
    "wavenet-tiny": ({"crop": 1600, "epochs": 4, "patience": 2, "rounds": 8},
                     {"magnitude-global": {"criterion": "magnitude"},
                      "information-global": {"criterion": "information"}}, THREE),
    "sing-small": ({"crop": None, "epochs": 5, "patience": 2, "rounds": 17}, CLAIM, THREE),
    "wavenet-small": ({"crop": 1600, "epochs": 4, "patience": 2, "rounds": 15}, CLAIM, THREE),
    "wavenet-medium": ({"crop": 1600, "epochs": 4, "patience": 2, "rounds": 15}, CLAIM, (0,)),
}
SHARED = {"rewind": 1, "lr": 0.003, "batch_size": 16, "score_examples": 256, "weight_decay": 1e-4, "floor": 3,
          "time_limit": None, "overrides": {}}
DEFAULTS = {"scope": "global", "method": "trim", "reset": "rewind", "rate": 20.0}


def test_results_sweep_file_expands_to_the_runs_of_the_page(monkeypatch):
    monkeypatch.chdir(ROOT.parent)   # data = "data/notes" is taken from the folder the sweep starts in
    sweep = load_sweep(SWEEP_FILE)
    assert (sweep.device, sweep.cpus, sweep.gpus) == ("cpu", 1.0, 0.0)
    expected = {}
    for model, (budget, configurations, seeds) in FAMILIES.items():
        family, preset = model.split("-")
        for configuration, values in configurations.items():
            for seed in seeds:
                expected[f"{model}-{configuration}-seed{seed}"] = {
                    "family": family, "preset": preset, "data": str(ROOT.parent / "data" / "notes"), "seed": seed,
                    **SHARED, **DEFAULTS, **budget, **values}
    assert [job.name for job in sweep.jobs] == list(expected)   # in the page's order
    assert len(sweep.jobs) == 43   # 12 configurations x 3 seeds, and the paper's claim: 2 x 3 seeds and 1
    for job in sweep.jobs:
        assert job.settings.to_dict() == expected[job.name], job.name
    # Every run falls under one marked table of the page, and every marked table has runs.
    keys = [s.key for s in sections(DOC.read_text(), str(DOC))]
    assert keys == list(FAMILIES)
    assert all(sum(job.name.startswith(f"{key}-") for key in keys) == 1 for job in sweep.jobs)


def test_board_table_rounds_are_dense_within_ten_percent_and_largest():
    """benchmarks/results_checkpoints.py checks these rounds of a run on the boards: the dense one, the most
    compressed within 10 % of the dense loss (a round, not interpolated), the most compressed; each once."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from results_checkpoints import chosen_rounds
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    doc = trim_doc({}, [1, 2, 6, 12], [1, 0.9, 1.1, 1.2])
    assert [(what, r["round"]) for what, r in chosen_rounds(doc)] == [("dense", 0), ("loss <= 1.1", 2),
                                                                      ("largest", 3)]
    doc = trim_doc({}, [1, 3], [1, 1.05])
    assert [(what, r["round"]) for what, r in chosen_rounds(doc)] == [("dense", 0), ("loss <= 1.1", 1)]
