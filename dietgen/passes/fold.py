"""Constant folding: nodes whose inputs are all known at export time run once, in numpy, at export."""
from __future__ import annotations

import numpy as np

from dietgen.ir import Graph, Node, Tensor, TensorKind
from dietgen.ops import OpSpec, get_op


def fold_node(spec: OpSpec, node: Node, tensors: dict[str, Tensor]) -> dict[str, Tensor] | None:
    """The node's outputs as constants, or None when it must run on the device."""
    present = [tensors[n] for n in node.inputs if n]
    if spec.shape_only:
        values = [np.zeros(t.shape, dtype=t.dtype) for t in present]
    elif all(t.is_constant for t in present) and not any(tensors[o].kind == TensorKind.OUTPUT
                                                          for o in node.outputs if o in tensors):
        values = [t.value for t in present]
    else:
        return None
    it = iter(values)
    args = [next(it) if n else None for n in node.inputs]
    folded = {}
    for out, value in zip(node.outputs, spec.reference(node, args)):
        if not out:
            continue
        want = tensors[out]
        value = np.require(np.asarray(value).astype(want.dtype, copy=False), requirements="C")
        value.setflags(write=False)
        folded[out] = Tensor(out, tuple(value.shape), want.dtype, TensorKind.WEIGHT, value)
    return folded


def fold_constants(graph: Graph) -> Graph:
    tensors = dict(graph.tensors)
    kept = []
    for node in graph.nodes:
        folded = fold_node(get_op(node.op_type, node.domain, node.name), node, tensors)
        if folded is None:
            kept.append(node)
        else:
            tensors.update(folded)
    return graph.replace(tensors=tensors, nodes=tuple(kept))
