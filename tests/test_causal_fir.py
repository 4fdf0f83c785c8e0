"""dietgen::CausalFIR (DDSP's learned reverb): the numpy reference against PyTorch, the offline C kernel against
the reference, the streamed forms (UPOLS FFT convolution, and direct convolution for blocks without a divisor of
at least 8 made of 2s, 3s and 5s) against the offline output over many blocks, and the kernel's mixed-radix
complex FFT against numpy's at every partition size."""
from __future__ import annotations

import subprocess

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from torch import nn

from dietgen.errors import DietgenError
from dietgen.frontend.onnx_model import OPSET
from dietgen.ops.causal_fir import MAX_PARTITION, MIN_PARTITION, CausalFIR, causal_fir, partition, radices, twiddles
from dietgen.ops.registry import Rand
from dietgen.passes.stream import StreamSpec
from dietgen.pipeline import compile_model
from dietgen.resources import firmware
from dietgen.toolchain.host import STRICT
from dietgen.verify import compare, run_c, verify

TOL = 1e-5    # relative to the output's RMS


class Reverb(nn.Module):
    """x convolved with constant taps h: dietgen::CausalFIR under export, DDSP's float64 FFT form otherwise."""

    def __init__(self, h: np.ndarray):
        super().__init__()
        self.register_buffer("h", torch.from_numpy(h))

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return torch.onnx.ops.symbolic("dietgen::CausalFIR", (x, self.h), {}, dtype=torch.float32,
                                           shape=x.shape, version=1)
        return wet(x, self.h)


