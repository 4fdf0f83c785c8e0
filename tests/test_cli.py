"""The command line, through click's CliRunner: normal use and every kind of bad input.

Bad input must give one line, exit status 1 or 2, no traceback, and leave nothing behind."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from golden_models import tiny_conv_dense
from clirun import assert_one_line_error, run


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    return path


def _single_node_model(tmp_path, node, inputs, outputs, inits=(), name="m.onnx", opset=18):
    graph = helper.make_graph([node], "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _vi(name, shape, dtype=onnx.TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


# -- normal use ------------------------------------------------------------------------------------------

def test_inspect_prints_nodes_plan_and_totals(tiny):
    result = run("inspect", tiny)
    assert result.exit_code == 0, result.output
    assert "Conv+relu" in result.output and "Dense+tanh" in result.output
    assert "lower bound" in result.output and "total" in result.output


def test_inspect_json(tiny):
    result = run("inspect", tiny, "--json")
    doc = json.loads(result.output)
    assert doc["macs"] == 4 * 2 * 2 * 8 + 8 * 4 * 3
    assert doc["arena_bytes"] >= doc["lower_bound"] > 0


def test_export_writes_library_that_builds(tiny, tmp_path):
    import subprocess
    out = tmp_path / "lib"
    result = run("export", tiny, "-o", out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["CMakeLists.txt", "Makefile", "dietgen", "tiny.c", "tiny.h", "tiny_unity.c",
                     "tiny_weights.c", "tiny_weights.h"]
    # only the kernels the model uses are copied
    assert sorted(p.name for p in (out / "dietgen").iterdir()) == ["common.h", "conv.c", "conv.h", "copy.c",
                                                                  "copy.h", "fns.h", "panel.c", "panel.h",
                                                                  "ports", "ports.h"]
    # One translation unit by default (the kernels static: only the model's API is external), each file on its own
    # with SEPARATE=1 (the runtime's functions external too); CMake alike.
    for make_args, runtime_external in (((), False), (("SEPARATE=1",), True)):
        subprocess.run(["make", "-s", "-C", str(out), "clean"], check=True, capture_output=True)
        subprocess.run(["make", "-s", "-C", str(out), "CFLAGS=-O1 -Werror", *make_args], check=True,
                       capture_output=True)
        external = subprocess.run(["nm", "-g", "--defined-only", str(out / "libtiny.a")], check=True,
                                  capture_output=True, text=True).stdout
        assert " T tiny_step" in external and (" T dg_conv1d" in external) == runtime_external, external
    for option in ("ON", "OFF"):
        build = tmp_path / f"cmake-build-{option}"
        subprocess.run(["cmake", "-S", str(out), "-B", str(build), f"-DTINY_UNITY={option}"], check=True,
                       capture_output=True)
        subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)


def test_export_role_reaches_the_board_project(tiny, tmp_path, monkeypatch):
    import dietgen.deploy as deploy
    seen = []
    # What each role makes of the project is dietgen.project's (tests/test_platformio.py); here: it gets there.
    monkeypatch.setattr(deploy, "render_project",
                        lambda compiled, board, report, role: seen.append((board.id, role)) or {"platformio.ini": ""})
    result = run("export", tiny, "-o", tmp_path / "p", "--board", "nano33ble", "--role", "effect")
    assert result.exit_code == 0, result.output
    assert seen == [("nano33ble", "effect")] and (tmp_path / "p" / "platformio.ini").is_file()


def test_export_role_needs_a_board(tiny, tmp_path):
    result = run("export", tiny, "-o", tmp_path / "lib", "--role", "generator")
    assert_one_line_error(result, "--role", "--board", code=(2,))
    assert not (tmp_path / "lib").exists()


def test_python_export_keeps_its_arguments_and_checks_role(tmp_path):
    import dietgen
    from dietgen.errors import DietgenUsageError
    compiled = dietgen.export(tiny_conv_dense(), tmp_path / "lib")
    assert (tmp_path / "lib" / f"{compiled.c_name}.c").is_file()
    with pytest.raises(DietgenUsageError, match="board"):
        dietgen.export(tiny_conv_dense(), tmp_path / "other", role="effect")
    with pytest.raises(DietgenUsageError, match="generator, effect"):
        dietgen.export(tiny_conv_dense(), tmp_path / "other", board="nano33ble", role="synth")
    assert not (tmp_path / "other").exists()


def test_verify_passes_and_reports(tiny):
    result = run("verify", tiny, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] and doc["outputs"][0]["max_rel"] <= 1e-4


def test_verify_with_input_file(tiny, tmp_path):
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 2, 8)
    np.save(tmp_path / "x.npy", x)
    result = run("verify", tiny, "--input", tmp_path / "x.npy")
    assert result.exit_code == 0 and "ok" in result.output


def test_verify_fails_beyond_tolerance(tiny):
    result = run("verify", tiny, "--tol", "1e-30")
    assert result.exit_code == 1
    assert "beyond --tol" in result.output


def test_factory_model_with_shape(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(
        "import torch\n"
        "def make():\n"
        "    return torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3, padding=1), torch.nn.ReLU())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run("verify", "user_models:make", "--shape", "x=1x1x32")
    assert result.exit_code == 0, result.output
    result = run("inspect", "torch.nn:Tanh", "--shape", "x=1x8")  # a Module class is instantiated
    assert result.exit_code == 0 and "Tanh" in result.output
    assert_one_line_error(run("inspect", "user_models:nothing", "--shape", "x=1x8"), "cannot import")


# -- bad input -----------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    assert_one_line_error(run("inspect", tmp_path / "nope.onnx"), "no such file")


def test_unreadable_file(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run("inspect", tmp_path / "file" / "m.onnx"), "cannot be read")


def test_not_onnx(tmp_path):
    path = tmp_path / "song.onnx"
    path.write_bytes(b"RIFF\x00\x00WAVEfmt " + bytes(range(200)))
    assert_one_line_error(run("inspect", path), "not an onnx model")


def test_text_file_is_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("hello, this is text\n")
    assert_one_line_error(run("inspect", path), "not an onnx model")


def test_truncated_onnx(tiny, tmp_path):
    data = tiny.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run("inspect", cut), "not an onnx model")


def test_checker_failure(tmp_path):
    node = helper.make_node("Relu", ["undefined"], ["y"])
    path = _single_node_model(tmp_path, node, [_vi("x", [1, 4])], [_vi("y", [1, 4])])
    assert_one_line_error(run("inspect", path), "checker")


def test_unsupported_op_names_node_op_and_supported_ops(tmp_path):
    node = helper.make_node("Det", ["x"], ["y"], name="my_det")
    path = _single_node_model(tmp_path, node, [_vi("x", [3, 3])], [_vi("y", [])])
    result = run("inspect", path)
    assert_one_line_error(result, "my_det", "Det", "supported ops", "Conv", "GRU")


def test_unsupported_attribute_value(tmp_path):
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv2d")
    path = _single_node_model(tmp_path, node, [_vi("x", [1, 1, 5, 5])], [_vi("y", [1, 2, 3, 3])], [w])
    assert_one_line_error(run("inspect", path), "conv2d", "only 1-d")


def test_unsupported_direction_is_not_ignored(tmp_path):
    w = numpy_helper.from_array(np.ones((1, 12, 3), np.float32), "w")
    r = numpy_helper.from_array(np.ones((1, 12, 4), np.float32), "r")
    node = helper.make_node("GRU", ["x", "w", "r"], ["y"], name="gru", hidden_size=4, direction="reverse")
    path = _single_node_model(tmp_path, node, [_vi("x", [5, 1, 3])], [_vi("y", [5, 1, 1, 4])], [w, r])
    assert_one_line_error(run("inspect", path), "gru", "reverse")


def test_unsupported_dtype(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"])
    path = _single_node_model(tmp_path, node, [_vi("x", [4], onnx.TensorProto.DOUBLE)],
                              [_vi("y", [4], onnx.TensorProto.DOUBLE)])
    assert_one_line_error(run("inspect", path), "'x'", "float64", "float32")


def test_dynamic_shape_names_input_and_fix(tmp_path):
    node = helper.make_node("Relu", ["audio"], ["y"])
    path = _single_node_model(tmp_path, node, [_vi("audio", [1, "T"])], [_vi("y", [1, "T"])])
    assert_one_line_error(run("inspect", path), "'audio'", "--shape audio=1x1")
    assert run("inspect", path, "--shape", "audio=1x160").exit_code == 0


def test_bad_shape_option(tmp_path, tiny):
    assert_one_line_error(run("inspect", tiny, "--shape", "x=1xbanana"), "--shape", code=(2,))
    assert_one_line_error(run("inspect", tiny, "--shape", "nope=1x2x8"), "not an input", code=(2,))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_weights_names_tensor(tmp_path, bad):
    w = np.ones((4,), np.float32)
    w[2] = bad
    node = helper.make_node("Add", ["x", "bias.weird"], ["y"])
    path = _single_node_model(tmp_path, node, [_vi("x", [1, 4])], [_vi("y", [1, 4])],
                              [numpy_helper.from_array(w, "bias.weird")])
    assert_one_line_error(run("inspect", path), "bias.weird", "nan" if np.isnan(bad) else "inf")


def test_hostile_names_are_sanitised_and_compile(tmp_path):
    """Names that are C keywords, clash after sanitising or try to close a comment never reach C raw."""
    inits = [numpy_helper.from_array(np.full((4,), 0.5, np.float32), "a.b"),
             numpy_helper.from_array(np.full((4,), 0.25, np.float32), "a_b"),
             numpy_helper.from_array(np.full((4,), 2.0, np.float32), "int")]
    nodes = [helper.make_node("Add", ["in put", "a.b"], ["t1"], name="*/ evil(); /*"),
             helper.make_node("Mul", ["t1", "a_b"], ["t2"], name="int"),
             helper.make_node("Sub", ["t2", "int"], ["out-put"], name="a_b")]
    graph = helper.make_graph(nodes, "while", [_vi("in put", [1, 4])], [_vi("out-put", [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / "hostile.onnx"
    onnx.save(model, path)
    out = tmp_path / "out"
    assert run("export", path, "-o", out, "--name", "while").exit_code == 0
    source = (out / "model_while.c").read_text() + (out / "model_while_weights.c").read_text()
    assert "evil();" not in source.replace("*_/ evil", "")
    assert "*/ evil" not in source
    assert run("verify", path).exit_code == 0


def test_output_folder_exists(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_one_line_error(run("export", tiny, "-o", out), "already exists", "--force")
    assert (out / "keep.txt").read_text() == "mine"
    assert run("export", tiny, "-o", out, "--force").exit_code == 0
    assert not (out / "keep.txt").exists() and (out / "tiny.c").exists()


def test_output_folder_not_writable(tiny, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run("export", tiny, "-o", tmp_path / "file" / "out"), "cannot write")


def test_failure_leaves_nothing_behind(tmp_path):
    node = helper.make_node("Det", ["x"], ["y"])
    path = _single_node_model(tmp_path, node, [_vi("x", [3, 3])], [_vi("y", [])])
    before = set(tmp_path.iterdir())
    assert run("export", path, "-o", tmp_path / "out").exit_code == 1
    assert set(tmp_path.iterdir()) == before


def test_checkpoint_is_loaded_without_pickles(tmp_path):
    from dietgen.models import save_checkpoint
    from dietgen.models.demo import DemoModel
    model = DemoModel(channels=4, skip=4, dilations=(1, 2), hidden=6)
    save_checkpoint(model, tmp_path / "ck", "demo", {"channels": 4, "skip": 4, "dilations": [1, 2], "hidden": 6},
                    {"x": [1, 1, 16]})
    assert run("verify", tmp_path / "ck.json").exit_code == 0
    # config and weights that disagree
    cfg = json.loads((tmp_path / "ck.json").read_text())
    cfg["config"]["hidden"] = 7
    (tmp_path / "ck.json").write_text(json.dumps(cfg))
    assert_one_line_error(run("inspect", tmp_path / "ck.json"), "do not match")
    # a corrupt weights file
    (tmp_path / "ck.safetensors").write_bytes(b"\x00" * 10)
    assert_one_line_error(run("inspect", tmp_path / "ck.json"), "corrupt")


def test_checkpoint_cannot_name_arbitrary_code(tmp_path):
    (tmp_path / "ck.json").write_text(json.dumps({"format": "dietgen-checkpoint", "version": 1,
                                                  "architecture": "os:system", "config": {}}))
    (tmp_path / "ck.safetensors").write_bytes(b"")
    assert_one_line_error(run("inspect", tmp_path / "ck.json"), "unknown architecture")


def test_runtime_comparison_is_refused_after_the_passes(tmp_path):
    threshold = numpy_helper.from_array(np.array(0.5, np.float32), "t")
    nodes = [helper.make_node("Greater", ["x", "t"], ["mask"], name="cmp"),
             helper.make_node("Where", ["mask", "x", "t"], ["y"], name="sel")]
    graph = helper.make_graph(nodes, "g", [_vi("x", [4])], [_vi("y", [4])], [threshold])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "cmp.onnx")
    assert_one_line_error(run("export", tmp_path / "cmp.onnx", "-o", tmp_path / "out"), "computed at run time")
    assert not (tmp_path / "out").exists()


def test_demo_checkpoint_mixing_every_layer_family_verifies(root):
    result = run("verify", root / "examples" / "demo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"]
