"""dietgen trim and dietgen trim report: the run folder's report (table, markdown, plot) and the comparison of
runs, on hand-written trim.json documents following the run folder contract; bad input is one line; one real
trimming run end to end on synthetic notes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dietgen.data import render_dataset
from dietgen.errors import DietgenError
from dietgen.report.plots import compression_png
from dietgen.trim.report import compare, load_run, rounds_table, run_label, write_report
from clirun import assert_one_line_error, run

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DENSE_PARAMETERS = 100_000


def trim_doc(compressions, losses, **settings) -> dict:
    """A trim.json document with one round per (compression, normalised loss); dense test loss 2.0."""
    base = {"family": "ddsp", "preset": "tiny", "data": "data/notes", "criterion": "information",
            "scope": "global", "method": "trim", "rate": 20, "rounds": 15, "rewind": 1, "reset": "rewind",
            "floor": 3, "epochs": 100, "patience": 10, "batch_size": 16, "lr": 1e-3, "weight_decay": 1e-4,
            "crop": None, "time_limit": None, "score_examples": 256, "seed": 0, "overrides": {}}
    rounds = []
    for n, (compression, loss) in enumerate(zip(compressions, losses)):
        parameters = round(DENSE_PARAMETERS / compression)
        rounds.append({"round": n, "checkpoint": f"round-{n:02d}", "parameters": parameters,
                       "units": None if settings.get("method") == "mask" else 400 - 60 * n,
                       "weights_left": parameters / DENSE_PARAMETERS, "compression": compression,
                       "macs_per_second": 2_900_000 // (n + 1), "file_bytes": 4 * parameters + 300,
                       "valid_loss": 2.0 * loss, "test_loss": 2.0 * loss, "normalised_loss": loss,
                       "best_epoch": 7, "epochs": 17, "seconds": 12.5})
    return {"format": "dietgen-trim-run", "version": 1, "settings": {**base, **settings},
            "dense": {"parameters": DENSE_PARAMETERS, "test_loss": 2.0}, "rounds": rounds}


def write_run(folder, doc):
    folder.mkdir(parents=True)
    (folder / "trim.json").write_text(json.dumps(doc))
    return folder


GLOBAL = trim_doc([1.0, 2.0, 4.0, 8.0, 16.0, 32.0], [1.0, 0.98, 0.99, 1.02, 1.10, 1.40])
LOCAL = trim_doc([1.0, 2.0, 4.0, 8.0], [1.0, 1.05, 1.2, 1.6], scope="local")


def test_compare_interpolates_in_log_compression():
    rows = compare([GLOBAL, LOCAL])
    assert [r["label"] for r in rows] == ["global", "local"]
    first, second = rows
    assert first["largest_compression"] == 32.0 and first["loss_at_largest"] == pytest.approx(1.40)
    # 5x lies between 4x (0.99) and 8x (1.02): log2(5/4) of the way along the octave.
    assert first["loss_at"]["5x"] == pytest.approx(0.99 + math.log2(5 / 4) * 0.03)
    assert first["loss_at"]["10x"] == pytest.approx(1.02 + math.log2(10 / 8) * 0.08)
    assert first["loss_at"]["20x"] == pytest.approx(1.10 + math.log2(20 / 16) * 0.30)
    assert second["loss_at"]["5x"] == pytest.approx(1.2 + math.log2(5 / 4) * 0.4)
    assert second["loss_at"]["10x"] is None and second["loss_at"]["20x"] is None
    assert second["largest_compression"] == 8.0 and second["finished_rounds"] == 4
    # The largest compression of a round within 10 % of the dense loss, not interpolated.
    assert first["compression_within"] == 16.0 and second["compression_within"] == 2.0


def test_compare_hits_a_round_exactly_and_tells_alike_runs_apart():
    exact = trim_doc([1.0, 5.0], [1.0, 1.3])
    assert compare([exact])[0]["loss_at"] == {"5x": pytest.approx(1.3), "10x": None, "20x": None, "100x": None}
    assert [r["label"] for r in compare([exact, exact], names=["a", "b"])] == [
        "ddsp tiny information global trim rewind 1 20% (a)", "ddsp tiny information global trim rewind 1 20% (b)"]


def test_labels_name_what_differs():
    assert run_label(GLOBAL) == "ddsp tiny information global trim rewind 1 20%"
    reinit = trim_doc([1.0], [1.0], reset="reinit", method="mask", criterion="magnitude")
    assert run_label(reinit, [GLOBAL, reinit]) == "magnitude mask reinit"
    assert run_label(GLOBAL, [GLOBAL, trim_doc([1.0], [1.0], seed=3)]) == "seed 0"


def test_rounds_table_columns_and_mask_units():
    text = rounds_table(GLOBAL)
    lines = text.splitlines()
    for header in ("round", "parameters", "units left", "MACs per second", "compression", "file size",
                   "test loss", "normalised test loss"):
        assert header in lines[0]
    assert len(lines) == 2 + 6
    assert "2.9 M" in lines[2] and "1x" in lines[2] and "100,000" in lines[2] and "1.000" in lines[2]
    assert "32x" in lines[-1] and "1.400" in lines[-1] and "3,125" in lines[-1]
    masked = rounds_table(trim_doc([1.0, 2.0], [1.0, 1.1], method="mask")).splitlines()
    assert masked[3].split()[2] == "-"


def test_write_report_writes_markdown_and_png(tmp_path):
    write_report(tmp_path, GLOBAL)
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# ddsp tiny: structured lottery trimming, information criterion, global")
    assert "| round | parameters |" in text and "| 5 | 3,125 |" in text and "report.png" in text
    assert (tmp_path / "report.png").read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "report.png"]   # no temporary left


def test_compression_plot_is_a_png_and_depends_on_the_runs():
    one = compression_png([("global", [GLOBAL])])
    two = compression_png([("global", [GLOBAL]), ("local", [LOCAL])])
    seeds = compression_png([("global", [GLOBAL, trim_doc([1.0, 2.0, 4.1], [1.0, 1.1, 1.2], seed=1)])])
    assert one.startswith(PNG_MAGIC) and two.startswith(PNG_MAGIC) and seeds.startswith(PNG_MAGIC)
    assert len({one, two, seeds}) == 3 and compression_png([("global", [GLOBAL])]) == one


def test_runs_differing_only_by_seed_are_one_configuration_with_a_spread():
    other_seed = trim_doc([1.0, 2.0, 4.0, 8.0, 16.0], [1.0, 1.0, 1.1, 1.3, 1.5], seed=1)
    rows = compare([GLOBAL, LOCAL, other_seed])
    assert [(r["label"], r["seeds"]) for r in rows] == [("global", 2), ("local", 1)]
    t = math.log(5 / 4) / math.log(2)     # 5x lies between the 4x and 8x rounds of both seeds
    seed0, seed1 = 0.99 + t * (1.02 - 0.99), 1.1 + t * (1.3 - 1.1)
    assert rows[0]["loss_at"]["5x"] == pytest.approx((seed0 + seed1) / 2)
    assert rows[0]["loss_range_at"]["5x"] == [pytest.approx(seed0), pytest.approx(seed1)]
    assert rows[0]["finished_rounds"] == 5 and rows[0]["loss_at"]["20x"] is None   # seed 1 stopped at 16x


def test_report_of_two_runs_writes_the_overlay_and_json(tmp_path):
    a = write_run(tmp_path / "a", GLOBAL)
    b = write_run(tmp_path / "b", LOCAL)
    png = tmp_path / "overlay.png"
    result = run("trim", "report", a, b, "-o", png)
    assert result.exit_code == 0, result.output
    assert "at 5x (80 % removed)" in result.output and "local" in result.output
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    result = run("trim", "report", a, b / "trim.json", "-o", png, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["label"] for r in doc["comparison"]] == ["global", "local"]
    assert doc["comparison"][1]["loss_at"]["10x"] is None and doc["comparison"][0]["finished_rounds"] == 6
    assert doc["comparison"][1]["runs"] == [str(b / "trim.json")]
    assert doc["runs"][0]["rounds"] == GLOBAL["rounds"]
    assert doc["plot"] == str(png)


def test_report_of_one_run_prints_its_rounds(tmp_path, monkeypatch):
    a = write_run(tmp_path / "a", GLOBAL)
    monkeypatch.chdir(tmp_path)
    result = run("trim", "report", a)
    assert result.exit_code == 0, result.output
    assert "units left" in result.output and "wrote compare.png" in result.output
    assert (tmp_path / "compare.png").read_bytes().startswith(PNG_MAGIC)


def test_load_run_refuses_what_is_not_a_trim_run(tmp_path):
    with pytest.raises(DietgenError, match="no such folder"):
        load_run(tmp_path / "nope")
    with pytest.raises(DietgenError, match="no trim.json"):
        load_run(tmp_path)
    (tmp_path / "trim.json").write_text('{"format": "dietgen-train"}')
    with pytest.raises(DietgenError, match="not a trim run"):
        load_run(tmp_path)
    (tmp_path / "trim.json").write_text("{")
    with pytest.raises(DietgenError, match="cannot be read as JSON"):
        load_run(tmp_path)
    (tmp_path / "trim.json").write_text(json.dumps({**GLOBAL, "version": 2}))
    with pytest.raises(DietgenError, match="version 2"):
        load_run(tmp_path)
    broken = json.loads(json.dumps(GLOBAL))
    del broken["rounds"][2]["compression"]
    (tmp_path / "trim.json").write_text(json.dumps(broken))
    with pytest.raises(DietgenError, match="round 2 lacks compression"):
        load_run(tmp_path / "trim.json")


def test_bad_input_is_one_line(tmp_path):
    assert_one_line_error(run("trim", "report", tmp_path / "missing"), "no such folder", code=(1,))
    assert_one_line_error(run("trim", "report", tmp_path), "not a trim run", code=(1,))
    good = write_run(tmp_path / "a", GLOBAL)
    assert_one_line_error(run("trim", "report", good, "-o", tmp_path / "plot.pdf"), ".png", code=(2,))
    assert_one_line_error(run("trim", "--rate", 30, "report", good), "--rate", "no run options", code=(2,))
    form = ["--preset", "tiny", "--data", tmp_path, "-o", tmp_path / "run"]
    assert_one_line_error(run("trim", *form), "missing --model", code=(2,))
    assert_one_line_error(run("trim", "--criterion", "magnitude"), "--model", "--preset", "--data", "--output",
                          code=(2,))
    form = ["--model", "ddsp", *form]
    for rate in (0, 100, -5, 150):
        assert_one_line_error(run("trim", *form, "--rate", rate), "rate", "between 0 and 100")
    assert_one_line_error(run("trim", *form, "--criterion", "entropy"), "entropy", "information-target")
    assert_one_line_error(run("trim", *form, "--scope", "layer"), "global, local")
    assert_one_line_error(run("trim", *form, "--rewind", 5, "--epochs", 3), "rewind 5")
    assert_one_line_error(run("trim", *form, "--lr", 0), "--lr", code=(2,))
    assert_one_line_error(run("trim", *form, "--crop", -1), "--crop", code=(2,))
    assert not (tmp_path / "run").exists()


def test_help_names_every_criterion():
    from dietgen.trim import CRITERIA
    text = " ".join(run("trim", "--help").output.split())
    for criterion in CRITERIA:
        assert criterion in text


def test_trim_run_end_to_end(tmp_path):
    """Three rounds of a tiny DDSP on notes rendered with FluidSynth, scored by the paper's information
    criterion: each round removes 20 % of the units left, the model shrinks, the run folder follows the contract
    and reports, and rerunning the finished command changes nothing."""
    data = tmp_path / "data"
    render_dataset(data, SOUNDFONT, instruments=(0, 40), pitches=(52, 55, 57, 60, 64, 67), velocities=(60, 120),
                   seconds=0.512, release=0.128)
    out = tmp_path / "run"
    form = ["trim", "--model", "ddsp", "--preset", "tiny", "--data", data, "-o", out, "--rounds", 3, "--epochs", 2,
            "--rewind", 1, "--criterion", "information", "--rate", 20, "--batch-size", 4, "--crop", 0.2]
    result = run(*form)
    assert result.exit_code == 0, result.output
    assert "round 2:" in result.output and "normalised test loss" in result.output
    doc = load_run(out)
    rounds = doc["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    units = [r["units"] for r in rounds]
    assert units[1] == units[0] - round(0.2 * units[0])              # 64 -> 51: no layer reaches its floor yet
    assert 0 < units[1] - units[2] <= round(0.2 * units[1])          # the floor may keep a few back
    parameters = [r["parameters"] for r in rounds]
    assert parameters[0] == doc["dense"]["parameters"] > parameters[1] > parameters[2]
    assert [r["compression"] for r in rounds] == [pytest.approx(parameters[0] / p) for p in parameters]
    assert rounds[2]["file_bytes"] < rounds[0]["file_bytes"] and rounds[2]["macs_per_second"] < \
        rounds[0]["macs_per_second"]
    for name in ("round-00", "round-01", "round-02", "rewind"):
        assert (out / name / "config.json").is_file() and (out / name / "model.safetensors").is_file()
    assert (out / "report.png").read_bytes().startswith(PNG_MAGIC)
    assert "| 2 |" in (out / "report.md").read_text()
    resumed = run(*form, "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["rounds"] == rounds


def test_interrupted_run_says_where_it_resumes(tmp_path, monkeypatch):
    import dietgen.trim.lottery as lottery

    def interrupted(settings, out_dir, **kwargs):
        write_run(Path(out_dir), trim_doc([1.0, 1.25], [1.0, 1.01]))
        kwargs["on_round"](GLOBAL["rounds"][1])
        raise KeyboardInterrupt

    monkeypatch.setattr(lottery, "run_lottery", interrupted)
    form = ["--model", "ddsp", "--preset", "tiny", "--data", tmp_path, "--criterion", "magnitude"]
    result = run("trim", *form, "-o", tmp_path / "a")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert result.output.splitlines()[-1] == "interrupted: rerun the same command to resume from round 2"
    result = run("trim", *form, "-o", tmp_path / "b", "--force")
    assert result.output.splitlines()[-1].endswith("rerun the same command without --force to resume from round 2")


def test_run_form_passes_the_settings_and_prints_the_rounds(tmp_path, monkeypatch):
    import dietgen.trim.lottery as lottery
    seen = []

    def finished(settings, out_dir, **kwargs):
        seen.append(settings)
        for record in GLOBAL["rounds"]:
            kwargs["on_round"](record)
        return GLOBAL

    monkeypatch.setattr(lottery, "run_lottery", finished)
    form = ["--model", "ddsp", "--preset", "tiny", "--data", tmp_path, "-o", tmp_path / "run"]
    result = run("trim", *form, "--crop", 0.1, "--set", "hidden=8")
    assert result.exit_code == 0, result.output
    assert "round 5: 3,125 parameters, 32x compression, test loss 2.8, normalised 1.400" in result.output
    assert "normalised test loss" in result.output and "round-05" in result.output
    assert (seen[0].criterion, seen[0].crop, seen[0].rate) == ("information", 1600, 20)   # 0.1 s: 10 frames
    assert seen[0].overrides == {"hidden": 8}
    result = run("trim", *form, "--method", "mask", "--json")
    assert seen[1].criterion == "magnitude" and json.loads(result.stdout) == GLOBAL


def test_units_lists_what_tracing_finds():
    result = run("trim", "units", "examples/wavenet")
    assert result.exit_code == 0, result.output
    assert "blocks.0.skip, blocks.1.skip" in result.output            # the skip sum is one group
    assert result.output.splitlines()[-1].startswith("wavenet: 100 trimmable units in 12 groups")
    doc = json.loads(run("trim", "units", "dietgen.models.demo:DemoModel", "--shape", "x=1x1x16", "--json").output)
    groups = {g["group"]: g for g in doc["groups"]}
    assert groups["lstm.l1"]["tied_with"] == "lstm" and groups["gru.l0"]["units"] == 12
    assert doc["units"] == sum(g["units"] for g in doc["groups"])
    assert_one_line_error(run("trim", "units", "dietgen.models.demo:DemoModel"), "--shape", code=(2,))
