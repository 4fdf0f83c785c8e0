"""Level 2: whole torch models -> ONNX -> C on the host, against onnxruntime; the planner's arena against its
lower bound on every one of them."""
from __future__ import annotations

import pytest

import models
from dietgen.pipeline import compile_model
from dietgen.verify import verify

RATIOS: dict[str, float] = {}


@pytest.fixture(scope="module", params=models.NAMES)
def compiled(request):
    module, shapes = models.build(request.param)
    return request.param, compile_model(module, shapes, name=request.param)


def test_matches_onnxruntime(compiled):
    name, c = compiled
    report = verify(None, compiled=c, tol=1e-4)
    for o in report.outputs:
        print(f"{name}: {o.name} max abs {o.max_abs:.2e}, max/RMS {o.max_rel:.2e}, SNR {o.snr_db:.1f} dB")
    assert report.ok, report


def test_arena_within_10_percent_of_lower_bound(compiled):
    name, c = compiled
    plan = c.graph.meta["plan"]
    print(f"{name}: arena {plan.arena_bytes} B, lower bound {plan.lower_bound} B, ratio {plan.ratio:.3f}")
    assert plan.arena_bytes <= 1.10 * plan.lower_bound


def test_clean_under_sanitizers_with_gcc_and_clang(compiled):
    name, c = compiled
    if name not in ("mixed", "decoder"):
        pytest.skip("sanitizer builds run on the models that use every kernel family")
    for cc in ("gcc", "clang"):
        report = verify(None, compiled=c, sanitize=True, cc=cc)
        assert report.ok, (cc, report)
