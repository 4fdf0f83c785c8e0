"""Mutual information in bits by hashing into cells (EDGE: Noshad, Zeng, Hero, ICASSP 2019).

The "information" trimming criterion scores a unit by I(X; H_j) between a layer's input X (up to 1000
dimensions per example) and the unit's activation H_j (up to 100 time positions), over a few hundred examples.
EDGE estimates it in linear time: hash both variables into cells, count the samples per X cell, per H cell and
per joint cell, and take the plug-in estimate. Each repeat draws a new hashing; the median over repeats is
returned, which is what keeps one unlucky grid from deciding a unit's fate.

Choices, and why:
- Each variable is standardised per dimension (a constant dimension becomes 0), so that no single large-valued
  coordinate decides the cells and a constant variable falls into one cell (0 bits, no division by zero).
- It is then hashed as in EDGE's p-stable locality-sensitive hashing: a random projection to one dimension,
  re-standardised, then a grid of side epsilon with a random shift; every repeat draws a new direction and shift.
  The direction is a Gaussian combination of the samples (X^T g) rather than a Gaussian vector: in 1000
  dimensions a Gaussian vector is nearly orthogonal to the few directions the data varies along, and a Gaussian
  combination of a unit's time positions can cancel the component they share.
  Hashing all 1000 raw dimensions would make every sample its own cell (and a coarse grid would merge them all);
  a single projection keeps cells populated with a few hundred samples, and with two or more projections the
  joint cells were already too sparse for 8-dimensional independent inputs to read near 0 bits. A projection
  keeps what is shared by many coordinates, which is the structure of real layer inputs (correlated channels,
  low effective rank); a signal carried by one coordinate of an isotropic 1000-dimensional input is out of reach
  of any estimator with a few hundred samples anyway. The price: the estimate is the information carried by
  random one-dimensional views, a lower bound that ranks units rather than measures all of I(X; H).
- Epsilon comes from k-nearest-neighbour distances of the projected samples, as in EDGE: the cell is the median
  k-NN diameter, so it holds about k samples where the data is dense, with k = N^(2/3) (cells get finer as N
  grows, yet hold enough samples that counts mean something). Samples that sit exactly on repeated values
  (discrete codes, ReLU zeros) are left out of that median, so atoms do not shrink epsilon to zero; a purely
  discrete variable gets a cell half its smallest gap, so each value keeps its own cell and a copy of a K-valued
  variable measures about log2 K.
- The plug-in estimate sum over joint cells of (N_ij/N) log2(N N_ij / (N_i M_j)) equals H(X) + H(Y) - H(X, Y)
  of the cell counts and is computed that way (counts only, no per-cell loop). Its positive small-sample bias is
  removed by subtracting the same estimate with the pairing shuffled (one random permutation per repeat): that
  is H(shuffled joint) - H(X, Y), which reads ~0 bits for independent variables at any N, where the Miller-Madow
  correction left 0.1-0.2 bits at N = 256-1000 and so blurred the ranking of weak units. It slightly
  under-reads strong dependence (about 12 % at rho = 0.95, N = 2000). The result is clipped to [0, log2 N]:
  negative bits are sampling noise, and no estimate from N samples can exceed log2 N.
- X is the expensive side (up to 1000 dimensions), so `unit_information` hashes it once per repeat and reuses the
  cells for every unit; the units are hashed together, vectorised over the unit axis.
"""
from __future__ import annotations

import math

import numpy as np


def mutual_information(x: np.ndarray, y: np.ndarray, *, seed: int = 0, repeats: int = 7) -> float:
    """I(X; Y) in bits between paired samples x (N, dx) and y (N, dy) (1-D arrays are (N, 1))."""
    y = _as_samples(y, "y")
    return float(unit_information(x, y[:, None, :], seed=seed, repeats=repeats)[0])


def unit_information(x: np.ndarray, units: np.ndarray, *, seed: int = 0, repeats: int = 7) -> np.ndarray:
    """I(X; H_j) in bits for every unit j: x (N, dx) shared, units (N, J, dy) or (N, J) -> (J,). X is hashed
    once per repeat and its cells reused for every unit (about 0.15 s for N=256, dx=1000, J=64, dy=100 on one
    core; about 12 s for N=1000, J=1000, dy=100)."""
    x = _as_samples(x, "x")
    units = np.asarray(units, dtype=np.float64)
    if units.ndim == 2:
        units = units[:, :, None]
    if units.ndim != 3:
        raise ValueError(f"units must be (N, J, dy), got shape {units.shape}")
    _check_finite(units, "units")
    n = x.shape[0]
    if units.shape[0] != n:
        raise ValueError(f"x has {n} samples but units has {units.shape[0]}: pass paired samples")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    # (J, N, dy): the unit axis leads so that every per-unit reduction is over contiguous memory.
    y = _standardise(np.ascontiguousarray(units.transpose(1, 0, 2)))
    x = _standardise(x[None])
    rng = np.random.default_rng(seed)
    estimates = np.empty((repeats, y.shape[0]))
    for r in range(repeats):
        x_cells = _hash(x, rng)[0]
        estimates[r] = _information(x_cells, _hash(y, rng), rng.permutation(n))
    return np.clip(np.median(estimates, axis=0), 0.0, math.log2(n))


