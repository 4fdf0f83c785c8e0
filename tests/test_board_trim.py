"""dietgen trim --board: the board's budget decides when the lottery stops. On tiny DDSP models and synthetic
notes aimed at the Nano 33 BLE: a run whose margin round 2 meets and rounds 0 and 1 miss (taken from the real-time
factors of a run that reaches no margin) stops at round 2 and exports that round as the board's project; a run
that reaches the floor or its last round without fitting fails saying which budget is over and by how much;
the report gains the board table and plot with the budget lines; settings without boards store exactly what
they stored before boards existed."""
from __future__ import annotations

import json
import math

import pytest

from dietgen.data import synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.report.plots import board_fit_figure
from dietgen.trim import lottery
from dietgen.trim.fit import project_name
from dietgen.trim.lottery import BOARD_ROUNDS, TrimSettings, run_lottery
from dietgen.trim.report import board_rows, load_run
from dietgen.trim.sweep import load_sweep
from clirun import assert_one_line_error, run

BOARD = "nano33ble"
CROP = 1600
QUICK = dict(epochs=2, rewind=1, patience=2, batch_size=8, lr=3e-3, crop=CROP, score_examples=4)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The settings trim.json stored before board targets existed, in their order.
SETTINGS_BEFORE_BOARDS = ["family", "preset", "data", "criterion", "scope", "method", "rate", "rounds", "rewind",
                          "reset", "floor", "epochs", "patience", "batch_size", "lr", "weight_decay", "crop",
                          "time_limit", "score_examples", "seed", "overrides"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


def settings(data, **changes) -> TrimSettings:
    return TrimSettings(**{"family": "ddsp", "preset": "tiny", "data": str(data), "criterion": "magnitude",
                           "rate": 30.0, "boards": (BOARD,), **QUICK, **changes})


@pytest.fixture(scope="module")
def unfit(data, tmp_path_factory):
    """Three rounds against margins no round meets (a real-time factor of 0.01, 99.9 % of the RAM kept free):
    the run ends at its last round without fitting."""
    out = tmp_path_factory.mktemp("runs") / "unfit"
    with pytest.raises(DietgenError) as failed:
        run_lottery(settings(data, rounds=3, rtf=0.01, headroom_ram=99.9), out)
    return out, load_run(out), failed.value.message


@pytest.fixture(scope="module")
def fitted(data, unfit, tmp_path_factory):
    """The same trimming with the real-time factor margin between what rounds 1 and 2 reached, 10 % of the RAM
    kept free and the default rounds cap: it must stop at round 2."""
    _, doc, _ = unfit
    rtf = [r["boards"][BOARD]["real_time_factor"] for r in doc["rounds"]]
    assert rtf[0] > rtf[1] > rtf[2]
    out = tmp_path_factory.mktemp("runs") / "fits"
    margin = math.sqrt(rtf[1] * rtf[2])
    result = run_lottery(settings(data, rounds=BOARD_ROUNDS, rtf=margin, headroom_ram=10.0), out)
    return out, result, rtf, margin


def test_the_run_stops_at_the_first_round_that_fits(fitted):
    out, doc, rtf, margin = fitted
    assert doc["stopped"] == f"fits {BOARD}" and json.loads((out / "trim.json").read_text()) == doc
    fits = [r["boards"][BOARD] for r in doc["rounds"]]
    assert [f["fits"] for f in fits] == [False, False, True]
    # The same trimming as the unfit run: the same models, so the same real-time factors.
    assert [f["real_time_factor"] for f in fits] == pytest.approx(rtf)
    assert fits[0]["fails"][0].startswith(f"real-time factor {rtf[0]:.2f} against {margin:.2f}, over by ")
    last = fits[-1]
    assert last["fails"] == [] and last["real_time_factor"] <= margin and last["rtf_limit"] == margin
    assert last["ram_used"] <= last["ram_limit"] and last["flash_used"] <= last["flash_limit"]
    # Resuming a finished run changes nothing.
    assert run_lottery(TrimSettings(**doc["settings"]), out) == doc


def test_the_round_that_fits_is_exported_as_the_boards_project(fitted):
    out, doc, _, _ = fitted
    project = out / project_name(BOARD)
    assert sorted(p.name for p in out.iterdir()) == ["board-nano33ble", "boards.png", "report.md", "report.png",
                                                     "rewind", "round-00", "round-01", "round-02", "trim.json"]
    assert "(nano33ble) from round-02." in (project / "platformio.ini").read_text()
    # The project holds round 2's model, named by its checkpoint as dietgen export names it.
    library = project / "lib" / "round_02"
    assert all((library / name).is_file() for name in ("round_02.h", "round_02.c", "round_02_weights.c"))
    assert (project / "src" / "main.cpp").is_file() and not (project / "lib" / "round_01").exists()


def test_the_report_shows_the_board_view(fitted):
    out, doc, _, margin = fitted
    text = (out / "report.md").read_text()
    assert "## Boards" in text and f"- {BOARD}: fits from round 2; its PlatformIO project: board-nano33ble/" in text
    rows = board_rows(doc)
    assert [(row[0], row[1], row[2]) for row in rows] == [("0", BOARD, "no"), ("1", BOARD, "no"),
                                                          ("2", BOARD, "yes")]
    for row in rows:
        assert "| " + " | ".join(row) + " |" in text
    assert rows[2][3] == f"{doc['rounds'][2]['boards'][BOARD]['real_time_factor']:.3g} / {margin:.3g}"
    assert "![normalised test loss against real-time factor and RAM per board](boards.png)" in text
    assert (out / "boards.png").read_bytes().startswith(PNG_MAGIC)
    ax_time, ax_ram = board_fit_figure([("rounds", doc)]).axes
    fits = doc["rounds"][2]["boards"][BOARD]
    for ax, limit, label in ((ax_time, margin, f"real-time factor {margin:.3g}"),
                             (ax_ram, fits["ram_limit"] / 1024, "RAM limit less 10 % headroom")):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines[label].get_xdata()) == [limit, limit]
        assert "round 2: first fit" in lines


