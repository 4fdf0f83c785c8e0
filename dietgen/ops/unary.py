"""Elementwise unary ops. Each is a pointwise function of firmware's dg_map_n, so producers can fuse it."""
from __future__ import annotations

import math

import numpy as np

from dietgen.codegen.context import fn_expr
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

_erf = np.vectorize(math.erf, otypes=[np.float32])


class Unary(OpSpec):
    kernel = "unary"
    fn: str                      # the DG_F_* constant
    domain_low, domain_high = -3.0, 3.0  # test inputs

    def params(self, node, inputs) -> tuple[float, float]:
        """(alpha, beta) of the pointwise function."""
        return 0.0, 0.0

    def fused(self, node, graph) -> tuple[str, float, float]:
        """This node as a fused activation (see passes/fuse.py)."""
        ins = [graph.tensors[n] if n else None for n in node.inputs]
        return (self.fn, *self.params(node, ins))

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        self.params(node, inputs)  # validates constant parameters
        return [(inputs[0].shape, inputs[0].dtype)]

    def cost(self, node, graph):
        t = graph.tensors[node.inputs[0]]
        return Cost(0, t.nbytes, t.nbytes)

    def emit(self, node, graph, ctx):
        n = graph.tensors[node.inputs[0]].size
        alpha, beta = self.params(node, [graph.tensors[i] if i else None for i in node.inputs])
        return [KernelCall("dg_unary", (ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), str(n),
                                        fn_expr(self.fn, alpha, beta)))]

    def cases(self):
        lo, hi = self.domain_low, self.domain_high
        return [OpCase("vec", (Rand((37,), lo, hi),), self.case_attrs()),
                OpCase("3d", (Rand((2, 3, 16), lo, hi),), self.case_attrs())]

    def case_attrs(self) -> dict:
        return {}


def _simple(op: str, fn: str, ref, low: float = -3.0, high: float = 3.0):
    cls = type(op, (Unary,), {"op_type": op, "fn": fn, "domain_low": low, "domain_high": high,
                              "reference": lambda self, node, x: [np.asarray(ref(x[0])).astype(x[0].dtype)]})
    register(cls)
    return cls


Relu = _simple("Relu", "DG_F_RELU", lambda x: np.maximum(x, 0))
Tanh = _simple("Tanh", "DG_F_TANH", np.tanh)
Sigmoid = _simple("Sigmoid", "DG_F_SIGMOID", lambda x: 1 / (1 + np.exp(-x)))
Softplus = _simple("Softplus", "DG_F_SOFTPLUS", lambda x: np.logaddexp(0, x), -30, 30)
Exp = _simple("Exp", "DG_F_EXP", np.exp)
Log = _simple("Log", "DG_F_LOG", np.log, 0.01, 5)
Sin = _simple("Sin", "DG_F_SIN", np.sin, -10, 10)
Cos = _simple("Cos", "DG_F_COS", np.cos, -10, 10)
Sqrt = _simple("Sqrt", "DG_F_SQRT", np.sqrt, 0, 5)
Abs = _simple("Abs", "DG_F_ABS", np.abs)
Neg = _simple("Neg", "DG_F_NEG", np.negative)
Reciprocal = _simple("Reciprocal", "DG_F_RECIPROCAL", np.reciprocal, 0.5, 4)
Floor = _simple("Floor", "DG_F_FLOOR", np.floor)
Ceil = _simple("Ceil", "DG_F_CEIL", np.ceil)
Erf = _simple("Erf", "DG_F_ERF", _erf)


@register
class LeakyRelu(Unary):
    op_type = "LeakyRelu"
    fn = "DG_F_LEAKY_RELU"
    attributes = {"alpha": 0.01}

    def params(self, node, inputs):
        return node.attrs["alpha"], 0.0

    def reference(self, node, x):
        return [np.where(x[0] >= 0, x[0], x[0] * np.float32(node.attrs["alpha"])).astype(np.float32)]

    def case_attrs(self):
        return {"alpha": 0.2}


@register
class Elu(Unary):
    op_type = "Elu"
    fn = "DG_F_ELU"
    attributes = {"alpha": 1.0}

    def params(self, node, inputs):
        return node.attrs["alpha"], 0.0

    def reference(self, node, x):
        a = np.float32(node.attrs["alpha"])
        return [np.where(x[0] >= 0, x[0], a * (np.exp(x[0]) - 1)).astype(np.float32)]

    def case_attrs(self):
        return {"alpha": 0.7}


@register
class HardSigmoid(Unary):
    op_type = "HardSigmoid"
    fn = "DG_F_HARD_SIGMOID"
    attributes = {"alpha": 0.2, "beta": 0.5}

    def params(self, node, inputs):
        return node.attrs["alpha"], node.attrs["beta"]

    def reference(self, node, x):
        a, b = np.float32(node.attrs["alpha"]), np.float32(node.attrs["beta"])
        return [np.clip(a * x[0] + b, 0, 1).astype(np.float32)]


@register
class Clip(Unary):
    """Clip(x, min, max): bounds are optional inputs and must be constants."""
    op_type = "Clip"
    fn = "DG_F_CLIP"

    def params(self, node, inputs):
        bounds = []
        for i, default in ((1, -np.inf), (2, np.inf)):
            if i < len(inputs) and inputs[i] is not None:
                value = self.require_const(node, inputs, i, "the min bound" if i == 1 else "the max bound")
                if value.size != 1:
                    raise self.refuse(node, f"bound {i} must be a scalar, got shape {value.shape}")
                bounds.append(float(value.reshape(())))
            else:
                bounds.append(default)
        return bounds[0], bounds[1]

    def reference(self, node, x):
        lo = x[1] if len(x) > 1 and x[1] is not None else -np.inf
        hi = x[2] if len(x) > 2 and x[2] is not None else np.inf
        return [np.minimum(np.maximum(x[0], lo), hi).astype(np.float32)]

    def cases(self):
        return [OpCase("both", (Rand((40,), -3, 3), np.float32(-0.5), np.float32(0.8))),
                OpCase("min_only", (Rand((2, 20), -3, 3), np.float32(0.1))),
                OpCase("max_only", (Rand((2, 20), -3, 3), None, np.float32(1.5)))]
