"""Expand and Tile: broadcasting copies (source stride 0 along repeated dimensions)."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import broadcast_shapes, broadcast_strides, strides_of
from dietgen.ir import Time
from dietgen.ops.registry import OpCase, Rand, register
from dietgen.ops.strided import CopyOp, array_ints, const_ints, i64, strided_copy


@register
class Expand(CopyOp):
    op_type = "Expand"

    def out_shape(self, node, shape, target: list[int] | None) -> tuple[int, ...]:
        if target is None:
            raise self.refuse(node, "the shape (input 1) is required")
        return broadcast_shapes(f"node {node.name!r} (Expand)", tuple(shape), tuple(target))

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        shape = self.out_shape(node, inputs[0].shape, const_ints(self, node, inputs, 1, "the shape"))
        return self.checked(node, inputs, [(shape, inputs[0].dtype)])

    def reference(self, node, x):
        return [np.array(np.broadcast_to(x[0], self.out_shape(node, x[0].shape, array_ints(x, 1))))]

    def emit(self, node, graph, ctx):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        return [strided_copy(ctx, ctx.ptr(x.name), ctx.ptr(y.name), y.shape, broadcast_strides(x.shape, y.shape))]

    def stream(self, node, s):
        t = s.time[node.inputs[0]]
        rank_in, rank_out = len(s.offline.tensors[node.inputs[0]].shape), len(s.offline.tensors[node.outputs[0]].shape)
        s.reshaped(node, Time(t.axis + rank_out - rank_in, t.rate, t.lag, t.clean))

    def cases(self):
        return [OpCase("row", (Rand((1, 5)), i64(3, 5))),
                OpCase("column_new_axis", (Rand((3, 1)), i64(2, 3, 4))),
                OpCase("bidirectional", (Rand((2, 1, 4)), i64(3, 1))),
                OpCase("scalar", (Rand(()), i64(2, 3)))]


@register
class Tile(CopyOp):
    op_type = "Tile"

    def repeats(self, node, shape, repeats: list[int] | None) -> list[int]:
        if repeats is None or len(repeats) != len(shape) or min(repeats, default=0) < 0:
            raise self.refuse(node, f"repeats {repeats} should be {len(shape)} non-negative counts")
        return repeats

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        shape = inputs[0].shape
        repeats = self.repeats(node, shape, const_ints(self, node, inputs, 1, "the repeats"))
        return self.checked(node, inputs, [(tuple(d * r for d, r in zip(shape, repeats)), inputs[0].dtype)])

    def reference(self, node, x):
        return [np.tile(x[0], self.repeats(node, x[0].shape, array_ints(x, 1)))]

    def emit(self, node, graph, ctx):
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        repeats = self.repeats(node, x.shape, array_ints([graph.const(n) for n in node.inputs], 1))
        # The output as (r0, d0, r1, d1, ...): the input is read again for every repeat.
        dims = [v for r, d in zip(repeats, x.shape) for v in (r, d)]
        strides = [v for s in strides_of(x.shape) for v in (0, s)]
        return [strided_copy(ctx, ctx.ptr(x.name), ctx.ptr(y.name), dims, strides)]

    def cases(self):
        return [OpCase("last_axis", (Rand((2, 3)), i64(1, 4))),
                OpCase("all_axes", (Rand((2, 3, 2)), i64(2, 1, 3))),
                OpCase("first_axis", (Rand((2, 5)), i64(3, 1)))]
