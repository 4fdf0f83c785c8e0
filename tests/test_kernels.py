"""Kernel variants against numpy and against the portable reference path: dg_panel_gemm and dg_panel_gemv_runs
(firmware/src/panel.c) with its port for the core (firmware/include/dietgen/ports.h) and with -DDG_NO_PORT, over shapes that leave
every blocking remainder (rows past the last 8-row panel, columns past the last DG_MR block, taps past the last
unrolled group), with and without bias, both output layouts, with a fused activation; on the host under
AddressSanitizer and UBSan and on every emulated core.

The library under test is firmware/harness/panel_test.c: one case per step, described by the input block, so the
ordinary harnesses and emulator runners drive it, and the emulators count each case's instructions."""
from __future__ import annotations

import dataclasses
import itertools
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dietgen.boards import get_board
from dietgen.ops.common import pack_panels
from dietgen.resources import firmware
from dietgen.toolchain.cross import build_elf, cross_available, family
from dietgen.toolchain.emulate import run_elf
from dietgen.toolchain.host import STRICT, build_harness, run_harness
from test_emulators import TARGETS

NS = (1, 3, 5, 8, 9, 17, 24)   # rows: panels of 8 and the row-by-row tail
KS = (1, 2, 3, 17, 64)         # taps: the ports unroll 4 at a time
MS = (1, 2, 3, 5, 9)           # columns: blocks of DG_MR (2 or 4) and single columns
HEADER = 9                     # n, k, m, xs, ycs, yjs, bias, tanh, parts ahead of x in an input block
NAME = "panel_test"
# Cores with a port, by board (the others build the portable C either way).
PORTED = {"nano33ble", "teensy41", "rpipico2", "rpi4", "rpizero2w"}
# The Uno's 2 KB of RAM hold one input and one output block: its cases keep x and y this small (floats).
AVR_MAX_X, AVR_MAX_Y = 200, 120


@dataclasses.dataclass(frozen=True)
class Case:
    n: int
    k: int
    m: int
    bias: bool
    channels_first: bool    # y[j*m + c] (channels by frames, as a convolution writes) and x columns k + 2 apart;
                            # else y[c*n + j] and x columns back to back
    tanh: bool
    parts: int = 1          # more: dg_panel_gemv_runs over one column whose k taps are that many runs, 2 floats apart

    @property
    def len(self) -> int:
        return self.k // self.parts

    @property
    def xs(self) -> int:
        return self.k + 2 if self.channels_first else self.k

    @property
    def strides(self) -> tuple[int, int]:
        return (1, self.m) if self.channels_first else (self.n, 1)

    @property
    def x_len(self) -> int:
        if self.parts > 1:
            return self.parts * (self.len + 2) - 2
        return (self.m - 1) * self.xs + self.k

    @property
    def macs(self) -> int:
        return self.n * self.k * self.m


# dg_panel_gemv_runs: runs of 1 to 17 taps (the ports' remainders and unrolled groups), 2 to 8 of them
RUNS_CASES = [Case(n, length * parts, 1, bias, False, tanh, parts) for n, length, parts, bias, tanh
              in itertools.product(NS, (1, 3, 17), (2, 3, 8), (False, True), (False, True))]
ALL_CASES = [Case(*c) for c in itertools.product(NS, KS, MS, (False, True), (False, True), (False, True))] + RUNS_CASES


def cases_for(board: str | None) -> list[Case]:
    if board is not None and family(get_board(board)) == "avr":
        return [c for c in ALL_CASES if c.x_len <= AVR_MAX_X and c.m * c.n <= AVR_MAX_Y]
    return ALL_CASES


