"""The import path against mutated ONNX files: every mutant goes where `dietgen inspect` and `dietgen export` take
a file (load, import, passes, render) and must come out as C or as a one-line DietgenError, never as another
exception and never as a crash of the process.

The loop runs in a child process, so that a mutant which aborts the interpreter (the onnx checker has done so)
fails this test with the mutant's name instead of killing the pytest worker.
"""
from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import clirun
from clirun import assert_one_line_error
from golden_models import tiny_conv_dense
from models import lstm_layout1

MUTANTS = 500
SEED = 20260
BIG_INTS = (2**62, -2**62, 2**31, 2**31 - 1, -2**31, -1, 0, 1, 2, 3, 10**12)
BAD_FLOATS = (float("nan"), float("inf"), float("-inf"), 3e38)
OP_TYPES = ("Conv", "Relu", "Split", "Concat", "Gemm", "MatMul", "Pad", "Softmax", "LeakyRelu", "ConvTranspose",
            "Transpose", "Reshape", "Slice", "LSTM", "Squeeze", "Add", "Tanh", "Resize", "CumSum", "Nope")


def _vi(name, shape):
    return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def mixed_ops() -> onnx.ModelProto:
    """Gemm, LeakyRelu, Split by num_outputs, Concat, Pad, ConvTranspose and Softmax: attributes of every kind."""
    rng = np.random.default_rng(3)

    def arr(*shape):
        return numpy_helper.from_array(rng.uniform(-0.5, 0.5, shape).astype(np.float32))
    inits = [arr(6, 8), arr(8), arr(2, 3, 4), numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 1], np.int64))]
    for init, name in zip(inits, ("gw", "gb", "tw", "pads")):
        init.name = name
    nodes = [helper.make_node("Gemm", ["x", "gw", "gb"], ["g"], name="gemm", alpha=0.5, beta=1.0, transB=0),
             helper.make_node("LeakyRelu", ["g"], ["l"], name="leaky", alpha=0.1),
             helper.make_node("Split", ["l"], ["s0", "s1"], name="split", axis=1, num_outputs=2),
             helper.make_node("Concat", ["s1", "s0"], ["c"], name="concat", axis=1),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
             helper.make_node("Pad", ["r", "pads"], ["p"], name="pad", mode="constant"),
             helper.make_node("ConvTranspose", ["p", "tw"], ["t"], name="up", strides=[2], pads=[1, 1],
                              dilations=[1], group=1),
             helper.make_node("Softmax", ["t"], ["y"], name="softmax", axis=1)]
    inits.append(numpy_helper.from_array(np.array([2, 2, 4], np.int64), "shape"))
    graph = helper.make_graph(nodes, "mixed", [_vi("x", [2, 6])], [_vi("y", [2, 3, 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="dietgen-tests")
    model.ir_version = 8
    return model


def with_function() -> onnx.ModelProto:
    """A local function (inlined by the frontend) between two convolutions."""
    fn = helper.make_function("my.domain", "Swish", ["a"], ["b"],
                              [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])],
                              [helper.make_opsetid("", 18)])
    w = numpy_helper.from_array(np.full((2, 2, 3), 0.25, np.float32), "w")
    pointwise = numpy_helper.from_array(np.full((2, 2, 1), 0.5, np.float32), "pw")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[2, 0], kernel_shape=[3]),
             helper.make_node("Swish", ["c"], ["s"], name="swish", domain="my.domain"),
             helper.make_node("Conv", ["s", "pw"], ["y"], name="pointwise", dilations=[1], strides=[1], group=1)]
    graph = helper.make_graph(nodes, "fn", [_vi("x", [1, 2, 10])], [_vi("y", [1, 2, 10])], [w, pointwise])
    model = helper.make_model(graph, functions=[fn], opset_imports=[helper.make_opsetid("", 18),
                                                                     helper.make_opsetid("my.domain", 1)])
    model.ir_version = 8
    return model




def _names(model: onnx.ModelProto) -> list[str]:
    g = model.graph
    names = [n.name for n in g.node] + [o for n in g.node for o in n.output] + [i.name for i in g.input]
    return [n for n in names if len(n) >= 1]


