"""Streaming: the step program, run block after block with its state carried, equals the offline model over the
whole signal (delayed by its latency), on the host under the sanitizers and on emulated boards."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from torch import nn

from clirun import assert_one_line_error, run
from dietgen.codegen.render import render
from dietgen.ir import TensorKind
from dietgen.ops.conv import IN_PLACE_TAPS
from dietgen.ops.registry import get_op
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.resources import firmware
from dietgen.pipeline import compile_model
from dietgen.toolchain.host import SANITIZE, STRICT
from dietgen.verify import verify
from golden_models import tiny_conv_dense
from models import STREAMING

TOL = 1e-5   # max error relative to the output's RMS, over every sample of every block
EXAMPLES = {"demo": 16, "ddsp": 1, "wavenet": 1, "sing": 1, "demo-avr": 4}   # blocks to try beside 1 and 7


def _blocks(stride: int, natural: int) -> list[int]:
    """Block 1 (or the smallest the stride allows), a prime number of it, and the model's natural block."""
    return sorted({stride, 7 * stride, natural})


def _assert_streams(report, time_axes=None):
    assert report.stream is not None
    if time_axes is not None:
        assert report.stream.time_axes == time_axes
    for out in report.outputs:
        assert out.ok and out.max_rel <= TOL, out
    return report


MODEL_CASES = [pytest.param(name, block, id=f"{name}-block{block}")
               for name, (_, _, _, stride, natural) in STREAMING.items() for block in _blocks(stride, natural)]


@pytest.mark.parametrize("name, block", MODEL_CASES)
def test_test_models_stream_like_offline(name, block):
    make, shapes, axes, _, _ = STREAMING[name]
    torch.manual_seed(0)
    report = verify(make(), shapes=shapes, stream=StreamSpec(block), tol=TOL, sanitize=True)
    _assert_streams(report, axes)
    assert report.blocks >= 8


@pytest.mark.slow
@pytest.mark.parametrize("name, block", [pytest.param(n, b, id=f"{n}-block{b}") for n, natural in EXAMPLES.items()
                                         for b in _blocks(1, natural)])
def test_examples_stream_like_offline(root, name, block):
    _assert_streams(verify(str(root / "examples" / name), stream=StreamSpec(block), tol=TOL, sanitize=True))


@pytest.mark.parametrize("block", [1, 7, 8])
def test_golden_model_streams_like_offline(block):
    _assert_streams(verify(tiny_conv_dense(), stream=StreamSpec(block), tol=TOL, sanitize=True), {"x": 2})


def test_zoo_streams_by_default_with_its_natural_block(root):
    ddsp = compile_model(str(root / "examples" / "ddsp"))
    info = ddsp.graph.meta["stream"]
    assert (info.block, info.out_block, info.model_latency) == (1, 160, 0)
    assert ddsp.graph.meta["plan"].all_state_bytes > 0
    assert "stream" not in compile_model(str(root / "examples" / "ddsp"), stream=False).graph.meta


def test_latency_is_the_lookahead_of_the_centred_layers():
    """Conv k=3 pad 1 (1 frame), conv k=5 dilation 2 pad 4 (4 frames) on a branch summed with its input, then a
    transposed conv by 4 cropping 2: (1 + 4) * 4 + 2 = 22 output frames, with a 4-frame delay on the residual."""
    make, shapes, *_ = STREAMING["centred_decoder"]
    g = compile_model(make(), shapes, stream=StreamSpec(2)).graph
    assert g.meta["stream"].model_latency == 22
    delays = [n.attrs["frames"] for n in g.nodes if n.op_type == "Delay"]
    assert delays == [4]


# -- board emulators -------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dilated_stack", "gru2", "centred_decoder", "strided_encoder"])
def test_streams_on_emulated_cortex_m4f(name):
    make, shapes, axes, stride, _ = STREAMING[name]
    torch.manual_seed(0)
    report = verify(make(), shapes=shapes, stream=StreamSpec(7 * stride), tol=TOL, board="nano33ble")
    _assert_streams(report, axes)
    assert report.board_run.total > 0


