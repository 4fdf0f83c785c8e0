"""The two tables of docs/results.md that need the runs' checkpoints, which are not committed: units left per
layer, and what `dietgen check` says of trimmed models on each board.

Units (between `<!-- units -->` and `<!-- /units -->`): the units tracing finds in each group of DDSP small's
layers, dense and near 10x (the round closest to it in log-compression) for seed 0 of each criterion of UNITS.

Boards: for every marked comparison of the page (`<!-- results: KEY -->`, e.g. ddsp-small) it takes seed 0 of the
global-magnitude runs in the sweep folder, and three of its rounds: the dense model, the most compressed round
whose normalised test loss is within 10 % of the dense one (report.LOSS_WITHIN), and the most compressed round.
Each is compiled once as the board program streams it (the model's natural block) and checked on every board
of BOARDS: flash and RAM measured from the cross-compiled build where the toolchain is present ("est" where
not), time per block from the per-core cost model. The table between `<!-- boards -->` and `<!-- /boards -->`
in the page is replaced.

Run from the repository root (about 10 minutes; the sweep of examples/sweeps/results.toml must have finished):

    .venv/bin/python benchmarks/results_checkpoints.py ../runs/results --doc docs/results.md
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dietgen.budget import check  # noqa: E402
from dietgen.models import load_checkpoint  # noqa: E402
from dietgen.pipeline import compile_model  # noqa: E402
from dietgen.trim.report import LOSS_WITHIN, load_run  # noqa: E402
from dietgen.trim.results import sections  # noqa: E402
from dietgen.trim.units import find_units  # noqa: E402

BOARDS = ("uno", "pico", "rpipico2", "nano33ble", "teensy41", "rpizero2w")
UNITS = ("ddsp-small-magnitude-global-seed0", "ddsp-small-information-global-seed0",
         "ddsp-small-information-projection-global-seed0", "ddsp-small-magnitude-local-seed0")
HEADERS = ("model", "round", "compression", "normalised loss", "board", "flash", "RAM", "ms per block",
           "real-time factor", "fits")


def chosen_rounds(doc: dict) -> list[tuple[str, dict]]:
    """(what it is, round) for the dense round, the most compressed within LOSS_WITHIN, the most compressed."""
    rounds = doc["rounds"]
    within = max((r for r in rounds if r["normalised_loss"] <= LOSS_WITHIN), key=lambda r: r["compression"])
    largest = max(rounds, key=lambda r: r["compression"])
    picks = [("dense", rounds[0]), (f"loss <= {LOSS_WITHIN}", within), ("largest", largest)]
    seen, out = set(), []
    for what, r in picks:
        if r["round"] not in seen:
            seen.add(r["round"])
            out.append((what, r))
    return out


def kib(budget: dict) -> str:
    return f"{budget['used'] / 1024:,.0f} KiB" + ("" if budget["measured"] else " (est)")


def rows_of(sweep: Path, key: str) -> list[list[str]]:
    run = sweep / f"{key}-magnitude-global-seed0"
    doc = load_run(run)
    rows = []
    for what, r in chosen_rounds(doc):
        compiled = compile_model(run / r["checkpoint"])
        for board in BOARDS:
            report = check(board=board, compiled=compiled).to_dict()
            ms = report["time"]["used"] * 1e3 if report["time"] else None
            rtf = report["real_time_factor"]
            rows.append([key, f"{r['round']} ({what})", f"{r['compression']:.3g}x", f"{r['normalised_loss']:.3f}",
                         board, kib(report["flash"]), kib(report["ram"]),
                         "-" if ms is None else f"{ms:.3g}", "-" if rtf is None else f"{rtf:.3g}",
                         "yes" if report["ok"] else "no"])
            print(" | ".join(rows[-1]), file=sys.stderr)
    return rows


def units_of(checkpoint: Path) -> dict[str, int]:
    model, _ = load_checkpoint(checkpoint)
    return {g.name: g.size for g in find_units(model).groups}


def units_table(sweep: Path) -> str:
    columns, dense = [], None
    for name in UNITS:
        doc = load_run(sweep / name)
        near = min(doc["rounds"], key=lambda r: abs(math.log(r["compression"] / 10)))
        columns.append((f"{name} (round {near['round']}, {near['compression']:.3g}x)",
                        units_of(sweep / name / near["checkpoint"])))
        dense = dense or units_of(sweep / name / doc["rounds"][0]["checkpoint"])
    rows = [[group, str(size)] + [str(units.get(group, 0)) for _, units in columns] for group, size in dense.items()]
    return table(["group", "dense"] + [label for label, _ in columns], rows, set(range(1, len(columns) + 2)))


def table(headers, rows: list[list[str]], right: set[int]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def replaced(text: str, name: str, body: str, doc: Path) -> str:
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if text.count(start) != 1 or text.count(end) != 1:
        sys.exit(f"{doc}: needs one {start} ... {end} pair on lines of their own")
    head, rest = text.split(start + "\n")
    _, tail = rest.split(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="the sweep folder of examples/sweeps/results.toml")
    parser.add_argument("--doc", type=Path, default=Path("docs/results.md"))
    args = parser.parse_args()
    text = args.doc.read_text()
    text = replaced(text, "units", units_table(args.sweep), args.doc)
    rows = [row for s in sections(text, str(args.doc)) for row in rows_of(args.sweep, s.key)]
    text = replaced(text, "boards", table(HEADERS, rows, {2, 3, 5, 6, 7, 8}), args.doc)
    args.doc.write_text(text)


if __name__ == "__main__":
    main()