class Suite:
    """The cases' data and the library that runs them, written to a folder."""

    def __init__(self, cases: list[Case], seed: int = 12):
        rng = np.random.default_rng(seed)
        self.cases = cases
        self.in_size = HEADER + max(c.x_len for c in cases)
        self.out_size = max(c.m * c.n for c in cases)
        self.w = rng.uniform(-1, 1, max(c.n * c.k for c in cases)).astype(np.float32)
        self.b = rng.uniform(-1, 1, max(c.n for c in cases)).astype(np.float32)
        self.blocks = np.zeros((len(cases), self.in_size), np.float32)
        for row, c in zip(self.blocks, cases):
            row[:HEADER] = (c.n, c.k, c.m, c.xs, *c.strides, c.bias, c.tanh, c.parts)
            row[self.in_size - c.x_len:] = rng.uniform(-1, 1, c.x_len)

    def write(self, folder: Path) -> Path:
        src = folder / "src"
        shutil.copytree(firmware() / "include" / "dietgen", src / "dietgen")
        shutil.copy(firmware() / "src" / "panel.c", src / "dietgen")
        shutil.copy(firmware() / "harness" / "panel_test.c", src)
        sizes = {"IN": self.in_size, "OUT": self.out_size, "W": self.w.size, "B": self.b.size}
        (src / "panel_test.h").write_text(
            "#ifndef PANEL_TEST_H\n#define PANEL_TEST_H\n"
            + "".join(f"#define PANEL_TEST_{k}_SIZE {v}\n" for k, v in sizes.items())
            + "void panel_test_init(void);\nvoid panel_test_step(const float *in, float *out);\n#endif\n")
        (src / "panel_test_weights.c").write_text(
            '#include "panel_test.h"\n#include "dietgen/common.h"\n'
            + _array("panel_test_w", self.w) + _array("panel_test_b", self.b))
        return src

    def operands(self, i: int):
        """Case i as numpy arrays: W (n, k), bias (n,) or zeros, X (m, k). With parts, W is parts matrices of
        len columns, each packed on its own, and X's one column the runs, back to back."""
        c, row = self.cases[i], self.blocks[i]
        packed = self.w[self.w.size - c.n * c.k:]
        order = pack_panels(np.arange(c.n * c.len, dtype=np.float32).reshape(c.n, c.len)).astype(np.int64)
        w = np.empty((c.parts, c.n * c.len), np.float32)
        for s in range(c.parts):
            w[s, order] = packed[s * c.n * c.len:(s + 1) * c.n * c.len]
        w = np.concatenate([ws.reshape(c.n, c.len) for ws in w], axis=1)
        x = row[self.in_size - c.x_len:]
        if c.parts > 1:
            xm = np.concatenate([x[s * (c.len + 2):s * (c.len + 2) + c.len] for s in range(c.parts)])[None]
        else:
            xm = np.stack([x[j * c.xs:j * c.xs + c.k] for j in range(c.m)])
        bias = self.b[self.b.size - c.n:] if c.bias else np.zeros(c.n, np.float32)
        return w.reshape(c.n, c.k), bias, xm

    def y(self, i: int, out_row: np.ndarray) -> np.ndarray:
        """Case i's y (m, n) from its output block; the rest of the block must be untouched (NaN)."""
        c = self.cases[i]
        assert np.isnan(out_row[:self.out_size - c.m * c.n]).all(), f"{c}: wrote outside y"
        y = out_row[self.out_size - c.m * c.n:]
        ycs, yjs = c.strides
        return np.array([[y[col * ycs + j * yjs] for j in range(c.n)] for col in range(c.m)], np.float32)


def _array(name: str, values: np.ndarray) -> str:
    body = ",\n".join(", ".join(f"{v:.8e}f" for v in values[i:i + 8]) for i in range(0, values.size, 8))
    return f"const float {name}[{values.size}] DG_FLASH = {{\n{body}}};\n"


def tolerance(suite: Suite, i: int) -> tuple[np.ndarray, np.ndarray]:
    """(exact y in float64, allowed error) for case i. A float sum of k products plus a bias, in any order and
    with or without fused multiply-adds, is within gamma_(k+1) ~ (k+1) * 2^-24 of the sum of the terms'
    magnitudes (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); (k+2) * 2^-24 of that is the bound
    used, relative to the sums' magnitude as it should be. tanh is 1-Lipschitz, so it passes the error through,
    and adds its own (dg_tanhf: 1.2e-7 absolute, common.h) plus the rounding of its result."""
    c = suite.cases[i]
    w, bias, x = (a.astype(np.float64) for a in suite.operands(i))
    s = x @ w.T + bias
    err = (c.k + 2) * 2.0 ** -24 * (np.abs(x) @ np.abs(w).T + np.abs(bias))
    if c.tanh:
        return np.tanh(s), err + 2.4e-7
    return s, err


