"""What a model costs, node by node, and how its memory is planned."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dietgen.ir import TensorKind
from dietgen.ops import get_op
from dietgen.pipeline import Compiled, compile_model


@dataclass(frozen=True)
class NodeRow:
    name: str
    op: str
    inputs: list[list[int]]
    output: list[list[int]]
    params: int
    macs: int
    bytes: int
    fused: str
    state_bytes: int = 0          # streaming: what the node carries from one step to the next
    latency: int | None = None    # streaming: the lag of its output, in its own frames


@dataclass(frozen=True)
class BufferRow:
    tensor: str
    bytes: int
    offset: int
    first: int
    last: int


@dataclass(frozen=True)
class Inspection:
    model: str
    nodes: list[NodeRow]
    buffers: list[BufferRow]
    params: int
    macs: int
    weight_bytes: int
    arena_bytes: int
    lower_bound: int
    state_bytes: int
    io_bytes: int
    stream: dict[str, Any] | None = None   # streaming: block, out_block, latency, time_axes

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.lower_bound if self.lower_bound else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "arena_over_lower_bound": round(self.ratio, 4)}


def inspect(model: Any = None, *, shapes=None, compiled: Compiled | None = None, stream=None,
            block: int | None = None) -> Inspection:
    """``stream`` and ``block``: see pipeline.stream_request."""
    compiled = compiled or compile_model(model, shapes, block=block, stream=stream)
    g = compiled.graph
    info = g.meta.get("stream")
    rows = []
    for node in g.nodes:
        cost = get_op(node.op_type, node.domain, node.name).cost(node, g)
        params = sum(g.tensors[i].size for i in node.inputs if i and g.tensors[i].is_constant)
        fused = node.attrs.get("_fn", ("",))[0].replace("DG_F_", "").lower()
        state = sum(g.tensors[i].nbytes for i in set(node.inputs) if i and g.tensors[i].kind == TensorKind.STATE)
        rows.append(NodeRow(node.name, node.op_type, [list(g.tensors[i].shape) for i in node.inputs
                                                      if i and g.tensors[i].kind != TensorKind.STATE],
                            [list(g.tensors[o].shape) for o in node.outputs
                             if o and g.tensors[o].kind != TensorKind.STATE], params, cost.macs,
                            cost.bytes_read + cost.bytes_written, fused, state,
                            info.node_latency.get(node.name) if info else None))
    plan = g.meta["plan"]
    buffers = [BufferRow(b.name, b.size, plan.offsets[b.name], b.first, b.last)
               for b in sorted(plan.buffers, key=lambda b: (plan.offsets[b.name], b.first))]
    weights = [t for t in g.tensors.values() if t.kind == TensorKind.WEIGHT]
    return Inspection(compiled.c_name, rows, buffers, sum(r.params for r in rows), sum(r.macs for r in rows),
                      sum(w.nbytes for w in weights), plan.arena_bytes, plan.lower_bound, plan.all_state_bytes,
                      4 * (plan.in_size + plan.out_size),
                      {"block": info.block, "out_block": info.out_block, "latency": info.model_latency,
                       "time_axes": dict(info.time_axes)} if info else None)