def _mutate(model: onnx.ModelProto, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of ``model``: what it did, and the file's bytes."""
    g = model.graph
    kind = rng.choice(("int", "int", "float", "utf8", "dim", "outputs", "op", "duplicate", "truncate", "flip",
                       "rewire"))
    node = rng.choice(g.node)
    if kind == "int":
        attrs = [a for n in g.node for a in n.attribute if a.type in (onnx.AttributeProto.INT,
                                                                          onnx.AttributeProto.INTS)]
        if attrs:
            a = rng.choice(attrs)
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(BIG_INTS)
            elif a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice(BIG_INTS)
            kind = f"int {a.name}"
    elif kind == "float":
        attrs = [a for n in g.node for a in n.attribute if a.type == onnx.AttributeProto.FLOAT]
        if attrs:
            a = rng.choice(attrs)
            a.f = rng.choice(BAD_FLOATS)
            kind = f"float {a.name}={a.f}"
    elif kind == "dim":
        value = rng.choice((*g.input, *g.output))
        dims = value.type.tensor_type.shape.dim
        if dims:
            d = dims[rng.randrange(len(dims))]
            choice = rng.choice((0, 2**40, None, 3))
            if choice is None:
                d.Clear()
            else:
                d.dim_value = choice
            kind = f"dim {value.name}={choice}"
    elif kind == "outputs":
        del g.output[rng.randrange(len(g.output)):]
    elif kind == "op":
        node.op_type = rng.choice(OP_TYPES)
        kind = f"op {node.name}->{node.op_type}"
    elif kind == "duplicate":
        g.node.insert(rng.randrange(len(g.node) + 1), node)
    elif kind == "rewire" and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(_names(model) + [""])
    data = model.SerializeToString()
    if kind == "utf8":
        # an invalid UTF-8 byte in place of a name's first byte keeps every length in the file right
        name = rng.choice(_names(model)).encode()
        data = data.replace(name, b"\xff" + name[1:], rng.choice((1, -1)))
    elif kind == "truncate":
        data = data[:rng.randrange(len(data))]
    elif kind == "flip":
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    return kind, data


def _lstm() -> onnx.ModelProto:
    model = lstm_layout1()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 12
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 12
    return model


SEEDS = {"tiny": tiny_conv_dense, "lstm": _lstm, "mixed": mixed_ops, "function": with_function}


def mutants(count: int = MUTANTS, seed: int = SEED):
    rng = random.Random(seed)
    names = sorted(SEEDS)
    for i in range(count):
        name = names[i % len(names)]
        kind, data = _mutate(SEEDS[name](), rng)
        yield f"#{i} {name}: {kind}", data


def check(path: Path) -> None:
    """What `dietgen export` does with an ONNX file, up to the C text, which must compile: no integer the C
    compiler would refuse, no NaN or Inf (what the import lets through reaches the C)."""
    from dietgen.codegen.render import render
    from dietgen.pipeline import compile_model
    files = render(compile_model(path).graph)
    for name, text in files.items():
        if name.startswith("dietgen/"):
            continue    # the runtime, copied as it is
        big = [n for n in re.findall(r"(?<![\w.])\d+(?![\w.])", text) if int(n) >= 2**31]
        assert not big, f"{name} holds {big[0]}, beyond a 32-bit int"
        assert not re.search(r"\b(NAN|INFINITY)\b", text), f"{name} holds a NaN or Inf"


def run(count: int = MUTANTS, seed: int = SEED) -> dict:
    """Every mutant through check(); the unexpected exceptions by mutant. Prints each mutant's label before it
    runs, so that the parent can name the one that crashed the process."""
    from dietgen.errors import DietgenError
    failures, refused = {}, 0
    with tempfile.TemporaryDirectory(prefix="dietgen-fuzz-") as tmp:
        path = Path(tmp) / "model.onnx"
        for label, data in mutants(count, seed):
            print(label, file=sys.stderr, flush=True)
            path.write_bytes(data)
            try:
                check(path)
            except DietgenError as exc:
                refused += 1
                assert "\n" not in exc.message, (label, exc.message)
            except Exception as exc:  # what the test is looking for
                failures[label] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return {"failures": failures, "refused": refused, "count": count}


def test_mutated_models_are_imported_or_refused_in_one_line():
    here = Path(__file__).resolve().parent
    code = (f"import json, sys; sys.path[:0] = [{str(here)!r}, {str(here.parent)!r}]; import test_fuzz_import as t; "
            f"print(json.dumps(t.run()))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    last = proc.stderr.strip().splitlines()[-1:] or ["(nothing)"]
    assert proc.returncode == 0, f"the fuzz loop died with status {proc.returncode} at mutant {last[0]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["failures"], json.dumps(result["failures"], indent=1)
    assert result["refused"] < result["count"]    # the mutants are not all refused: some import cleanly


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else MUTANTS), indent=1))


# -- what the fuzzing found, one regression test each ------------------------------------------------------------

def _file(tmp_path: Path, model: onnx.ModelProto | bytes) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def _set_attr(model: onnx.ModelProto, node_name: str, **values) -> onnx.ModelProto:
    node = next(n for n in model.graph.node if n.name == node_name)
    for key, value in values.items():
        kept = [a for a in node.attribute if a.name != key]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute(key, value)])
    return model


def _free_output_shape(model: onnx.ModelProto) -> None:
    for i, dim in enumerate(model.graph.output[0].type.tensor_type.shape.dim):
        dim.Clear()
        dim.dim_param = f"d{i}"


@pytest.mark.parametrize("command", ["inspect", "export"])
def test_graph_without_outputs_is_refused(tmp_path, command):
    model = tiny_conv_dense()
    del model.graph.output[:]
    args = ("-o", tmp_path / "out") if command == "export" else ()
    assert_one_line_error(clirun.run(command, _file(tmp_path, model), *args), "the graph has no outputs")