def test_the_last_round_says_which_budget_is_over(unfit):
    out, doc, message = unfit
    last = doc["rounds"][-1]["boards"][BOARD]
    assert not any(r["boards"][BOARD]["fits"] for r in doc["rounds"]) and "stopped" not in doc
    assert message.startswith(f"round 2 (the last of 3 rounds) does not fit {BOARD}: real-time factor "
                              f"{last['real_time_factor']:.2f} against 0.01, over by ")
    assert "; RAM " in message and "less 99.9 % headroom), over by " in message
    assert len(last["fails"]) == 2 and "\n" not in message
    # Nothing is lost: every round is in trim.json and the report; no project for a board nothing fits.
    assert [r["round"] for r in doc["rounds"]] == [0, 1, 2] and (out / "boards.png").is_file()
    assert not (out / project_name(BOARD)).exists()
    with pytest.raises(DietgenError, match="does not fit"):   # resuming says it again
        run_lottery(TrimSettings(**doc["settings"]), out)


def test_the_floor_coming_first_says_which_budget_is_over(data, tmp_path):
    # A floor no layer is above: nothing can be removed after the dense round.
    with pytest.raises(DietgenError) as failed:
        run_lottery(settings(data, rounds=BOARD_ROUNDS, rtf=0.01, floor=10_000), tmp_path / "run")
    doc = load_run(tmp_path / "run")
    rtf = doc["rounds"][0]["boards"][BOARD]["real_time_factor"]
    assert doc["stopped"] == "floor reached" and len(doc["rounds"]) == 1
    assert failed.value.message.startswith(f"round 0 (floor reached) does not fit {BOARD}: real-time factor "
                                           f"{rtf:.2f} against 0.01, over by {100 * (rtf / 0.01 - 1):,.0f} %")


def test_settings_without_boards_store_what_they_stored_before():
    plain = TrimSettings(family="ddsp", preset="tiny", data="data/notes")
    assert list(plain.to_dict()) == SETTINGS_BEFORE_BOARDS
    targeted = TrimSettings(family="ddsp", preset="tiny", data="data/notes", boards=["pico", "uno"], rtf=0.7)
    assert targeted.boards == ("pico", "uno")
    assert list(targeted.to_dict()) == SETTINGS_BEFORE_BOARDS + ["boards", "rtf"]
    assert TrimSettings(**targeted.to_dict()) == targeted


def test_a_run_made_before_boards_existed_resumes(tmp_path):
    plain = TrimSettings(family="ddsp", preset="tiny", data="data/notes")
    stored = {k: plain.to_dict()[k] for k in SETTINGS_BEFORE_BOARDS}
    (tmp_path / "trim.json").write_text(json.dumps({
        "format": "dietgen-trim-run", "version": 1, "settings": stored,
        "dense": {"parameters": 10, "test_loss": 1.0}, "rounds": []}))
    assert lottery._open_run(tmp_path, plain, force=False)["settings"] == stored
    with pytest.raises(DietgenError, match="boards"):
        lottery._open_run(tmp_path, TrimSettings(family="ddsp", preset="tiny", data="data/notes", boards="pico"),
                          force=False)


