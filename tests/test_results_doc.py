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
from dietgen.report.plots import board_fit_figure
from dietgen.trim.report import compare, compare_table, selection_label
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


def make_sweep(folder: Path, runs: dict = RUNS, rounds: dict | None = None) -> Path:
    """A sweep folder of ``runs`` (name: (settings, compressions, losses, stopped)); ``rounds`` gives some runs'
    round records outright."""
    plan = {"format": "dietgen-trim-sweep", "version": 1, "device": "cpu", "job_cpus": 1, "job_gpus": 0,
            "runs": [{"name": name, "settings": settings(name, **values)} for name, (values, *_) in runs.items()]}
    folder.mkdir()
    (folder / PLAN).write_text(json.dumps(plan))
    for name, (values, compressions, losses, stopped) in runs.items():
        (folder / name).mkdir()
        doc = trim_doc(settings(name, **values), compressions, losses, stopped)
        for record, fits in zip(doc["rounds"], (rounds or {}).get(name, [])):
            record["boards"] = fits
        (folder / name / "trim.json").write_text(json.dumps(doc))
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
    ("<!-- results: wavenet-tiny -->\n<!-- /results -->\n", ["no finished run without boards named wavenet-tiny-*"]),
    ("<!-- fits: ddsp-small -->\n<!-- /fits -->\n", ["no finished run with boards named ddsp-small-*"]),
    ("<!-- fits: ddsp-small -->\n<!-- /results -->\n", ["<!-- /results --> closes no <!-- results: KEY -->"]),
    ("<!-- fits: a -->\n<!-- /fits -->\n<!-- results: a -->\n<!-- fits: a -->\n", ["fits marker opens before",
                                                                                   "results marker of line 3"]),
])
def test_bad_markers_and_missing_runs_are_one_line_errors(tmp_path, body, words):
    sweep = make_sweep(tmp_path / "sweep")
    doc = tmp_path / "results.md"
    doc.write_text(body)
    assert_one_line_error(run("trim", "results", sweep, "--doc", doc), *words, code=(1,))


def fit(fits: bool, rtf: float, ram: int = 60_000, over: str = "") -> dict:
    return {"fits": fits, "real_time_factor": rtf, "rtf_limit": 0.5, "ram_used": ram, "ram_limit": 262_144,
            "flash_used": 200_000, "flash_limit": 983_040, "estimated": False,
            "fails": [] if fits else [over or f"real-time factor {rtf:.2f} against 0.50"]}


# A plain run naming two boards (b1 fits from round 1; b2 never, up to the floor at round 2), two seeds of a
# cost-aware run aiming at b1 (fits at rounds 1 and 2), and a compression run beside them.
BOARD_RUNS = {
    "ddsp-small-magnitude-global-seed0": ({"criterion": "magnitude"}, [1, 2, 4, 8], [1, 0.9, 1.0, 1.2], None),
    "ddsp-small-b1+b2-plain-seed0": ({"criterion": "magnitude", "boards": ("b1", "b2"), "rtf": 0.5},
                                     [1, 2, 3], [1, 0.95, 1.3], "floor reached"),
    "ddsp-small-b1-cost-seed0": ({"criterion": "magnitude", "boards": ("b1",), "rtf": 0.5, "selection": "cost"},
                                 [1, 2], [1, 0.9], "fits b1"),
    "ddsp-small-b1-cost-seed1": ({"criterion": "magnitude", "boards": ("b1",), "rtf": 0.5, "selection": "cost"},
                                 [1, 2, 2.5], [1, 1.05, 1.1], "fits b1"),
}
BOARD_ROUNDS = {
    "ddsp-small-b1+b2-plain-seed0": [{"b1": fit(False, 0.8), "b2": fit(False, 2.0)},
                                     {"b1": fit(True, 0.4), "b2": fit(False, 1.2)},
                                     {"b1": fit(True, 0.3), "b2": fit(False, 0.9)}],
    "ddsp-small-b1-cost-seed0": [{"b1": fit(False, 0.8)}, {"b1": fit(True, 0.3, 40_000)}],
    "ddsp-small-b1-cost-seed1": [{"b1": fit(False, 0.8)}, {"b1": fit(False, 0.6)}, {"b1": fit(True, 0.45)}],
}