@pytest.mark.parametrize("name, words", [
    (b"fc_bias", ["node #4", "'name'"]),          # a node's name
    (b"to_frames", ["node #2", "'name'"]),
    (b"fc.weight", ["node 'fc'", "'input'"]),     # a tensor's name, where a node reads it
])
def test_names_that_are_not_utf8_are_refused(tmp_path, name, words):
    data = tiny_conv_dense().SerializeToString().replace(name, b"\xff" + name[1:])
    assert_one_line_error(clirun.run("inspect", _file(tmp_path, data)), "UTF-8", *words)


def test_attribute_text_that_is_not_utf8_is_refused(tmp_path):
    data = mixed_ops().SerializeToString().replace(b"constant", b"\xc3onstant")
    assert_one_line_error(clirun.run("inspect", _file(tmp_path, data)), "node 'pad'", "attribute 'mode'", "UTF-8")


def test_recursive_local_function_is_refused(tmp_path):
    model = with_function()
    fn = model.functions[0]
    fn.node[1].op_type, fn.node[1].domain = "Swish", "my.domain"     # Swish's body calls Swish
    fn.opset_import.append(helper.make_opsetid("my.domain", 1))
    assert_one_line_error(clirun.run("inspect", _file(tmp_path, model)), "my.domain::Swish", "calls itself")


def test_split_whose_num_outputs_disagrees_does_not_abort(tmp_path):
    # onnx's shape inference aborts the process on this node: run the CLI in a process of its own
    path = _file(tmp_path, _set_attr(mixed_ops(), "split", num_outputs=1))
    proc = subprocess.run([sys.executable, "-c", "from dietgen.cli import main; main()", "inspect", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "num_outputs=1 but the node has 2 outputs" in proc.stderr


@pytest.mark.parametrize("node, attr, value", [
    ("leaky", "alpha", float("nan")), ("gemm", "alpha", float("inf")), ("gemm", "beta", float("-inf"))])
def test_non_finite_float_attributes_are_refused(tmp_path, node, attr, value):
    path = _file(tmp_path, _set_attr(mixed_ops(), node, **{attr: value}))
    assert_one_line_error(clirun.run("inspect", path), f"node {node!r}", f"attribute {attr!r}", "not finite")


@pytest.mark.parametrize("model, node, attr, value", [
    (with_function, "pointwise", "dilations", [2**62]),    # accepted, then refused by the C compiler
    (with_function, "pointwise", "group", 2**40),
    (mixed_ops, "split", "axis", -2**40),
])
def test_integer_attributes_are_bounded_to_int32(tmp_path, model, node, attr, value):
    path = _file(tmp_path, _set_attr(model(), node, **{attr: value}))
    assert_one_line_error(clirun.run("inspect", path), f"node {node!r}", f"attribute {attr!r}", "2147483647")


def test_tensors_past_int32_elements_are_refused(tmp_path):
    model = mixed_ops()
    pads = next(t for t in model.graph.initializer if t.name == "pads")
    pads.CopyFrom(numpy_helper.from_array(np.array([0, 0, 2**31, 0, 0, 1], np.int64), "pads"))
    _free_output_shape(model)
    assert_one_line_error(clirun.run("inspect", _file(tmp_path, model)), "node 'pad'", "elements", "2147483647")


def test_zero_sized_input_is_refused(tmp_path):
    model = tiny_conv_dense()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 0
    _free_output_shape(model)
    assert_one_line_error(clirun.run("inspect", _file(tmp_path, model)), "input 'x'", "zero-sized dimension 2")


@pytest.mark.parametrize("stage", ["session", "run"])
def test_onnxruntime_refusals_are_one_line_errors(capfd, stage):
    from dietgen.errors import DietgenError
    from dietgen.verify import _session_run
    if stage == "session":   # onnxruntime refuses the types, and so does onnx's reference evaluator
        graph = helper.make_graph([helper.make_node("Add", ["x", "k"], ["y"], name="add")], "g", [_vi("x", [4])],
                                  [_vi("y", [4])], [numpy_helper.from_array(np.arange(4), "k")])
        feeds = {"x": np.zeros(4, np.float32)}
    else:                    # a reshape to a size only known at run time
        graph = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], "g",
                                  [_vi("x", [4]), helper.make_tensor_value_info("s", onnx.TensorProto.INT64, [1])],
                                  [_vi("y", None)])
        feeds = {"x": np.zeros(4, np.float32), "s": np.array([5], np.int64)}
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    with pytest.raises(DietgenError, match="onnxruntime .* the model, so there is no reference") as err:
        _session_run(model, ["y"], feeds)
    assert "\n" not in err.value.message and "ONNXRuntimeError" not in err.value.message
    assert capfd.readouterr().err == ""     # onnxruntime's own log lines stay quiet
