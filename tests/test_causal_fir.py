"""dietgen::CausalFIR (DDSP's learned reverb): the numpy reference against PyTorch, the offline C kernel against
the reference, and the streamed forms (UPOLS FFT convolution, and direct convolution for blocks without a
power-of-two factor) against the offline output over many blocks."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from torch import nn

from dietgen.errors import DietgenError
from dietgen.frontend.onnx_model import OPSET
from dietgen.ops.causal_fir import CausalFIR, causal_fir, partition
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


STREAM_CASES = ([(block, count) for block in (160, 64, 37) for count in (100, 1000, 4000)]
                + [(160, 20), (64, 50), (256, 1000), (64, 1), (37, 1)])


@pytest.mark.parametrize("block, count", STREAM_CASES, ids=[f"block{b}-taps{c}" for b, c in STREAM_CASES])
def test_stream_matches_offline(block, count):
    """Enough blocks to fill the history and wrap the spectral delay line (or the direct ring) twice."""
    blocks = max(8, -(-2 * count // block) + 3)
    report = verify(Reverb(taps(count, seed=count)), shapes={"x": (1, 8 * block)}, stream=StreamSpec(block),
                    tol=TOL, sanitize=True, blocks=blocks)
    assert report.blocks == blocks and report.stream.model_latency == 0
    for out in report.outputs:
        assert out.ok and out.max_rel <= TOL, out


@pytest.mark.parametrize("block, op, p", [(160, "CausalFIRStream", 32), (64, "CausalFIRStream", 64),
                                          (1024, "CausalFIRStream", 256), (37, "CausalFIRDirectStream", None),
                                          (4, "CausalFIRDirectStream", None)])
def test_partition_rule(block, op, p):
    h = taps(1000)
    compiled = compile_model(fir_model((1, 8 * block), h), name="fir", stream=StreamSpec(block))
    node = next(n for n in compiled.graph.nodes if n.domain == "dietgen")
    assert node.op_type == op and partition(block) == (p or 0)
    if p:
        assert (node.attrs["partition"], node.attrs["parts"]) == (p, -(-1000 // p))
        spectra, twiddles = (compiled.graph.tensors[n] for n in node.inputs[1:3])
        assert spectra.size == node.attrs["parts"] * (p + 1) * 2 and twiddles.size == 2 * p


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


CROSS = {"gcc": [], "clang": [], "arm-none-eabi-gcc": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                                       "-mfpu=fpv4-sp-d16"],
         "avr-gcc": ["-mmcu=atmega2560"]}


@pytest.mark.parametrize("cc", CROSS)
def test_kernel_compiles_strict_everywhere(cc, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    for opt in ("-O0", "-O2", "-Os"):
        result = subprocess.run([cc, *STRICT, opt, *CROSS[cc], f"-I{firmware() / 'include'}", "-c",
                                 str(firmware() / "src" / "fir.c"), "-o", str(tmp_path / "fir.o")],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, f"{cc} {opt}:\n{result.stderr}"
