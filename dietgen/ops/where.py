"""Where with a condition known at export time (masks are constants once shapes are folded)."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import broadcast_shapes, broadcast_strides, coalesce
from dietgen.ops.registry import KernelCall, OpCase, Rand, register
from dietgen.ops.strided import CopyOp, strided_copy


@register
class Where(CopyOp):
    op_type = "Where"

    def infer(self, node, inputs):
        if len(inputs) != 3 or any(t is None for t in inputs):
            raise self.refuse(node, "takes exactly 3 inputs (condition, X, Y)")
        cond, x, y = inputs
        if cond.dtype != "bool":
            raise self.refuse(node, f"the condition should be bool, got {cond.dtype}")
        self.require_float(node, inputs, 1, 2)
        if x.dtype != y.dtype:
            raise self.refuse(node, f"X is {x.dtype} but Y is {y.dtype}")
        shape = broadcast_shapes(f"node {node.name!r} (Where)", cond.shape, x.shape, y.shape)
        return self.checked(node, inputs, [(shape, x.dtype)])

    def check_device(self, node, graph):
        if graph.const(node.inputs[0]) is None:
            raise self.refuse(node, "the condition is computed at run time, which is not supported; only "
                                    "conditions known at export time (masks)")

    def reference(self, node, v):
        return [np.where(v[0], v[1], v[2]).astype(v[1].dtype)]

    def emit(self, node, graph, ctx):
        cond = graph.const(node.inputs[0])
        x, y, out = (graph.tensors[n] for n in (*node.inputs[1:], node.outputs[0]))
        if cond.all() or not cond.any():
            src = x if cond.all() else y
            return [strided_copy(ctx, ctx.ptr(src.name), ctx.ptr(out.name), out.shape,
                                 broadcast_strides(src.shape, out.shape))]
        dims, strides = coalesce(out.shape, *(broadcast_strides(t.shape, out.shape) for t in (cond, x, y)))
        return [KernelCall("dg_where", (ctx.table(cond.reshape(-1)), ctx.ptr(x.name), ctx.ptr(y.name),
                                        ctx.ptr(out.name), str(len(dims)), ctx.table(dims),
                                        *(ctx.table(s) for s in strides)))]

    def cases(self):
        causal = np.tril(np.ones((4, 4), bool))
        return [
            OpCase("same_shape", (np.random.default_rng(1).random((2, 3, 4)) > 0.5, Rand((2, 3, 4)),
                                  Rand((2, 3, 4)))),
            OpCase("mask_fill_scalar", (causal, Rand((2, 4, 4)), np.float32(-1e4))),
            OpCase("three_way_bcast", (np.array([True, False, True, False, False]), Rand((3, 1, 5)),
                                       Rand((2, 1)))),
            OpCase("all_true", (np.ones((1, 5), bool), Rand((3, 5)), Rand((3, 1)))),
            OpCase("all_false", (np.zeros((3, 1), bool), Rand((3, 5)), Rand((3, 1)))),
        ]
