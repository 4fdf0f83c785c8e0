"""Transpose: one strided copy, reading the input with its strides permuted; nothing at all when only axes of
length 1 move (an RNN's (seq, batch, 1, hidden) output turned batch-first for one frame, say): the bytes are then
already in the output's order, and the output shares its input's storage as a view does."""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import strides_of
from dietgen.ir import TensorKind
from dietgen.ops.registry import Cost, OpCase, Rand, register
from dietgen.ops.strided import CopyOp, strided_copy


@register
class Transpose(CopyOp):
    op_type = "Transpose"
    attributes = {"perm": None}

    def perm(self, node, rank: int) -> tuple[int, ...]:
        perm = node.attrs["perm"]
        if perm is None:
            return tuple(reversed(range(rank)))
        if sorted(perm) != list(range(rank)):
            raise self.refuse(node, f"perm {tuple(perm)} is not a permutation of the {rank} axes")
        return tuple(perm)

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        shape = inputs[0].shape
        return self.checked(node, inputs, [(tuple(shape[p] for p in self.perm(node, len(shape))),
                                            inputs[0].dtype)])

    def reference(self, node, x):
        return [np.transpose(x[0], self.perm(node, x[0].ndim))]

    def keeps_order(self, node, graph) -> bool:
        """Whether the axes longer than 1 stay in their order, so that the bytes do too."""
        shape = graph.tensors[node.inputs[0]].shape
        moved = [p for p in self.perm(node, len(shape)) if shape[p] != 1]
        return moved == sorted(moved)

    def aliases(self, node, graph):
        return (0,) if self.keeps_order(node, graph) else None

    def cost(self, node, graph):
        if self.keeps_order(node, graph) and graph.tensors[node.outputs[0]].kind == TensorKind.ACTIVATION:
            return Cost()  # shares its input's storage (see passes.memory.liveness)
        return super().cost(node, graph)

    def emit(self, node, graph, ctx):
        if ctx.aliased(node.outputs[0]):
            return []
        x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
        strides = strides_of(x.shape)
        src_strides = [strides[p] for p in self.perm(node, len(x.shape))]
        return [strided_copy(ctx, ctx.ptr(x.name), ctx.ptr(y.name), y.shape, src_strides)]

    def cases(self):
        return [OpCase("default_reverse", (Rand((2, 3, 4)),)),
                OpCase("swap_last", (Rand((2, 3, 5)),), {"perm": (0, 2, 1)}),
                OpCase("4d", (Rand((2, 3, 4, 5)),), {"perm": (2, 0, 3, 1)}),
                OpCase("merged", (Rand((2, 3, 4, 5)),), {"perm": (2, 3, 0, 1)}),
                OpCase("unit_dims", (Rand((1, 6, 1, 4)),), {"perm": (2, 3, 0, 1)})]
