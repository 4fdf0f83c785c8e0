"""Algebraic clean-ups of patterns exporters write, so they run as one kernel call."""
from __future__ import annotations

from dietgen.ir import Graph

# torch exports Softplus as Where(x > threshold, x, Softplus(x)) (threshold 20 by default); dietgen's Softplus
# already returns x above 20, and below a threshold of 15 or more the two differ by under exp(-15) = 3e-7.
_SOFTPLUS_MIN_THRESHOLD = 15.0


def merge_softplus_threshold(graph: Graph) -> Graph:
    producers = graph.producers()
    consumers = graph.consumers()
    drop: set[str] = set()
    nodes = []
    for node in graph.nodes:
        if node.op_type == "Where" and not node.domain and len(node.inputs) == 3:
            cond, x, other = (producers.get(n) for n in node.inputs)
            threshold = graph.const(cond.inputs[1]) if cond is not None and cond.op_type == "Greater" else None
            if threshold is not None and threshold.size == 1 and float(threshold.reshape(())) >= \
                    _SOFTPLUS_MIN_THRESHOLD and cond.inputs[0] == node.inputs[1] and other is not None and \
                    other.op_type == "Softplus" and other.inputs[0] == node.inputs[1] and \
                    len(consumers[cond.outputs[0]]) == 1:
                drop.add(cond.name)
                if len(consumers[other.outputs[0]]) == 1:
                    drop.add(other.name)
                nodes.append(other.with_(name=node.name, outputs=node.outputs))
                continue
        nodes.append(node)
    return graph.replace(nodes=tuple(n for n in nodes if n.name not in drop))


def check_device_ops(graph: Graph) -> Graph:
    """Every node left must be able to run on the device (see OpSpec.check_device); the graph is unchanged."""
    from dietgen.ops import get_op
    for node in graph.nodes:
        get_op(node.op_type, node.domain, node.name).check_device(node, graph)
    return graph
