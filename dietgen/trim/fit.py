"""Does a trim round fit the boards a run aims at (dietgen trim --board)? Each round's checkpoint is compiled
once and checked against every named board by dietgen.budget.check, as `dietgen check` does (flash and stack
measured from the cross build where the board's compiler is installed, else estimated), with the run's margins:

    real-time factor <= rtf                                  (time per block over the block's deadline)
    RAM used         <= the board's RAM limit x (1 - headroom_ram / 100)
    flash used       <= the board's flash limit

A board whose time per block has no estimate (no cost table for its core) does not fit: nothing says the model
keeps up there. The run stops at the first round that fits every named board; each board's first fitting
round is exported as its PlatformIO project (dietgen.deploy.export, what `dietgen export --board` calls) into
RUN/board-<id>/.

The budget, the compiler and the project writer are imported when first used: dietgen.trim imports without
them, and they never import dietgen.trim."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from dietgen.errors import DietgenError

PROJECT = "board-{}"


def project_name(board: str) -> str:
    """The folder of ``board``'s exported project inside the run folder."""
    return PROJECT.format(board)


def check_round(checkpoint: Path, boards: Iterable[str], rtf: float, headroom_ram: float) -> dict[str, dict]:
    """Per board id, how the checkpoint's model fares against it with the margins (see board_fit)."""
    from dietgen.budget import check
    from dietgen.pipeline import compile_model
    compiled = compile_model(str(checkpoint))   # as `dietgen check CHECKPOINT` compiles it
    return {board: board_fit(check(board=board, compiled=compiled), rtf, headroom_ram) for board in boards}


def ram_limit(report, headroom_ram: float) -> float:
    """The RAM a model may use on the report's board: its limit less the run's headroom (percent)."""
    return report.ram.limit * (1 - headroom_ram / 100)


def board_fit(report, rtf: float, headroom_ram: float) -> dict[str, Any]:
    """A round record's entry for one board, from its dietgen.budget.BudgetReport: whether it fits with the
    margins, the figures the fit was decided on, and what fails, one sentence per budget."""
    from dietgen.report.table import human_bytes
    ram_most = ram_limit(report, headroom_ram)
    headroom = f" ({human_bytes(report.ram.limit)} less {headroom_ram:g} % headroom)" if headroom_ram else ""
    fails = []
    if report.time is None:
        why = next((note for note in report.notes if "time per block" in note), "no time estimate")
        fails.append(f"real-time factor unknown ({why})")
    elif report.rtf > rtf:
        fails.append(f"real-time factor {_factor(report.rtf)} against {_factor(rtf)}, over by "
                     f"{_over(report.rtf, rtf)}")
    if report.ram.used > ram_most:
        fails.append(f"RAM {human_bytes(report.ram.used)} against {human_bytes(ram_most)}{headroom}, over by "
                     f"{_over(report.ram.used, ram_most)}")
    if report.flash.used > report.flash.limit:
        fails.append(f"flash {human_bytes(report.flash.used)} against {human_bytes(report.flash.limit)}, over by "
                     f"{_over(report.flash.used, report.flash.limit)}")
    return {"fits": not fails, "real_time_factor": report.rtf, "rtf_limit": rtf, "ram_used": report.ram.used,
            "ram_limit": ram_most, "flash_used": report.flash.used, "flash_limit": report.flash.limit,
            "estimated": not report.flash.measured, "fails": fails}


def _factor(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _over(used: float, limit: float) -> str:
    if not limit:
        return "all of it (none available)"
    percent = 100 * (used / limit - 1)
    return f"{percent:,.0f} %" if percent >= 10 else f"{percent:.2g} %"


def fits_all(record: dict, boards: Iterable[str]) -> bool:
    return all(record["boards"][board]["fits"] for board in boards)


def first_fits(doc: dict) -> dict[str, int]:
    """Per named board that some finished round fits, the first such round."""
    firsts: dict[str, int] = {}
    for record in doc["rounds"]:
        for board, fit in record.get("boards", {}).items():
            if fit["fits"]:
                firsts.setdefault(board, record["round"])
    return firsts


def stopped(boards: Iterable[str]) -> str:
    """trim.json's "stopped" of a run that reached a round fitting every board."""
    return "fits " + ", ".join(boards)


def failure(doc: dict) -> DietgenError | None:
    """For a finished run with boards whose last round does not fit them all (the floor or the last round came
    first): which board, which budget, by how much. None when it fits, has no boards or can still go on."""
    s, rounds = doc["settings"], doc["rounds"]
    boards = s.get("boards", [])
    if not boards or not rounds or fits_all(rounds[-1], boards):
        return None
    last = rounds[-1]
    if doc.get("stopped") == "floor reached":
        why = "floor reached"
    elif len(rounds) >= s["rounds"]:
        why = f"the last of {s['rounds']} rounds"
    else:
        return None
    unfit = [f"{b}: {'; '.join(last['boards'][b]['fails'])}" for b in boards if not last["boards"][b]["fits"]]
    firsts = first_fits(doc)
    fitted = [f"{b} from round {firsts[b]} ({project_name(b)}/)" for b in boards if b in firsts]
    return DietgenError(f"round {last['round']} ({why}) does not fit " + "; ".join(unfit)
                        + (f"; fitted: {', '.join(fitted)}" if fitted else "")
                        + ". Trim further (more --rounds, a lower --floor), loosen the margins, or choose a "
                          "larger or faster board")


def export_projects(run_dir: Path, doc: dict) -> list[Path]:
    """Write RUN/board-<id>/ for each board a finished round fits and that has no project yet, from the first
    round that fits it; returns the folders written. Done after trim.json is written, so a run interrupted in
    between writes the missing projects when resumed."""
    from dietgen.deploy import export
    written = []
    for board, r in first_fits(doc).items():
        folder = run_dir / project_name(board)
        if not folder.is_dir():
            # The run's margins are at least as strict as export's own budget check, which passes; write_tree
            # builds the project in a temporary folder renamed at the end: never half a project.
            export(str(run_dir / doc["rounds"][r]["checkpoint"]), folder, board=board)
            written.append(folder)
    return written
