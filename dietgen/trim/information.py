"""Mutual information in bits between a layer's input and each unit's activation: EDGE, the paper's estimator
(`mutual_information`, `unit_information`), and a one-view projection estimator (`projection_information`).

The "information" trimming criterion scores a unit by I(X; H_j) between a layer's input X (up to 1000 dimensions
per example) and the unit's activation H_j (up to 100 time positions), over a few hundred examples.

EDGE (Noshad, Zeng, Hero, "Scalable mutual information estimation using dependence graphs", ICASSP 2019), with
the defaults of the authors' code (EDGE_4_4_1.py called as `EDGE(X, Y)`), for N paired samples of X (dx
dimensions) and Y (dy dimensions):
1. Hashing space. If both dx and dy are at most 6, each variable is hashed on its own coordinates ("floor"
   hashing). Otherwise both are projected (p-stable locality-sensitive hashing) to m = floor(log2(N / 10))
   dimensions (at most their own): V (d, m) has Gaussian entries of standard deviation 1 / (std_i sqrt(d)),
   std_i that of coordinate i, so every projected coordinate has about unit variance. About ten samples per
   cell along log2(N / 10) binary splits is the authors' budget.
2. Bandwidth. Per hashed coordinate, the mean distance to the k-th nearest neighbour (counting the sample
   itself), k = floor(0.43 N^(2/3 + 0.17 m / (m + 1))), plus 1e-4; times 18 m / max(1 + ln d, 1) (coarser
   cells when few coordinates carry a high-dimensional variable) and times the smoothness gamma = 0.4.
3. Dependence graph. A sample falls in the cell floor((v + b) / eps) per coordinate; N_i counts the samples in
   its X cell, M_j in its Y cell, N_ij in its joint cell. The estimate is the mean over samples of the pointwise
   information log2(N N_ij / (N_i M_j)) clipped to [0.001, U], U = 10 bits: the upper clip bounds what a single
   sparse cell adds, the lower one is the authors' (it keeps the estimate positive, which step 5 divides by).
4. Ensemble. L = 10 base estimates with bandwidths eps (1 + 0.1 l / (L - 1)) and shifts b = eps l / L,
   l = 0 .. L - 1 (deterministic shifts, `stochastic=False`); the ensemble estimate is their median.
5. Bandwidth re-normalisation (`normalize_epsilon=True`). From that first estimate I, gamma is scaled by
   2^(-sqrt(2 I) + 0.5 / I) and steps 2-4 run again; the second result is returned. A weak first estimate
   widens the cells until independent variables share one cell and read the 0.001 floor; a strong one narrows
   them. As in the authors' code the second run applies the 0.4 smoothness factor once more (their constants
   were tuned with it), so its gamma is 0.16 times the scale.

Cost: projecting X is O(N dx m), done once for all units: `unit_information` reuses X's projection, its
bandwidths and the first run's X cells for every unit (the second run's X cells depend on the unit's first
estimate, O(N m) per unit). Per unit: projecting Y O(N dy m), k-NN bandwidths O(N k m) (sorted values, one
coordinate at a time) and 20 base estimates of O(N log N) (sorting cell labels). About 0.4 s for N = 256,
dx = 1000, J = 64, dy = 100 on one core; about 7 s for N = 1000, J = 200.

What differs from the authors' code, and why:
- The k-NN mean is over all N samples; the authors' code queries 500 samples drawn with replacement (seed
  3334): the same quantity, less noisy, and exact in one dimension from sorted values.
- Each variable is centred and the 1e-4 added to the bandwidth is relative to the coordinate's standard
  deviation: unit-variance data is unchanged, and the estimate becomes invariant to an offset or a scale of a
  variable, as mutual information is (activations can sit at 1e-3, where an absolute 1e-4 coarsens the cells).
- A constant variable reads exactly 0 bits (the authors' code reads its 0.001 floor), so a dead unit ranks
  below every live one without a tie.
- The projections come from `seed` (the authors' code reseeds numpy with 3334); for N < 20 the projection
  keeps one dimension, where log2(N / 10) would leave none.
- The optional ensemble weights by quadratic programming (`optimal_weights`, cvxpy) are not implemented: the
  default ensemble is the median.

Known limits, measured in docs/results/edge_bias.md (benchmarks/edge_bias.py; X ~ N(0, I_d), H = sqrt(SNR) w.X
+ noise) and in tests/test_information.py: scalars are read within about 0.2 bits (correlated Gaussians at
N = 2000: +0.2 at rho = 0.8, -0.15 at rho = 0.99; independent scalars read the 0.001 floor); a discrete
variable with fewer samples per value than k (77 at N = 1000) has several values per cell. With more
coordinates the cells empty out, and the re-normalisation narrows them further once a first estimate passes
about 0.5 bits: independent 3-dimensional Gaussians read 0.1-0.3 bits and 6-dimensional ones 4.6-5.6 bits
(N = 1000).
So in high dimensions the estimate follows d and N, not the dependence: at d = 8 it under-reads (2 bits read
0.7-1.0: cells about 4 standard deviations wide), and from d = 64 on nearly every projected sample is alone in
its X cell, so the estimate is about the entropy of Y's cells: independent variables read 1.7 bits (d = 64) to
3.9 bits (d = 1000, N = 2000), within 0.4 bits of what 2 bits of dependence read.

The projection estimator (`projection_information`) looks at each variable through one random 1-D view per
repeat: a Gaussian combination of the samples themselves (X^T g, which leans towards the directions the data
varies along, where a Gaussian vector in 1000 dimensions is nearly orthogonal to all of them), standardised,
cut into cells of the median k-NN diameter (k = N^(2/3); samples on atoms such as ReLU zeros left out, a purely
discrete view gets half its smallest gap). It takes the plug-in estimate of the cells less the same estimate
with the pairing shuffled (which reads ~0 for independent variables at any N), the median over 7 repeats,
clipped to [0, log2 N]. It is a lower bound (the information in 1-D views) that under-reads strong dependence
by about 12 % even in one dimension and misses a single direction of an isotropic input (2 bits read below
0.06 from d = 8 on). It is kept because it ranks units better where it matters, on inputs shaped like layer
inputs (Spearman correlation of 32 units' estimates with their true information, N = 256, d = 1000, 10 seeds,
docs/results/edge_bias.md): rank-3-plus-noise X, dy = 1: 0.79 (min 0.68) against EDGE's 0.75 (min 0.51);
dy = 100: 0.63 (min 0.45) against 0.26 (min -0.46). On isotropic X neither ranks usefully (projection 0.19
and 0.16 for dy = 1 and 100, EDGE 0.00 and 0.48, all with minima below 0). It is also 1.3-2x faster.
"""
from __future__ import annotations

