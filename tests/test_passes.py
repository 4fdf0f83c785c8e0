"""Passes on hand-made graphs: each is a pure Graph -> Graph function that keeps the IR valid."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dietgen.codegen.render import render
from dietgen.frontend import import_onnx, normalise
from dietgen.ir import Graph, Node, Tensor, TensorKind, validate
from dietgen.passes import PASSES, eliminate_dead_code, fold_affine, fold_constants, fuse_activations, \
    matmul_to_dense
from dietgen.pipeline import lower
from dietgen.toolchain.host import build_harness, run_harness
from dietgen.output import write_tree


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return import_onnx(normalise(model), "g")


def _vi(name, shape):
    return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def test_shape_computations_fold_at_import():
    """Shape -> Gather -> Concat -> Reshape, as exporters write it, leaves a single view."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["batch"], axis=0),
             helper.make_node("Concat", ["batch", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    g = _model(nodes, [_vi("x", [2, 3, 4])], [_vi("y", [2, 12])],
               [("zero", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64))])
    assert [n.op_type for n in g.nodes] == ["Reshape"]
    assert g.const("target").tolist() == [2, -1]
    assert g.tensors["y"].shape == (2, 12)


def test_passes_are_pure():
    w = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    g = _model([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])],
               [_vi("x", [2, 4])], [_vi("y", [2, 3])], [("w", w)])
    for p in PASSES:
        before = (g.nodes, dict(g.tensors), dict(g.meta))
        after = validate(p(g))
        assert (g.nodes, dict(g.tensors), dict(g.meta)) == before, f"{p.__name__} changed its input"
        g = after


def test_matmul_bias_relu_becomes_one_dense_kernel():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)
    g = _model([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
                helper.make_node("Relu", ["a"], ["y"])], [_vi("x", [5, 4])], [_vi("y", [5, 3])],
               [("w", w), ("b", b)])
    g = fuse_activations(fold_affine(matmul_to_dense(g)))
    assert [(n.op_type, n.attrs.get("_fn", ("",))[0]) for n in g.nodes] == [("Dense", "DG_F_RELU")]
    dense = g.nodes[0]
    np.testing.assert_allclose(g.const(dense.inputs[1]), w.T)
    np.testing.assert_allclose(g.const(dense.inputs[2]), b)


def test_batchnorm_and_scale_fold_into_conv():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2, 2)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    mean, var = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    scale = rng.uniform(0.5, 2, (3, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"], epsilon=1e-3),
             helper.make_node("Mul", ["n", "scale"], ["y"])]
    g = _model(nodes, [_vi("x", [1, 2, 6])], [_vi("y", [1, 3, 5])],
               [("w", w), ("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var), ("scale", scale)])
    folded = fold_affine(g)
    assert [n.op_type for n in folded.nodes] == ["Conv"]
    x = np.random.default_rng(2).normal(size=(1, 2, 6)).astype(np.float32)
    from dietgen.ops import get_op
    conv = folded.nodes[0]
    got = get_op("Conv").reference(conv, [x, folded.const(conv.inputs[1]), folded.const(conv.inputs[2])])[0]
    c = get_op("Conv").reference(g.nodes[0], [x, w, None])[0]
    want = ((c - mean[:, None]) / np.sqrt(var[:, None] + 1e-3) * gamma[:, None] + beta[:, None]) * scale
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dead_code_is_removed():
    g = _model([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Tanh", ["x"], ["unused"])],
               [_vi("x", [4])], [_vi("y", [4])])
    g = eliminate_dead_code(g)
    assert [n.op_type for n in g.nodes] == ["Relu"] and "unused" not in g.tensors


def test_fold_constants_pass_evaluates_constant_nodes():
    g = Graph("g", {"x": Tensor("x", (3,), kind=TensorKind.INPUT),
                    "c": Tensor("c", (3,), kind=TensorKind.WEIGHT, value=np.ones(3, np.float32)),
                    "e": Tensor("e", (3,)), "y": Tensor("y", (3,), kind=TensorKind.OUTPUT)},
              (Node("Exp", "exp", ("c",), ("e",)), Node("Add", "add", ("x", "e"), ("y",))), ("x",), ("y",))
    folded = validate(fold_constants(g))
    assert [n.name for n in folded.nodes] == ["add"]
    np.testing.assert_allclose(folded.const("e"), np.e * np.ones(3), rtol=1e-6)


def test_state_persists_across_steps_and_resets(tmp_path):
    """A state tensor (the IR's streaming memory) keeps its value between NAME_step calls: out = x + s; s = out."""
    tensors = {"x": Tensor("x", (4,), kind=TensorKind.INPUT), "y": Tensor("y", (4,), kind=TensorKind.OUTPUT),
               "s": Tensor("s", (4,), kind=TensorKind.STATE, value=np.full(4, 10, np.float32))}
    g = Graph("acc", tensors, (Node("Add", "acc", ("x", "s"), ("y",)), Node("Identity", "keep", ("y",), ("s",))),
              ("x",), ("y",))
    g = lower(validate(g))
    assert g.meta["plan"].state_bytes == 16
    src = write_tree(render(g), tmp_path / "src")
    exe = build_harness(src, "acc", tmp_path / "acc", sanitize=True)
    blocks = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = run_harness(exe, blocks, 4)
    np.testing.assert_allclose(out, 10 + np.cumsum(blocks, axis=0))
