"""Reductions (opset 18: axes as an optional constant input): ReduceSum, ReduceMean, ReduceMax, ReduceMin,
ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum.

The kernel sees the input as (outer, reduced, inner), so the reduced axes must form one contiguous run once
size-1 axes are dropped (the usual cases: over time, over channels, over everything).
"""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import normalise_axis
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register


def _prod(dims) -> int:
    return int(np.prod(dims, dtype=np.int64))


class Reduce(OpSpec):
    kernel = "reduce"
    attributes = {"keepdims": 1, "noop_with_empty_axes": 0}
    code: str
    low, high = -1.0, 1.0   # test inputs

    def combine(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        """The reduction in numpy, with keepdims=True."""
        raise NotImplementedError

    def axes(self, node, rank: int, given: np.ndarray | None) -> tuple[int, ...]:
        """The reduced axes, sorted; () reduces nothing (noop_with_empty_axes with no axes)."""
        if given is None or given.size == 0:
            return () if node.attrs["noop_with_empty_axes"] else tuple(range(rank))
        where = f"node {node.name!r} ({self.op_type})"
        axes = sorted(normalise_axis(where, int(a), rank) for a in given.reshape(-1))
        if len(set(axes)) != len(axes):
            raise self.refuse(node, f"axes {given.tolist()} name an axis twice")
        return tuple(axes)

    def layout(self, node, shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, int, int]:
        """(outer, reduced, inner) element counts."""
        dims = [(d, i in axes) for i, d in enumerate(shape) if d != 1]
        run = [k for k, (_, reduced) in enumerate(dims) if reduced]
        if not run:  # only size-1 axes reduced: every element is its own group
            return _prod(shape), 1, 1
        if run[-1] - run[0] + 1 != len(run):
            raise self.refuse(node, f"reducing axes {list(axes)} of shape {shape}: the reduced axes are not "
                                    f"contiguous once size-1 axes are dropped; only one contiguous run of "
                                    f"axes can be reduced")
        sizes = [d for d, _ in dims]
        outer, n, inner = _prod(sizes[:run[0]]), _prod(sizes[run[0]:run[-1] + 1]), _prod(sizes[run[-1] + 1:])
        if n == 0:
            raise self.refuse(node, f"reduces an empty axis of shape {shape}")
        return outer, n, inner

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        shape = inputs[0].shape
        axes = self.axes(node, len(shape), self.require_const(node, inputs, 1, "axes") if node.input(1) else None)
        if not inputs[0].is_constant:  # numpy folds any reduction; the kernel needs one run of axes
            self.layout(node, shape, axes)
        if node.attrs["keepdims"]:
            out = tuple(1 if i in axes else d for i, d in enumerate(shape))
        else:
            out = tuple(d for i, d in enumerate(shape) if i not in axes)
        return [(out, inputs[0].dtype)]

    def reference(self, node, x):
        axes = self.axes(node, x[0].ndim, x[1] if len(x) > 1 else None)
        y = self.combine(x[0], axes)
        if not node.attrs["keepdims"]:
            y = y.reshape(tuple(d for i, d in enumerate(x[0].shape) if i not in axes))
        return [np.asarray(y).astype(x[0].dtype)]

    def cost(self, node, graph):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return Cost(x.size, x.nbytes, y.nbytes)

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        axes = self.axes(node, len(x.shape), graph.const(node.input(1)))
        dims = self.layout(node, x.shape, axes)
        return [KernelCall("dg_reduce", (ctx.ptr(x.name), ctx.ptr(node.outputs[0]), self.code, *map(str, dims)))]

    def cases(self):
        lo, hi = self.low, self.high
        axes = lambda *a: np.array(a, dtype=np.int64)  # noqa: E731
        return [
            OpCase("time", (Rand((2, 3, 16), lo, hi), axes(-1))),
            OpCase("channels_drop", (Rand((2, 4, 6), lo, hi), axes(1)), {"keepdims": 0}),
            OpCase("all_default", (Rand((3, 5), lo, hi),)),
            OpCase("last_two_drop", (Rand((2, 3, 4), lo, hi), axes(1, 2)), {"keepdims": 0}),
            OpCase("run_of_two", (Rand((2, 3, 4, 5), lo, hi), axes(2, 1))),
            OpCase("gap_of_ones", (Rand((3, 4, 1, 5, 2), lo, hi), axes(1, 3))),
            OpCase("noop_empty", (Rand((2, 5), lo, hi), axes()), {"noop_with_empty_axes": 1}),
        ]


def _reduce(op: str, code: str, combine, low: float = -1.0, high: float = 1.0):
    return register(type(op, (Reduce,), {"op_type": op, "code": code, "low": low, "high": high,
                                         "combine": lambda self, x, axes: combine(x, axes)}))


def _sum(x, axes):
    return np.sum(x, axis=axes, keepdims=True)


ReduceSum = _reduce("ReduceSum", "DG_R_SUM", _sum)
ReduceMean = _reduce("ReduceMean", "DG_R_MEAN", lambda x, a: np.mean(x, axis=a, keepdims=True))
ReduceMax = _reduce("ReduceMax", "DG_R_MAX", lambda x, a: np.max(x, axis=a, keepdims=True))
ReduceMin = _reduce("ReduceMin", "DG_R_MIN", lambda x, a: np.min(x, axis=a, keepdims=True))
ReduceProd = _reduce("ReduceProd", "DG_R_PROD", lambda x, a: np.prod(x, axis=a, keepdims=True), 0.7, 1.3)
ReduceL1 = _reduce("ReduceL1", "DG_R_L1", lambda x, a: _sum(np.abs(x), a))
ReduceL2 = _reduce("ReduceL2", "DG_R_L2", lambda x, a: np.sqrt(_sum(x * x, a)))
ReduceSumSquare = _reduce("ReduceSumSquare", "DG_R_SUM_SQUARE", lambda x, a: _sum(x * x, a))
ReduceLogSum = _reduce("ReduceLogSum", "DG_R_LOG_SUM", lambda x, a: np.log(_sum(x, a)), 0.1, 1.0)