def test_fits_tables_compare_each_boards_first_fit_and_results_tables_leave_board_runs_out(tmp_path):
    sweep = make_sweep(tmp_path / "sweep", BOARD_RUNS, BOARD_ROUNDS)
    doc = tmp_path / "results.md"
    doc.write_text("<!-- results: ddsp-small -->\n<!-- /results -->\n\n<!-- fits: ddsp-small -->\n<!-- /fits -->\n")
    done = update_doc(doc, sweep)
    assert done.tables == ("ddsp-small", "ddsp-small (board fits)")
    assert [p.name for p in done.plots] == ["ddsp-small.png", "ddsp-small-boards.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in done.plots)
    results, fits = doc.read_text().split("<!-- fits: ddsp-small -->\n")
    assert results.count("\n| ") == 2   # header and the one compression run: board runs are not compared there
    lines = fits.splitlines()
    assert lines[0].startswith("| board | selection | seeds | first fitting round | compression there |")
    assert lines[2:5] == [
        "| b1 | plain | 1 | 1 | 2x | 0.950 | 0.4 / 0.5 | 58.6 KiB / 256.0 KiB | 195.3 KiB / 960.0 KiB | - |",
        # Seed 0 fits at round 1 (2x, 0.9), seed 1 at round 2 (2.5x, 1.1): means with (min-max).
        "| b1 | cost-aware | 2 | 1.5 (1-2) | 2.25x (2x-2.5x) | 1.000 (0.900-1.100) | 0.375 (0.3-0.45) / 0.5 | "
        "48.8 KiB (39.1 KiB-58.6 KiB) / 256.0 KiB | 195.3 KiB / 960.0 KiB | - |",
        # No round fits b2: the last round's figures, and what is over there.
        "| b2 | plain | 1 | none (last: 2) | 3x | 1.300 | 0.9 / 0.5 | 58.6 KiB / 256.0 KiB | 195.3 KiB / 960.0 KiB | "
        "round 2 (floor reached): real-time factor 0.90 against 0.50 |"]
    assert lines[5] == "<!-- /fits -->"
    check_doc(doc)
    figure = board_fit_figure([(selection_label(d), d) for d in
                               (json.loads((sweep / name / "trim.json").read_text()) for name in BOARD_ROUNDS)])
    b1_time, _, b2_time, _ = figure.axes
    labels = [line.get_label() for line in b1_time.get_lines()]
    # One line per run naming b1, each first fit starred and named; the plain run alone names b2.
    assert labels.count("plain") == 1 and labels.count("cost-aware") == 2
    assert "round 1: first fit, plain" in labels and "round 2: first fit, cost-aware" in labels
    assert "real-time factor 0.5" in labels
    assert [line.get_label() for line in b2_time.get_lines()] == ["plain", "real-time factor 0.5"]


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
TRIO = ("rpipico2", "nano33ble", "teensy41")
FITS = {"ddsp-small": {"crop": 4000, "epochs": 8, "patience": 3}, "sing-small": {"crop": None, "epochs": 5,
                                                                                "patience": 2}}


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
    # Trim until it fits: per family, one plain run naming the three boards and one cost-aware run per board.
    for model, budget in FITS.items():
        family, preset = model.split("-")
        for selection, chosen in [("plain", TRIO)] + [("cost", [board]) for board in TRIO]:
            expected[f"{model}-magnitude-global-{'+'.join(chosen)}-{selection}-seed0"] = {
                "family": family, "preset": preset, "data": str(ROOT.parent / "data" / "notes"), "seed": 0,
                **SHARED, **DEFAULTS, **budget, "criterion": "magnitude", "rounds": 30, "boards": list(chosen),
                "rtf": 0.5, **({"selection": selection} if selection == "cost" else {})}   # plain: the default
    assert [job.name for job in sweep.jobs] == list(expected)   # in the page's order
    assert len(sweep.jobs) == 51   # 12 configurations x 3 seeds, the paper's claim: 2 x 3 seeds and 1; 8 fits
    for job in sweep.jobs:
        assert job.settings.to_dict() == expected[job.name], job.name
    # Every run falls under one marked table of the page (runs with boards under a fits table, the others under
    # a results table), and every marked table has runs.
    marked = sections(DOC.read_text(), str(DOC))
    assert [s.key for s in marked if s.kind == "results"] == list(FAMILIES)
    assert [s.key for s in marked if s.kind == "fits"] == list(FITS)
    for job in sweep.jobs:
        kind = "fits" if job.settings.boards else "results"
        assert sum(s.kind == kind and job.name.startswith(f"{s.key}-") for s in marked) == 1, job.name


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
