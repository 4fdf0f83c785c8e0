"""Normalisations: LayerNormalization, BatchNormalization (inference), InstanceNormalization.

Their parameters are constants the kernels read from flash. BatchNormalization after a Conv or Dense is
usually folded into its weights (passes/fuse.py); the kernel covers the rest.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dietgen.codegen.context import c_float
from dietgen.ops.common import normalise_axis
from dietgen.ops.registry import KernelCall, OpCase, OpSpec, Rand, register


def _param(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def _normalised(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


class _Norm(OpSpec):
    kernel = "norm"
    macs_per_element = 4    # mean, variance, then scale and shift

    def refuse_extra_outputs(self, node, what: str) -> None:
        if any(node.outputs[1:]):
            raise self.refuse(node, f"the {what} outputs are not supported; only output 0 (Y) may be used")

    def cost(self, node, graph):
        size = graph.tensors[node.inputs[0]].size
        return dataclasses.replace(super().cost(node, graph), macs=self.macs_per_element * size)


@register
class LayerNormalization(_Norm):
    op_type = "LayerNormalization"
    attributes = {"axis": -1, "epsilon": 1e-5, "stash_type": 1}
    flash_inputs = (1, 2)

    def axis(self, node, rank: int) -> int:
        return normalise_axis(f"node {node.name!r} ({self.op_type})", node.attrs["axis"], rank)

    def mixes_axes(self, node, graph):
        rank = len(graph.tensors[node.inputs[0]].shape)
        return set(range(self.axis(node, rank), rank))

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        self.refuse_extra_outputs(node, "Mean and InvStdDev")
        if node.attrs["stash_type"] != 1:
            raise self.refuse(node, f"stash_type {node.attrs['stash_type']} is not supported; only 1 (float32)")
        shape = inputs[0].shape
        normalised = shape[self.axis(node, len(shape)):]
        for i, what in ((1, "the scale"), (2, "the bias")):
            if i == 1 or node.input(i):
                self.require_const(node, inputs, i, what)
                self.param_step(node, inputs[i].shape, normalised)
        return [(shape, inputs[0].dtype)]

    def param_step(self, node, shape: tuple[int, ...], normalised: tuple[int, ...]) -> int:
        """0 for a single value, 1 for one value per normalised element."""
        if len(shape) <= len(normalised) and int(np.prod(shape, dtype=np.int64)) == 1:
            return 0
        if (1,) * (len(normalised) - len(shape)) + tuple(shape) != tuple(normalised):
            raise self.refuse(node, f"scale/bias shape {shape} should be the normalised shape {normalised} "
                                    f"or a single value")
        return 1

    def reference(self, node, x):
        axis = self.axis(node, x[0].ndim)
        y = _normalised(x[0], tuple(range(axis, x[0].ndim)), node.attrs["epsilon"]) * x[1]
        if len(x) > 2 and x[2] is not None:
            y = y + x[2]
        return [y.astype(x[0].dtype)]

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        axis = self.axis(node, len(x.shape))
        rows, n = int(np.prod(x.shape[:axis], dtype=np.int64)), int(np.prod(x.shape[axis:], dtype=np.int64))
        steps = [str(self.param_step(node, graph.tensors[p].shape, x.shape[axis:])) if p else "0"
                 for p in (node.inputs[1], node.input(2))]
        bias = ctx.ptr(node.inputs[2]) if node.input(2) else "NULL"
        return [KernelCall("dg_layer_norm", (ctx.ptr(x.name), ctx.ptr(node.inputs[1]), steps[0], bias, steps[1],
                                             ctx.ptr(node.outputs[0]), str(rows), str(n),
                                             c_float(node.attrs["epsilon"])))]

    def cases(self):
        return [
            OpCase("last", (Rand((2, 5, 8)), _param(8), _param(8, seed=1))),
            OpCase("two_axes", (Rand((2, 3, 4)), _param(3, 4), _param(3, 4, seed=1)), {"axis": -2}),
            OpCase("no_bias_eps", (Rand((3, 6), 2, 3), _param(6)), {"axis": 1, "epsilon": 1e-3}),
            OpCase("scalar_params", (Rand((2, 7)), np.float32(1.5), np.float32(-0.25))),
            OpCase("all_axes", (Rand((2, 3, 5)), _param(2, 3, 5), np.float32(0.5)), {"axis": 0}),
        ]


class _ChannelNorm(_Norm):
    """Per-channel parameters on axis 1, each a constant of shape (C,)."""
    min_rank = 2

    def check(self, node, inputs, params: range) -> None:
        self.require_float(node, inputs)
        shape = inputs[0].shape
        if len(shape) < self.min_rank:
            raise self.refuse(node, f"input shape {shape} should have rank {self.min_rank} or more "
                                    f"(batch, channels, ...)")
        for i in params:
            what = f"parameter {i}"
            if self.require_const(node, inputs, i, what).shape != (shape[1],):
                raise self.refuse(node, f"{what} has shape {inputs[i].shape}; expected ({shape[1]},), one value "
                                        f"per channel")

    @staticmethod
    def dims(shape: tuple[int, ...]) -> tuple[str, str, str]:
        return str(shape[0]), str(shape[1]), str(int(np.prod(shape[2:], dtype=np.int64)))

    @staticmethod
    def per_channel(value: np.ndarray, rank: int) -> np.ndarray:
        return value.reshape((1, -1) + (1,) * (rank - 2))


@register
class BatchNormalization(_ChannelNorm):
    op_type = "BatchNormalization"
    # momentum only matters when training, which is refused
    attributes = {"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0}
    flash_inputs = (1, 2, 3, 4)
    macs_per_element = 1

    def infer(self, node, inputs):
        if node.attrs["training_mode"]:
            raise self.refuse(node, "training_mode=1 is not supported; export the model in eval mode")
        self.refuse_extra_outputs(node, "running_mean and running_var")
        self.check(node, inputs, range(1, 5))
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, x):
        scale, bias, mean, var = (self.per_channel(v.astype(np.float64), x[0].ndim) for v in x[1:5])
        y = (x[0] - mean) / np.sqrt(var + node.attrs["epsilon"]) * scale + bias
        return [y.astype(x[0].dtype)]

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        return [KernelCall("dg_batch_norm", (ctx.ptr(x.name), *(ctx.ptr(p) for p in node.inputs[1:5]),
                                             ctx.ptr(node.outputs[0]), *self.dims(x.shape),
                                             c_float(node.attrs["epsilon"])))]

    def cases(self):
        def params(c):
            return _param(c), _param(c, seed=1), _param(c, seed=2), _param(c, seed=3, low=0.2, high=2.0)
        return [OpCase("rank3", (Rand((2, 4, 10)), *params(4))),
                OpCase("rank2", (Rand((3, 5)), *params(5)), {"epsilon": 1e-3}),
                OpCase("rank4", (Rand((1, 3, 2, 5)), *params(3)))]


@register
class InstanceNormalization(_ChannelNorm):
    op_type = "InstanceNormalization"
    attributes = {"epsilon": 1e-5}
    flash_inputs = (1, 2)
    min_rank = 3

    def mixes_axes(self, node, graph):
        return set(range(2, len(graph.tensors[node.inputs[0]].shape)))

    def infer(self, node, inputs):
        self.check(node, inputs, range(1, 3))
        return [(inputs[0].shape, inputs[0].dtype)]

    def reference(self, node, x):
        y = _normalised(x[0], tuple(range(2, x[0].ndim)), node.attrs["epsilon"])
        y = y * self.per_channel(x[1], x[0].ndim) + self.per_channel(x[2], x[0].ndim)
        return [y.astype(x[0].dtype)]

    def emit(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        return [KernelCall("dg_instance_norm", (ctx.ptr(x.name), ctx.ptr(node.inputs[1]), ctx.ptr(node.inputs[2]),
                                                ctx.ptr(node.outputs[0]), *self.dims(x.shape),
                                                c_float(node.attrs["epsilon"])))]

    def cases(self):
        return [OpCase("rank3", (Rand((2, 3, 12)), _param(3), _param(3, seed=1))),
                OpCase("rank4_eps", (Rand((1, 2, 3, 4)), _param(2), _param(2, seed=1)), {"epsilon": 1e-2})]
