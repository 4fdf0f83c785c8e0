"""The op registry: one OpSpec subclass per ONNX op type, registered by decorator.

An OpSpec declares the ONNX attributes with their spec defaults, infers (and so validates) output shapes,
gives a numpy reference, its cost, the scratch it needs and the C kernel calls it emits. Export-time checks
live here so the generated C runs without any.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from dietgen.errors import DietgenError

if TYPE_CHECKING:
    from dietgen.codegen.context import EmitContext
    from dietgen.ir import Graph, Node, Tensor
    from dietgen.passes.stream import StreamBuilder

REQUIRED = object()  # marks an attribute with no spec default


@dataclass(frozen=True)
class Cost:
    macs: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    # floats the kernel copies around its products (a conv's taps gathered into columns, a transposed conv's
    # products added into its output): the work a one-frame 1x1 conv, read in place, does not do
    moved: int = 0
    # MACs of the weight rows after the last full panel (dietgen.ops.common.pack_panels), which the panel
    # product runs one row at a time, without the panel's register blocking: several times a packed MAC's cost
    unpacked_macs: int = 0
    unpacked_dots: int = 0     # and the dot products they make (one per unpacked row and column), each set up
    # calls of the panel product, each with its own set-up: many in a recurrent layer (one or two per frame)
    products: int = 0


@dataclass(frozen=True)
class KernelCall:
    """One call into the C runtime: ``fn(args...)``; args are ready-made C expressions."""
    fn: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Rand:
    """A run-time (graph) input of a test case, filled with seeded uniform noise."""
    shape: tuple[int, ...]
    low: float = -1.0
    high: float = 1.0


@dataclass(frozen=True)
class OpCase:
    """A single-node model used by the per-op tests: reference vs onnxruntime vs compiled C."""
    id: str
    inputs: tuple[Any, ...]                 # Rand, np.ndarray (an initializer) or None (absent optional)
    attrs: dict[str, Any] = field(default_factory=dict)
    n_outputs: int = 1
    tol: float = 1e-5                        # relative to the output's RMS
    absent_outputs: tuple[int, ...] = ()     # output positions left unnamed ("")
    # What the case is checked against: onnxruntime, or onnx's own reference evaluator where onnxruntime
    # does not implement the case (e.g. batch-first recurrent layouts).
    oracle: str = "onnxruntime"


_REGISTRY: dict[tuple[str, str], "OpSpec"] = {}


def register(cls: type["OpSpec"]) -> type["OpSpec"]:
    """Class decorator: make ``cls`` the implementation of its (domain, op_type)."""
    key = (cls.domain, cls.op_type)
    if key in _REGISTRY:
        raise RuntimeError(f"op {cls.op_type} registered twice")
    _REGISTRY[key] = cls()
    return cls


_loaded = False


def load_all() -> None:
    """Import every op module of this package once: each registers its ops."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    package = __name__.rpartition(".")[0]
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in ("registry", "common"):
            importlib.import_module(f"{package}.{info.name}")


def registry() -> dict[tuple[str, str], "OpSpec"]:
    load_all()
    return dict(_REGISTRY)


def supported_ops() -> list[str]:
    """The ONNX (default domain) op types dietgen accepts."""
    return sorted(op for (domain, op) in registry() if not domain)


def get_op(op_type: str, domain: str = "", node_name: str = "?") -> "OpSpec":
    spec = registry().get((domain or "", op_type))
    if spec is None:
        where = f"{domain}::{op_type}" if domain else op_type
        raise DietgenError(
            f"node {node_name!r}: op {where} is not supported; supported ops: {', '.join(supported_ops())}")
    return spec


