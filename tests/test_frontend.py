"""The frontend: ONNX files of any origin (functions, older opsets) and PyTorch modules become IR graphs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from dietgen.errors import DietgenError
from dietgen.frontend import import_onnx, load_model, normalise
from dietgen.ir import c_identifier, unique_c_names, validate
from dietgen.verify import verify


def _vi(name, shape):
    return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def test_local_functions_are_inlined():
    fn = helper.make_function("my.domain", "Swish", ["x"], ["y"],
                              [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])],
                              [helper.make_opsetid("", 18)])
    graph = helper.make_graph([helper.make_node("Swish", ["x"], ["y"], domain="my.domain")], "g",
                              [_vi("x", [2, 5])], [_vi("y", [2, 5])])
    model = helper.make_model(graph, functions=[fn], opset_imports=[helper.make_opsetid("", 18),
                                                                     helper.make_opsetid("my.domain", 1)])
    model.ir_version = 8
    g = validate(import_onnx(normalise(model), "swish"))
    assert sorted(n.op_type for n in g.nodes) == ["Mul", "Sigmoid"]
    assert verify(model).ok


def test_old_opset_is_converted():
    # opset 11 Clip takes min/max attributes; opset 18 takes inputs.
    graph = helper.make_graph([helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.5)], "g",
                              [_vi("x", [8])], [_vi("y", [8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 6
    g = import_onnx(normalise(model), "clip")
    assert g.nodes[0].op_type == "Clip" and len(g.nodes[0].inputs) == 3
    assert verify(model).ok


def test_too_new_opset_is_refused():
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [_vi("x", [4])], [_vi("y", [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)])
    with pytest.raises(DietgenError, match="opset"):
        normalise(model)


def test_external_data_is_refused_without_reading_it():
    init = numpy_helper.from_array(np.ones(4, np.float32), "w")
    init.data_location = onnx.TensorProto.EXTERNAL
    init.ClearField("raw_data")
    init.external_data.add(key="location", value="../../etc/passwd")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [_vi("x", [4])], [_vi("y", [4])],
                              [init])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(DietgenError, match="external data"):
        normalise(model)


def test_torch_module_exports_with_static_shapes():
    module = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, dilation=2), torch.nn.Tanh())
    loaded = load_model(module, {"x": (1, 2, 20)})
    assert [d.dim_value for d in loaded.proto.graph.input[0].type.tensor_type.shape.dim] == [1, 2, 20]
    assert loaded.proto.opset_import[0].version == 18 and not loaded.proto.functions


def test_torch_module_without_shape_is_a_usage_error():
    with pytest.raises(DietgenError, match="--shape"):
        load_model(torch.nn.ReLU())


def test_c_names():
    assert c_identifier("layer.0/conv:weight") == "layer_0_conv_weight"
    assert c_identifier("3x") == "t_3x" and c_identifier("int") == "t_int" and c_identifier("") == "t"
    assert c_identifier("*/ evil(); /*") == "evil"
    names = unique_c_names(["a.b", "a_b", "A_B", "a-b"])
    assert len(set(n.lower() for n in names.values())) == 4
