"""dg_expf, dg_tanhf and dg_sigmoidf (firmware/include/dietgen/common.h) against float64 numpy over a dense sweep
of every float: the maximum errors their comment states, and exact edges."""
from __future__ import annotations

import ctypes
import ctypes.util
import re
import subprocess

import numpy as np
import pytest

from dietgen.resources import firmware
from dietgen.toolchain.host import STRICT

COMMON = firmware() / "include" / "dietgen" / "common.h"
FLT_MIN = float(np.finfo(np.float32).tiny)

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "dietgen/common.h"

/* argv: input file of n floats, output file; writes e^x, tanh x, sigmoid x for each, in three runs of n */
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    long n, i;
    float *x, *y;
    (void)argc;
    fseek(f, 0, SEEK_END);
    n = ftell(f) / (long)sizeof(float);
    fseek(f, 0, SEEK_SET);
    x = malloc((size_t)n * sizeof(float));
    y = malloc((size_t)n * 3 * sizeof(float));
    if (fread(x, sizeof(float), (size_t)n, f) != (size_t)n)
        return 1;
    fclose(f);
    for (i = 0; i < n; ++i) {
        y[i] = dg_expf(x[i]);
        y[n + i] = dg_tanhf(x[i]);
        y[2 * n + i] = dg_sigmoidf(x[i]);
    }
    f = fopen(argv[2], "wb");
    fwrite(y, sizeof(float), (size_t)n * 3, f);
    fclose(f);
    free(x);
    free(y);
    return 0;
}
"""


def stated_bounds() -> dict[str, float]:
    """The maximum errors common.h states, so the comment and this test cannot drift apart."""
    text = COMMON.read_text()
    found = {}
    for name, kind in (("dg_expf", "relative"), ("dg_tanhf", "absolute"), ("dg_sigmoidf", "absolute")):
        m = re.search(rf"\*\s+{name}\s+{kind} error <= ([0-9.e-]+)", text)
        assert m, f"common.h no longer states the {kind} error of {name}"
        found[name] = float(m.group(1))
    return found


def sweep(stride: int) -> np.ndarray:
    """Every float whose bit pattern is a multiple of stride, plus the edges: denormals, +-0, +-Inf, NaN, the
    overflow/underflow thresholds of exp and their neighbours, the tanh and sigmoid saturation points."""
    bits = np.arange(0, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1e-40, -1e-40, FLT_MIN,
                      -FLT_MIN, 0.55, -0.55, 9.01, 9.5, -9.5, 16.6, 16.7, -87.3, -88.7, -103.9, 88.7, 88.8,
                      float(np.float32(np.log(2)) / 2)], dtype=np.float32)
    around = []
    for t in (88.72283172607421875, -87.33654022216796875, 0.55, 9.5):
        c = np.float32(t)
        for s in (1, -1):
            v = c
            for _ in range(64):
                around.append(v)
                v = np.nextafter(v, np.float32(s * np.inf))
    return np.concatenate([bits, edges, np.array(around, dtype=np.float32)])


def run_harness(tmp_path, x: np.ndarray, flags: list, cc: str = "gcc",
                runner: tuple = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src, exe = tmp_path / "approx.c", tmp_path / "approx"
    src.write_text(HARNESS)
    subprocess.run([cc, *STRICT, *flags, f"-I{firmware() / 'include'}", str(src), "-o", str(exe), "-lm"],
                   check=True, capture_output=True, text=True)
    x.tofile(tmp_path / "x.bin")
    subprocess.run([*runner, str(exe), str(tmp_path / "x.bin"), str(tmp_path / "y.bin")], check=True,
                   capture_output=True)
    y = np.fromfile(tmp_path / "y.bin", dtype=np.float32).reshape(3, -1)
    return y[0], y[1], y[2]


def assert_within(err: dict[str, float], bound: dict[str, float]) -> None:
    assert err["dg_expf"] <= bound["dg_expf"], err
    assert err["dg_tanhf"] <= bound["dg_tanhf"], err
    assert err["dg_tanhf_small_relative"] <= bound["dg_tanhf"], err
    assert err["dg_sigmoidf"] <= bound["dg_sigmoidf"], err


def check(x: np.ndarray, e: np.ndarray, t: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """Assert every exact edge, and return the maximum measured errors."""
    nan = np.isnan(x)
    with np.errstate(invalid="ignore"):  # signalling NaNs of the sweep
        x64 = x.astype(np.float64)
    assert np.isnan(e[nan]).all() and np.isnan(t[nan]).all() and np.isnan(s[nan]).all()
    x64, e, t, s = x64[~nan], e[~nan].astype(np.float64), t[~nan].astype(np.float64), s[~nan].astype(np.float64)
    with np.errstate(over="ignore"):
        ref_e = np.exp(x64)
    ref_t = np.tanh(x64)
    ref_s = np.exp(-np.logaddexp(0.0, -x64))

    # exp: +Inf exactly where e^x rounds past FLT_MAX, 0 exactly where it is below FLT_MIN, never a denormal
    over = x64 > 88.72283172607421875
    under = ref_e < FLT_MIN
    assert (e[over] == np.inf).all() and np.isfinite(e[~over]).all()
    assert (e[under] == 0.0).all() and (e[~under] >= FLT_MIN * (1 - 2e-7)).all()
    assert (e[x64 == 0.0] == 1.0).all()
    normal = ~over & ~under

    # tanh: odd including the sign of zero, exactly +-1 once the float result rounds there
    assert (np.signbit(t) == np.signbit(x64)).all()
    assert (t[ref_t >= 1 - 2.0**-25] == 1.0).all() and (t[ref_t <= -1 + 2.0**-25] == -1.0).all()
    assert (np.abs(t) <= 1.0).all()
    # sigmoid: exactly 1 and 0 at the saturation ends, within [0, 1] everywhere
    assert (s[ref_s >= 1 - 2.0**-25] == 1.0).all() and (s[x64 < -88.73] == 0.0).all()
    assert ((s >= 0.0) & (s <= 1.0)).all()

    small = np.abs(x64) < 0.55
    return {"dg_expf": float(np.max(np.abs(e[normal] - ref_e[normal]) / ref_e[normal])),
            "dg_tanhf": float(np.max(np.abs(t - ref_t))),
            "dg_tanhf_small_relative": float(np.max(np.abs(t[small] - ref_t[small]) /
                                                    np.maximum(np.abs(ref_t[small]), FLT_MIN))),
            "dg_sigmoidf": float(np.max(np.abs(s - ref_s)))}


# Plain float arithmetic (the scalar variants), and multiply-adds contracted into FMAs as arm-none-eabi-gcc
# -std=gnu99 does on the Cortex-M4F, with -march=native, which also selects the branch-free vector variants
# (rounding differs, the bounds must hold for both); the second sweep is sparser to keep the time down.
@pytest.mark.parametrize("flags,stride", [(["-O2"], 2**9), (["-O2", "-march=native", "-ffp-contract=fast"], 2**10)],
                         ids=["plain", "contracted"])
def test_stated_errors_hold_over_every_float(tmp_path, flags, stride):
    bound = stated_bounds()
    # the target of issue 12: a few ulp
    assert bound["dg_expf"] <= 2e-7 and bound["dg_tanhf"] <= 2e-7 and bound["dg_sigmoidf"] <= 2e-7
    x = sweep(stride)
    err = check(x, *run_harness(tmp_path, x, flags))
    assert_within(err, bound)


def test_stated_errors_hold_with_scalar_fused_multiply_adds(tmp_path):
    """The branching scalar variants with their polynomials in fused multiply-adds, as the Cortex-M4F, M7 and M33
    run them: an ARMv7 build with the VFPv4 FPU (FMA) and no NEON, under qemu-arm."""
    x = sweep(2**11)
    flags = ["-O2", "-march=armv7-a", "-mfpu=vfpv4", "-mfloat-abi=hard", "-static"]
    err = check(x, *run_harness(tmp_path, x, flags, "arm-linux-gnueabihf-gcc", ("qemu-arm",)))
    bound = stated_bounds()
    assert_within(err, bound)


# -march=native builds the branch-free variants common.h picks where there are vector units (AVX here).
@pytest.mark.parametrize("arch", [[], ["-march=native"]], ids=["scalar", "vector"])
def test_clean_under_sanitizers(tmp_path, arch):
    """No undefined behaviour anywhere in the range (float-to-int conversions, shifts), NaN and Inf included."""
    x = sweep(2**11)
    flags = ["-O1", *arch, "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
             "-fsanitize=float-cast-overflow"]
    e, t, s = run_harness(tmp_path, x, flags)
    check(x, e, t, s)


LOG_POW_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "dietgen/common.h"

/* argv: file of n floats a, file of m exponents b, output: ln a (n floats) then a^b for every b (m runs of n) */
static float *load(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    float *v;
    fseek(f, 0, SEEK_END);
    *n = ftell(f) / (long)sizeof(float);
    fseek(f, 0, SEEK_SET);
    v = malloc((size_t)*n * sizeof(float) + 1);
    if (fread(v, sizeof(float), (size_t)*n, f) != (size_t)*n)
        exit(1);
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    long n, m, i, j;
    float *a = load(argv[1], &n), *b = load(argv[2], &m);
    FILE *f = fopen(argv[3], "wb");
    (void)argc;
    for (i = 0; i < n; ++i) {
        float y = dg_logf(a[i]);
        fwrite(&y, sizeof y, 1, f);
    }
    for (j = 0; j < m; ++j)
        for (i = 0; i < n; ++i) {
            float y = dg_powf(a[i], b[j]);
            fwrite(&y, sizeof y, 1, f);
        }
    fclose(f);
    free(a);
    free(b);
    return 0;
}
"""

