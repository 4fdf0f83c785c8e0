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


def causal_effect(frames: int) -> onnx.ModelProto:
    """A small drive effect: a dilated causal Conv1d from mono to 6 channels, tanh, a 1x1 Conv1d back to mono,
    tanh; mono audio in, as many samples out."""
    rng = np.random.default_rng(11)
    inits = [numpy_helper.from_array(rng.uniform(-1.5, 1.5, (6, 1, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.uniform(-0.2, 0.2, (6,)).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.uniform(-0.6, 0.6, (1, 6, 1)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.zeros(1, np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="drive", dilations=[2], pads=[4, 0]),
             helper.make_node("Tanh", ["c"], ["t"], name="clip"),
             helper.make_node("Conv", ["t", "w2", "b2"], ["m"], name="mix"),
             helper.make_node("Tanh", ["m"], ["y"], name="out")]
    graph = helper.make_graph(nodes, "drive", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                                             [1, 1, frames])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1, frames])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="dietgen-tests")
    model.ir_version = 8
    return model
