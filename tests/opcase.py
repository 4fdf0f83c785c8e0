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
    outs = ["" if i in case.absent_outputs else f"out{i}" for i in range(case.n_outputs)]
    node = helper.make_node(spec.op_type, names, outs, domain=spec.domain, **case.attrs)
    graph = helper.make_graph([node], f"{spec.op_type}_{case.id}", inputs,
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs if o],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    # Output shapes as the oracle computes them, so the model passes the checker as any exported one would.
    results = run_oracle(case, model, feeds)
    del model.graph.output[:]
    model.graph.output.extend(helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(r.dtype), r.shape)
                              for o, r in zip([o for o in outs if o], results))
    return model, feeds


def run_oracle(case: OpCase, model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    if case.oracle == "onnx.reference":
        from onnx.reference import ReferenceEvaluator
        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
    import onnxruntime as ort
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