def check(suite: Suite, outputs: np.ndarray, reference: np.ndarray, where: str) -> None:
    """Each output against numpy, and the port's against the portable C's (each within the bound of the exact
    result, so within twice it of each other)."""
    for i, c in enumerate(suite.cases):
        exact, err = tolerance(suite, i)
        y, ref = suite.y(i, outputs[i]), suite.y(i, reference[i])
        for got, what in ((y, "port"), (ref, "portable C")):
            bad = ~(np.abs(got - exact) <= err)
            assert not bad.any(), f"{where} {what} {c}: max error {np.nanmax(np.abs(got - exact) - err):.3g} " \
                                  f"over the bound at {np.argwhere(bad)[0]}"
        assert (np.abs(y - ref) <= 2 * err).all(), f"{where} {c}: port and portable C differ beyond the bound"


def test_pack_layout_matches_panel_h():
    """The unpacking the tests rely on inverts pack_panels: panels of 8 rows interleaved by tap, then the
    remaining rows row-major (panel.h)."""
    w = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    packed = pack_panels(w)
    assert packed[:24].tolist() == [w[r, p] for p in range(3) for r in range(8)]
    assert packed[24:].tolist() == w[8:].reshape(-1).tolist()


def test_host_sanitized(tmp_path):
    suite = Suite(ALL_CASES)
    src = suite.write(tmp_path)
    runs = {}
    for label, extra in (("port", ()), ("reference", ("-DDG_NO_PORT",))):
        exe = build_harness(src, NAME, tmp_path / f"{label}.exe", sanitize=True, extra=extra)
        runs[label] = run_harness(exe, suite.blocks, suite.out_size)
    check(suite, runs["port"], runs["reference"], "host")


# The x86-64 ports in each of their builds, by the flags that select them: ports/sse2.h without -march (what the
# host tests above build too), ports/x86.h with AVX2 and FMA, and with AVX-512.
X86_BUILDS = {"sse2": (), "avx2": ("-mavx2", "-mfma"), "avx512": ("-mavx512f", "-mavx2", "-mfma")}
X86_CPU_FLAGS = {"sse2": ("sse2",), "avx2": ("avx2", "fma"), "avx512": ("avx2", "fma", "avx512f")}
# Taps past the AVX-512 loop's groups of 4 (k % 4 = 1, 2, 3 after at least one group) and long sums; rows around
# the AVX2 loop's three panels at a time (24 rows): a triple and a panel, two triples and the row-by-row tail.
X86_KS = (1, 2, 3, 5, 6, 7, 17, 64, 130)
X86_NS = (*NS, 33, 49)