import math

import numpy as np

UPPER_BITS = 10.0       # U: clip of the pointwise information from above
LOWER_BITS = 0.001      # the authors' clip from below (keeps the estimate > 0 for the re-normalisation)
SMOOTHNESS = 0.4        # gamma = 1 (continuous data) times the code's 0.4
ENSEMBLE = 10           # L_ensemble
BANDWIDTH_RANGE = 0.1   # eps_range_factor: bandwidths span [eps, 1.1 eps]
FLOOR_HASH_DIMS = 6     # at most this many dimensions on both sides: hash the coordinates themselves
CELL_SAMPLES = 10       # projected dimensions: log2(N / CELL_SAMPLES)
CELL_SCALE = 18.0       # bandwidth factor per hashed dimension, divided by 1 + ln(original dimensions)


def mutual_information(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> float:
    """I(X; Y) in bits between paired samples x (N, dx) and y (N, dy) (1-D arrays are (N, 1))."""
    y = _as_samples(y, "y")
    return float(unit_information(x, y[:, None, :], seed=seed)[0])


def unit_information(x: np.ndarray, units: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """I(X; H_j) in bits for every unit j: x (N, dx) shared, units (N, J, dy) or (N, J) -> (J,). X is projected
    and its bandwidths measured once for all units (about 0.4 s for N=256, dx=1000, J=64, dy=100 on one core)."""
    x, units = _paired(x, units)
    n, dx = x.shape
    j, dy = units.shape[1:]
    live = (units.max(axis=0) > units.min(axis=0)).any(axis=1)
    if not np.ptp(x, axis=0).any():
        live[:] = False
    bits = np.zeros(j)
    if not live.any():
        return bits
    rng = np.random.default_rng(seed)
    # Hashed variables are (B, N, m): the variable axis leads so that per-variable work is on contiguous memory.
    if dx <= FLOOR_HASH_DIMS and dy <= FLOOR_HASH_DIMS:
        xv = (x - x.mean(axis=0))[None]
        yv = units[:, live].transpose(1, 0, 2)
        yv = yv - yv.mean(axis=1, keepdims=True)
    else:
        # Both sides are projected (as in the authors' code) as soon as either is too wide for floor hashing.
        m = max(1, math.floor(math.log2(n / CELL_SAMPLES)))
        xv = _project(x[:, None], rng.standard_normal((dx, min(dx, m))))
        yv = _project(units if live.all() else units[:, live], rng.standard_normal((dy, min(dy, m))))
    x_width = _bandwidth(xv, dx)
    y_width = _bandwidth(yv, dy)
    first = _ensemble(xv, yv, x_width * SMOOTHNESS, y_width * SMOOTHNESS)
    scale = np.exp2(-np.sqrt(2.0 * first) + 0.5 / first)
    # The authors' second run applies the 0.4 smoothness factor again: hence SMOOTHNESS squared.
    gamma = (SMOOTHNESS * SMOOTHNESS * scale)[:, None]
    bits[live] = _ensemble(xv, yv, x_width * gamma, y_width * gamma)
    return bits


def _paired(x: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x as (N, dx) samples and units as (N, J, dy) (a 2-D units array is one position per unit), checked finite
    and paired."""
    x = _as_samples(x, "x")
    units = np.asarray(units, dtype=np.float64)
    if units.ndim == 2:
        units = units[:, :, None]
    if units.ndim != 3:
        raise ValueError(f"units must be (N, J, dy), got shape {units.shape}")
    _check_finite(units, "units")
    if units.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but units has {units.shape[0]}: pass paired samples")
    return x, units


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


def _project(v: np.ndarray, gauss: np.ndarray) -> np.ndarray:
    """Centred p-stable projection of variables v (N, B, d) with Gaussian draws (d, m) -> (B, N, m)."""
    d = v.shape[2]
    std = v.std(axis=0)
    # The authors' guard: near-constant coordinates keep weight 1 instead of being blown up by 1 / std.
    std = np.where(std < 1e-4, 1.0, std)
    projected = np.matmul(v.transpose(1, 0, 2), gauss[None] / (std[:, :, None] * math.sqrt(d)))
    return projected - projected.mean(axis=1, keepdims=True)


def _bandwidth(v: np.ndarray, dims: int) -> np.ndarray:
    """Cell side before smoothness for each hashed coordinate of v (B, N, m) -> (B, m); dims = original d."""
    _, n, m = v.shape
    k = min(n, max(1, math.floor(0.43 * n ** (2 / 3 + 0.17 * m / (m + 1)) * math.exp(-1 / max(10000, m**4)))))
    s = np.sort(v, axis=1)
    # In one dimension the k nearest samples (the sample itself included) are k consecutive sorted samples:
    # the k-th neighbour distance is the smallest, over the windows of k that contain the sample, of the larger
    # of its distances to the window's two ends.
    knn = np.full(s.shape, np.inf)
    starts, ends = s[:, : n - k + 1], s[:, k - 1 :]
    for offset in range(k):                   # sample i = window start + offset
        i = slice(offset, n - k + 1 + offset)
        knn[:, i] = np.minimum(knn[:, i], np.maximum(s[:, i] - starts, ends - s[:, i]))
    spread = v.std(axis=1)
    floor = 1e-4 * np.where(spread > 0, spread, 1.0)
    return (knn.mean(axis=1) + floor) * (CELL_SCALE * m / max(1.0 + math.log(dims), 1.0))


def _ensemble(xv: np.ndarray, yv: np.ndarray, x_eps: np.ndarray, y_eps: np.ndarray) -> np.ndarray:
    """Median over the L base estimates (bits, (J,)) for hashed X (1, N, mx), Y (J, N, my) and cell sides
    x_eps (1 or J, mx), y_eps (J, my)."""
    n = xv.shape[1]
    estimates = np.empty((ENSEMBLE, yv.shape[0]))
    for member, stretch in enumerate(np.linspace(1.0, 1.0 + BANDWIDTH_RANGE, ENSEMBLE)):
        shift = member / ENSEMBLE             # b = shift * eps
        x_cells = _cells(np.floor(xv / (x_eps * stretch)[:, None, :] + shift))
        y_cells = _cells(np.floor(yv / (y_eps * stretch)[:, None, :] + shift))
        x_count = np.broadcast_to(_counts(x_cells), y_cells.shape)
        joint = _dense(x_cells * n + y_cells)
        ratio = n * _counts(joint) / (x_count * _counts(y_cells))
        estimates[member] = np.clip(np.log2(ratio), LOWER_BITS, UPPER_BITS).mean(axis=1)
    return np.median(estimates, axis=0)


def _cells(codes: np.ndarray) -> np.ndarray:
    """Cell label in [0, N) of every sample of each row of integer-valued codes (B, N, m) -> (B, N)."""
    codes = codes.astype(np.int64)
    codes -= codes.min(axis=1, keepdims=True)
    sizes = [int(codes[..., i].max()) + 1 for i in range(codes.shape[2])]
    if math.prod(sizes) < 2**62:
        # One integer per cell (mixed radix): a single sort instead of a sort per coordinate.
        key = codes[..., 0]
        for i in range(1, len(sizes)):
            key = key * sizes[i] + codes[..., i]
        return _dense(key)
    # Cells too many to number: relabel coordinate by coordinate, each step keeps labels below N.
    key = _dense(codes[..., 0])
    for i in range(1, len(sizes)):
        key = _dense(key * codes.shape[1] + _dense(codes[..., i]))
    return key


def _dense(key: np.ndarray) -> np.ndarray:
    """Relabel the integer keys of each row of (B, N) as 0, 1, ... (equal keys share a label)."""
    order = np.argsort(key, axis=1)
    ranked = np.take_along_axis(key, order, axis=1)
    new = np.zeros(key.shape, dtype=np.int64)
    new[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    labels = np.empty_like(new)
    np.put_along_axis(labels, order, np.cumsum(new, axis=1), axis=1)
    return labels


def _counts(labels: np.ndarray) -> np.ndarray:
    """For each sample of each row of labels (B, N), the number of samples of its row with its label."""
    b, n = labels.shape
    flat = labels + (np.arange(b) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=b * n)[flat].astype(np.float64)


def projection_information(x: np.ndarray, units: np.ndarray, *, seed: int = 0, repeats: int = 7) -> np.ndarray:
    """I(X; H_j) in bits seen through one random one-dimensional view of each side, for every unit j: x (N, dx),
    units (N, J, dy) or (N, J) -> (J,). A lower bound that ranks units rather than measures I (module doc);
    about 0.3 s for N=256, dx=1000, J=64, dy=100 on one core."""
    x, units = _paired(x, units)
    n = x.shape[0]
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    y = _standardise(np.ascontiguousarray(units.transpose(1, 0, 2)))
    x = _standardise(x[None])
    rng = np.random.default_rng(seed)
    estimates = np.empty((repeats, y.shape[0]))
    for r in range(repeats):
        x_cells = _view_cells(x, rng)[0]
        y_cells = _view_cells(y, rng)
        shuffle = rng.permutation(n)
        # H(X) + H(Y) cancel between the plug-in estimate and its shuffled twin: only joint entropies remain.
        estimates[r] = _entropy(y_cells * n + x_cells[shuffle]) - _entropy(y_cells * n + x_cells)
    return np.clip(np.median(estimates, axis=0), 0.0, math.log2(n))


def _standardise(v: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance along the sample axis (-2) of (J, N, d); constant dimensions become 0."""
    v = v - v.mean(axis=-2, keepdims=True)
    std = v.std(axis=-2, keepdims=True)
    # Relative threshold: a column that is constant up to rounding must not be blown up into noise.
    scale = np.abs(v).max(axis=-2, keepdims=True)
    live = std > 1e-12 * np.maximum(scale, 1e-300)
    return np.where(live, v / np.where(live, std, 1.0), 0.0)


def _view_cells(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cell label in [0, N) of every sample of every variable in v (J, N, d) -> (J, N): one random view."""
    # The direction is a random combination of the samples themselves (one power-iteration step from a random
    # start): it leans towards the directions the data varies along, where a plain Gaussian direction in 1000
    # dimensions is nearly orthogonal to all of them.
    direction = np.einsum("jnd,n->jd", v, rng.standard_normal(v.shape[1]))
    z = _standardise(np.einsum("jnd,jd->jn", v, direction)[..., None])[..., 0]
    codes = np.floor(z / _view_width(z)[:, None] + rng.random()).astype(np.int64)
    return _dense(codes)


def _view_width(z: np.ndarray) -> np.ndarray:
    """Grid side for each row of projected samples z (J, N): the median k-NN diameter, k = N^(2/3)."""
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


def _entropy(keys: np.ndarray) -> np.ndarray:
    """Plug-in entropy in bits of the non-negative integer cell keys of each row of (J, N)."""
    counts = _counts(_dense(keys))
    # Each sample carries -log2 p of its cell; their mean is the plug-in entropy.
    return -np.log2(counts / keys.shape[1]).mean(axis=1)
