"""The C runtime's sampling (firmware/src/sample.c), which a generation loop calls between model steps: the classes
it draws against the float32 Python reference, their distribution against the softmax, its seeding, and mu-law
decoding against the PyTorch model's."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import torch

from dietgen.models.wavenet import CLASSES, mu_law_decode, mu_law_decode_np, sample_reference
from dietgen.resources import firmware
from dietgen.toolchain.host import SANITIZE, STRICT

NEAR_TIE = 1e-5     # margins below this may round to neighbouring classes in C and numpy (expf vs np.exp)

# argv: "sample" classes rows draws temperature seed, logits (rows, classes) float32 on stdin; draw k uses row
# k % rows; writes the draws as int32, then the generator's final state as uint32. argv: "decode" classes;
# writes dg_mulaw_decode of every code as float32.
MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "dietgen/sample.h"

static float logits[1 << 20];

int main(int argc, char **argv)
{
    dg_int classes = (dg_int)atol(argv[2]), k;
    if (argc == 3) {
        for (k = 0; k < classes; ++k) {
            float y = dg_mulaw_decode(k, classes);
            fwrite(&y, sizeof y, 1, stdout);
        }
        return 0;
    } else {
        dg_int rows = (dg_int)atol(argv[3]), draws = (dg_int)atol(argv[4]);
        float temperature = (float)atof(argv[5]);
        uint32_t rng = (uint32_t)strtoul(argv[6], NULL, 10);
        if (argc != 7 || (size_t)(rows * classes) > sizeof logits / sizeof logits[0] ||
            fread(logits, sizeof(float), (size_t)(rows * classes), stdin) != (size_t)(rows * classes))
            return 2;
        for (k = 0; k < draws; ++k) {
            int32_t code = dg_sample_categorical(logits + (k % rows) * classes, classes, temperature, &rng);
            fwrite(&code, sizeof code, 1, stdout);
        }
        fwrite(&rng, sizeof rng, 1, stdout);
        return 0;
    }
}
"""


@pytest.fixture(scope="module")
def sampler(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    (out / "main.c").write_text(MAIN)
    exe = out / "sample"
    subprocess.run(["gcc", *STRICT, "-O2", *SANITIZE, f"-I{firmware() / 'include'}", str(out / "main.c"),
                    str(firmware() / "src" / "sample.c"), "-o", str(exe), "-lm"], check=True)
    return exe


def c_sample(exe, logits: np.ndarray, temperature: float, seed: int, draws: int | None = None):
    """(codes, final state) from dg_sample_categorical over the rows of ``logits``, cycled to ``draws``."""
    logits = np.atleast_2d(np.ascontiguousarray(logits, dtype=np.float32))
    rows, classes = logits.shape
    draws = rows if draws is None else draws
    out = subprocess.run([str(exe), "sample", str(classes), str(rows), str(draws), repr(temperature), str(seed)],
                         input=logits.tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out[:-4], np.int32), int(np.frombuffer(out[-4:], np.uint32)[0])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_c_draws_the_reference_classes(sampler, temperature):
    logits = np.random.default_rng(0).normal(0, 3, (3000, CLASSES)).astype(np.float32)
    got, state = c_sample(sampler, logits, temperature, seed=12345)
    want, want_state, margin = sample_reference(logits, temperature, 12345)
    assert state == want_state
    differ = got != want
    near = margin < NEAR_TIE
    print(f"T={temperature}: {differ.sum()} of {len(got)} draws differ, {near.sum()} near-ties "
          f"(margin < {NEAR_TIE:g}); smallest margin {margin.min():.2e}")
    assert not (differ & ~near).any(), np.flatnonzero(differ & ~near)
    assert len(set(got.tolist())) > 50    # the draws spread over the classes


def test_one_row_reference_is_the_first_of_many():
    logits = np.random.default_rng(1).normal(0, 1, (3, 10)).astype(np.float32)
    codes, state, margins = sample_reference(logits, 1.0, 99)
    code, first_state, margin = sample_reference(logits[0], 1.0, 99)
    assert (code, margin) == (codes[0], margins[0])
    assert sample_reference(logits[1:], 1.0, first_state)[1] == state


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_the_softmax(sampler, temperature):
    """Chi-square goodness of fit of 200,000 seeded draws (deterministic); classes expected fewer than 5 times
    are pooled."""
    logits = np.random.default_rng(2).normal(0, 1.5, 16).astype(np.float32)
    draws = 200_000
    codes, _ = c_sample(sampler, logits, temperature, seed=2024, draws=draws)
    z = logits.astype(np.float64) / temperature
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum() * draws
    observed = np.bincount(codes, minlength=len(logits)).astype(np.float64)
    rare = expected < 5
    expected = np.append(expected[~rare], expected[rare].sum())
    observed = np.append(observed[~rare], observed[rare].sum())
    if expected[-1] == 0:
        expected, observed = expected[:-1], observed[:-1]
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    dof = len(expected) - 1
    p = float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                      torch.tensor(chi2 / 2, dtype=torch.float64)))
    print(f"T={temperature}: chi2 {chi2:.1f} on {dof} degrees of freedom, p = {p:.3f}")
    assert p > 1e-3


def test_same_seed_same_sequence(sampler):
    logits = np.random.default_rng(3).normal(0, 2, (50, 64)).astype(np.float32)
    a, state_a = c_sample(sampler, logits, 1.0, seed=7, draws=500)
    b, state_b = c_sample(sampler, logits, 1.0, seed=7, draws=500)
    c, _ = c_sample(sampler, logits, 1.0, seed=8, draws=500)
    assert np.array_equal(a, b) and state_a == state_b
    assert not np.array_equal(a, c)


def test_mulaw_decode_is_the_models(sampler):
    out = subprocess.run([str(sampler), "decode", str(CLASSES)], capture_output=True, check=True).stdout
    got = np.frombuffer(out, np.float32)
    want = mu_law_decode(torch.arange(CLASSES)).numpy()
    assert np.array_equal(mu_law_decode_np(np.arange(CLASSES)), want)
    # Bit for bit where the C library's expm1f rounds correctly, as torch's does; within an ulp where it does not
    # (glibc's is an ulp off for about 20 of the codes).
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want))), np.abs(got - want).max()
    print(f"dg_mulaw_decode: {np.count_nonzero(got != want)} of {CLASSES} codes an ulp from torch's")
    assert got[0] == -1 and got[-1] == 1
