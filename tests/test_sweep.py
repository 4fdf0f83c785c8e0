"""dietgen trim sweep: a sweep file expands into named runs and is checked whole before anything runs (one-line
errors naming the key); trim report reads a sweep folder; and a local Ray runs two tiny trim jobs through the
CLI, skips them when rerun, and reports a failed job without stopping the others."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dietgen.data import synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.trim.report import load_run
from dietgen.trim.sweep import PLAN, STATUS, load_plan, load_sweep
from clirun import assert_one_line_error, run
from test_trim_cli import trim_doc, write_run

# One dense round of one epoch on the tiny preset: the cheapest trim run there is.
TINY = """family = "ddsp"
preset = "tiny"
data = "{data}"
rounds = 1
epochs = 1
rewind = 1
patience = 1
batch_size = 8
score_examples = 4
crop = 0.1
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


def sweep_file(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_grid_blocks_and_seeds_expand_into_named_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = sweep_file(tmp_path, """
family = "ddsp"
preset = "small"
data = "data/notes"
rate = 25
crop = 0.25
seeds = [0, 1]

[[grid]]
criterion = ["magnitude", "information"]
scope = ["global", "local"]

[[grid]]           # the unstructured baseline, its own rate and seeds; named by its method, not its rate
method = ["mask"]
rate = 30
seeds = [5]
""")
    sweep = load_sweep(path)
    names = [job.name for job in sweep.jobs]
    # Named by family, preset and every setting a grid block lists, in TrimSettings' order; then the seed.
    assert names == [f"ddsp-small-{c}-{s}-seed{n}" for c in ("magnitude", "information")
                     for s in ("global", "local") for n in (0, 1)] + ["ddsp-small-mask-seed5"]
    first, mask = sweep.jobs[0].settings, sweep.jobs[-1].settings
    assert (first.rate, first.crop, first.seed, first.data) == (25.0, 4000, 0, str(tmp_path / "data" / "notes"))
    # As dietgen trim: the mask method defaults to magnitude, the others to information.
    assert (mask.method, mask.criterion, mask.rate, mask.seed) == ("mask", "magnitude", 30.0, 5)
    assert (sweep.device, sweep.cpus, sweep.gpus) == ("cpu", 1.0, 0.0)
    gpu = load_sweep(sweep_file(tmp_path, 'family = "sing"\npreset = "tiny"\ndata = "d"\ndevice = "cuda"\n'
                                          'job_cpus = 4\n[grid]\noverrides = [{hidden = 16}, {hidden = 24}]\n'))
    assert [j.name for j in gpu.jobs] == ["sing-tiny-hidden16-seed0", "sing-tiny-hidden24-seed0"]
    assert (gpu.device, gpu.cpus, gpu.gpus, gpu.jobs[1].settings.overrides) == ("cuda", 4.0, 1.0, {"hidden": 24})


def test_committed_sweeps_reproduce_the_papers_grid(root):
    paper = load_sweep(root / "examples" / "sweeps" / "paper_scale.toml")
    settings = [job.settings for job in paper.jobs]
    assert (len(settings), paper.device, paper.gpus) == (3 * 3 * 2 * 3, "cuda", 1.0)
    assert {(s.family, s.criterion, s.scope, s.seed) for s in settings} == {
        (f, c, g, n) for f in ("ddsp", "sing", "wavenet") for c in ("magnitude", "information", "information-target")
        for g in ("global", "local") for n in (0, 1, 2)}
    assert {(s.preset, s.rate, s.rounds, s.method) for s in settings} == {("paper", 25.0, 15, "trim")}
    small = load_sweep(root / "examples" / "sweeps" / "cpu_small.toml")
    assert (len(small.jobs), small.device, small.gpus) == (8, "cpu", 0.0)
    assert {j.settings.preset for j in small.jobs} == {"tiny"}


@pytest.mark.parametrize("text, words", [
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\nepoch = 3\n', ["unknown key 'epoch'"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[grid]\ncriteria = ["magnitude"]\n', ["grid", "'criteria'"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\nrate = "fast"\n', ["rate = 'fast'", "number"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[grid]\nrate = [20, 120]\n', ["ddsp-tiny-rate120-seed0",
                                                                                 "rate 120", "between 0 and 100"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[grid]\nscope = ["global", "layer"]\n', ["scope 'layer'"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[grid]\nscope = []\n', ["scope = []"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\nseeds = [0, 0]\n', ["seeds", "repeated"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\nseeds = 3\n', ["seeds = 3", "list"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\nepochs = 2.5\n', ["epochs = 2.5", "whole number"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\ncrop = -1\n', ["crop = -1", "seconds"]),
    ('family = "ddsp"\npreset = "tiny"\n', ["no data"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\ndevice = "cuda:1"\n', ["device = 'cuda:1'", "cpu or cuda"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\njob_gpus = 1\n', ["job_gpus", "cuda"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[grid]\nscope = ["global", "global"]\n',
     ["two runs", "ddsp-tiny-global-seed0"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\n[[grid]]\nrate = 20\n[[grid]]\nrate = 30\n',
     ["two runs", "ddsp-tiny-seed0", "as a list"]),
    ('family = "ddsp"\npreset = "tiny"\ndata = "d"\ngrid = 3\n', ["grid = 3"]),
    ('family = "ddsp"\npreset = tiny\n', ["not valid TOML"]),
])
def test_bad_sweep_files_are_one_line_naming_the_key(tmp_path, text, words):
    assert_one_line_error(run("trim", "sweep", sweep_file(tmp_path, text), "-o", tmp_path / "out"), *words,
                          code=(1,))
    assert not (tmp_path / "out").exists()


def test_what_the_runs_need_is_checked_before_ray_starts(tmp_path, data):
    base = TINY.format(data=data)
    assert_one_line_error(run("trim", "sweep", sweep_file(tmp_path, base), "--max-parallel", 0), "--max-parallel",
                          code=(2,))
    bad_preset = base.replace('preset = "tiny"', 'preset = "huge"')
    assert_one_line_error(run("trim", "sweep", sweep_file(tmp_path, bad_preset), "-o", tmp_path / "out"),
                          "ddsp-huge-seed0", "unknown ddsp preset 'huge'", code=(1,))
    bad_override = base + "[overrides]\nwidth = 3\n"
    assert_one_line_error(run("trim", "sweep", sweep_file(tmp_path, bad_override), "-o", tmp_path / "out"),
                          "width", code=(1,))
    assert not (tmp_path / "out").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert_one_line_error(run("trim", "sweep", sweep_file(tmp_path, base), "-o", tmp_path / "busy"),
                          "holds no sweep", code=(1,))


def test_report_reads_every_started_run_of_a_sweep_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = {"format": "dietgen-trim-sweep", "version": 1, "runs": [
        {"name": "ddsp-tiny-global-seed0", "settings": {}}, {"name": "ddsp-tiny-local-seed0", "settings": {}},
        {"name": "ddsp-tiny-global-seed1", "settings": {}}]}
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / PLAN).write_text(json.dumps(plan))
    write_run(tmp_path / "sweep" / "ddsp-tiny-global-seed0", trim_doc([1.0, 4.0, 16.0], [1.0, 1.0, 1.2]))
    write_run(tmp_path / "sweep" / "ddsp-tiny-local-seed0", trim_doc([1.0, 4.0], [1.0, 1.3], scope="local"))
    result = run("trim", "report", "sweep", "-o", "compare.png")
    assert result.exit_code == 0, result.output
    assert "sweep: 1 run(s) of the sweep have not finished a round yet; left out" in result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:4]]
    assert rows == ["global", "local"] and (tmp_path / "compare.png").is_file()
    doc = json.loads(run("trim", "report", "sweep", "--json").stdout)
    assert [r["path"] for r in doc["runs"]] == ["sweep/ddsp-tiny-global-seed0", "sweep/ddsp-tiny-local-seed0"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / PLAN).write_text(json.dumps({**plan, "runs": plan["runs"][2:]}))
    assert_one_line_error(run("trim", "report", "empty"), "no run of this sweep", code=(1,))
    (tmp_path / "empty" / PLAN).write_text("{}")
    with pytest.raises(DietgenError, match="not a version-1 sweep plan"):
        load_plan(tmp_path / "empty")


def test_ray_is_imported_only_when_a_sweep_runs():
    code = ("import sys, dietgen.cli, dietgen.trim.sweep, dietgen.trim.report, dietgen.cli.trim; "
            "print('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_local_ray_sweep_runs_resumes_and_reports(tmp_path, data, monkeypatch):
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    two = sweep_file(tmp_path, TINY.format(data=data) + '[grid]\ncriterion = ["magnitude", "activation"]\n')
    out = tmp_path / "sweep"
    names = ["ddsp-tiny-magnitude-seed0", "ddsp-tiny-activation-seed0"]
    result = run("trim", "sweep", two, "-o", out, "--max-parallel", 2)
    assert result.exit_code == 0, result.output
    assert "2 runs, 0 already finished, 2 to run on a local Ray" in result.stdout
    ended = [line.split(":")[0].split() for line in result.stdout.splitlines() if line.startswith("[")]
    assert [n for n, _ in ended] == ["[1/2]", "[2/2]"] and sorted(name for _, name in ended) == sorted(names)
    for name in names:
        doc = load_run(out / name)
        assert [r["round"] for r in doc["rounds"]] == [0] and doc["settings"]["seed"] == 0
    assert [r["name"] for r in load_plan(out)["runs"]] == names
    status = json.loads((out / STATUS).read_text())["runs"]
    assert {n: s["state"] for n, s in status.items()} == {n: "finished" for n in names}
    stamps = [(out / n / "trim.json").stat().st_mtime_ns for n in names]

    again = run("trim", "sweep", two, "-o", out)
    assert again.exit_code == 0, again.output
    assert "2 runs, 2 already finished, nothing to run" in again.stdout
    assert [(out / n / "trim.json").stat().st_mtime_ns for n in names] == stamps

    report = run("trim", "report", out, "-o", tmp_path / "compare.png")
    assert report.exit_code == 0, report.output
    assert [line.split()[0] for line in report.stdout.splitlines()[2:4]] == ["magnitude", "activation"]

    # A second seed for both; one of the new run folders holds something else, so that job fails alone.
    three = sweep_file(tmp_path, TINY.format(data=data) + 'seeds = [0, 1]\n[grid]\n'
                                                         'criterion = ["magnitude", "activation"]\n', "more.toml")
    (out / "ddsp-tiny-activation-seed1").mkdir()
    (out / "ddsp-tiny-activation-seed1" / "notes.txt").write_text("not a run")
    failed = run("trim", "sweep", three, "-o", out)
    assert failed.exit_code == 1, failed.output
    assert "4 runs, 2 already finished, 2 to run" in failed.stdout
    assert failed.stderr.splitlines()[-1].startswith("failed ddsp-tiny-activation-seed1: ")
    assert "holds no trim run (notes.txt)" in failed.stderr.splitlines()[-1]
    assert "3 of 4 runs finished" in failed.stdout
    assert [r["round"] for r in load_run(out / "ddsp-tiny-magnitude-seed1")["rounds"]] == [0]

    # The runs already made keep their settings: a changed sweep file is refused before anything runs.
    changed = sweep_file(tmp_path, TINY.format(data=data).replace("epochs = 1", "epochs = 2") +
                         '[grid]\ncriterion = ["magnitude", "activation"]\n', "changed.toml")
    assert_one_line_error(run("trim", "sweep", changed, "-o", out), "ddsp-tiny-magnitude-seed0", "epochs 1",
                          code=(1,))

    # A run whose folder is deleted is made again with the settings the sweep file now gives it.
    alone = sweep_file(tmp_path, TINY.format(data=data).replace("epochs = 1", "epochs = 2") +
                       '[grid]\ncriterion = ["magnitude"]\n', "alone.toml")
    assert_one_line_error(run("trim", "sweep", alone, "-o", out), "delete the run's folder", code=(1,))
    shutil.rmtree(out / "ddsp-tiny-magnitude-seed0")
    remade = run("trim", "sweep", alone, "-o", out)
    assert remade.exit_code == 0, remade.output
    assert load_run(out / "ddsp-tiny-magnitude-seed0")["settings"]["epochs"] == 2
