import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(scope="session")
def root():
    return ROOT


def pytest_terminal_summary(terminalreporter):
    """The CI log ends with what each emulated board measured: image sizes, counts per step, and the cost model
    against the emulator. Tests report rows with record_property, which also crosses pytest-xdist workers."""
    import json

    from dietgen.report.table import table
    rows = {"board_summary": [], "cost_error": [], "example_run": []}
    for report in terminalreporter.stats.get("passed", []):
        for key, value in getattr(report, "user_properties", ()):
            if key in rows:
                rows[key].append(json.loads(value))
    if rows["board_summary"]:
        terminalreporter.write_sep("=", "emulated boards (bench image sizes in bytes; counts per step)")
        terminalreporter.write_line(table(
            ["board", "core", "model", "text", "data", "bss", "stack", "count", "unit", "estimate"],
            [[r["board"], r["core"], r["model"], r["text"], r["data"], r["bss"], r["stack"], r["count"], r["unit"],
              "-" if r["estimate"] is None else round(r["estimate"])]
             for r in sorted(rows["board_summary"], key=lambda r: r["board"])], {3, 4, 5, 6, 7, 9}))
    if rows["cost_error"]:
        terminalreporter.write_sep("=", "cost model estimate vs emulator count, per step")
        terminalreporter.write_line(table(
            ["core", "board", "model", "emulator", "estimate", "unit", "error"],
            [[r["core"], r["board"], r["model"], r["count"], round(r["estimate"]), r["unit"],
              f"{100 * (r['estimate'] / r['count'] - 1):+.1f}%"]
             for r in sorted(rows["cost_error"], key=lambda r: r["core"])], {3, 4, 6}))
    if rows["example_run"]:
        terminalreporter.write_sep("=", "example models on emulated boards (bytes; counts per step)")
        terminalreporter.write_line(table(
            ["model", "board", "core", "flash", "RAM", "count", "unit", "estimate", "error", "RTF"],
            [[r["model"], r["board"], r["core"], r["flash"], r["ram"], r["count"], r["unit"],
              "-" if r["estimate"] is None else round(r["estimate"]),
              "-" if r["estimate"] is None else f"{100 * (r['estimate'] / r['count'] - 1):+.1f}%",
              "-" if r["rtf"] is None else round(r["rtf"], 3)]
             for r in sorted(rows["example_run"], key=lambda r: (r["model"], r["board"]))], {3, 4, 5, 7, 8, 9}))
