"""The EDGE mutual-information estimator (dietgen/trim/information.py) against known answers, in bits."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dietgen.trim.information import mutual_information, unit_information


def _gaussians(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)


@pytest.mark.parametrize("n, dims", [(1000, 1), (2000, 1), (1000, 8), (2000, 8)])
def test_independent_variables_carry_no_information(n, dims):
    """Independent Gaussians read below 0.05 bits (the shuffled-pairing correction removes the plug-in bias)."""
    rng = np.random.default_rng(dims)
    assert mutual_information(rng.standard_normal((n, dims)), rng.standard_normal((n, dims))) < 0.05


@pytest.mark.parametrize("k", [2, 4, 8])
@pytest.mark.parametrize("permuted", [False, True])
def test_copy_of_a_discrete_variable_carries_its_entropy(k, permuted):
    """y = x (or a relabelling of x) with K equiprobable values reads log2 K within 0.1 bits (N = 1000)."""
    rng = np.random.default_rng(k)
    x = rng.integers(0, k, 1000)
    y = rng.permutation(k)[x] if permuted else x
    assert mutual_information(x.astype(float), y.astype(float)) == pytest.approx(math.log2(k), abs=0.1)


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9, 0.95])
def test_correlated_gaussians(rho):
    """-0.5 log2(1 - rho^2) within max(0.15 bits, 15 %) at N = 2000: the estimator under-reads strong
    dependence by about 12 % (module docstring), and reads 0.5 within 0.05 bits."""
    true = -0.5 * math.log2(1 - rho**2)
    assert mutual_information(*_gaussians(rho, 2000, 0)) == pytest.approx(true, abs=max(0.15, 0.15 * true))


def test_information_grows_with_correlation():
    """Strictly increasing over rho = 0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99 on the same noise (N = 1000)."""
    values = [mutual_information(*_gaussians(rho, 1000, 3)) for rho in (0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)]
    assert values == sorted(values) and len(set(values)) == len(values)


def test_unit_information_is_mutual_information_unit_by_unit():
    """Exactly the same numbers (same draws per repeat), and the same for a fixed seed, another for another."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 40))
    units = np.tanh(x[:, None, :6] * rng.standard_normal((1, 5, 6))) + 0.5 * rng.standard_normal((300, 5, 6))
    scores = unit_information(x, units, seed=2)
    assert scores.shape == (5,)
    for j in range(5):
        assert scores[j] == mutual_information(x, units[:, j], seed=2)
    assert np.array_equal(scores, unit_information(x, units, seed=2))
    assert not np.array_equal(scores, unit_information(x, units, seed=3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_high_dimensional_input_ranks_a_dependent_unit_first(seed):
    """X: 500 correlated coordinates (3 latent factors plus noise, like a layer input), N = 256. A unit that is a
    noisy function of 3 coordinates scores at least 0.05 bits and 4x more than a unit of pure noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, 3)) @ rng.standard_normal((3, 500)) + 0.5 * rng.standard_normal((256, 500))
    dependent = np.tanh(x[:, [3, 17, 250]].sum(axis=1, keepdims=True) / 3) + 0.3 * rng.standard_normal((256, 10))
    noise = rng.standard_normal((256, 10))
    dep, ind = unit_information(x, np.stack([dependent, noise], axis=1), seed=seed)
    assert dep > max(0.05, 4 * ind)


def test_constant_variables_carry_nothing_and_raise_no_warnings():
    """Constant variables or columns give finite values without numpy warnings; a constant variable gives 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3))
    x[:, 1] = 7.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mutual_information(x, np.full(200, 3.0)) == 0.0
        assert mutual_information(np.zeros((200, 4)), x) == 0.0
        assert 0.0 <= mutual_information(x, x[:, 0]) <= math.log2(200)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((10, 2)), np.zeros((9, 2)), "paired"),
        (np.zeros((3, 2)), np.zeros((3, 2)), "at least 4"),
        (np.array([0.0, 1.0, np.nan, 2.0, 3.0]), np.arange(5.0), "non-finite"),
        (np.arange(5.0), np.array([0.0, 1.0, np.inf, 2.0, 3.0]), "non-finite"),
    ],
)
def test_bad_inputs_are_refused(x, y, message):
    with pytest.raises(ValueError, match=message):
        mutual_information(x, y)
