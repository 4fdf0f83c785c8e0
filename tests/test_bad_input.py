"""Bad input and interruption handled like a serious tool: a factory module found in the current folder as
`python -m` would, tomli declared where tomllib is missing, files that are not SoundFonts refused before anything
is rendered, absurd or malformed --shape values refused before any tensor is built, and Ctrl-C reported as
"interrupted" with exit status 130, leaving nothing half-written behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

import dietgen.output
from dietgen.cli import cli, main
from dietgen.data import render_dataset
from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.frontend.sources import MAX_INPUT_ELEMENTS, load_model
from dietgen.frontend.torch_export import torch_to_onnx
from dietgen.output import write_bytes_atomic, write_tree
from golden_models import tiny_conv_dense
from clirun import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"          # a checkpoint whose input is x, three dimensions (1x1x64)
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
FACTORY = ("import torch\n"
           "def make():\n"
           "    return torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3, padding=1), torch.nn.Tanh())\n")


def _run_main(*args) -> int:
    """The console entry point (where Ctrl-C is mapped), as the installed `dietgen` script runs it."""
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    return stop.value.code


# -- package.module:factory from the current folder --------------------------------------------------------


def test_factory_module_in_the_current_folder_is_found_like_python_m(tmp_path, monkeypatch):
    (tmp_path / "dg_cwd_model.py").write_text(FACTORY)
    path_before = list(sys.path)
    try:
        assert_one_line_error(run("inspect", "dg_cwd_model:make", "--shape", "x=1x1x16"), "cannot import",
                              "dg_cwd_model")    # elsewhere, the folder's module is not on the path
        monkeypatch.chdir(tmp_path)
        result = run("inspect", "dg_cwd_model:make", "--shape", "x=1x1x16")
        assert result.exit_code == 0, result.output
        assert "weights 32 B" in result.output    # the factory's Conv1d(1, 2, 3): 6 weights and 2 biases
        assert sys.path == path_before
    finally:
        sys.modules.pop("dg_cwd_model", None)


def test_factory_module_that_fails_on_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "dg_broken_model.py").write_text("import torch\nraise RuntimeError('no weights here')\n")
    monkeypatch.chdir(tmp_path)
    try:
        assert_one_line_error(run("inspect", "dg_broken_model:make", "--shape", "x=1x1x16"), "dg_broken_model",
                              "RuntimeError", "no weights here")
        assert_one_line_error(run("inspect", ":make", "--shape", "x=1x1x16"), "package.module:factory", code=(2,))
    finally:
        sys.modules.pop("dg_broken_model", None)


# -- tomli on Python 3.10 -------------------------------------------------------------------------------------


def test_tomli_is_declared_for_pythons_without_tomllib_and_every_import_falls_back_to_it():
    import tomllib

    from packaging.requirements import Requirement
    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    tomli = [d for d in deps if d.name == "tomli"]
    assert len(tomli) == 1 and tomli[0].marker is not None
    assert tomli[0].marker.evaluate({"python_version": "3.10"})
    assert not tomli[0].marker.evaluate({"python_version": "3.11"})
    users = [p for p in (ROOT / "dietgen").rglob("*.py") if "import tomllib" in p.read_text()]
    assert users
    for path in users:
        assert "import tomli as tomllib" in path.read_text(), path


# -- SoundFonts ------------------------------------------------------------------------------------------------


def _render(tmp_path, soundfont):
    out = tmp_path / "notes"
    result = CliRunner().invoke(cli, ["data", "render", "-o", str(out), "--soundfont", str(soundfont),
                                      "--instruments", "0", "--pitches", "60", "--velocities", "100",
                                      "--seconds", "0.512", "--release", "0.128"])
    return result, out


def test_a_file_that_is_not_a_soundfont_is_refused_and_nothing_is_written(tmp_path):
    text = tmp_path / "notes.sf2"
    text.write_text("these are my notes, not a SoundFont\n")
    result, out = _render(tmp_path, text)
    assert_one_line_error(result, "notes.sf2", "not a SoundFont", "RIFF")
    assert not out.exists()


def test_a_truncated_soundfont_is_refused_by_its_chunk_sizes(tmp_path):
    data = SOUNDFONT.read_bytes()
    cut = tmp_path / "cut.sf2"
    cut.write_bytes(data[:len(data) // 2])
    result, out = _render(tmp_path, cut)
    assert_one_line_error(result, "cut.sf2", "not a SoundFont", str(len(data)), str(len(data) // 2))
    assert not out.exists()
    # The RIFF size right, but a chunk inside claims more than the file holds.
    lying = bytearray(data)
    lying[16:20] = (len(data)).to_bytes(4, "little")    # the size of the first chunk (LIST INFO)
    bad = tmp_path / "lying.sf2"
    bad.write_bytes(bytes(lying))
    result, out = _render(tmp_path, bad)
    assert_one_line_error(result, "lying.sf2", "runs past the end")
    assert not out.exists()


def test_a_soundfont_fluidsynth_cannot_load_is_refused_not_replaced_by_its_default(tmp_path):
    # Whole RIFF layout, damaged inside its preset list: only FluidSynth itself can tell, and it then plays its
    # own default SoundFont and exits 0.
    data = bytearray(SOUNDFONT.read_bytes())
    at = data.index(b"pdta") + 4
    assert data[at:at + 4] == b"phdr"
    data[at:at + 4] = b"junk"
    damaged = tmp_path / "damaged.sf2"
    damaged.write_bytes(bytes(data))
    result, out = _render(tmp_path, damaged)
    assert_one_line_error(result, "damaged.sf2", "could not load", "phdr")
    assert not out.exists()
    with pytest.raises(DietgenError, match="could not load"):
        render_dataset(out, damaged, instruments=(0,), pitches=(60,), velocities=(100,), seconds=0.512,
                       release=0.128)
    assert not out.exists()


# -- --shape ----------------------------------------------------------------------------------------------------


@pytest.fixture
def no_tensors(monkeypatch):
    """Building any example input fails the test: the shape must be refused before that."""
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("a tensor was built for a shape that should have been refused")
    monkeypatch.setattr(torch, "randn", refuse)


def test_a_shape_over_the_limit_is_refused_before_any_tensor_is_built(no_tensors):
    result = run("inspect", DEMO, "--shape", "x=1x1x400000000")
    assert_one_line_error(result, "x=1x1x400000000", "400000000", str(MAX_INPUT_ELEMENTS), code=(2,))
    assert_one_line_error(run("inspect", DEMO, "--shape", f"x=1x1x{MAX_INPUT_ELEMENTS + 1}"), "limit", code=(2,))


def test_zero_sized_and_wrong_rank_shapes_name_the_input_and_its_rank(no_tensors, tmp_path):
    assert_one_line_error(run("inspect", DEMO, "--shape", "x=1x0x64"), "x=1x0x64", "'x'", "dimension 1 is 0",
                          "3 dimensions", code=(2,))
    assert_one_line_error(run("inspect", DEMO, "--shape", "x=1x64"), "x=1x64", "'x'", "3 dimensions",
                          "x=1x1x64", code=(2,))
    assert_one_line_error(run("inspect", "torch.nn:Tanh", "--shape", "x=0x8"), "x=0x8", "dimension 0 is 0",
                          code=(2,))
    tiny = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), tiny)
    assert_one_line_error(run("inspect", tiny, "--shape", "x=1x2x0"), "x=1x2x0", "dimension 2 is 0", code=(2,))
    with pytest.raises(DietgenUsageError, match="limit"):
        load_model(tiny_conv_dense(), {"x": (1, 2, MAX_INPUT_ELEMENTS)})


def test_a_shape_within_the_limit_still_exports(tmp_path):
    result = run("inspect", DEMO, "--shape", "x=1x1x128", "--json")
    assert result.exit_code == 0, result.output


# -- interruption -----------------------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_ctrl_c_during_export_is_interrupted_exit_130_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import torch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(torch.onnx, "export", interrupted)
    out = tmp_path / "lib"
    assert _run_main("export", DEMO, "-o", out) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Traceback" not in err and "could not capture" not in err
    assert _leftovers(tmp_path) == []


def test_ctrl_c_that_torch_wraps_in_its_own_error_is_still_an_interruption(tmp_path, monkeypatch, capsys):
    import torch

    def wrapped(*args, **kwargs):
        # What torch 2.x raises when Ctrl-C stops it importing its tracer: an error whose context is the interrupt.
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            try:
                raise AttributeError("module 'torch._dynamo' has no attribute 'exc'")
            except AttributeError as exc:
                raise RuntimeError("Failed to export the model with torch.export.") from exc
    monkeypatch.setattr(torch.onnx, "export", wrapped)
    with pytest.raises(KeyboardInterrupt):
        torch_to_onnx(torch.nn.Tanh(), (torch.zeros(1, 4),))
    assert _run_main("export", DEMO, "-o", tmp_path / "lib") == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert _leftovers(tmp_path) == []


def test_an_interrupt_wrapped_anywhere_else_is_not_reported_as_an_internal_error(monkeypatch, capsys):
    import dietgen.report.inspect

    def wrapped(*args, **kwargs):
        raise RuntimeError("a library's own error") from KeyboardInterrupt()
    monkeypatch.setattr(dietgen.report.inspect, "inspect", wrapped)
    assert _run_main("inspect", DEMO) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def _interrupt_on_call(monkeypatch, target, name, call):
    """``target.name`` raises KeyboardInterrupt on its ``call``-th call (1-based), and works before that."""
    real = getattr(target, name)
    calls = []

    def maybe_interrupt(*args, **kwargs):
        calls.append(args)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(target, name, maybe_interrupt)


def test_write_tree_interrupted_midway_leaves_no_temporary_and_no_output(tmp_path, monkeypatch):
    _interrupt_on_call(monkeypatch, Path, "write_text", 2)
    with pytest.raises(KeyboardInterrupt):
        write_tree({"a.c": "int a;\n", "b.c": "int b;\n", "sub/c.c": "int c;\n"}, tmp_path / "lib")
    assert _leftovers(tmp_path) == []


def test_write_tree_interrupted_while_replacing_keeps_the_old_folder(tmp_path, monkeypatch):
    old = write_tree({"old.c": "int old;\n"}, tmp_path / "lib")
    # the first rename moves the old folder aside, the second would put the new one in place
    _interrupt_on_call(monkeypatch, dietgen.output.os, "replace", 2)
    with pytest.raises(KeyboardInterrupt):
        write_tree({"new.c": "int new;\n"}, old, force=True)
    assert _leftovers(tmp_path) == ["lib"]
    assert _leftovers(old) == ["old.c"]


def test_write_bytes_atomic_interrupted_leaves_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "a.wav").write_bytes(b"old")
    _interrupt_on_call(monkeypatch, dietgen.output.os, "replace", 1)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(tmp_path / "a.wav", b"new")
    assert _leftovers(tmp_path) == ["a.wav"] and (tmp_path / "a.wav").read_bytes() == b"old"


def test_sigint_to_a_running_export_exits_130_with_interrupted(tmp_path):
    # The model's forward says when torch.export is running it and then waits, so the signal always lands
    # inside the export, where the reported bug turned it into "could not capture".
    (tmp_path / "dg_slow_model.py").write_text(
        "import sys, time\n"
        "import torch\n"
        "class Slow(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        print('exporting', file=sys.stderr, flush=True)\n"
        "        time.sleep(120)\n"
        "        return torch.tanh(x)\n"
        "def make():\n"
        "    return Slow()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DIETGEN_DEBUG", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from dietgen.cli import main; main()", "export", "dg_slow_model:make",
         "--shape", "x=1x4", "-o", "lib"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        # a test run in the background may have SIGINT ignored, and the child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stderr.readline() == "exporting\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip() == "interrupted"
    assert _leftovers(tmp_path) == ["dg_slow_model.py"]


@pytest.mark.parametrize("command, target, name, words", [
    (["data", "render", "-o", "notes"], "dietgen.data.render", "render_dataset", "rerun the same command"),
    (["train", "--model", "ddsp", "--preset", "tiny", "--data", "notes", "-o", "run"], "dietgen.train", "train",
     "best checkpoint so far is kept"),
])
def test_interrupted_render_and_training_say_what_is_kept_and_exit_130(command, target, name, words, monkeypatch):
    import importlib

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(importlib.import_module(target), name, interrupted)
    result = run(*command)
    assert result.exit_code == 130
    assert result.output.strip().startswith("interrupted:") and words in result.output
    assert len(result.output.strip().splitlines()) == 1
