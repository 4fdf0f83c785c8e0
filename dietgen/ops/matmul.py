"""MatMul, Gemm, and dietgen's own Dense (a fully connected layer with its weight in flash).

The fuse pass turns MatMul/Gemm with a constant right-hand side (every Linear layer) into Dense, with the bias
and any following per-feature scale folded in; MatMul and Gemm remain for products of run-time tensors.
"""
from __future__ import annotations

import numpy as np

from dietgen.ops.common import broadcast_shapes, pack_panels, strides_of, unpacked
from dietgen.codegen.context import c_float
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register


def _batch_offsets(shape, batch, matrix_size):
    """Element offset of each operand matrix, for every index of the broadcast batch shape."""
    if not batch:
        return [0]
    lead = shape[:-2]
    starts = np.arange(int(np.prod(lead)), dtype=np.int64).reshape(lead) * matrix_size if lead else 0
    return np.broadcast_to(starts, batch).ravel()


def _matrix(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, shape).astype(np.float32)


@register
class MatMul(OpSpec):
    op_type = "MatMul"
    kernel = "gemm"
    fuses_activation = True

    def shapes(self, node, a_shape, b_shape):
        """(batch shape, m, k, n) with numpy matmul semantics for 1-D operands."""
        if not a_shape or not b_shape:
            raise self.refuse(node, "operands must have at least one dimension")
        a2 = (1,) + a_shape if len(a_shape) == 1 else a_shape
        b2 = b_shape + (1,) if len(b_shape) == 1 else b_shape
        if a2[-1] != b2[-2]:
            raise self.refuse(node, f"inner dimensions differ: {a_shape} @ {b_shape}")
        batch = broadcast_shapes(f"node {node.name!r} (MatMul)", a2[:-2], b2[:-2])
        return batch, a2[-2], a2[-1], b2[-1]

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        a, b = inputs[0].shape, inputs[1].shape
        batch, m, _, n = self.shapes(node, a, b)
        out = batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())
        return [(out, inputs[0].dtype)]

    def reference(self, node, x):
        return [np.matmul(x[0], x[1])]

    def cost(self, node, graph):
        a, b, y = (graph.tensors[n] for n in (*node.inputs, node.outputs[0]))
        batch, m, k, n = self.shapes(node, a.shape, b.shape)
        return Cost(int(np.prod(batch, dtype=np.int64)) * m * k * n, a.nbytes + b.nbytes, y.nbytes)

    def emit(self, node, graph, ctx):
        a, b = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        batch, m, k, n = self.shapes(node, a.shape, b.shape)
        offsets = [ctx.table(_batch_offsets(a.shape, batch, m * k)),
                   ctx.table(_batch_offsets(b.shape, batch, k * n))]
        batches = int(np.prod(batch, dtype=np.int64)) if batch else 1
        return [KernelCall("dg_matmul", (ctx.ptr(a.name), offsets[0], ctx.ptr(b.name), offsets[1],
                                         ctx.ptr(node.outputs[0]), str(batches), str(m), str(n), str(k),
                                         ctx.fn(node)))]

    def cases(self):
        # Right-hand sides are run-time inputs here: constant ones become Dense (see Dense's cases).
        return [OpCase("2d", (Rand((3, 5)), Rand((5, 4)))),
                OpCase("batched", (Rand((2, 3, 5)), Rand((2, 5, 4)))),
                OpCase("bcast_b", (Rand((2, 3, 5)), Rand((5, 6)))),
                OpCase("bcast_a", (Rand((4, 5)), Rand((3, 5, 2)))),
                OpCase("vec_mat", (Rand((5,)), Rand((2, 5, 3)))),
                OpCase("mat_vec", (Rand((2, 3, 5)), Rand((5,))))]


