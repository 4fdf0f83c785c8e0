"""What the data-movement ops share: the `copy` kernel family's calls and the checks before them.

Every op of the family reduces to a few calls: a strided copy (dims plus signed source and destination
strides, dimensions coalesced), a gather through per-dimension offset tables, a fill, or a select (Where).
"""
from __future__ import annotations

import numpy as np

from dietgen.errors import DietgenError
from dietgen.ops.common import coalesce, strides_of
from dietgen.ops.registry import Cost, KernelCall, OpSpec

MAX_DIMS = 8  # DG_MAX_DIMS in firmware/include/dietgen/common.h


def offset(ptr: str, elements: int) -> str:
    """A C pointer expression ``elements`` past ``ptr``."""
    return f"({ptr} + {elements})" if elements else ptr


def _check_rank(dims: tuple[int, ...]) -> None:
    if len(dims) > MAX_DIMS:
        raise DietgenError(f"a copy needs {len(dims)} dimensions after merging; the runtime handles {MAX_DIMS}")


def strided_copy(ctx, src: str, dst: str, dims, src_strides, dst_strides=None) -> KernelCall:
    """Copy a block of ``dims`` elements between two strided layouts (destination contiguous by default)."""
    dims = tuple(int(d) for d in dims)
    dst_strides = strides_of(dims) if dst_strides is None else dst_strides
    dims, (ss, ds) = coalesce(dims, tuple(src_strides), tuple(dst_strides))
    if len(dims) == 1 and (dims[0] == 1 or ss[0] == ds[0] == 1):
        return KernelCall("dg_copy", (src, dst, str(dims[0])))
    _check_rank(dims)
    return KernelCall("dg_copy_nd", (src, dst, str(len(dims)), ctx.table(dims), ctx.table(ss), ctx.table(ds)))


def gather(ctx, src: str, dst: str, maps: list[np.ndarray], in_shape: tuple[int, ...]) -> KernelCall:
    """dst[i0, ..., in] = src[maps[0][i0], ..., maps[n][in]]: one source index map per dimension.

    Trailing dimensions that maps leave untouched become one contiguous block, copied whole.
    """
    strides = strides_of(in_shape)
    block, cut = 1, len(maps)
    while cut and np.array_equal(maps[cut - 1], np.arange(in_shape[cut - 1])):
        cut -= 1
        block *= in_shape[cut]
    if cut == 0:
        return KernelCall("dg_copy", (src, dst, str(block)))
    tables = [np.asarray(m, dtype=np.int64) * s for m, s in zip(maps[:cut], strides)]
    # Single-entry dimensions add a constant offset: it goes into the source pointer.
    src = offset(src, sum(int(t[0]) for t in tables if t.size == 1))
    tables = [t for t in tables if t.size > 1] or [np.zeros(1, np.int64)]
    dims = tuple(t.size for t in tables)
    _check_rank(dims)
    return KernelCall("dg_gather", (src, dst, str(len(dims)), ctx.table(dims), ctx.table(np.concatenate(tables)),
                                    str(block)))


class CopyOp(OpSpec):
    """An op of the `copy` kernel family; it computes nothing, so it costs what it moves."""
    kernel = "copy"

    def on_device(self, inputs) -> bool:
        return not all(t is None or t.is_constant for t in inputs)

    def checked(self, node, inputs, outs: list[tuple[tuple[int, ...], str]]):
        """``outs``, after refusing empty results of nodes that will run on the device."""
        if self.on_device(inputs):
            for shape, _ in outs:
                if 0 in shape:
                    raise self.refuse(node, f"the output {tuple(shape)} is empty; only non-empty tensors run on "
                                            f"the device")
        return outs

    def cost(self, node, graph):
        moved = sum(graph.tensors[n].nbytes for n in node.outputs if n)
        return Cost(0, moved, moved)


def const_ints(op: OpSpec, node, inputs, i: int, what: str) -> list[int] | None:
    """An optional constant integer vector input as Python ints (None when absent)."""
    if i >= len(inputs) or inputs[i] is None:
        return None
    value = op.require_const(node, inputs, i, what)
    if value.dtype.kind not in "iu" or value.ndim > 1:
        raise op.refuse(node, f"{what} (input {i}) should be an integer vector, got {value.dtype} {value.shape}")
    return [int(v) for v in value.reshape(-1)]


def array_ints(x: list[np.ndarray | None], i: int) -> list[int] | None:
    """Optional input ``i`` of a list of values (a reference's arguments, or graph.const of each input) as
    Python ints; None when absent."""
    return None if i >= len(x) or x[i] is None else [int(v) for v in np.reshape(x[i], -1)]


def normalise_axes(op: OpSpec, node, axes: list[int], rank: int) -> list[int]:
    """Axes in [0, rank), refusing out-of-range and repeated ones."""
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise op.refuse(node, f"axis {a} is out of range for rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise op.refuse(node, f"axes {axes} repeat an axis")
    return out


def i64(*values: int) -> np.ndarray:
    """An int64 vector: how test cases spell constant shape, axes and index inputs."""
    return np.array(values, np.int64)
