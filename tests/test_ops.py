"""Level 1: every op case, numpy reference vs onnxruntime vs the generated C compiled for the host."""
from __future__ import annotations

import numpy as np
import pytest

from dietgen.ops import registry
from dietgen.pipeline import compile_model
from dietgen.verify import compare, run_c
from opcase import case_model, run_oracle

SPECS = sorted(registry().values(), key=lambda s: (s.domain, s.op_type))
CASES = [pytest.param(spec, case, id=f"{spec.op_type}-{case.id}")
         for spec in SPECS if not spec.domain for case in spec.cases()]


@pytest.mark.parametrize("spec", [s for s in SPECS if s.kernel and not s.domain], ids=lambda s: s.op_type)
def test_every_device_op_has_cases(spec):
    assert spec.cases(), f"{spec.op_type} runs on the device but has no test cases"


@pytest.mark.parametrize("spec, case", CASES)
def test_op(spec, case, tmp_path):
    model, feeds = case_model(spec, case)
    want = run_oracle(case, model, feeds)

    node = model.graph.node[0]
    from dietgen.frontend import import_onnx, normalise
    graph = import_onnx(normalise(model), "case")
    args = [feeds.get(n, graph.const(n)) if n else None for n in node.input]
    ref = spec.reference(graph.nodes[0] if graph.nodes else _node(spec, model), args)
    ref = [r for i, r in enumerate(ref) if i not in case.absent_outputs]
    for w, r in zip(want, ref):
        report = compare("reference", w, np.asarray(r), case.tol)
        assert report.ok and w.shape == np.asarray(r).shape, report

    compiled = compile_model(model, name="case")
    got = run_c(compiled, feeds, sanitize=True, workdir=tmp_path)
    for name, w in zip(compiled.graph.outputs, want):
        report = compare(name, w, got[name], case.tol)
        assert report.ok, report


def _node(spec, model):
    raise AssertionError(f"{spec.op_type} case folded away at import: give it a run-time input")
