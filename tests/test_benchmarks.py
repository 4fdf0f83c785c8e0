"""The benchmark scripts run and measure what they say (their numbers go in closing notes, not in asserts)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_stream_steps_benchmark_counts_a_checked_program(root, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(root / "benchmarks" / "stream_steps.py"), "--models", "lstm20",
                             "--blocks", "1", "--steps", "20", "--warmup", "2", "--json", str(out)],
                            capture_output=True, text=True, cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(out.read_text())
    rows = doc["rows"] if isinstance(doc, dict) else doc
    assert {(r["model"], r["block"], r["opt"]) for r in rows} == {("lstm20", 1, "-O3"), ("lstm20", 1, "-O2")}
    assert "| lstm20 | 1 |" in result.stdout
    for r in rows:
        assert r["measured_steps"] == 20 and r["instructions_per_step"] > 0
        assert r["max_abs_error_vs_torch"] < 1e-5 and r["state_bytes"] == 160
