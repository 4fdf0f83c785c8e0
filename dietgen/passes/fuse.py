"""Fusions: per-channel affine ops folded into the producing layer's weights, constant-weight matrix
products turned into Dense layers, and activations folded into the producer's kernel."""
from __future__ import annotations

import numpy as np

from dietgen.ir import Graph, Node, Tensor, TensorKind
from dietgen.ops import get_op

# Ops whose kernel can apply one pointwise function as it writes.
_ACTIVATIONS = ("Relu", "LeakyRelu", "Elu", "Tanh", "Sigmoid", "HardSigmoid", "Softplus", "Clip")


def _sole_reader(graph: Graph, consumers: dict, name: str) -> Node | None:
    """The only node reading ``name``, when ``name`` is a private intermediate result."""
    users = consumers.get(name, [])
    if len(users) != 1 or graph.tensors[name].kind != TensorKind.ACTIVATION:
        return None
    return users[0]


def _const(value: np.ndarray, name: str) -> Tensor:
    value = np.ascontiguousarray(value, dtype=np.float32)
    value.setflags(write=False)
    return Tensor(name, tuple(value.shape), "float32", TensorKind.WEIGHT, value)


def _rewrite(graph: Graph, rewrite) -> Graph:
    """Apply ``rewrite(graph, node, consumers) -> ({node name: new node or None}, new tensors) | None`` to each
    node, rescanning after every change so each rewrite sees a consistent graph. None removes a node."""
    changed = True
    while changed:
        changed = False
        consumers = graph.consumers()
        for node in graph.nodes:
            result = rewrite(graph, node, consumers)
            if result is None:
                continue
            replace, tensors = result
            nodes = tuple(replace.get(n.name, n) for n in graph.nodes if replace.get(n.name, n) is not None)
            graph = graph.replace(nodes=nodes, tensors={**graph.tensors, **tensors})
            changed = True
            break
    return graph


def _channel_affine(graph: Graph, node: Node, y: str, channels: int, axis: int) -> tuple | None:
    """(scale, shift) when ``node`` computes y*scale + shift per channel along ``axis`` of y."""
    rank = len(graph.tensors[y].shape)
    if node.op_type == "BatchNormalization" and node.inputs[0] == y and axis == 1:
        vals = [graph.const(n) for n in node.inputs[1:5]]
        if any(v is None for v in vals) or node.attrs.get("training_mode", 0) or len(node.outputs) > 1:
            return None
        gamma, beta, mean, var = (v.astype(np.float64) for v in vals)
        scale = gamma / np.sqrt(var + node.attrs["epsilon"])
        return scale, beta - mean * scale
    if node.op_type not in ("Mul", "Add", "Sub", "Div") or len(node.inputs) != 2:
        return None
    other = node.inputs[1] if node.inputs[0] == y else node.inputs[0]
    value = graph.const(other)
    if value is None or other == y or value.ndim > rank:
        return None
    full = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if any(d != 1 for i, d in enumerate(full.shape) if i != axis) or full.shape[axis] not in (1, channels):
        return None
    per = np.broadcast_to(full.reshape(-1), (channels,)).astype(np.float64)
    ones, zeros = np.ones(channels), np.zeros(channels)
    if node.op_type == "Mul":
        return per, zeros
    if node.op_type == "Add":
        return ones, per
    if node.op_type == "Sub":
        return (ones, -per) if node.inputs[0] == y else (-ones, per)
    if node.inputs[0] == y and np.all(per != 0):
        return 1.0 / per, zeros
    return None


