"""dietgen bench: every runtime's row and field is there and sane. Speeds are never asserted (shared machines)."""
from __future__ import annotations

import json
import math
import shutil

import onnx
import pytest

from clirun import assert_one_line_error, run
from golden_models import tiny_conv_dense

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")

RUNTIMES = ("C -O2", "C -O3 -march=native", "onnxruntime (1 thread)")
TORCH = "PyTorch eager (1 thread)"


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    return path


def _positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _check_rows(doc, runtimes, repeats):
    rows = {r["runtime"]: r for r in doc["rows"]}
    assert tuple(rows) == runtimes
    assert _positive(doc["macs_per_call"]) and _positive(doc["fma_peak_macs_per_second"])
    for r in rows.values():
        assert len(r["seconds"]) == repeats and all(_positive(s) for s in r["seconds"])
        assert r["minimum"] <= r["median"] <= r["maximum"]
        for key in ("median", "ms_per_audio_second", "ratio_vs_c_o2", "macs_per_second", "fma_peak_fraction"):
            assert _positive(r[key]), (r["runtime"], key, r[key])
    assert rows["C -O2"]["ratio_vs_c_o2"] == 1.0 and _positive(rows["C -O2"]["instructions"])
    return rows


def test_bench_table_of_a_pytorch_model_has_every_runtime():
    result = run("bench", "models:GruModel", "--shape", "x=1x32x3", "--repeats", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in (*RUNTIMES, TORCH):
        assert any(line.startswith(name) for line in lines), name
    assert "MACs per call" in result.output and "% FMA peak" in result.output


def test_bench_json_and_plot(tiny, tmp_path):
    png = tmp_path / "bench.png"
    result = run("bench", tiny, "--repeats", "3", "--json", "--plot", png)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    _check_rows(doc, RUNTIMES, 3)     # an ONNX file: no PyTorch row
    assert doc["board"] is None and doc["stream"] is False
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bench_on_a_board_counts_instructions_per_op(tiny):
    result = run("bench", tiny, "--repeats", "1", "--board", "nano33ble", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    _check_rows(doc, RUNTIMES, 1)
    board = doc["board"]
    assert board["board"] == "nano33ble" and board["unit"] == "instructions" and _positive(board["rtf"])
    ops = {o["op"]: o for o in board["ops"]}
    assert {"Conv", "Dense"} <= set(ops)
    assert 0 < sum(o["count"] for o in ops.values()) <= board["total"]   # the step adds its own few
    assert _positive(ops["Conv"]["per_mac"])


@pytest.mark.slow
def test_bench_streamed_checkpoint(root):
    result = run("bench", root / "examples" / "demo", "--repeats", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    rows = _check_rows(doc, (*RUNTIMES, TORCH), 2)
    assert doc["stream"] is True and doc["calls_per_input"] > 1
    assert "offline model" in rows["onnxruntime (1 thread)"]["note"]


@pytest.mark.parametrize("args, words", [
    (("--board", "nosuchboard"), ("unknown board",)),
    (("--board", "esp32-s3-devkitc-1"), ("no emulator",)),
    (("--repeats", "0"), ("--repeats",)),
])
def test_bench_bad_input(tiny, args, words):
    assert_one_line_error(run("bench", tiny, *args), *words)


def test_bench_unwritable_plot(tiny, tmp_path):
    assert_one_line_error(run("bench", tiny, "--plot", tmp_path / "missing" / "b.png"), "--plot")
