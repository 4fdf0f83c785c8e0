"""What op modules see while emitting C: pointers to tensors, literals and static tables."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dietgen.ir import Graph, Node, TensorKind
from dietgen.passes.memory import MemoryPlan


def c_float(x: float) -> str:
    """A float literal that reads back as exactly the same float32."""
    x = float(np.float32(x))
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    if x == 0 or 1e-4 <= abs(x) < 1e7:
        return np.format_float_positional(np.float32(x), unique=True, trim="0") + "f"
    return np.format_float_scientific(np.float32(x), unique=True, trim="0", exp_digits=1).replace("e+", "e") + "f"


def c_int(x: int) -> str:
    x = int(x)
    if not -(2**31) <= x < 2**31:
        raise ValueError(f"{x} does not fit in dg_int")
    return f"({x})" if x < 0 else str(x)


class EmitContext:
    def __init__(self, graph: Graph, weight_symbols: dict[str, str]):
        self.graph = graph
        self.plan: MemoryPlan = graph.meta["plan"]
        self.weight_symbols = weight_symbols
        self.tables: dict[tuple[str, tuple], str] = {}   # (ctype, values) -> name, in first-use order
        self.used_weights: set[str] = set()
        self.derived: dict[tuple[str, str], tuple[str, np.ndarray]] = {}  # (weight, how) -> (symbol, values)

    def ptr(self, name: str) -> str:
        """A C expression for the first element of tensor ``name`` (const-correct use is the kernel's)."""
        name, shift = self.plan.aliases.get(name, (name, 0))
        base = self._base(name)
        return f"({base} + {shift})" if shift else base

    def _base(self, name: str) -> str:
        t = self.graph.tensors[name]
        if t.kind == TensorKind.WEIGHT:
            self.used_weights.add(name)
            return self.weight_symbols[name]
        if t.kind in (TensorKind.INPUT, TensorKind.OUTPUT):
            base, offset = ("in" if t.kind == TensorKind.INPUT else "out"), self.plan.io_offsets[name]
        elif t.kind == TensorKind.STATE and t.dtype == "int32":
            base, offset = "I", self.plan.int_state_offsets[name] // 4
        elif t.kind == TensorKind.STATE:
            base, offset = "S", self.plan.state_offsets[name] // 4
        else:
            base, offset = "A", self.plan.offsets[name] // 4
        return f"({base} + {offset})" if offset else base

    def derived_weight(self, name: str, how: str, make) -> str:
        """Symbol of a flash constant made at export time from weight ``name`` by ``make(values)`` (the layout a
        kernel streams, say), emitted in the weights file; made once per (weight, how). The weight itself is
        only emitted if some kernel also reads it as it is."""
        key = (name, how)
        if key not in self.derived:
            t = self.graph.tensors[name]
            if t.kind != TensorKind.WEIGHT:
                raise ValueError(f"{name} is not a weight")
            taken = {*self.weight_symbols.values(), *(sym for sym, _ in self.derived.values())}
            symbol = f"{self.weight_symbols[name]}_{how}"
            while symbol in taken:  # an ONNX weight may already be called that
                symbol += "_"
            self.derived[key] = (symbol, np.ascontiguousarray(make(t.value), dtype=np.float32))
        return self.derived[key][0]

    def aliased(self, name: str) -> bool:
        return name in self.plan.aliases

    def scratch(self, node: Node, i: int = 0) -> str:
        return self.ptr(node.attrs["_scratch"][i])

    def table(self, values: Iterable, ctype: str = "dg_int") -> str:
        """Name of a static const table holding ``values`` in the model source (shared when equal)."""
        if ctype not in ("dg_int", "float"):
            raise ValueError(f"table type {ctype}")
        vals = tuple(int(v) for v in values) if ctype == "dg_int" else tuple(float(v) for v in values)
        key = (ctype, vals)
        if key not in self.tables:
            self.tables[key] = f"dg_t{len(self.tables)}"
        return self.tables[key]

    def fn(self, node: Node) -> str:
        """The fused activation of ``node`` as a dg_fn expression (DG_NOFN when none)."""
        fused = node.attrs.get("_fn")
        return fn_expr(*fused) if fused else "DG_NOFN"


def fn_expr(kind: str, alpha: float = 0.0, beta: float = 0.0) -> str:
    return f"DG_FN({kind}, {c_float(alpha)}, {c_float(beta)})"
