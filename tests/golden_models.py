"""Small models whose generated trees are kept as golden files (tests/golden/<name>/)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dietgen.passes.stream import StreamSpec


def tiny_conv_dense() -> onnx.ModelProto:
    """Causal dilated Conv1d + ReLU, then a Linear layer over channels with Tanh: the spine in miniature."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.uniform(-0.5, 0.5, (4, 2, 2)).astype(np.float32), "conv.weight"),
             numpy_helper.from_array(rng.uniform(-0.5, 0.5, (4,)).astype(np.float32), "conv.bias"),
             numpy_helper.from_array(rng.uniform(-0.5, 0.5, (4, 3)).astype(np.float32), "fc.weight"),
             numpy_helper.from_array(rng.uniform(-0.5, 0.5, (3,)).astype(np.float32), "fc.bias")]
    nodes = [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv", dilations=[2],
                              pads=[2, 0]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Transpose", ["r"], ["t"], name="to_frames", perm=[0, 2, 1]),
             helper.make_node("MatMul", ["t", "fc.weight"], ["m"], name="fc"),
             helper.make_node("Add", ["m", "fc.bias"], ["a"], name="fc_bias"),
             helper.make_node("Tanh", ["a"], ["y"], name="tanh")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 8])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="dietgen-tests")
    model.ir_version = 8
    return model


# name -> (model, how to compile it: False for the offline window, a StreamSpec for the step program)
GOLDEN = {"tiny": (tiny_conv_dense, False), "tiny_stream": (tiny_conv_dense, StreamSpec(3))}
