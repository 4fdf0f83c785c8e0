"""ONNX graph -> dietgen IR.

Each node goes through its OpSpec: attributes checked against the spec's list, output shapes inferred (which
validates the node), and nodes computable at export time folded on the spot so that later shapes are static.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from dietgen.errors import DietgenError
from dietgen.ir import Graph, Node, Tensor, TensorKind
from dietgen.ops import get_op
from dietgen.passes.fold import fold_node

_DTYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.BOOL: "bool",
}


def dtype_name(elem_type: int) -> str:
    return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name if elem_type else "undefined"


def _weight(proto: onnx.TensorProto, where: str) -> Tensor:
    if proto.data_type not in _DTYPES:
        raise DietgenError(f"{where} {proto.name!r} is {dtype_name(proto.data_type)}; dietgen takes float32 "
                           f"weights (convert the model with model.float() before export)")
    value = numpy_helper.to_array(proto)
    if value.dtype.kind == "f":
        bad = ~np.isfinite(value)
        if bad.any():
            what = "NaN" if np.isnan(value).any() else "Inf"
            raise DietgenError(f"{where} {proto.name!r} contains {what} ({int(bad.sum())} of {value.size} "
                               f"values); fix or retrain the model")
    value = np.require(value, requirements="C")
    value.setflags(write=False)
    return Tensor(proto.name, tuple(value.shape), str(value.dtype), TensorKind.WEIGHT, value)


def _attributes(node: onnx.NodeProto, node_name: str) -> dict:
    attrs = {}
    for a in node.attribute:
        if a.ref_attr_name:
            raise DietgenError(f"node {node_name!r}: attribute {a.name!r} refers to a function attribute")
        value = onnx.helper.get_attribute_value(a)
        if a.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS) and \
                not np.isfinite(np.asarray(value, dtype=np.float64)).all():
            raise DietgenError(f"node {node_name!r} ({node.op_type}): attribute {a.name!r} is {value} (not finite); "
                               f"fix the model's parameters")
        # text was checked to be UTF-8 when the model was normalised
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8") for v in value]
        elif isinstance(value, onnx.TensorProto):
            value = _weight(value, f"node {node_name!r} attribute").value
        elif isinstance(value, list):
            value = tuple(value)
        attrs[a.name] = value
    return attrs


def import_onnx(model: onnx.ModelProto, name: str, meta: dict | None = None) -> Graph:
    """A normalised (see frontend.onnx_model.normalise) ONNX model as an IR graph."""
    g = model.graph
    tensors: dict[str, Tensor] = {}
    for init in g.initializer:
        tensors[init.name] = _weight(init, "weight")
    inputs = []
    for inp in g.input:
        if inp.name in tensors:
            continue
        tt = inp.type.tensor_type
        dtype = dtype_name(tt.elem_type)
        if dtype != "float32":
            raise DietgenError(f"input {inp.name!r} is {dtype}; dietgen models take float32 inputs")
        shape = tuple(d.dim_value for d in tt.shape.dim)
        if 0 in shape:
            raise DietgenError(f"input {inp.name!r} has a zero-sized dimension {shape.index(0)} (shape {shape}); "
                               f"every dimension needs at least one element (export with a non-empty input)")
        _check_size(f"input {inp.name!r}", shape)
        tensors[inp.name] = Tensor(inp.name, shape, dtype, TensorKind.INPUT)
        inputs.append(inp.name)
    if not inputs:
        raise DietgenError("the model has no inputs; dietgen needs at least one run-time input")

    nodes: list[Node] = []
    used_names: set[str] = set()
    for i, proto in enumerate(g.node):
        node_name = proto.name or f"{proto.op_type}_{i}"
        while node_name in used_names:
            node_name = f"{node_name}_{i}"
        used_names.add(node_name)
        given = _attributes(proto, node_name)
        if proto.op_type == "Constant" and proto.domain in ("", "ai.onnx"):
            tensors[proto.output[0]] = _constant(proto, node_name)
            continue
        spec = get_op(proto.op_type, "" if proto.domain == "ai.onnx" else proto.domain, node_name)
        provisional = Node(proto.op_type, node_name, tuple(proto.input), tuple(proto.output), {}, proto.domain)
        node = provisional.with_(attrs=spec.attrs_for(provisional, given))
        _check_ints(spec, node)
        ins = [tensors[n] if n else None for n in node.inputs]
        infos = spec.infer(node, ins)
        for out, (shape, dtype) in zip(node.outputs, infos):
            if out:
                _check_size(f"node {node_name!r} ({proto.op_type}) output {out!r}", shape)
                tensors[out] = Tensor(out, tuple(int(d) for d in shape), dtype, TensorKind.ACTIVATION)
        folded = fold_node(spec, node, tensors)
        if folded is None:
            nodes.append(node)
        else:
            tensors.update(folded)

    outputs = tuple(o.name for o in g.output)
    for out in outputs:
        t = tensors[out]
        if t.is_constant or t.kind == TensorKind.INPUT:
            raise DietgenError(f"output {out!r} does not depend on any run-time input (it is constant or an "
                               f"input passed through); remove it from the model's outputs")
        if t.dtype != "float32":
            raise DietgenError(f"output {out!r} is {t.dtype}; dietgen models produce float32 outputs")
        tensors[out] = t.with_(kind=TensorKind.OUTPUT)
    graph = Graph(name, tensors, tuple(nodes), tuple(inputs), outputs, dict(meta or {}))
    return graph.replace(tensors={n: t for n, t in tensors.items() if n in graph.used_tensors()})


# Sizes, offsets and attribute values reach the generated C as 32-bit ints (dg_int).
INT_LIMIT = 2**31 - 1


def _check_ints(spec, node: Node) -> None:
    """Refuse integer attributes the generated C cannot hold: every op's sizes, strides, pads and dilations."""
    for key, value in node.attrs.items():
        limit = 2**32 - 1 if key in spec.uint32_attributes else INT_LIMIT
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and not -INT_LIMIT <= v <= limit:
                raise DietgenError(f"node {node.name!r} ({node.op_type}): attribute {key!r} is {v}, beyond the "
                                   f"32-bit limit of the generated C ({-INT_LIMIT}..{limit})")


def _check_size(what: str, shape) -> None:
    size = math.prod(int(d) for d in shape)
    if size > INT_LIMIT:
        raise DietgenError(f"{what} would have {size} elements (shape {tuple(int(d) for d in shape)}); the generated "
                           f"C indexes with 32-bit ints (at most {INT_LIMIT})")


def _constant(proto: onnx.NodeProto, node_name: str) -> Tensor:
    attrs = {a.name: a for a in proto.attribute}
    if "value" in attrs:
        t = _weight(attrs["value"].t, f"constant {node_name!r}")
    else:
        value = onnx.helper.get_attribute_value(next(iter(attrs.values())))
        arr = np.asarray(value, dtype=np.float32 if "float" in next(iter(attrs)) else np.int64)
        t = Tensor(proto.output[0], arr.shape, str(arr.dtype), TensorKind.WEIGHT, arr)
    return t.with_(name=proto.output[0])
