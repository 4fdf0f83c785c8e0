"""CI firmware builds of the example models: for every board whose cross toolchain Debian provides, the
example's PlatformIO project builds with the offline env, or the budget check rejects it (asserted); on one
board per instruction set the example runs on the emulator and matches onnxruntime and the host."""
from __future__ import annotations

import json

import pytest

from dietgen.boards import boards
from dietgen.budget import check
from dietgen.project import render_project
from dietgen.output import write_tree
from dietgen.pipeline import compile_model
from dietgen.toolchain.platformio import build, offline_missing
from dietgen.verify import verify

EXAMPLES = ["demo", "demo-avr", "ddsp", "sing", "wavenet"]
BUILDABLE = sorted(b.id for b in boards().values() if offline_missing(b) is None)
# One board per instruction set: Cortex-M0+, M4F, M7, M33, AVR, Raspberry Pi (aarch64).
EMULATED = ["pico", "nano33ble", "teensy41", "rpipico2", "megaatmega2560", "rpi4"]


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request, root):
    return request.param, compile_model(root / "examples" / request.param)


@pytest.mark.parametrize("board", BUILDABLE)
def test_project_builds_offline_or_budget_rejects_it(example, board, tmp_path):
    name, compiled = example
    report = check(compiled=compiled, board=board)
    if not report.ok:
        message = str(report.error().message)
        over = [b.name for b in report.budgets if not b.fits]
        assert over and all(b in message for b in over), message
        return
    project = write_tree(render_project(compiled, report.board, report), tmp_path / "project")
    assert build(project).is_file()


@pytest.mark.parametrize("board", EMULATED)
def test_example_on_emulator_matches(example, board, record_property):
    name, compiled = example
    report = check(compiled=compiled, board=board)
    if not report.ram.fits or not report.flash.fits:
        pytest.skip(f"{name} does not fit {board}'s memory (asserted by the build test)")
    result = verify(None, compiled=compiled, board=board)
    assert result.ok, result.outputs
    run = result.board_run
    record_property("example_run", json.dumps({
        "board": board, "core": run.core, "model": name, "flash": int(report.flash.used),
        "ram": int(report.ram.used), "unit": run.unit, "count": run.total, "estimate": run.estimate,
        "rtf": report.rtf}))