# DDSP's exp_sigmoid raises to ln 10; the rest are the shapes pow takes in models (squares, roots, reciprocals)
# and odd and even integers for the sign rules, plus the IEEE edge exponents.
EXPONENTS = np.array([2.302585, 2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 7.0, 0.1, 1.5, -3.7, 1e-3, 25.0,
                      0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)


LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
LIBM.powf.restype, LIBM.powf.argtypes = ctypes.c_float, (ctypes.c_float, ctypes.c_float)


def stated_log_pow() -> tuple[float, float]:
    text = COMMON.read_text()
    log = re.search(r"relative error <= ([0-9.e-]+) \(tests/test_approx.py\)", text)
    pow_ = re.search(r"<= ([0-9.e-]+) \(1 \+ \|b ln\|a\|\|\)", text)
    assert log and pow_, "common.h no longer states the errors of dg_logf and dg_powf"
    return float(log.group(1)), float(pow_.group(1))


@pytest.mark.parametrize("flags", [["-O2"], ["-O2", "-march=native"]], ids=["plain", "fma"])
def test_log_and_pow_errors_and_edges(tmp_path, flags):
    log_bound, pow_bound = stated_log_pow()
    a = sweep(2**11)
    a.tofile(tmp_path / "a.bin")
    EXPONENTS.tofile(tmp_path / "b.bin")
    src, exe = tmp_path / "logpow.c", tmp_path / "logpow"
    src.write_text(LOG_POW_HARNESS)
    subprocess.run(["gcc", *STRICT, *flags, f"-I{firmware() / 'include'}", str(src), "-o", str(exe), "-lm"],
                   check=True, capture_output=True, text=True)
    subprocess.run([str(exe), *(str(tmp_path / f) for f in ("a.bin", "b.bin", "y.bin"))], check=True)
    y = np.fromfile(tmp_path / "y.bin", dtype=np.float32).reshape(1 + len(EXPONENTS), -1)

    with np.errstate(all="ignore"):
        a64 = a.astype(np.float64)
        ref_log = np.log(a64)
        got = y[0].astype(np.float64)
        same = (got == ref_log) | (np.isnan(got) & np.isnan(ref_log))
        finite = np.isfinite(ref_log) & (ref_log != 0)
        assert same[~finite | (ref_log == 0)].all(), "ln edges: 0 -> -Inf, negative -> NaN, Inf, NaN, ln 1 = 0"
        log_err = np.max(np.abs(got[finite] - ref_log[finite]) / np.abs(ref_log[finite]))
        assert log_err <= log_bound, log_err

        worst = 0.0
        for b, row in zip(EXPONENTS.astype(np.float64), y[1:].astype(np.float64)):
            exact = np.power(a64, b)
            special = ~np.isfinite(exact) | (exact == 0) | ~np.isfinite(a64) | (a64 == 0) | (b == 0) | \
                ~np.isfinite(b) | (np.abs(exact) < FLT_MIN) | (np.abs(exact) > 3.4e38)
            edge = special & ~((np.abs(exact) < FLT_MIN) & (exact != 0)) & ~((np.abs(exact) > 3.4e38) &
                                                                           np.isfinite(exact))
            ref = np.array([LIBM.powf(float(v), float(b)) for v in a[edge]])  # C99's special cases
            ok = (row[edge] == ref) | (np.isnan(row[edge]) & np.isnan(ref))
            assert ok.all(), (b, a[edge][~ok][:5], row[edge][~ok][:5])
            # within the error bound of the flush-to-zero and overflow thresholds either side is right
            normal = ~special & (np.abs(exact) > FLT_MIN * 1.001) & (np.abs(exact) < 3.4e38 / 1.001)
            rel = np.abs(row[normal] - exact[normal]) / np.abs(exact[normal])
            scale = 1 + np.abs(b * np.log(np.abs(a64[normal])))
            worst = max(worst, float(np.max(rel / scale, initial=0.0)))
        assert worst <= pow_bound, worst