def _scaled_layer(graph: Graph, layer: Node, scale: np.ndarray, shift: np.ndarray) -> tuple[Node, dict]:
    """``layer`` with its weights and bias absorbing y*scale + shift per output channel."""
    w = graph.const(layer.inputs[1]).astype(np.float64)
    b = graph.const(layer.input(2)) if layer.input(2) else None
    cout = scale.shape[0]
    bias = np.zeros(cout) if b is None else b.astype(np.float64)
    if layer.op_type == "ConvTranspose":
        groups = layer.attrs["group"]
        cin_g, cout_g = w.shape[0] // groups, w.shape[1]
        channel = (np.arange(w.shape[0])[:, None] // cin_g) * cout_g + np.arange(cout_g)[None, :]
        w = w * scale[channel][:, :, None]
    else:  # Conv (cout, cin/g, k) and Dense (n, k): output channel leads
        w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    tag = f"{layer.name}::folded"
    tensors = {f"{tag}.weight": _const(w, f"{tag}.weight"), f"{tag}.bias": _const(bias * scale + shift,
                                                                                    f"{tag}.bias")}
    return layer.with_(inputs=(layer.inputs[0], f"{tag}.weight", f"{tag}.bias")), tensors


def _channel_axis(graph: Graph, layer: Node) -> tuple[int, int] | None:
    """(output channels, their axis) of a layer whose weights can absorb a per-channel affine op."""
    if layer.op_type in ("Conv", "ConvTranspose") and graph.const(layer.inputs[1]) is not None \
            and "_fn" not in layer.attrs:
        return graph.tensors[layer.outputs[0]].shape[1], 1
    if layer.domain == "dietgen" and layer.op_type == "Dense" and "_fn" not in layer.attrs:
        y = graph.tensors[layer.outputs[0]]
        return y.shape[-1], len(y.shape) - 1
    return None


def fold_affine(graph: Graph) -> Graph:
    """BatchNormalization, and Mul/Add/Sub/Div by a per-channel constant, folded into the Conv,
    ConvTranspose or Dense that produces their input."""
    def rewrite(graph, node, consumers):
        found = _channel_axis(graph, node)
        follower = _sole_reader(graph, consumers, node.outputs[0]) if found else None
        affine = _channel_affine(graph, follower, node.outputs[0], *found) if follower else None
        if affine is None:
            return None
        layer, tensors = _scaled_layer(graph, node, *affine)
        return {node.name: layer.with_(outputs=follower.outputs), follower.name: None}, tensors
    return _rewrite(graph, rewrite)


def matmul_to_dense(graph: Graph) -> Graph:
    """MatMul / Gemm by a constant matrix -> dietgen::Dense with the weight laid out (N, K) in flash."""
    def rewrite(graph, node, consumers):
        if node.domain or node.op_type not in ("MatMul", "Gemm"):
            return None
        w = graph.const(node.inputs[1])
        x = graph.tensors[node.inputs[0]]
        if w is None or w.ndim != 2 or len(x.shape) < 1:
            return None
        bias = None
        if node.op_type == "Gemm":
            a = node.attrs
            c = graph.const(node.input(2)) if node.input(2) else None
            if a["transA"] or (node.input(2) and (c is None or c.size not in (1, w.shape[0 if a["transB"] else 1])
                                                  or c.ndim > 1 and c.shape[0] != 1)):
                return None
            w = (w if a["transB"] else w.T) * a["alpha"]
            if c is not None:
                bias = np.broadcast_to(c.reshape(-1), (w.shape[0],)) * a["beta"]
        else:
            w = w.T
        tensors = {f"{node.name}::dense.weight": _const(w, f"{node.name}::dense.weight")}
        inputs = (node.inputs[0], f"{node.name}::dense.weight")
        if bias is not None:
            tensors[f"{node.name}::dense.bias"] = _const(bias, f"{node.name}::dense.bias")
            inputs += (f"{node.name}::dense.bias",)
        return {node.name: Node("Dense", node.name, inputs, node.outputs, {}, "dietgen")}, tensors
    return _rewrite(graph, rewrite)


def fuse_activations(graph: Graph) -> Graph:
    """An activation reading a private result of a kernel that can apply it is merged into that kernel."""
    def rewrite(graph, node, consumers):
        if node.domain or node.op_type not in _ACTIVATIONS:
            return None
        producer = graph.producers().get(node.inputs[0])
        if producer is None or "_fn" in producer.attrs or \
                not get_op(producer.op_type, producer.domain, producer.name).fuses_activation or \
                _sole_reader(graph, consumers, node.inputs[0]) is not node:
            return None
        fused = get_op(node.op_type, node.domain, node.name).fused(node, graph)
        return {producer.name: producer.with_(attrs={**producer.attrs, "_fn": fused}, outputs=node.outputs),
                node.name: None}, {}
    return _rewrite(graph, rewrite)
