"""Tensors, nodes and graphs.

A Graph is a value: passes take one and return a new one (``Graph.replace``), never editing their input.
Every tensor has a static shape; weights carry their value, state tensors their initial value.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from dietgen.errors import DietgenError


class TensorKind(str, Enum):
    INPUT = "input"            # read from the caller's input buffer
    OUTPUT = "output"          # written into the caller's output buffer
    WEIGHT = "weight"          # constant, lives in flash
    ACTIVATION = "activation"  # planned into the arena, dead after its last reader
    STATE = "state"            # persists across NAME_step calls, reset by NAME_init
    SCRATCH = "scratch"        # private to one node, planned into the arena


DTYPES = ("float32", "int64", "int32", "bool")


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    kind: TensorKind = TensorKind.ACTIVATION
    value: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def is_constant(self) -> bool:
        return self.kind == TensorKind.WEIGHT

    def with_(self, **changes: Any) -> "Tensor":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Node:
    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    def with_(self, **changes: Any) -> "Node":
        return dataclasses.replace(self, **changes)

    def input(self, i: int) -> str:
        """The i-th input's name, or "" when the optional input is absent."""
        return self.inputs[i] if i < len(self.inputs) else ""


@dataclass(frozen=True)
class Graph:
    name: str
    tensors: dict[str, Tensor]
    nodes: tuple[Node, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)  # source, sample_rate, block, producer...

    def replace(self, **changes: Any) -> "Graph":
        return dataclasses.replace(self, **changes)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def const(self, name: str) -> np.ndarray | None:
        """The value of a constant input, or None when the name is absent or computed at run time."""
        t = self.tensors.get(name) if name else None
        return t.value if t is not None and t.is_constant else None

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {name: [] for name in self.tensors}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    users.setdefault(name, []).append(node)
        return users

    def used_tensors(self) -> set[str]:
        names = {n for node in self.nodes for n in (*node.inputs, *node.outputs) if n}
        return names | set(self.inputs) | set(self.outputs)


def validate(graph: Graph) -> Graph:
    """Check the invariants every pass must keep; raise DietgenError naming the first broken one."""
    def fail(msg: str) -> None:
        raise DietgenError(f"invalid graph {graph.name!r}: {msg}")

    for name, t in graph.tensors.items():
        if name != t.name:
            fail(f"tensor registered as {name!r} is named {t.name!r}")
        if t.dtype not in DTYPES:
            fail(f"tensor {name!r} has unsupported dtype {t.dtype}")
        if any((not isinstance(d, int)) or d < 0 for d in t.shape):
            fail(f"tensor {name!r} has a non-static shape {t.shape}")
        if t.kind == TensorKind.WEIGHT:
            if t.value is None or tuple(t.value.shape) != t.shape or str(t.value.dtype) != t.dtype:
                fail(f"weight {name!r} has no value matching shape {t.shape} {t.dtype}")
    for name in graph.inputs:
        if graph.tensors.get(name, None) is None or graph.tensors[name].kind != TensorKind.INPUT:
            fail(f"graph input {name!r} is not an input tensor")
    if not graph.outputs:
        fail("the graph has no outputs")
    for name in graph.outputs:
        if name not in graph.tensors:
            fail(f"graph output {name!r} is not a tensor")
    available = {n for n, t in graph.tensors.items()
                 if t.kind in (TensorKind.INPUT, TensorKind.WEIGHT, TensorKind.STATE)}
    written: set[str] = set()
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in available:
                fail(f"node {node.name!r} ({node.op_type}) reads {name!r} before it is computed")
        for name in node.outputs:
            if not name:
                continue
            if name not in graph.tensors:
                fail(f"node {node.name!r} writes unknown tensor {name!r}")
            kind = graph.tensors[name].kind
            if kind in (TensorKind.INPUT, TensorKind.WEIGHT):
                fail(f"node {node.name!r} writes {kind.value} tensor {name!r}")
            if name in written and kind != TensorKind.STATE:
                fail(f"tensor {name!r} is written by more than one node")
            written.add(name)
            available.add(name)
    for name in graph.outputs:
        if name not in available:
            fail(f"graph output {name!r} is never computed")
    names = [n.name for n in graph.nodes]
    if len(set(names)) != len(names):
        fail("node names are not unique")
    return graph
