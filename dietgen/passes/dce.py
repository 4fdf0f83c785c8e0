"""Dead-code removal: nodes none of whose outputs reach a graph output, and tensors nothing uses."""
from __future__ import annotations

from dietgen.ir import Graph, TensorKind


def eliminate_dead_code(graph: Graph) -> Graph:
    needed = set(graph.outputs) | {n for n, t in graph.tensors.items() if t.kind == TensorKind.STATE}
    kept = []
    for node in reversed(graph.nodes):
        if any(o in needed for o in node.outputs if o):
            kept.append(node)
            needed.update(i for i in node.inputs if i)
    graph = graph.replace(nodes=tuple(reversed(kept)))
    used = graph.used_tensors()
    return graph.replace(tensors={n: t for n, t in graph.tensors.items() if n in used})
