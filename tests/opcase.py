"""Build single-node ONNX models from an op's test cases."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dietgen.frontend.onnx_model import OPSET
from dietgen.ops import OpCase, OpSpec, Rand


def case_model(spec: OpSpec, case: OpCase, seed: int = 0) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    inputs, feeds, inits, names = [], {}, [], []
    for i, item in enumerate(case.inputs):
        name = f"in{i}"
        if item is None:
            names.append("")
        elif isinstance(item, Rand):
            feeds[name] = rng.uniform(item.low, item.high, item.shape).astype(np.float32)
            inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, item.shape))
            names.append(name)
        else:
            inits.append(numpy_helper.from_array(np.asarray(item), name))
            names.append(name)
    while names and names[-1] == "":
        names.pop()
    outs = [f"out{i}" for i in range(case.n_outputs)]
    node = helper.make_node(spec.op_type, names, outs, domain=spec.domain, **case.attrs)
    graph = helper.make_graph([node], f"{spec.op_type}_{case.id}", inputs,
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    # Output shapes as onnxruntime computes them, so the model passes the checker as any exported one would.
    import onnxruntime as ort
    results = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    del model.graph.output[:]
    model.graph.output.extend(helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(r.dtype), r.shape)
                              for o, r in zip(outs, results))
    return model, feeds