def wet(dry: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The wet part of DDSP.reverberate: dry convolved with h by FFT in float64, cut to the dry length."""
    n = dry.shape[-1] + h.shape[0] - 1
    return torch.fft.irfft(torch.fft.rfft(dry.double(), n) * torch.fft.rfft(h.double(), n), n)[..., :dry.shape[-1]]


def taps(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, count) * np.exp(-np.arange(count) / (0.3 * count))).astype(np.float32)


def fir_model(shape: tuple[int, ...], h: np.ndarray, h_input: bool = False) -> onnx.ModelProto:
    node = helper.make_node("CausalFIR", ["x", "h"], ["y"], domain="dietgen")
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)]
    if h_input:
        inputs.append(helper.make_tensor_value_info("h", onnx.TensorProto.FLOAT, h.shape))
    graph = helper.make_graph([node], "fir", inputs, [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT,
                                                                                    shape)],
                              initializer=[] if h_input else [numpy_helper.from_array(h, "h")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("dietgen", 1)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("shape, count", [((1, 800), 100), ((2, 3, 500), 37), ((1, 300), 1000), ((4, 64), 1)])
def test_reference_is_ddsp_reverb_wet_part(shape, count):
    x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
    h = taps(count)
    want = wet(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    got = causal_fir(x, h)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert compare("y", want, got, TOL).ok
    # and the definition itself, sample by sample
    direct = np.zeros(x.shape)
    for j in range(min(count, x.shape[-1])):
        direct[..., j:] += np.float64(h[j]) * x[..., :x.shape[-1] - j]
    assert compare("y", direct, got, TOL).ok


@pytest.mark.parametrize("case", CausalFIR().cases(), ids=lambda c: c.id)
def test_offline_kernel_matches_reference(case, tmp_path):
    """The op's cases (test_ops.py runs default-domain ops only, and onnxruntime has no dietgen ops): the C
    kernel, built strict and under the sanitizers, against the numpy reference."""
    x_spec, h = case.inputs
    assert isinstance(x_spec, Rand)
    x = np.random.default_rng(2).uniform(x_spec.low, x_spec.high, x_spec.shape).astype(np.float32)
    compiled = compile_model(fir_model(x_spec.shape, h), name="fir", stream=False)
    assert [n.op_type for n in compiled.graph.nodes] == ["CausalFIR"]
    got = run_c(compiled, {"x": x}, sanitize=True, workdir=tmp_path)["y"]
    report = compare("y", causal_fir(x, h), got, case.tol)
    assert report.ok, report


def test_torch_module_exports_and_runs_offline(tmp_path):
    h = taps(300, seed=3)
    x = np.random.default_rng(3).uniform(-1, 1, (1, 700)).astype(np.float32)
    compiled = compile_model(Reverb(h), {"x": (1, 700)}, name="reverb", stream=False)
    got = run_c(compiled, {"x": x}, sanitize=True, workdir=tmp_path)[compiled.graph.outputs[0]]
    assert compare("y", wet(torch.from_numpy(x), torch.from_numpy(h)).numpy(), got, TOL).ok


BLOCKS = (160, 96, 120, 64, 37, 7 * 11)     # P = 160, 96, 120, 64; the last two stream directly
STREAM_CASES = ([(block, count) for block in BLOCKS for count in (100, 1000, 4000)]
                + [(45, 1000), (1024, 1000), (160, 20), (64, 50), (64, 1), (37, 1)])


@pytest.mark.parametrize("block, count", STREAM_CASES, ids=[f"block{b}-taps{c}" for b, c in STREAM_CASES])
def test_stream_matches_offline(block, count):
    """Two rows; enough blocks to fill the history and wrap the spectral delay line (or the direct ring)
    twice. Block 45 has an odd partition, block 1024 two sub-blocks of 512 per step."""
    blocks = max(8, -(-2 * count // block) + 3)
    report = verify(fir_model((2, 8 * block), taps(count, seed=count)), stream=StreamSpec(block, {"x": 1}),
                    tol=TOL, sanitize=True, blocks=blocks)
    assert report.blocks == blocks and report.stream.model_latency == 0
    for out in report.outputs:
        assert out.ok and out.max_rel <= TOL, out


def test_stream_torch_module():
    report = verify(Reverb(taps(1000, seed=7)), shapes={"x": (1, 8 * 160)}, stream=StreamSpec(160), tol=TOL,
                    sanitize=True, blocks=16)
    assert report.ok and report.stream.model_latency == 0, report.outputs


@pytest.mark.parametrize("block, op, p", [(160, "CausalFIRStream", 160), (96, "CausalFIRStream", 96),
                                          (120, "CausalFIRStream", 120), (64, "CausalFIRStream", 64),
                                          (45, "CausalFIRStream", 45), (1024, "CausalFIRStream", 512),
                                          (7 * 160, "CausalFIRStream", 160), (37, "CausalFIRDirectStream", None),
                                          (7 * 11, "CausalFIRDirectStream", None),
                                          (4, "CausalFIRDirectStream", None)])
def test_partition_rule(block, op, p):
    h = taps(1000)
    compiled = compile_model(fir_model((1, 8 * block), h), name="fir", stream=StreamSpec(block))
    node = next(n for n in compiled.graph.nodes if n.domain == "dietgen")
    assert node.op_type == op and partition(block) == (p or 0)
    if p:
        assert (node.attrs["partition"], node.attrs["parts"]) == (p, -(-1000 // p))
        spectra, tw = (compiled.graph.tensors[n] for n in node.inputs[1:3])
        assert spectra.size == node.attrs["parts"] * (p + 1) * 2 and tw.size == twiddles(p).size


def test_partition_is_the_largest_smooth_divisor():
    for block in range(1, 2000):
        want = max((d for d in range(1, min(block, MAX_PARTITION) + 1)
                    if block % d == 0 and set(_factors(d)) <= {2, 3, 5}), default=0)
        assert partition(block) == (want if want >= MIN_PARTITION else 0), block


def _factors(n: int) -> list[int]:
    out, f = [], 2
    while n > 1:
        while n % f == 0:
            out.append(f)
            n //= f
        f += 1
    return out


FFT_HARNESS = r"""
#include <stdio.h>
#include "fir.c"

static float a[2 * 512], b[2 * 512], tw[8192];
static dg_int rad[16];

/* stdin: records of p, stages, radices, twiddle floats, twiddles, 2p floats; stdout: the 2p floats of the FFT */
int main(void)
{
    dg_int p, stages, count;
    while (fread(&p, sizeof p, 1, stdin) == 1) {
        const float *z;
        if (fread(&stages, sizeof stages, 1, stdin) != 1 || fread(rad, sizeof *rad, (size_t)stages, stdin) !=
            (size_t)stages || fread(&count, sizeof count, 1, stdin) != 1 ||
            fread(tw, sizeof *tw, (size_t)count, stdin) != (size_t)count ||
            fread(a, sizeof *a, (size_t)(2 * p), stdin) != (size_t)(2 * p))
            return 3;
        z = fft(a, b, p, rad, tw + 2 * (p / 2 + 1));
        if (fwrite(z, sizeof *z, (size_t)(2 * p), stdout) != (size_t)(2 * p))
            return 4;
    }
    return 0;
}
"""


def test_fft_matches_numpy_at_every_partition_size(tmp_path):
    """The kernel's complex FFT (static in fir.c, reached by including the source) at every size the partition
    rule can pick, built strict and under the sanitizers, against numpy.fft.fft."""
    sizes = [p for p in range(MIN_PARTITION, MAX_PARTITION + 1) if set(_factors(p)) <= {2, 3, 5}]
    assert {160, 96, 120, 45, 512} <= set(sizes)
    (tmp_path / "main.c").write_text(FFT_HARNESS)
    exe = tmp_path / "fft"
    subprocess.run(["gcc", *STRICT, "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    f"-I{firmware() / 'include'}", f"-I{firmware() / 'src'}", str(tmp_path / "main.c"), "-o",
                    str(exe), "-lm"], check=True)
    rng = np.random.default_rng(8)
    records, inputs = [], []
    for p in sizes:
        z = (rng.uniform(-1, 1, p) + 1j * rng.uniform(-1, 1, p)).astype(np.complex64)
        tw, rad = twiddles(p), radices(p)
        assert int(np.prod(rad)) == p
        records.append(np.array([p, len(rad), *rad, tw.size], "<i4").tobytes() + tw.astype("<f4").tobytes()
                       + z.view(np.float32).astype("<f4").tobytes())
        inputs.append(z)
    result = subprocess.run([str(exe)], input=b"".join(records), capture_output=True, check=True)
    out = np.frombuffer(result.stdout, "<f4")
    at = 0
    for p, z in zip(sizes, inputs):
        got = out[at:at + 2 * p].astype(np.float64).view(np.complex128)
        at += 2 * p
        want = np.fft.fft(z.astype(np.complex128))
        err = np.abs(got - want).max() / np.sqrt(np.mean(np.abs(want) ** 2))
        assert err <= 1e-5, (p, radices(p), err)
    assert at == out.size


@pytest.mark.parametrize("block", [64, 21])
def test_stream_with_rows_and_time_last(block):
    h = taps(500, seed=5)
    report = verify(fir_model((2, 3, 8 * block), h), stream=StreamSpec(block, {"x": 2}), tol=TOL, sanitize=True,
                    blocks=-(-1000 // block) + 3)
    assert report.ok, report.outputs


class Lookahead(nn.Module):
    """A centred convolution (one frame of lookahead) before the reverb: the reverb streams one frame late, and
    must read the frame streamed before the signal starts as zero."""

    def __init__(self, h: np.ndarray):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1)
        self.reverb = Reverb(h)

    def forward(self, x):
        return self.reverb(self.conv(x))


def test_stream_after_lookahead_is_delayed_not_wrong():
    torch.manual_seed(0)
    report = verify(Lookahead(taps(300, seed=6)), shapes={"x": (1, 1, 8 * 32)}, stream=StreamSpec(32), tol=TOL,
                    sanitize=True, blocks=24)
    assert report.stream.model_latency == 1
    assert report.ok, report.outputs


def test_refuses_taps_computed_at_run_time():
    with pytest.raises(DietgenError, match="must be a constant"):
        compile_model(fir_model((1, 64), taps(10), h_input=True), stream=False)


def test_refuses_time_on_another_axis():
    with pytest.raises(DietgenError, match="not the last axis"):
        compile_model(fir_model((1, 64, 4), taps(10)), stream=StreamSpec(8, {"x": 1}))