@pytest.mark.parametrize("changes, words", [
    (dict(boards=("pcio",)), ["'pcio'", "did you mean 'pico'", "dietgen boards"]),
    (dict(boards=("pico",), rtf=0.0), ["rtf 0", "above 0"]),
    (dict(boards=("pico",), rtf=1.5), ["rtf 1.5", "at most 1", "falls behind"]),
    (dict(boards=("pico",), headroom_ram=100.0), ["headroom_ram 100", "below 100"]),
    (dict(rtf=0.7), ["rtf 0.7", "name a board"]),
    (dict(boards=("pico", "pico")), ["named twice"]),
    (dict(boards=("pico",), method="mask"), ["mask method", "never gets smaller"]),
])
def test_bad_board_targets_are_one_line_errors(changes, words):
    with pytest.raises(DietgenError) as failed:
        TrimSettings(family="ddsp", preset="tiny", data="d", criterion="magnitude", **changes).validate()
    for word in words:
        assert word in failed.value.message
    assert "\n" not in failed.value.message


def test_a_sweep_takes_boards(tmp_path):
    (tmp_path / "data").mkdir()
    file = tmp_path / "boards.toml"
    file.write_text(f'family = "ddsp"\npreset = "tiny"\ndata = "{tmp_path / "data"}"\nboards = ["pico"]\n'
                    f'rtf = 0.7\nheadroom_ram = 10\n[grid]\ncriterion = ["magnitude", "information"]\n')
    jobs = load_sweep(file).jobs
    assert [j.settings.boards for j in jobs] == [("pico",), ("pico",)]
    assert {(j.settings.rtf, j.settings.headroom_ram, j.settings.rounds) for j in jobs} == {(0.7, 10.0,
                                                                                            BOARD_ROUNDS)}
    file.write_text(f'family = "ddsp"\npreset = "tiny"\ndata = "{tmp_path / "data"}"\n'
                    f'[grid]\nboards = [["pico"], ["nano33ble", "pico"]]\n')
    assert [j.name for j in load_sweep(file).jobs] == ["ddsp-tiny-pico-seed0", "ddsp-tiny-nano33ble+pico-seed0"]
    for value, words in (("3", ["boards = 3", "list of text"]), ('"pcio"', ["'pcio'", "dietgen boards"])):
        file.write_text(f'family = "ddsp"\npreset = "tiny"\ndata = "{tmp_path / "data"}"\nboards = {value}\n')
        with pytest.raises(DietgenError) as failed:
            load_sweep(file)
        assert all(word in failed.value.message for word in words), failed.value.message


def test_cli_takes_boards_and_margins(tmp_path, monkeypatch):
    seen = []

    def finished(settings, out_dir, **kwargs):
        seen.append(settings)
        record = {"round": 2, "parameters": 1000, "compression": 4.0, "test_loss": 2.2, "normalised_loss": 1.1,
                  "boards": {BOARD: {"fits": True}}}
        kwargs["on_round"](record)
        return {"settings": settings.to_dict(), "stopped": f"fits {BOARD}",
                "rounds": [{**record, "round": n, "boards": {b: {"fits": n == 2} for b in settings.boards}}
                           for n in range(3)]}

    monkeypatch.setattr(lottery, "run_lottery", finished)
    monkeypatch.setattr("dietgen.trim.report.rounds_table", lambda doc: "")
    form = ["trim", "--model", "ddsp", "--preset", "tiny", "--data", tmp_path, "-o", tmp_path / "run"]
    result = run(*form, "--board", BOARD, "--rtf", 0.7, "--headroom-ram", "10%")
    assert result.exit_code == 0, result.output
    assert (seen[0].boards, seen[0].rtf, seen[0].headroom_ram, seen[0].rounds) == ((BOARD,), 0.7, 10.0,
                                                                                   BOARD_ROUNDS)
    assert "round 2: 1,000 parameters" in result.output and f"{BOARD} fits" in result.output
    assert f"stopped after round 2: fits {BOARD} from round 2 (project in {tmp_path / 'run' / 'board-nano33ble'})" \
        in result.output
    run(*form, "--board", BOARD, "--board", "uno", "--headroom-ram", "12.5", "--rounds", 4)
    assert (seen[1].boards, seen[1].headroom_ram, seen[1].rounds) == ((BOARD, "uno"), 12.5, 4)
    run(*form)
    assert (seen[2].boards, seen[2].rounds) == ((), 15)
    assert_one_line_error(run(*form, "--board", BOARD, "--headroom-ram", "ten"), "--headroom-ram ten", "10%",
                          code=(2,))
    assert_one_line_error(run(*form, "--rtf", 0.7), "--rtf", "--board", code=(2,))
    assert_one_line_error(run(*form, "--headroom-ram", "10%"), "--headroom-ram", "--board", code=(2,))
    assert len(seen) == 3
