"""Shape arithmetic shared by op modules: broadcasting, strides, axes."""
from __future__ import annotations

import numpy as np

from dietgen.errors import DietgenError


def strides_of(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides."""
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


def broadcast_shapes(where: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise DietgenError(f"{where}: shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast")


def broadcast_strides(shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    """Strides that read ``shape`` as if broadcast to ``out`` (0 along broadcast dimensions)."""
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    return tuple(0 if d == 1 and o != 1 else s for d, o, s in zip(padded, out, strides_of(padded)))


def coalesce(dims: tuple[int, ...], *strides: tuple[int, ...]) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Merge neighbouring dimensions that every operand walks contiguously; drop size-1 dimensions.

    The merged loop nest visits the same elements in the same order with fewer, longer inner loops.
    """
    keep = [i for i, d in enumerate(dims) if d != 1]
    if not keep:
        return (1,), [(0,) for _ in strides]
    out_dims = [dims[keep[0]]]
    out_strides = [[s[keep[0]]] for s in strides]
    for i in keep[1:]:
        if all(st[-1] == s[i] * dims[i] for st, s in zip(out_strides, strides)):
            out_dims[-1] *= dims[i]
            for st, s in zip(out_strides, strides):
                st[-1] = s[i]
        else:
            out_dims.append(dims[i])
            for st, s in zip(out_strides, strides):
                st.append(s[i])
    return tuple(out_dims), [tuple(s) for s in out_strides]


def normalise_axis(where: str, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise DietgenError(f"{where}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def split_at(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    """(outer, axis length, inner) element counts around ``axis``."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


PANEL_ROWS = 8  # DG_NR in firmware/include/dietgen/panel.h


def unpacked(macs: int, rows: int, columns: int) -> dict[str, int]:
    """Cost.unpacked_macs and unpacked_dots of a packed weight of ``rows`` rows times ``columns`` columns in all
    (``macs`` MACs): the rows pack_panels leaves unpacked run one dot product per column each."""
    rest = rows % PANEL_ROWS
    return {"unpacked_macs": macs * rest // rows, "unpacked_dots": rest * columns}


def pack_panels(w: np.ndarray) -> np.ndarray:
    """W (n, k) in the order dg_panel_gemm streams it (firmware/include/dietgen/panel.h): full panels of
    PANEL_ROWS rows interleaved by column, then the remaining rows as they are. A permutation of W."""
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    full = n - n % PANEL_ROWS
    panels = w[:full].reshape(full // PANEL_ROWS, PANEL_ROWS, k).transpose(0, 2, 1)
    return np.concatenate([panels.reshape(-1), w[full:].reshape(-1)])
