"""Budgets: flash, RAM and time per block of a model against a board; over budget is a clear error, and
`dietgen export --board` then writes nothing (unless --force)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import dietgen
from dietgen.boards import boards, get_board
from dietgen.budget import check, check_all, sample_rate_of
from dietgen.passes.stream import out_frames
from dietgen.ir import TensorKind
from dietgen.pipeline import compile_model
from golden_models import tiny_conv_dense
from clirun import run


def wide_dense() -> onnx.ModelProto:
    """32 -> 256 -> 32 dense layers: 64 KiB of weights, more flash than an Uno has, little RAM."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.uniform(-0.1, 0.1, (32, 256)).astype(np.float32), "up.weight"),
             numpy_helper.from_array(rng.uniform(-0.1, 0.1, (256, 32)).astype(np.float32), "down.weight")]
    nodes = [helper.make_node("MatMul", ["x", "up.weight"], ["h"], name="up"),
             helper.make_node("Tanh", ["h"], ["t"], name="act"),
             helper.make_node("MatMul", ["t", "down.weight"], ["y"], name="down")]
    graph = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 32])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    return path


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "wide.onnx"
    onnx.save(wide_dense(), path)
    return path


def _cross(board):
    from dietgen.toolchain.cross import cross_available
    return cross_available(board)


def test_ram_and_flash_add_up_from_the_plan_and_the_board(tiny):
    compiled = compile_model(str(tiny))
    plan, g = compiled.graph.meta["plan"], compiled.graph
    board = get_board("nano33ble")
    r = check(compiled=compiled, board=board, measure=False)
    assert r.ok and r.model == "tiny" and r.board is board
    assert r.ram.parts["arena"] == plan.arena_bytes and r.ram.parts["state"] == plan.state_bytes
    # The step's float input and output, and the board program's ring: two blocks of 16-bit audio.
    assert r.ram.parts["io"] == 4 * (plan.in_size + plan.out_size) + 2 * 2 * out_frames(g)
    assert r.ram.parts["framework"] == board.framework_ram_bytes
    assert r.ram.used == sum(r.ram.parts.values()) and r.ram.limit == board.ram_bytes
    weights = sum(t.nbytes for t in g.tensors.values() if t.kind == TensorKind.WEIGHT)
    assert r.flash.parts["weights"] == weights and r.flash.used == weights + r.flash.parts["code"]
    assert not r.flash.measured and not r.ram.measured and "estimated" in r.notes[0]
    # the output is time-major (1, 8, 3): 8 frames per step, along the axis time runs on
    assert r.block == out_frames(g) == 8 and r.sample_rate == sample_rate_of(g) == 16000
    assert r.flash.layers == (("conv", 80), ("fc", 60))    # conv: 16 + 4 floats, fc (with its bias): 12 + 3


def test_flash_and_stack_measured_from_the_cross_compiled_elf(tiny):
    board = get_board("nano33ble")
    if not _cross(board):
        pytest.skip("arm-none-eabi-gcc not installed: nothing to measure")
    compiled = compile_model(str(tiny))
    measured, estimated = check(compiled=compiled, board=board), check(compiled=compiled, board=board, measure=False)
    assert measured.flash.measured and measured.ram.measured
    assert not any("estimated" in n for n in measured.notes)
    # The image holds the weights and real code: more than the weights, less than the board's flash.
    assert measured.flash.parts["code"] > 1000 and measured.flash.used != estimated.flash.used
    assert 0 < measured.ram.parts["stack"] < 4096
    assert measured.ram.used - measured.ram.parts["stack"] == estimated.ram.used - estimated.ram.parts["stack"]


def test_time_budget_is_cycles_at_the_clock_against_the_block_deadline(tiny):
    from dietgen.cost import block_cycles, has_cost_table
    board = next((b for b in boards().values() if has_cost_table(b.core)), None)
    if board is None:
        pytest.skip("no per-core cost table yet (dietgen calibrate)")
    compiled = compile_model(str(tiny))
    r = check(compiled=compiled, board=board, measure=False)
    cycles, per_node = block_cycles(compiled.graph, board)
    assert r.time.used == pytest.approx(cycles / board.clock_hz)
    assert r.time.limit == pytest.approx(8 / 16000)
    assert r.rtf == pytest.approx(r.time.used / r.time.limit)
    assert r.time.layers[0][0] == max(per_node, key=per_node.get)


