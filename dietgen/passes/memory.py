"""Liveness and static memory planning into one arena.

The planner interface is deliberately tiny (after TFLM's GreedyMemoryPlanner): a list of buffers, each with a
size and a lifetime in node steps, in; a byte offset per buffer out. Everything the model needs at run time
besides weights is then one arena (activations and scratch), one state block and the caller's I/O buffers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dietgen.ir import Graph, TensorKind
from dietgen.ops import get_op

ALIGN = 16  # bytes; keeps every buffer ready for 128-bit SIMD loads


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int    # bytes
    first: int   # first step (node index) at which the buffer is live
    last: int    # last step, inclusive

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict[str, int]                  # arena byte offset of every activation and scratch buffer
    arena_bytes: int
    lower_bound: int                         # the largest sum of live bytes at any step
    # tensor -> (tensor whose bytes it shares, element offset into them): views and contiguous splits
    aliases: dict[str, tuple[str, int]] = field(default_factory=dict)
    buffers: tuple[Buffer, ...] = ()
    state_offsets: dict[str, int] = field(default_factory=dict)
    state_bytes: int = 0
    io_offsets: dict[str, int] = field(default_factory=dict)   # element offset in the caller's in/out buffer
    in_size: int = 0
    out_size: int = 0
    # integer state (ring positions, counters) in a block of its own, so no float is read as an integer
    int_state_offsets: dict[str, int] = field(default_factory=dict)
    int_state_bytes: int = 0

    @property
    def all_state_bytes(self) -> int:
        return self.state_bytes + self.int_state_bytes

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.lower_bound if self.lower_bound else 1.0


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def place(buffers: list[Buffer], best_fit: bool = False) -> dict[str, int]:
    """Place buffers in the given order, each in a free gap among the buffers it overlaps in time: the lowest
    such gap (first fit) or the tightest (best fit), else above them all."""
    placed: list[tuple[int, Buffer]] = []
    offsets = {}
    for buf in buffers:
        busy = sorted((off, off + _align(other.size)) for off, other in placed if other.overlaps(buf))
        gaps, top = [], 0
        for start, end in busy:
            if start - top >= buf.size:
                gaps.append((start - top, top))
            top = max(top, end)
        offset = (min(gaps)[1] if best_fit else gaps[0][1]) if gaps else top
        placed.append((offset, buf))
        offsets[buf.name] = offset
    return offsets


def greedy_by_size(buffers: list[Buffer]) -> dict[str, int]:
    """Largest buffer first, each at the lowest aligned offset that no time-overlapping buffer uses."""
    return place(sorted(buffers, key=lambda b: (-b.size, b.first, b.name)))


# Orders tried by best_greedy; greedy by size comes first and wins ties.
_ORDERS = (
    lambda b: (-b.size, b.first, b.name),
    lambda b: (-b.size, -b.last, b.name),
    lambda b: (b.first, -b.size, b.name),
    lambda b: (-(b.last - b.first + 1) * b.size, b.first, b.name),
)


def best_greedy(buffers: list[Buffer]) -> dict[str, int]:
    """Greedy by size and a few other greedy orders, first and best fit: the smallest arena wins.

    No single greedy order is best on every graph (a WaveNet stack's long-lived skip sums defeat plain
    greedy by size), and each try costs microseconds, so the planner keeps whichever packs tightest."""
    plans = [place(sorted(buffers, key=order), best_fit) for order in _ORDERS for best_fit in (False, True)]
    return min(plans, key=lambda offsets: arena_size(buffers, offsets))


def lower_bound(buffers: list[Buffer]) -> int:
    steps = {s for b in buffers for s in (b.first, b.last)}
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)


def arena_size(buffers: list[Buffer], offsets: dict[str, int]) -> int:
    return _align(max((offsets[b.name] + b.size for b in buffers), default=0))


def attach_scratch(graph: Graph) -> Graph:
    """Give every node the private buffers its kernel asks for, as scratch tensors in the graph."""
    from dietgen.ir import Tensor
    tensors = dict(graph.tensors)
    nodes = []
    for node in graph.nodes:
        sizes = get_op(node.op_type, node.domain, node.name).scratch(node, graph)
        names = tuple(f"{node.name}::scratch{i}" for i in range(len(sizes)))
        for name, size in zip(names, sizes):
            tensors[name] = Tensor(name, (int(size),), "float32", TensorKind.SCRATCH)
        nodes.append(node.with_(attrs={**node.attrs, "_scratch": names}) if names else node)
    return graph.replace(tensors=tensors, nodes=tuple(nodes))


def liveness(graph: Graph) -> Graph:
    """Lifetimes of arena buffers (meta["buffers"]) and shared storage (meta["aliases"]).

    An output that an op says can share input 0's bytes (OpSpec.aliases) does so when it is an ordinary
    activation, and its readers extend the lifetime of the tensor that really owns the bytes. Storage that is
    rewritten later in the step (state) is never shared: a reader after the rewrite would see the new value.
    """
    aliases: dict[str, tuple[str, int]] = {}
    for node in graph.nodes:
        offsets = get_op(node.op_type, node.domain, node.name).aliases(node, graph)
        if offsets is None:
            continue
        root, base = aliases.get(node.inputs[0], (node.inputs[0], 0))
        if graph.tensors[root].kind == TensorKind.STATE:
            continue
        for out, off in zip(node.outputs, offsets):
            if out and graph.tensors[out].kind == TensorKind.ACTIVATION:
                aliases[out] = (root, base + off)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for step, node in enumerate(graph.nodes):
        for name in (*node.outputs, *node.attrs.get("_scratch", ())):
            if name:
                root = aliases.get(name, (name, 0))[0]
                first.setdefault(root, step)
                last[root] = max(last.get(root, step), step)
        for name in node.inputs:
            if name:
                root = aliases.get(name, (name, 0))[0]
                last[root] = max(last.get(root, step), step)
    buffers = tuple(Buffer(name, graph.tensors[name].nbytes, first[name], last[name]) for name in first
                    if graph.tensors[name].kind in (TensorKind.ACTIVATION, TensorKind.SCRATCH))
    return graph.replace(meta={**graph.meta, "aliases": aliases, "buffers": buffers})


def plan_memory(graph: Graph, planner=best_greedy) -> Graph:
    """Place arena buffers with ``planner``, state tensors in the state block, I/O in the caller's buffers."""
    buffers = list(graph.meta["buffers"])
    offsets = planner(buffers)
    io_offsets: dict[str, int] = {}
    sizes = {}
    for group in (graph.inputs, graph.outputs):
        pos = 0
        for name in group:
            io_offsets[name] = pos
            pos += graph.tensors[name].size
        sizes[group] = pos
    state_offsets, pos, int_offsets, int_pos = {}, 0, {}, 0
    for name, t in graph.tensors.items():
        if t.kind == TensorKind.STATE and t.dtype == "int32":
            int_offsets[name] = int_pos
            int_pos += t.nbytes
        elif t.kind == TensorKind.STATE:
            state_offsets[name] = pos
            pos += _align(t.nbytes)
    plan = MemoryPlan(offsets, arena_size(buffers, offsets), lower_bound(buffers), dict(graph.meta["aliases"]),
                      tuple(buffers), state_offsets, pos, io_offsets, sizes[graph.inputs], sizes[graph.outputs],
                      int_offsets, int_pos)
    return graph.replace(meta={**graph.meta, "plan": plan})