@register
class Gemm(OpSpec):
    op_type = "Gemm"
    kernel = "gemm"
    attributes = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}
    fuses_activation = True

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        a, b = inputs[0].shape, inputs[1].shape
        if len(a) != 2 or len(b) != 2:
            raise self.refuse(node, f"A and B must be matrices, got {a} and {b}")
        m, k = a[::-1] if node.attrs["transA"] else a
        kb, n = b[::-1] if node.attrs["transB"] else b
        if k != kb:
            raise self.refuse(node, f"inner dimensions differ: {a} and {b} with transA={node.attrs['transA']}, "
                                    f"transB={node.attrs['transB']}")
        if len(inputs) > 2 and inputs[2] is not None:
            if broadcast_shapes(f"node {node.name!r} (Gemm) C", inputs[2].shape, (m, n)) != (m, n):
                raise self.refuse(node, f"C {inputs[2].shape} does not broadcast to ({m}, {n})")
        return [((m, n), "float32")]

    def reference(self, node, x):
        a = x[0].T if node.attrs["transA"] else x[0]
        b = x[1].T if node.attrs["transB"] else x[1]
        y = np.float32(node.attrs["alpha"]) * (a @ b)
        if len(x) > 2 and x[2] is not None:
            y = y + np.float32(node.attrs["beta"]) * x[2]
        return [y.astype(np.float32)]

    def cost(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        a = graph.tensors[node.inputs[0]]
        k = a.shape[0] if node.attrs["transA"] else a.shape[1]
        return Cost(y.size * k, sum(graph.tensors[i].nbytes for i in node.inputs if i), y.nbytes)

    def emit(self, node, graph, ctx):
        a, b, y = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]], graph.tensors[node.outputs[0]]
        m, n = y.shape
        k = a.shape[0] if node.attrs["transA"] else a.shape[1]
        sa = strides_of(a.shape)[::-1] if node.attrs["transA"] else strides_of(a.shape)
        sb = strides_of(b.shape)[::-1] if node.attrs["transB"] else strides_of(b.shape)
        if node.input(2):
            c = graph.tensors[node.inputs[2]]
            padded = (1,) * (2 - len(c.shape)) + c.shape
            sc = tuple(0 if d == 1 else s for d, s in zip(padded, strides_of(padded)))
            c_ptr = ctx.ptr(c.name)
        else:
            sc, c_ptr = (0, 0), "NULL"
        return [KernelCall("dg_gemm", (ctx.ptr(a.name), str(sa[0]), str(sa[1]), ctx.ptr(b.name), str(sb[0]),
                                       str(sb[1]), c_ptr, str(sc[0]), str(sc[1]), ctx.ptr(y.name), str(m), str(n),
                                       str(k), c_float(node.attrs["alpha"]), c_float(node.attrs["beta"]),
                                       ctx.fn(node)))]

    def cases(self):
        return [OpCase("plain", (Rand((3, 5)), Rand((5, 4)), Rand((4,)))),
                OpCase("transA_transB", (Rand((5, 3)), Rand((4, 5)), Rand((3, 4))),
                       {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
                OpCase("col_bias", (Rand((3, 5)), Rand((5, 4)), Rand((3, 1)))),
                OpCase("no_c", (Rand((2, 6)), Rand((6, 3)))),
                OpCase("const_b_becomes_dense", (Rand((2, 6)), _matrix(3, 6), _matrix(3, seed=1)),
                       {"transB": 1})]


@register
class Dense(OpSpec):
    """dietgen::Dense(x (..., K), w (N, K), bias (N)?) = x @ w.T + bias; made by the fuse pass."""
    op_type = "Dense"
    domain = "dietgen"
    kernel = "panel"
    flash_inputs = (1, 2)
    fuses_activation = True

    def infer(self, node, inputs):
        self.require_float(node, inputs)
        x, w = inputs[0], inputs[1]
        self.require_const(node, inputs, 1, "the weight")
        if len(w.shape) != 2 or not x.shape or x.shape[-1] != w.shape[1]:
            raise self.refuse(node, f"weight {w.shape} does not match input {x.shape}")
        if len(inputs) > 2 and inputs[2] is not None:
            self.require_const(node, inputs, 2, "the bias")
            if inputs[2].shape != (w.shape[0],):
                raise self.refuse(node, f"bias {inputs[2].shape} should be ({w.shape[0]},)")
        return [(x.shape[:-1] + (w.shape[0],), "float32")]

    def reference(self, node, x):
        y = x[0] @ x[1].T
        if len(x) > 2 and x[2] is not None:
            y = y + x[2]
        return [y.astype(np.float32)]

    def cost(self, node, graph):
        x, w, y = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]], graph.tensors[node.outputs[0]]
        macs = y.size * w.shape[1]
        return Cost(macs, x.nbytes + w.nbytes, y.nbytes, products=1,
                    **unpacked(macs, w.shape[0], y.size // w.shape[0]))

    def emit(self, node, graph, ctx):
        x, w = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        n, k = w.shape
        bias = ctx.ptr(node.inputs[2]) if node.input(2) else "NULL"
        return [KernelCall("dg_panel_gemm", (ctx.derived_weight(w.name, "panels", pack_panels), bias,
                                             ctx.ptr(x.name), str(k), ctx.ptr(node.outputs[0]), str(n), "1",
                                             str(x.size // k), str(n), str(k), ctx.fn(node)))]