def _as_samples(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (N,) or (N, d), got shape {a.shape}")
    if a.shape[0] < 4:
        raise ValueError(f"{name} has {a.shape[0]} samples; mutual information needs at least 4")
    _check_finite(a, name)
    return a


def _check_finite(a: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (NaN or inf); remove or replace them")


def _standardise(v: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance along the sample axis (-2) of (J, N, d); constant dimensions become 0."""
    v = v - v.mean(axis=-2, keepdims=True)
    std = v.std(axis=-2, keepdims=True)
    # Relative threshold: a column that is constant up to rounding must not be blown up into noise.
    scale = np.abs(v).max(axis=-2, keepdims=True)
    live = std > 1e-12 * np.maximum(scale, 1e-300)
    return np.where(live, v / np.where(live, std, 1.0), 0.0)


def _hash(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cell label in [0, N) of every sample of every variable in v (J, N, d) -> (J, N)."""
    # The direction is a random combination of the samples themselves (one power-iteration step from a random
    # start): it leans towards the directions the data varies along, where a plain Gaussian direction in 1000
    # dimensions is nearly orthogonal to all of them.
    direction = np.einsum("jnd,n->jd", v, rng.standard_normal(v.shape[1]))
    z = _standardise(np.einsum("jnd,jd->jn", v, direction)[..., None])[..., 0]
    codes = np.floor(z / _cell_width(z)[:, None] + rng.random()).astype(np.int64)
    return _dense_per_variable(codes - codes.min(axis=1, keepdims=True))


def _dense_per_variable(key: np.ndarray) -> np.ndarray:
    """Relabel the non-negative keys of each row of (J, N) as 0, 1, ... (distinct keys of a row stay distinct)."""
    j, n = key.shape
    _, inverse = np.unique(key + np.arange(j)[:, None] * (key.max() + 1), return_inverse=True)
    inverse = inverse.reshape(j, n)
    # Keys carry their row, so a row's labels are contiguous after the global sort: subtract the row's first.
    return inverse - inverse.min(axis=1, keepdims=True)


def _cell_width(z: np.ndarray) -> np.ndarray:
    """Grid side for each row of projected samples z (J, N): the median k-NN diameter (see module doc)."""
    j, n = z.shape
    k = min(n - 1, max(2, round(n ** (2 / 3))))
    s = np.sort(z, axis=1)
    # In one dimension the k nearest neighbours of a sample are (up to ties) the k sorted samples around it,
    # so the k-NN diameter is the spread of k + 1 consecutive sorted samples.
    diameter = s[:, k:] - s[:, :-k]
    step = np.diff(s, axis=1)
    twin = np.zeros((j, n), dtype=bool)
    twin[:, 1:] |= step == 0
    twin[:, :-1] |= step == 0
    # Samples on an atom (a value repeated exactly: discrete codes, ReLU zeros) say nothing about spread.
    usable = ~twin[:, k // 2 : n - k + k // 2] & (diameter > 0)
    width = np.empty(j)
    for row in range(j):
        spread = diameter[row][usable[row]]
        if spread.size:
            width[row] = np.median(spread)
            continue
        gaps = step[row][step[row] > 0]
        # Only repeated values: half the smallest gap keeps distinct values in distinct cells.
        width[row] = 0.5 * gaps.min() if gaps.size else 1.0
    # Standardised values span at most 2 sqrt(N): this floor only keeps the cell codes far from overflow.
    return np.maximum(width, 1e-9)


def _information(x_cells: np.ndarray, y_cells: np.ndarray, shuffle: np.ndarray) -> np.ndarray:
    """Plug-in I in bits between cells x (N,) and each row of y (J, N), less its value with x shuffled -> (J,)."""
    n = x_cells.shape[0]
    # H(X) + H(Y) cancel between the estimate and its shuffled twin: only the joint entropies remain.
    return _entropy(y_cells * n + x_cells[shuffle]) - _entropy(y_cells * n + x_cells)


def _entropy(keys: np.ndarray) -> np.ndarray:
    """Plug-in entropy in bits of the non-negative cell keys of each row of (J, N)."""
    cells = _dense_per_variable(keys)
    j, n = cells.shape
    counts = np.bincount((np.arange(j)[:, None] * n + cells).ravel(), minlength=j * n).reshape(j, n)
    p = counts / n
    terms = np.where(counts > 0, p * np.log2(np.where(counts > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=1)