@pytest.mark.slow
def test_ddsp_streams_on_emulated_cortex_m4f(root):
    _assert_streams(verify(str(root / "examples" / "ddsp"), stream=StreamSpec(2), tol=TOL, board="nano33ble"))


@pytest.mark.slow
def test_small_model_streams_on_avr():
    report = verify(tiny_conv_dense(), stream=StreamSpec(1), tol=TOL, board="uno")
    _assert_streams(report)
    assert report.board_run.unit == "cycles"


# -- the generated C as a caller sees it ------------------------------------------------------------------------
_RESET_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "NAME.h"
#define STEPS 40
static float in[STEPS][UPPER_IN_SIZE], first[STEPS][UPPER_OUT_SIZE], second[STEPS][UPPER_OUT_SIZE];
static void run(float (*out)[UPPER_OUT_SIZE])
{
    int k;
    NAME_init();
    for (k = 0; k < STEPS; ++k)
        NAME_step(in[k], out[k]);
}
int main(void)
{
    unsigned x = 12345u;
    int k, i;
    for (k = 0; k < STEPS; ++k)
        for (i = 0; i < UPPER_IN_SIZE; ++i) {
            x = x * 1664525u + 1013904223u;
            in[k][i] = (float)(x >> 8) / 8388608.0f - 1.0f;
        }
    run(first);
    run(second);
    printf("%d\n", memcmp(first, second, sizeof first) == 0);
    return 0;
}
"""

_RING_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "NAME.h"
float watched_state[UPPER_FLOAT_STATE_BYTES / 4];
static float before[UPPER_FLOAT_STATE_BYTES / 4];
int main(void)
{
    static float in[UPPER_IN_SIZE], out[UPPER_OUT_SIZE];
    unsigned x = 99u;
    int k, i, changed, most = 0;
    NAME_init();
    for (k = 0; k < 300; ++k) {
        for (i = 0; i < UPPER_IN_SIZE; ++i) {
            x = x * 1664525u + 1013904223u;
            in[i] = (float)(x >> 8) / 8388608.0f - 1.0f;
        }
        memcpy(before, watched_state, sizeof before);
        NAME_step(in, out);
        for (i = 0, changed = 0; i < (int)(sizeof before / sizeof *before); ++i)
            changed += before[i] != watched_state[i];
        if (k > 0 && changed > most)
            most = changed;
    }
    printf("%d\n", most);
    return 0;
}
"""


