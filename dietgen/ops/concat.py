"""Concat and Split along one axis: one strided copy per input (Concat) or per output (Split)."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import normalise_axis, split_at
from dietgen.ops.registry import REQUIRED, OpCase, Rand, register
from dietgen.ops.strided import CopyOp, array_ints, const_ints, offset, strided_copy


def _where(node, op):
    return f"node {node.name!r} ({op})"


@register
class Concat(CopyOp):
    op_type = "Concat"
    attributes = {"axis": REQUIRED}

    def infer(self, node, inputs):
        if not inputs or any(t is None for t in inputs):
            raise self.refuse(node, "every input must be present")
        self.require_float(node, inputs)
        first = inputs[0]
        if not first.shape:
            raise self.refuse(node, "cannot concatenate scalars")
        axis = normalise_axis(_where(node, self.op_type), node.attrs["axis"], len(first.shape))
        for t in inputs[1:]:
            if t.dtype != first.dtype or len(t.shape) != len(first.shape) or \
                    any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
                raise self.refuse(node, f"input {t.name!r} ({t.dtype} {t.shape}) does not match "
                                        f"{first.dtype} {first.shape} outside axis {axis}")
        shape = list(first.shape)
        shape[axis] = sum(t.shape[axis] for t in inputs)
        return self.checked(node, inputs, [(tuple(shape), first.dtype)])

    def reference(self, node, x):
        return [np.concatenate(x, axis=node.attrs["axis"])]

    def emit(self, node, graph, ctx):
        y = graph.tensors[node.outputs[0]]
        axis = normalise_axis(_where(node, self.op_type), node.attrs["axis"], len(y.shape))
        outer, total, inner = split_at(y.shape, axis)
        calls, pos = [], 0
        for name in node.inputs:
            n = graph.tensors[name].shape[axis] * inner
            if n:
                calls.append(strided_copy(ctx, ctx.ptr(name), offset(ctx.ptr(y.name), pos), (outer, n), (n, 1),
                                          (total * inner, 1)))
            pos += n
        return calls

    def cases(self):
        return [OpCase("last_axis", (Rand((2, 3, 4)), Rand((2, 3, 5))), {"axis": 2}),
                OpCase("neg_axis_three", (Rand((2, 1, 4)), Rand((2, 3, 4)), Rand((2, 2, 4))), {"axis": -2}),
                OpCase("axis0_contiguous", (Rand((2, 5)), Rand((3, 5))), {"axis": 0}),
                OpCase("with_constant", (Rand((1, 2, 6)), np.linspace(-1, 1, 8, dtype=np.float32)
                                         .reshape(1, 2, 4)), {"axis": -1})]


@register
class Split(CopyOp):
    op_type = "Split"
    attributes = {"axis": 0, "num_outputs": None}

    def sizes(self, node, shape, split: list[int] | None) -> list[int]:
        axis = normalise_axis(_where(node, self.op_type), node.attrs["axis"], len(shape))
        dim, n, chunks = shape[axis], len(node.outputs), node.attrs["num_outputs"]
        if (split is None) == (chunks is None):
            raise self.refuse(node, "give either the split sizes (input 1) or the num_outputs attribute")
        if split is not None:
            if len(split) != n or min(split) < 0 or sum(split) != dim:
                raise self.refuse(node, f"split {split} should be {n} non-negative sizes adding up to {dim}")
            return split
        if chunks != n:
            raise self.refuse(node, f"num_outputs={chunks} but the node has {n} outputs")
        size = -(-dim // n)  # the last chunk takes what is left
        if size * (n - 1) > dim:
            raise self.refuse(node, f"axis {axis} of length {dim} cannot be split into {n} chunks")
        return [size] * (n - 1) + [dim - size * (n - 1)]

    def out_shapes(self, node, shape, split):
        axis = normalise_axis(_where(node, self.op_type), node.attrs["axis"], len(shape))
        return [shape[:axis] + (s,) + shape[axis + 1:] for s in self.sizes(node, shape, split)]

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        split = const_ints(self, node, inputs, 1, "the split sizes")
        return self.checked(node, inputs, [(s, inputs[0].dtype) for s in
                                           self.out_shapes(node, inputs[0].shape, split)])

    def reference(self, node, x):
        cuts = np.cumsum(self.sizes(node, x[0].shape, array_ints(x, 1)))[:-1]
        return np.split(x[0], cuts, axis=node.attrs["axis"])

    def _layout(self, node, graph):
        """(outer, dim, inner, sizes) of the split."""
        x = graph.tensors[node.inputs[0]]
        axis = normalise_axis(_where(node, self.op_type), node.attrs["axis"], len(x.shape))
        split = array_ints([graph.const(n) for n in node.inputs], 1)
        return (*split_at(x.shape, axis), self.sizes(node, x.shape, split))

    def aliases(self, node, graph):
        # With nothing outside the split axis (batch 1, channels split: WaveNet's gate halves), every chunk
        # is a contiguous run of the input and needs no copy.
        outer, _, inner, sizes = self._layout(node, graph)
        return tuple(int(v) for v in np.cumsum([0] + sizes[:-1]) * inner) if outer == 1 else None

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        outer, dim, inner, sizes = self._layout(node, graph)
        calls, pos = [], 0
        for name, size in zip(node.outputs, sizes):
            n = size * inner
            if name and n and not ctx.aliased(name):
                calls.append(strided_copy(ctx, offset(ctx.ptr(x.name), pos), ctx.ptr(name), (outer, n),
                                          (dim * inner, 1)))
            pos += n
        return calls

    def cases(self):
        return [OpCase("equal", (Rand((2, 6, 3)),), {"axis": 1, "num_outputs": 3}, n_outputs=3),
                OpCase("sizes_neg_axis", (Rand((2, 3, 10)), np.array([3, 5, 2], np.int64)), {"axis": -1},
                       n_outputs=3),
                OpCase("num_outputs_uneven", (Rand((7, 4)),), {"num_outputs": 3}, n_outputs=3),
                OpCase("axis0_contiguous", (Rand((4, 5)), np.array([1, 3], np.int64)), n_outputs=2)]
