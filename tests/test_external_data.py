"""ONNX files whose weights live in a separate data file (torch's exporter does that by default): read from the
model's own folder, and only from there."""
from __future__ import annotations

import builtins
import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from clirun import assert_one_line_error, run
from golden_models import tiny_conv_dense

WEIGHT = "conv.weight"     # 4x2x2 float32: 64 bytes


def _save_external(folder: Path, location: str = "model.onnx.data") -> Path:
    (folder / location).parent.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save(tiny_conv_dense(), path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=location, size_threshold=0)
    return path


def _relocate(path: Path, location: str, **entries: str) -> None:
    """Point WEIGHT's external data at ``location`` (and set other entries: offset, length)."""
    model = onnx.load(path, load_external_data=False)
    tensor = next(t for t in model.graph.initializer if t.name == WEIGHT)
    for key, value in {"location": location, **entries}.items():
        entry = next((e for e in tensor.external_data if e.key == key), None) or tensor.external_data.add(key=key)
        entry.value = value
    onnx.save(model, path)


def _watch_opens(monkeypatch) -> list[Path]:
    """From now on until the test ends, the resolved path of every file opened from Python."""
    paths: list[Path] = []
    real = builtins.open

    def spy(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            paths.append(Path(file).resolve())
        return real(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    return paths


def test_onnx_external_data_in_one_file_verifies(tmp_path):
    path = _save_external(tmp_path / "model", "weights/model.bin")
    model = onnx.load(path, load_external_data=False)
    assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    result = run("verify", path)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_torch_default_export_verifies(tmp_path):
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 16, 5, padding=2), torch.nn.Tanh(),
                                 torch.nn.Conv1d(16, 2, 1)).eval()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):   # the exporter narrates
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(1, 2, 16),), path, input_names=["x"])   # torch's defaults
    external = [t.name for t in onnx.load(path, load_external_data=False).graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and (tmp_path / "model.onnx.data").stat().st_size > 0
    result = run("verify", path)
    assert result.exit_code == 0, result.output


def _secret(tmp_path: Path) -> Path:
    """A file outside the model's folder, of exactly the size the tensor needs (only its place is wrong)."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(16, dtype=np.float32).tobytes())
    return secret


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlinked file", "symlinked folder"])
def test_data_outside_the_models_folder_is_refused_unread(tmp_path, monkeypatch, how):
    path = _save_external(tmp_path / "model")
    secret = _secret(tmp_path)
    if how == "dotdot":
        location = "../secret.bin"
    elif how == "absolute":
        location = str(secret)
    elif how == "symlinked file":
        (tmp_path / "model" / "link.bin").symlink_to(secret)
        location = "link.bin"
    else:
        (tmp_path / "model" / "sub").symlink_to(tmp_path, target_is_directory=True)
        location = "sub/secret.bin"
    _relocate(path, location, offset="0", length="64")
    opened = _watch_opens(monkeypatch)
    result = run("inspect", path)
    assert_one_line_error(result, WEIGHT, location, "folder")
    assert (tmp_path / "model" / "model.onnx").resolve() in opened     # the spy sees what is read
    assert secret.resolve() not in opened


@pytest.mark.parametrize("entries, words", [
    ({"length": "128"}, ["length 128", "needs 64"]),        # more than the tensor holds
    ({"length": "32"}, ["length 32", "needs 64"]),          # less
    ({"offset": "1000000"}, ["offset 1000000"]),           # past the end of the file
    ({"offset": "-4"}, ["offset -4"]),
    ({"offset": "zero"}, ["offset"]),
])
def test_offset_and_length_are_checked(tmp_path, entries, words):
    path = _save_external(tmp_path / "model")
    _relocate(path, "model.onnx.data", **entries)
    assert_one_line_error(run("inspect", path), WEIGHT, "model.onnx.data", *words)


def test_too_short_data_file_is_refused(tmp_path):
    path = _save_external(tmp_path / "model")
    data = tmp_path / "model" / "model.onnx.data"
    data.write_bytes(data.read_bytes()[:40])
    assert_one_line_error(run("inspect", path), WEIGHT, "model.onnx.data", "has 40 bytes")


def test_missing_data_file_is_refused(tmp_path):
    path = _save_external(tmp_path / "model")
    (tmp_path / "model" / "model.onnx.data").unlink()
    assert_one_line_error(run("inspect", path), WEIGHT, "model.onnx.data", "not a file")