def _run_main(compiled, main: str, tmp: Path, *defines: str) -> str:
    name = compiled.c_name
    src = write_tree(render(compiled.graph), tmp / "src")
    (tmp / "main.c").write_text(main.replace("UPPER", name.upper()).replace("NAME", name))
    exe = tmp / "main"
    sources = [tmp / "main.c", src / f"{name}.c", src / f"{name}_weights.c", *sorted((src / "dietgen").glob("*.c"))]
    subprocess.run(["cc", *STRICT, "-O1", *SANITIZE, *defines, f"-I{src}", *map(str, sources), "-o", str(exe), "-lm"],
                   check=True, capture_output=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("name", ["centred_decoder", "gru2", "dilated_stack"])
def test_init_really_resets(name, tmp_path):
    """Two runs separated by NAME_init give identical bytes: every ring, tail, position and RNN state resets."""
    make, shapes, _, stride, _ = STREAMING[name]
    torch.manual_seed(0)
    compiled = compile_model(make(), shapes, stream=StreamSpec(stride))
    assert _run_main(compiled, _RESET_MAIN, tmp_path) == "1"


class _DeepDilated(nn.Module):
    """8 causal Conv1d(4->4, k=3), dilations 1..128, tanh between: rings of 2..256 frames."""
    def __init__(self):
        super().__init__()
        self.dilations = [2 ** i for i in range(8)]
        self.convs = nn.ModuleList(nn.Conv1d(4, 4, 3, dilation=d) for d in self.dilations)

    def forward(self, x):
        for conv, d in zip(self.convs, self.dilations):
            x = torch.tanh(conv(nn.functional.pad(x, (2 * d, 0))))
        return x


def test_ring_buffers_do_not_shift(tmp_path):
    """A step writes one frame into each ring (4 channels x 8 layers) and moves nothing else: a shifting
    implementation would rewrite all 2 * (1 + 2 + ... + 128) * 4 = 2040 floats of history every step."""
    torch.manual_seed(0)
    compiled = compile_model(_DeepDilated().eval(), {"x": (1, 4, 32)}, stream=StreamSpec(1))
    g = compiled.graph
    rings = [t for t in g.tensors.values() if t.kind == TensorKind.STATE and t.dtype == "float32"]
    assert sum(t.size for t in rings) == 2 * 255 * 4
    # each ring is written by its convolution alone
    for ring in rings:
        assert [n.op_type for n in g.nodes if ring.name in n.outputs] == ["ConvStream"]
    most = int(_run_main(compiled, _RING_MAIN, tmp_path, f"-D{compiled.c_name.upper()}_EXTERNAL_STATE=watched_state"))
    assert 0 < most <= 8 * 4


class _WideTaps(nn.Module):
    """Causal convolutions a one-frame step multiplies in place, tap by tap (grouped; 16 taps, the most it takes),
    and one it gathers (17 taps), with a batch of 2."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv1d(6, 10, 3, dilation=3, groups=2)
        self.widest = nn.Conv1d(10, 9, IN_PLACE_TAPS)
        self.wider = nn.Conv1d(9, 4, IN_PLACE_TAPS + 1, dilation=2)

    def forward(self, x):
        x = torch.tanh(self.grouped(nn.functional.pad(x, (6, 0))))
        x = self.widest(nn.functional.pad(x, (IN_PLACE_TAPS - 1, 0)))
        return self.wider(nn.functional.pad(x, (2 * IN_PLACE_TAPS, 0)))


@pytest.mark.parametrize("block", [1, 2])
def test_one_frame_convolutions_read_their_taps_in_place(block):
    """A one-frame step gathers nothing for a conv of up to IN_PLACE_TAPS taps (DG_CONV_RUNS in conv.h: no column
    scratch) and gathers past it; both, and the gathering of longer blocks from the same whole-frame rings, stream
    like the offline model."""
    torch.manual_seed(0)
    model, shapes = _WideTaps().eval(), {"x": (2, 6, 40)}
    g = compile_model(model, shapes, stream=StreamSpec(block)).graph
    convs = [n for n in g.nodes if n.op_type == "ConvStream"]
    assert [get_op("ConvStream", "dietgen").tiling(n, g).col == 0 for n in convs] == [block == 1, block == 1, False]
    _assert_streams(verify(model, shapes=shapes, stream=StreamSpec(block), tol=TOL, sanitize=True))


def test_in_place_tap_limit_matches_the_kernel():
    header = (firmware() / "include" / "dietgen" / "conv.h").read_text()
    assert f"#define DG_CONV_RUNS {IN_PLACE_TAPS}\n" in header


# -- the CLI -----------------------------------------------------------------------------------------------------
def _onnx(nodes, inputs, outputs, inits=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s)
                                           for n, s in inputs],
                              [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in outputs],
                              [numpy_helper.from_array(v, n) for n, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


def _save(tmp_path, model, name="m.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _export_torch(tmp_path, module, shape, name="m.onnx") -> Path:
    from dietgen.frontend.torch_export import torch_to_onnx
    return _save(tmp_path, torch_to_onnx(module.eval(), (torch.randn(*shape),), ["x"]), name)


def test_cli_inspect_export_check_verify_stream(tmp_path, root):
    model = _export_torch(tmp_path, STREAMING["centred_decoder"][0](), (1, 2, 16))
    result = run("inspect", model, "--stream", "--block", "2")
    assert result.exit_code == 0, result.output
    assert "state B" in result.output and "latency 22 output frames" in result.output
    assert "2 input frames -> 8 output frames per step" in result.output
    result = run("export", model, "--stream", "--block", "2", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    header = (tmp_path / "out" / "m.h").read_text()
    for macro in ("M_BLOCK 2", "M_OUT_BLOCK 8", "M_LATENCY 22"):
        assert f"#define {macro}\n" in header
    assert "#define M_STATE_BYTES 0" not in header
    result = run("verify", model, "--stream", "--block", "2", "--blocks", "12", "--tol", "1e-5", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] and doc["stream"]["blocks"] == 12 and doc["stream"]["latency"] == 22
    result = run("check", model, "--stream", "--block", "2", "--sample-rate", "48000", "--board", "rpi4", "--json")
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output[result.output.index("["):])    # after the progress bar
    assert report["block"] == 8 and report["sample_rate"] == 48000
    assert report["time"] is None or report["time"]["limit"] == pytest.approx(8 / 48000)


def test_cli_time_axis_option(tmp_path):
    """An elementwise model has no convolution to tell time from channels: --time-axis names it."""
    model = _save(tmp_path, _onnx([helper.make_node("Tanh", ["x"], ["y"], name="tanh")],
                                  [("x", [1, 5, 6])], [("y", [1, 5, 6])]))
    assert_one_line_error(run("export", model, "--stream", "--block", "2", "-o", tmp_path / "o"),
                          "'x'", "ambiguous", "--time-axis")
    assert not (tmp_path / "o").exists()
    result = run("verify", model, "--time-axis", "x=1", "--block", "5", "--tol", "1e-6")
    assert result.exit_code == 0, result.output
    assert "streamed" in result.output


def _bad(tmp_path, model, *args, words=()):
    out = tmp_path / "never"
    assert_one_line_error(run("export", model, *args, "-o", out), *words)
    assert not out.exists()


def test_cli_stream_errors(tmp_path, root):
    dense = _save(tmp_path, _onnx([helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")],
                                  [("x", [1, 10])], [("y", [1, 3])], [("w", np.ones((10, 3), np.float32))]),
                  "dense.onnx")
    _bad(tmp_path, dense, "--stream", "--block", "4", words=("no input", "time axis", "--time-axis"))
    conv = _export_torch(tmp_path, STREAMING["strided_encoder"][0](), (1, 1, 64), "conv.onnx")
    _bad(tmp_path, conv, "--stream", "--block", "0", words=("--block 0",))
    _bad(tmp_path, conv, "--stream", "--block", "6", words=("stride 4", "smallest valid block is 4"))
    _bad(tmp_path, conv, "--time-axis", "y=2", "--block", "4", words=("--time-axis", "'y'", "not an input"))
    _bad(tmp_path, conv, "--time-axis", "x=3", "--block", "4", words=("--time-axis x=3", "out of range"))
    _bad(tmp_path, conv, "--time-axis", "x=two", "--block", "4", words=("--time-axis", "NAME=AXIS"))
    _bad(tmp_path, conv, "--offline", "--time-axis", "x=2", words=("--offline",))
    _bad(tmp_path, conv, "--stream", words=("--block",))
    one = _export_torch(tmp_path, nn.Conv1d(2, 2, 1), (1, 2, 1), "one.onnx")
    _bad(tmp_path, one, "--time-axis", "x=2", "--block", "1", words=("time length of 1",))
    _bad(tmp_path, root / "examples" / "ddsp", "--shape", "pitch=1x8", words=("--shape", "'pitch'", "not an input"))


class _LookaheadGru(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.gru = nn.GRU(4, 4, batch_first=True)

    def forward(self, x):
        return self.gru(self.conv(x).transpose(1, 2))[0]


class _SoftmaxOverTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 2)

    def forward(self, x):
        return torch.softmax(self.conv(nn.functional.pad(x, (1, 0))), dim=-1)


class _ReflectPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 3)

    def forward(self, x):
        return self.conv(nn.functional.pad(x, (2, 0), mode="reflect"))


@pytest.mark.parametrize("module, words", [
    (_LookaheadGru, ("GRU", "cannot stream", "lookahead", "causal")),
    (_SoftmaxOverTime, ("Softmax", "cannot stream", "time")),
    (_ReflectPad, ("Pad", "cannot stream", "reflect")),
], ids=["delay_before_rnn", "time_global", "reflect_pad"])
def test_cli_refuses_what_cannot_stream(tmp_path, module, words):
    torch.manual_seed(0)
    model = _export_torch(tmp_path, module(), (1, 2, 16))
    _bad(tmp_path, model, "--time-axis", "x=2", "--block", "4", words=words)


@pytest.mark.slow
def test_ddsp_note_from_the_streamed_c_sounds_like_pytorch(root):
    """A 3 s note with vibrato and a release, 1 frame (160 samples) per step from the generated C: the audio PyTorch
    synthesizes (its oscillators run in float64), with no click where blocks join."""
    from dietgen.models import load_checkpoint
    from dietgen.verify import run_c
    frames = 296
    t = np.arange(frames) / 100.0
    f0 = (220 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5 * t))).astype(np.float32)[None]
    loudness = (-90 + 70 * np.minimum(1, t / 0.1) * np.where(t < 2.2, 1.0, np.exp(-(t - 2.2) * 5)))
    loudness = loudness.astype(np.float32)[None]
    model, _ = load_checkpoint(root / "examples" / "ddsp")
    with torch.no_grad():
        want = model.synthesize(torch.from_numpy(f0), torch.from_numpy(loudness))[0].numpy()
    compiled = compile_model(str(root / "examples" / "ddsp"), {"f0": (1, frames), "loudness": (1, frames)})
    assert compiled.graph.meta["stream"].out_block == 160
    got = run_c(compiled, {"f0": f0, "loudness": loudness})[compiled.graph.outputs[0]][0]
    snr = 10 * np.log10(np.sum(want ** 2) / np.sum((got - want) ** 2))
    assert snr > 60, snr
    jumps = np.abs(np.diff(got))
    at_joins = jumps[159::160]
    assert at_joins.max() <= np.delete(jumps, np.arange(159, jumps.size, 160)).max()


def _resize(mode: str, transform: str, nearest: str = "round_prefer_floor") -> onnx.ModelProto:
    return _onnx([helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode=mode,
                                   coordinate_transformation_mode=transform, nearest_mode=nearest)],
                 [("x", [1, 3, 16])], [("y", [1, 3, 64])], [("scales", np.array([1, 1, 4], np.float32))])


@pytest.mark.parametrize("args, latency", [
    (("linear", "half_pixel"), 4), (("linear", "asymmetric"), 4), (("nearest", "half_pixel"), 0),
    (("nearest", "asymmetric", "ceil"), 4)], ids=["linear_half_pixel", "linear_asymmetric", "nearest",
                                                  "nearest_ceil"])
@pytest.mark.parametrize("block", [1, 5])
def test_upsampling_along_time_streams(args, latency, block):
    """Frame rate -> sample rate: the frames an output reads before the block are carried, the ones after it
    become latency (one frame, 4 samples, for linear interpolation between frame centres)."""
    report = _assert_streams(verify(_resize(*args), stream=StreamSpec(block, {"x": 2}), tol=TOL, sanitize=True))
    assert report.stream.model_latency == latency


def test_upsampling_that_needs_the_whole_length_is_refused(tmp_path):
    model = _save(tmp_path, _resize("linear", "align_corners"))
    _bad(tmp_path, model, "--time-axis", "x=2", "--block", "4", words=("Resize", "cannot stream", "align_corners"))


@pytest.mark.parametrize("name", ["gru2", "lstm2_layout0", "dilated_stack", "decoder"])
@pytest.mark.parametrize("opt", ["-O2", "-O3"])
def test_unity_build_gives_the_separate_build_bytes(name, opt, tmp_path):
    """NAME_unity.c (kernels static, specialised for the model's sizes) and the files compiled one by one give the
    same bits, block after block: the compiler may clone and inline, never reorder the arithmetic."""
    from dietgen.toolchain.host import build_harness, run_harness
    from dietgen.verify import random_inputs, to_blocks
    make, shapes, _, stride, _ = STREAMING[name]
    torch.manual_seed(0)
    compiled = compile_model(make(), shapes, stream=StreamSpec(stride))
    src = write_tree(render(compiled.graph), tmp_path / "src")
    blocks = to_blocks(compiled, random_inputs(compiled, 5))
    outs = [run_harness(build_harness(src, compiled.c_name, tmp_path / f"{name}-{unity}", opt=opt, unity=unity),
                        blocks, compiled.graph.meta["plan"].out_size) for unity in (True, False)]
    assert blocks.shape[0] >= 8 and np.any(outs[0])
    assert outs[0].tobytes() == outs[1].tobytes()