def x86_support(build: str) -> str | None:
    """Why this host cannot run the ``build`` port (None: it can)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return "not an x86-64 host"
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), []) if Path("/proc/cpuinfo").exists() else []
    missing = [f for f in X86_CPU_FLAGS[build] if f not in flags]
    return f"this CPU lacks {', '.join(missing)}" if missing else None


@pytest.mark.parametrize("build", sorted(X86_BUILDS))
def test_host_x86_port_sanitized(build, tmp_path):
    """The x86 port against numpy and the portable C built with the same flags, under the sanitizers, over
    shapes that leave every remainder of its loops."""
    if (why := x86_support(build)) is not None:
        pytest.skip(why)
    suite = Suite([Case(*c) for c in itertools.product(X86_NS, X86_KS, MS, (False, True), (False, True),
                                                       (False, True))] + RUNS_CASES)
    src = suite.write(tmp_path)
    runs = {}
    for label, extra in (("port", X86_BUILDS[build]), ("reference", (*X86_BUILDS[build], "-DDG_NO_PORT"))):
        exe = build_harness(src, NAME, tmp_path / f"{label}.exe", sanitize=True, extra=extra)
        runs[label] = run_harness(exe, suite.blocks, suite.out_size)
    check(suite, runs["port"], runs["reference"], f"host {build}")


# Over 128 KB of x (X_BLOCK in panel.c), dg_panel_gemm runs its columns in blocks: blocks of 512 columns and a
# remainder of 6 (one DG_MR block and single columns), the same with the x86 port's three panels at once, and
# columns so long that a block is the DG_MR minimum.
BLOCKED_CASES = [Case(17, 64, 1030, True, True, True), Case(17, 64, 1030, False, False, False),
                 Case(49, 40, 900, True, False, True),
                 Case(9, 9000, 5, True, False, False), Case(9, 9000, 5, False, True, True)]


@pytest.mark.parametrize("build", ["default", *sorted(X86_BUILDS)])
def test_host_column_blocks_sanitized(build, tmp_path):
    if build != "default" and (why := x86_support(build)) is not None:
        pytest.skip(why)
    suite = Suite(BLOCKED_CASES)
    src = suite.write(tmp_path)
    flags = X86_BUILDS.get(build, ())
    runs = {}
    for label, extra in (("port", flags), ("reference", (*flags, "-DDG_NO_PORT"))):
        exe = build_harness(src, NAME, tmp_path / f"{label}.exe", sanitize=True, extra=extra)
        runs[label] = run_harness(exe, suite.blocks, suite.out_size)
    check(suite, runs["port"], runs["reference"], f"host {build}")


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_host_x86_port_instructions(tmp_path, record_property):
    """Callgrind counts are deterministic: the AVX2 port (valgrind decodes no AVX-512) must take fewer
    instructions per MAC than the portable C built with the same flags, for one column and for a DG_MR block plus
    one column (m = 5), measured as the count's growth from k = 17 to k = 64 taps, as on the emulated cores."""
    if (why := x86_support("avx2")) is not None:
        pytest.skip(why)
    from dietgen.bench import callgrind_instructions
    shapes = [Case(24, k, m, False, False, False) for m in (1, 5) for k in (17, 64)]
    suite = Suite(shapes)
    src = suite.write(tmp_path)
    counts = {}
    for label, extra in (("port", ()), ("reference", ("-DDG_NO_PORT",))):
        exe = build_harness(src, NAME, tmp_path / f"{label}.exe", opt="-O3", extra=(*X86_BUILDS["avx2"], *extra))
        for i, c in enumerate(shapes):
            counts[label, c.m, c.k], _ = callgrind_instructions(
                [exe], "dg_panel_gemm", tmp_path / f"{label}{i}.cg", suite.blocks[i:i + 1].tobytes())
    for m in (1, 5):
        ours, theirs = ((counts[run, m, 64] - counts[run, m, 17]) / (24 * (64 - 17) * m)
                        for run in ("port", "reference"))
        record_property(f"instructions_per_mac_m{m}", f"{ours:.3f} (portable C {theirs:.3f})")
        assert ours < 0.8 * theirs, f"AVX2 m={m}: port {ours:.3f} instructions per MAC, portable C {theirs:.3f}"


def _board_run(suite: Suite, src: Path, board_id: str, out: Path, no_port: bool):
    board = get_board(board_id)
    if no_port:
        board = dataclasses.replace(board, toolchain=dataclasses.replace(
            board.toolchain, cflags=(*board.toolchain.cflags, "-DDG_NO_PORT")))
    elf = build_elf(src, NAME, board, out, "verify", count_nodes=True)
    return run_elf(elf, board, NAME, suite.blocks, suite.out_size)


@pytest.mark.parametrize("board", TARGETS)
def test_emulated_core(board, tmp_path, record_property):
    if not cross_available(get_board(board)):
        pytest.skip(f"no cross compiler for {board}")
    suite = Suite(cases_for(board))
    src = suite.write(tmp_path)
    port = _board_run(suite, src, board, tmp_path / "port", no_port=False)
    reference = _board_run(suite, src, board, tmp_path / "reference", no_port=True)
    check(suite, port.outputs, reference.outputs, board)
    assert len(port.steps) == len(suite.cases)
    if board in PORTED and port.unit == "instructions":
        # Counts are deterministic: the port must be in use and beat the portable C, for one column and for
        # blocks of columns (DG_MR = 2 on the Cortex-M, 4 with NEON: m = 5 is one block and one column). What a
        # tap costs is the count's growth from k = 17 to k = 64 (3 panels, no bias, no activation); what a call
        # costs on top (stores, set-up) is panel.c's, whatever the port.
        cortex_m = family(get_board(board)) == "cortex-m"
        for m in (1, 2 if cortex_m else 5):
            ours, theirs = (per_mac_growth(suite, run, n=24, m=m) for run in (port, reference))
            record_property(f"instructions_per_mac_m{m}", f"{ours:.3f} (portable C {theirs:.3f})")
            assert ours < theirs, f"{board} m={m}: port {ours:.2f} instructions per MAC, portable C {theirs:.2f}"
            if cortex_m:
                assert ours < 1.3, f"{board} m={m}: {ours:.2f} instructions per MAC"
        if cortex_m:
            # a row after the last full panel (dg_port_row_dot): 4 chains, 8 instructions per 4 taps
            ours, theirs = (per_mac_growth(suite, run, n=1, m=1) for run in (port, reference))
            record_property("row_dot_instructions_per_mac", f"{ours:.3f} (portable C {theirs:.3f})")
            assert ours < 2.1 and ours < theirs, f"{board} row dot: {ours:.2f} per MAC, portable C {theirs:.2f}"


