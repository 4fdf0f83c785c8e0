"""Time per block: a per-core cost model, calibrated on emulator counts (by dietgen.calibrate).

Each core has a table (dietgen/costs/<core>.json, written by ``dietgen calibrate``): per op type, a fixed cost
per node plus a cost per unit of the op's work (see features: when it multiplies and accumulates, as many of its
features as the op's samples fit with non-negative costs; output elements otherwise), and per pointwise function
the cost per element it adds when fused into a producer; the whole table is multiplied by its ``scale``, the
factor that centres the calibration models' exact step totals (their split into nodes is blurred, see
dietgen.calibrate). The counts are QEMU instructions for ARM cores (QEMU has no cycle model: a per-core
cycles-per-instruction figure, stated with its source in the table, turns them into cycles) and exact simavr
cycles for AVR.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from dietgen.boards import Board
from dietgen.errors import DietgenError
from dietgen.ir import Graph, Node, TensorKind
from dietgen.ops import get_op

COSTS_DIR = Path(__file__).resolve().parent / "costs"

# Cycles per instruction of each ARM core running this kind of scalar float code: QEMU counts instructions
# only. Estimates from the cores' published pipeline descriptions, not measurements: they are the least certain
# figure of the time budget.
CYCLES_PER_INSTRUCTION = {
    "cortex-m0plus": (1.4, "estimate from the Cortex-M0+ TRM: 1-cycle ALU, 2-cycle loads/stores and taken "
                           "branches; float in software"),
    "cortex-m3": (1.3, "estimate from the Cortex-M3 TRM: single issue, 2-cycle loads, 1-3 cycle branches; "
                       "float in software"),
    "cortex-m4f": (1.3, "estimate from the Cortex-M4 TRM: single issue; FPv4 VMLA 3 cycles, loads 2 cycles"),
    "cortex-m7": (0.8, "estimate from the Cortex-M7 TRM: dual-issue superscalar pipeline"),
    "cortex-m33": (1.2, "estimate from the Cortex-M33 TRM: single issue, 2-cycle loads, FPv5 single precision"),
    "cortex-a53": (1.0, "estimate from the Cortex-A53 TRM: in-order dual issue, dependent float chains"),
    "cortex-a72": (0.7, "estimate from the Cortex-A72 software optimisation guide: 3-wide out of order"),
    "cortex-a76": (0.5, "estimate from the Cortex-A76 software optimisation guide: 4-wide out of order"),
}


# -- what a node costs -------------------------------------------------------------------------------------------

def kernel_calls(graph: Graph) -> list[tuple[Node, int]]:
    """Each node with the number of runtime calls its C makes (0 for views), in NAME_step's order."""
    from dietgen.codegen.context import EmitContext
    # Weight symbols only appear in the emitted argument text, which is not needed here: any name will do.
    symbols = {n: f"w{i}" for i, (n, t) in enumerate(graph.tensors.items()) if t.kind == TensorKind.WEIGHT}
    ctx = EmitContext(graph, symbols)
    return [(node, len(get_op(node.op_type, node.domain, node.name).emit(node, graph, ctx))) for node in graph.nodes]


FEATURES = ("macs", "elements", "bytes", "params", "moved", "unpacked_macs", "unpacked_dots", "products")


def features(node: Node, graph: Graph) -> dict[str, float]:
    """The node's work: MACs (from OpSpec.cost), output elements (not the state it updates: a ring's slots are
    written a block at a time, however long the ring), bytes read and written, the parameters it reads (what a
    kernel sets up an inner loop for: dominant when a streamed step runs one frame, and the MACs are few), the
    floats it moves around its products (Cost.moved), its MACs outside the packed panels and their dot products
    (Cost.unpacked_macs, unpacked_dots) and its calls of the panel product (Cost.products)."""
    c = get_op(node.op_type, node.domain, node.name).cost(node, graph)
    elements = sum(graph.tensors[o].size for o in node.outputs if o and graph.tensors[o].kind != TensorKind.STATE)
    params = sum(graph.tensors[i].size for i in set(node.inputs) if i and graph.tensors[i].is_constant)
    return {"macs": float(c.macs), "elements": float(elements), "bytes": float(c.bytes_read + c.bytes_written),
            "params": float(params), "moved": float(c.moved), "unpacked_macs": float(c.unpacked_macs),
            "unpacked_dots": float(c.unpacked_dots), "products": float(c.products)}


def fused_fn(node: Node) -> str | None:
    fused = node.attrs.get("_fn")
    return fused[0] if fused else None


@lru_cache(maxsize=None)
def cost_table(core: str) -> dict:
    path = COSTS_DIR / f"{core}.json"
    if not path.is_file():
        raise DietgenError(f"no cost table for core {core}; run dietgen calibrate --core {core} (needs the core's "
                           f"emulator)")
    return json.loads(path.read_text())


def has_cost_table(core: str) -> bool:
    return (COSTS_DIR / f"{core}.json").is_file()


def node_count(node: Node, graph: Graph, table: dict, calls: int) -> float:
    """Estimated count (table unit) of one node that makes ``calls`` runtime calls."""
    if calls == 0:
        return 0.0
    f = features(node, graph)
    # a streaming op not calibrated yet costs what the offline op it streams costs
    twin = get_op(node.op_type, node.domain, node.name).cost_as
    entry = table["ops"].get(node.op_type) or table["ops"].get(twin) or table["default"]
    count = entry["fixed"] + sum(entry.get(k, 0.0) * f[k] for k in FEATURES)
    fn = fused_fn(node)
    if fn:
        count += table["fn"].get(fn, 0.0) * f["elements"]
    return float(count) * table.get("scale", 1.0)


def block_counts(graph: Graph, core: str) -> tuple[float, dict[str, float]]:
    """Estimated count per step in the table's unit (instructions or cycles), total and per node."""
    table = cost_table(core)
    per = {node.name: node_count(node, graph, table, calls) for node, calls in kernel_calls(graph)}
    return sum(per.values()), per


def block_cycles(graph: Graph, board: Board) -> tuple[float, dict[str, float]]:
    """Estimated cycles per step on ``board``: total and per node name."""
    table = cost_table(board.core)
    total, per = block_counts(graph, board.core)
    factor = table.get("cycles_per_instruction", 1.0) if table["unit"] == "instructions" else 1.0
    return total * factor, {k: v * factor for k, v in per.items()}