def test_no_cost_table_leaves_time_unknown_and_says_so(tiny):
    from dietgen.cost import has_cost_table
    board = next((b for b in boards().values() if not has_cost_table(b.core)), None)
    if board is None:
        pytest.skip("every core has a cost table")
    r = check(tiny, board, measure=False)
    assert r.time is None and r.rtf is None and any("no cost table" in n for n in r.notes)


def test_over_budget_names_budget_overshoot_layers_and_hint(wide):
    # At 10 Hz the 32-sample block has 3.2 s: flash alone is over.
    r = check(compiled=compile_model(str(wide), sample_rate=10), board="uno", measure=False)
    assert not r.ok and not r.flash.fits and r.ram.fits and (r.time is None or r.time.fits)
    message = r.error().message
    assert message.startswith("wide does not fit uno: flash ")
    assert "31.5 KiB available" in message and "over by" in message
    assert "largest: up 32.0 KiB, down 32.0 KiB" in message
    assert "Trim it further, use a smaller preset; or a board with room for it:" in message
    assert "megaatmega2560" in message
    assert "\n" not in message


def test_python_api_check_and_check_all(tiny):
    assert dietgen.check is check and dietgen.check_all is check_all
    reports = check_all(tiny, measure=False)
    assert [r.board.id for r in reports] == list(boards())
    data = reports[0].to_dict()
    assert set(data) >= {"model", "board", "ok", "flash", "ram", "time", "real_time_factor", "notes"}
    assert data["flash"]["estimate"] is True
    assert data["ram"]["parts"]["framework"] == reports[0].board.framework_ram_bytes


def test_cli_check_one_board_table_and_over_budget_exit(tiny, wide):
    result = run("check", tiny, "--board", "rpi4")
    assert result.exit_code == 0, result.output
    assert "tiny: 8 frames per step at 16000 Hz" in result.output and "fits" in result.output
    result = run("check", wide, "--board", "uno")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "OVER flash" in result.output and lines[-1].startswith("Error: wide does not fit uno: flash")
    assert "Traceback" not in result.output


def test_cli_check_all_boards_json(wide):
    result = run("check", wide, "--all-boards", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("["):])
    by_board = {d["board"]: d for d in data}
    assert set(by_board) == set(boards())
    assert not by_board["uno"]["ok"] and by_board["teensy41"]["ok"]
    measured = [d for d in data if not d["flash"]["estimate"]]
    assert all(_cross(get_board(d["board"])) for d in measured)


@pytest.mark.parametrize("args, code, words", [
    ((), 2, "--board BOARD or --all-boards"),
    (("--board", "uno", "--all-boards"), 2, "--board BOARD or --all-boards"),
    (("--board", "arduino"), 1, "unknown board 'arduino'"),
])
def test_cli_check_bad_usage(tiny, args, code, words):
    result = run("check", tiny, *args)
    assert result.exit_code == code and words in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_export_refuses_a_model_over_budget_and_writes_nothing(wide, tmp_path, monkeypatch):
    monkeypatch.setenv("DIETGEN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "proj"
    result = run("export", wide, "--board", "uno", "-o", out)
    assert result.exit_code == 1 and "does not fit uno" in result.output
    assert not out.exists() and not list(tmp_path.glob(".proj*"))
    result = run("export", wide, "--board", "uno", "-o", out, "--force")
    assert result.exit_code == 0, result.output
    assert "| flash |" in (out / "README.md").read_text() and "OVER" in (out / "README.md").read_text()


def test_missing_cross_compiler_names_the_debian_package(tiny):
    board = get_board("nano33ble")
    absent = dataclasses.replace(board, toolchain=dataclasses.replace(board.toolchain, cc="no-such-gcc"))
    r = check(tiny, absent)
    assert not r.flash.measured
    assert r.notes[0] == ("no-such-gcc not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi): "
                          "flash and stack estimated")