def per_mac_growth(suite: Suite, run, n: int, m: int, k0: int = 17, k1: int = 64) -> float:
    """Instructions per MAC that dg_panel_gemm's count grows by from k0 to k1 taps (the last node of a step is the
    dg_panel_gemm call)."""
    index = {c: i for i, c in enumerate(suite.cases)}
    counts = [run.steps[index[Case(n, k, m, False, False, False)]].nodes[-1] for k in (k0, k1)]
    return (counts[1] - counts[0]) / (n * (k1 - k0) * m)


# With USE_PORT, calls the port's functions, so that their code (inline assembly included) is generated and
# assembled.
PROBE = """#include "dietgen/panel.h"
#if defined(DG_PORT_PANEL) != EXPECT_PORT
#error "wrong port choice"
#endif
#if USE_PORT
void dg_probe(const float *w, const float *x, const float *b, float *acc1, float (*acc)[DG_NR]);
void dg_probe(const float *w, const float *x, const float *b, float *acc1, float (*acc)[DG_NR])
{
    dg_port_panel_mr(w, x, 7, 7, b, acc);
    dg_port_panel_1(w, &x, 1, 7, 0, b, acc1);
#if defined(DG_PORT_PANEL_2)
    dg_port_panel_2(w, &x, 1, 7, 0, b, acc);
#endif
#if defined(DG_PORT_ROW_DOT)
    acc1[0] = dg_port_row_dot(w, x, 7);
#endif
#if defined(DG_PORT_PANEL_MR_STORE)
    dg_port_panel_mr_store(w, x, 7, 7, b, acc[0], 1, 8);
#endif
}
#endif
"""


@pytest.mark.parametrize("board", sorted(set(TARGETS) | {"host"} | {f"host-{b}" for b in X86_BUILDS}))
def test_port_choice(board, tmp_path):
    """ports.h picks the port from the compiler's predefined macros alone: a port where the board has one, the
    portable C elsewhere. The port compiles warning-free in C99 (with gcc and clang on the host) and in C++
    (Arduino sketches include the headers), and panel.h stays warning-free where nothing calls the port's
    functions. host-sse2, host-avx2 and host-avx512 are the host compilers with the flags of the x86 ports'
    builds."""
    source = tmp_path / "probe.c"
    source.write_text(PROBE)
    # Every 64-bit ARM host has NEON and every x86-64 host SSE2: the host builds a port either way.
    expected = board in PORTED or (board == "host" and platform.machine() in ("aarch64", "arm64", "x86_64", "AMD64"))
    flags = [f"-I{firmware() / 'include'}"]
    if board.startswith("host-"):
        if platform.machine() not in ("x86_64", "AMD64"):
            pytest.skip("not an x86-64 host")
        expected = True
        flags += X86_BUILDS[board[len("host-"):]]
    if board.startswith("host"):
        compilers = ["cc"] + [c for c in ["clang"] if shutil.which(c)]
    else:
        b = get_board(board)
        if not cross_available(b):
            pytest.skip(f"no cross compiler for {board}")
        flags += b.toolchain.cflags
        compilers = [b.toolchain.cc] + [cxx for cxx in [b.toolchain.cc[:-3] + "g++"] if shutil.which(cxx)]
    for cc, use in itertools.product(compilers, sorted({expected, False})):
        lang = ["-x", "c++", "-std=c++11"] if cc.endswith("++") else [STRICT[0]]
        result = subprocess.run([cc, *lang, *STRICT[1:], "-O2", *flags, f"-DEXPECT_PORT={int(expected)}",
                                 f"-DUSE_PORT={int(use)}", "-c", str(source), "-o", str(tmp_path / "probe.o")],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, f"{cc}: {result.stderr}"
