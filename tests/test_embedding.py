"""dietgen::Embedding: its test cases through the host-compiled C kernel against the numpy reference (onnxruntime
has no such op, so tests/test_ops.py leaves dietgen-domain ops out), codes out of range and between classes, its
streaming along the codes' last axis, and WaveNet's export reading its mu-law codes through it."""
from __future__ import annotations


import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from dietgen.errors import DietgenError
from dietgen.frontend.onnx_model import OPSET
from dietgen.models.base import build
from dietgen.ops import Rand, get_op
from dietgen.ops.embedding import class_indices
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model
from dietgen.verify import run_c, verify

SPEC = get_op("Embedding", "dietgen")


def embedding_model(codes_shape, table: np.ndarray, after: list | None = None, inits=(),
                    out_shape=None) -> onnx.ModelProto:
    """codes -> dietgen::Embedding(table) -> y, then the nodes ``after`` (reading "y", writing "out" of
    ``out_shape``)."""
    nodes = [helper.make_node("Embedding", ["codes", "table"], ["y"], domain="dietgen"), *(after or [])]
    out = helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, out_shape) if after else \
        helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (*codes_shape, *table.shape[1:]))
    graph = helper.make_graph(nodes, "embedding",
                              [helper.make_tensor_value_info("codes", onnx.TensorProto.FLOAT, codes_shape)], [out],
                              initializer=[numpy_helper.from_array(table, "table"), *inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("dietgen", 1)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("case", SPEC.cases(), ids=lambda c: c.id)
def test_cases_c_equals_reference(case, tmp_path):
    rand, table = case.inputs
    assert isinstance(rand, Rand)
    codes = np.random.default_rng(0).uniform(rand.low, rand.high, rand.shape).astype(np.float32)
    want = table[class_indices(codes, table.shape[0])]
    compiled = compile_model(embedding_model(rand.shape, table), name="embedding")
    assert np.array_equal(SPEC.reference(compiled.graph.nodes[0], [codes, table])[0], want)
    got = run_c(compiled, {"codes": codes}, sanitize=True, workdir=tmp_path)["y"]
    assert got.shape == want.shape and np.array_equal(got, want)


def test_codes_round_to_nearest_and_clamp_in_c_as_in_numpy(tmp_path):
    codes = np.array([-1e30, -1, -0.5, 0.49, 0.5, 1.5, 2.5, 2.4999998, 6.49, 6.5, 7, 1e9,
                      np.nan, np.inf, -np.inf], np.float32)
    want = [0, 0, 0, 0, 1, 2, 3, 2, 6, 6, 6, 6, 0, 6, 0]
    assert class_indices(codes, 7).tolist() == want
    table = np.arange(14, dtype=np.float32).reshape(7, 2)
    got = run_c(compile_model(embedding_model(codes.shape, table), name="embedding"), {"codes": codes},
                sanitize=True, workdir=tmp_path)["y"]
    assert np.array_equal(got, table[want])


def test_refuses_what_it_cannot_run():
    table = np.zeros((4, 3), np.float32)
    with pytest.raises(DietgenError, match="table of shape"):
        compile_model(embedding_model((1, 5), np.zeros((4, 3, 2), np.float32)))
    with pytest.raises(DietgenError, match="only float32 tables"):
        compile_model(embedding_model((1, 5), np.zeros((4, 3), np.int64)))
    # a table computed at run time
    graph = helper.make_graph([helper.make_node("Embedding", ["codes", "table"], ["y"], domain="dietgen")], "e",
                              [helper.make_tensor_value_info("codes", onnx.TensorProto.FLOAT, (1, 5)),
                               helper.make_tensor_value_info("table", onnx.TensorProto.FLOAT, table.shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (1, 5, 3))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("dietgen", 1)])
    model.ir_version = 8
    with pytest.raises(DietgenError, match="table .* must be a constant"):
        compile_model(model)


def test_costs_a_copy_of_the_rows():
    compiled = compile_model(embedding_model((2, 10), np.zeros((256, 8), np.float32)))
    node = compiled.graph.nodes[0]
    cost = SPEC.cost(node, compiled.graph)
    assert (cost.macs, cost.bytes_read, cost.bytes_written) == (0, 4 * (20 + 160), 4 * 160)


@pytest.mark.parametrize("block", [1, 5])
def test_streams_along_the_codes_last_axis(block):
    """Embedding, then time moved last and a causal convolution over it (its ring buffer spans blocks)."""
    rng = np.random.default_rng(4)
    table = rng.uniform(-1, 1, (9, 3)).astype(np.float32)
    weight = rng.uniform(-1, 1, (2, 3, 3)).astype(np.float32)
    after = [helper.make_node("Transpose", ["y"], ["yt"], perm=[0, 2, 1]),
             helper.make_node("Conv", ["yt", "w"], ["out"], pads=[4, 0], dilations=[2])]
    model = embedding_model((1, 20), table, after, [numpy_helper.from_array(weight, "w")], (1, 2, 20))
    codes = rng.integers(-2, 11, (1, 40)).astype(np.float32) + rng.choice([0, 0.3, 0.5], (1, 40)).astype(np.float32)
    report = verify(model, stream=StreamSpec(block), inputs={"codes": codes}, sanitize=True, tol=1e-6)
    assert report.stream.time_axes == {"codes": 1} and report.blocks == 40 // block
    assert all(o.ok for o in report.outputs), report


def test_wavenet_export_reads_codes_through_the_table():
    torch.manual_seed(0)
    model = build("wavenet", "tiny", num_instruments=3).eval()
    module, shapes = model.export_module()
    assert shapes["x"] == (1, model.config["export_length"])
    compiled = compile_model(module, shapes, name="wavenet")
    lookup = [n for n in compiled.onnx.graph.node if n.domain == "dietgen"]
    assert [(n.op_type, n.input[0]) for n in lookup] == [("Embedding", "x")]
    codes = torch.randint(0, 256, shapes["x"]).float()
    conditioning = [torch.eye(shapes[n][1])[:1] for n in ("pitch", "velocity", "instrument")]
    with torch.no_grad():
        want = module(codes, *conditioning)
        teacher = model.network(model.input(codes.long()).transpose(1, 2), model.conditioning(
            {"pitch": torch.tensor([0]), "velocity": torch.tensor([0]), "instrument": torch.tensor([0])}), None)
    assert torch.allclose(want, teacher, atol=1e-6)
    feeds = {"x": codes.numpy(), **{n: c.numpy() for n, c in zip(("pitch", "velocity", "instrument"), conditioning)}}
    got = run_c(compiled, feeds)[compiled.graph.outputs[0]]
    assert np.abs(got - want.numpy()).max() <= 1e-4 * np.sqrt(np.mean(want.numpy() ** 2))