class OpSpec:
    op_type: ClassVar[str]
    domain: ClassVar[str] = ""
    attributes: ClassVar[dict[str, Any]] = {}
    # Integer attributes that are unsigned 32-bit values (seeds): the importer bounds the others to int32.
    uint32_attributes: ClassVar[tuple[str, ...]] = ()
    # C kernel family: firmware/include/dietgen/<kernel>.h and firmware/src/<kernel>.c.
    # None: the op only ever runs at export time (constant folding), never on the device.
    kernel: ClassVar[str | None] = None
    # Input positions the kernel reads from flash; they must be constants.
    flash_inputs: ClassVar[tuple[int, ...]] = ()
    # The output is input 0 reinterpreted (same bytes, new shape): no code, shared storage (see aliases()).
    view: ClassVar[bool] = False
    # Foldable from input shapes alone (Shape, Size): folded even when the input is computed at run time.
    shape_only: ClassVar[bool] = False
    # The kernel applies a fused activation to what it writes (see passes/fuse.py).
    fuses_activation: ClassVar[bool] = False

    # -- helpers shared by all ops -------------------------------------------------------------
    def refuse(self, node: "Node", message: str) -> DietgenError:
        return DietgenError(f"node {node.name!r} ({self.op_type}): {message}")

    def attrs_for(self, node: "Node", given: dict[str, Any]) -> dict[str, Any]:
        """Spec defaults filled in; unknown or missing required attributes refused."""
        unknown = sorted(set(given) - set(self.attributes))
        if unknown:
            raise self.refuse(node, f"attribute {unknown[0]!r} is not supported "
                                    f"(supported: {', '.join(sorted(self.attributes)) or 'none'})")
        attrs = {}
        for key, default in self.attributes.items():
            if key in given:
                attrs[key] = given[key]
            elif default is REQUIRED:
                raise self.refuse(node, f"required attribute {key!r} is missing")
            else:
                attrs[key] = default
        return attrs

    def require_float(self, node: "Node", tensors: list["Tensor | None"], *positions: int) -> None:
        """Refuse non-float inputs of a node that will run on the device (all-constant nodes are folded)."""
        if all(t is None or t.is_constant for t in tensors):
            return
        for i in positions or range(len(tensors)):
            t = tensors[i] if i < len(tensors) else None
            if t is not None and t.dtype != "float32":
                raise self.refuse(node, f"input {i} ({t.name!r}) is {t.dtype}; only float32 tensors run "
                                        f"on the device (export the model in float32)")

    def require_const(self, node: "Node", tensors: list["Tensor | None"], i: int, what: str) -> np.ndarray:
        t = tensors[i] if i < len(tensors) else None
        if t is None or t.value is None:
            raise self.refuse(node, f"{what} (input {i}) must be a constant known at export time")
        return t.value

    # -- what each op provides --------------------------------------------------------------
    def infer(self, node: "Node", inputs: list["Tensor | None"]) -> list[tuple[tuple[int, ...], str]]:
        """Output (shape, dtype) for each of node.outputs; refuse what the op does not support."""
        raise NotImplementedError

    def reference(self, node: "Node", inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        raise NotImplementedError

    def check_device(self, node: "Node", graph: "Graph") -> None:
        """Refuse a node that is still in the graph after the passes but cannot run on the device.

        Import lets such nodes through, since a pass may still fold or rewrite them (torch's Softplus
        threshold, say); what survives the passes is refused here, before any code is generated.
        """
        if self.kernel is None:
            computed = next(n for n in node.inputs if n and not graph.tensors[n].is_constant)
            raise self.refuse(node, f"input {computed!r} is computed at run time; {self.op_type} only runs at "
                                    f"export time, on values known then (shape computations)")

    def aliases(self, node: "Node", graph: "Graph") -> tuple[int, ...] | None:
        """Where each output sits inside input 0 (element offsets) when the outputs can simply share input 0's
        bytes, as views and splits of contiguous blocks can; None when the outputs need storage of their own.
        The planner decides whether sharing is safe and tells emit() through ctx.aliased()."""
        return (0,) * len(node.outputs) if self.view else None

    def cost(self, node: "Node", graph: "Graph") -> Cost:
        """Default: one read of every input and one write of every output, no MACs."""
        ins = [graph.tensors[n] for n in node.inputs if n]
        outs = [graph.tensors[n] for n in node.outputs if n]
        return Cost(0, sum(t.nbytes for t in ins), sum(t.nbytes for t in outs))

    def scratch(self, node: "Node", graph: "Graph") -> list[int]:
        """Sizes (in floats) of private buffers the kernel needs while it runs."""
        return []

    def emit(self, node: "Node", graph: "Graph", ctx: "EmitContext") -> list[KernelCall]:
        raise NotImplementedError(f"{self.op_type} has no kernel: it is folded at export time")

    def cases(self) -> list[OpCase]:
        return []

    # -- streaming (see passes/stream.py) -------------------------------------------------------
    # A step-graph op made by the streaming pass: it reads and updates STATE tensors, so it has no
    # single-call OpCase; the streaming tests check it through whole models.
    stream_only: ClassVar[bool] = False
    # The op whose calibrated cost (dietgen/costs) stands in for this one's where the table has no entry of its own.
    cost_as: ClassVar[str | None] = None

    def mixes_axes(self, node: "Node", graph: "Graph") -> set[int]:
        """Axes of input 0 along which one output element depends on many input elements (softmax, norms,
        concatenation): the streaming pass refuses such a node when that axis is time."""
        return set()

    def stream(self, node: "Node", s: "StreamBuilder") -> Any:
        """Rewrite ``node`` for the step graph through ``s`` when its input carries time and the op mixes time
        with a bounded past (state); NotImplemented for ops that simply run on the block."""
        return NotImplemented
