"""dietgen::NoiseFIR: white noise from a seeded xorshift32 generator through a time-varying FIR filter.

DDSP's filtered-noise synthesizer. ONNX has no deterministic noise source (RandomUniform is unseeded across
runtimes), so this op fixes one: the C kernel, this numpy reference and the PyTorch synthesizer
(dietgen.models.synth) all draw the same noise and so give the same audio.

Input 0: impulse responses (..., frames, taps), one per frame of ``hop`` samples. Output (..., frames * hop):
y[t] = sum_j ir[t // hop, j] * noise[t + taps - 1 - j], where noise[0 .. taps - 2] is the generator's warm-up
history, so the filter never reads before the stream starts. Every leading row draws the same noise.
"""
from __future__ import annotations

import numpy as np

from dietgen.ir import Node, Time
from dietgen.ops.registry import REQUIRED, Cost, KernelCall, OpSpec, register

DOMAIN = "dietgen"


def xorshift32(state: int, count: int) -> tuple[np.ndarray, int]:
    """``count`` uniform floats in [-1, 1) and the generator's next state (a nonzero uint32).

    Each value is (x >> 8) * 2^-23 - 1: 24 random bits, exact in float32 on every platform.
    """
    out = np.empty(count, dtype=np.float32)
    x = int(state) & 0xFFFFFFFF
    for i in range(count):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = np.float32((x >> 8) * (1.0 / 8388608.0) - 1.0)
    return out, x


def noise_stream(seed: int, count: int) -> np.ndarray:
    return xorshift32(seed, count)[0]


def noise_fir(ir: np.ndarray, hop: int, seed: int) -> np.ndarray:
    *lead, frames, taps = ir.shape
    noise = noise_stream(seed, frames * hop + taps - 1).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(noise, taps)[:frames * hop]   # (T, taps): noise[t + i]
    rows = ir.reshape(-1, frames, taps).astype(np.float64)[:, :, ::-1]                 # ir[j] meets noise[t+taps-1-j]
    y = np.einsum("fhi,bfi->bfh", windows.reshape(frames, hop, taps), rows)
    return y.reshape(*lead, frames * hop).astype(np.float32)


@register
class NoiseFIR(OpSpec):
    op_type = "NoiseFIR"
    domain = DOMAIN
    kernel = "noise"
    attributes = {"hop": REQUIRED, "seed": REQUIRED}
    uint32_attributes = ("seed",)

    def infer(self, node, inputs):
        self.require_float(node, inputs, 0)
        if len(inputs) != 1 or inputs[0] is None:
            raise self.refuse(node, "takes exactly one input, the per-frame impulse responses")
        shape = inputs[0].shape
        if len(shape) < 2:
            raise self.refuse(node, f"input of shape {shape} should be (..., frames, taps)")
        hop, seed = int(node.attrs["hop"]), int(node.attrs["seed"])
        if hop < 1:
            raise self.refuse(node, f"hop={hop} should be at least 1")
        if not 0 < seed < 2**32:
            raise self.refuse(node, f"seed={seed} should be a nonzero 32-bit unsigned integer")
        return [((*shape[:-2], shape[-2] * hop), inputs[0].dtype)]

    def reference(self, node, x):
        return [noise_fir(x[0], int(node.attrs["hop"]), int(node.attrs["seed"]))]

    def _dims(self, graph, node):
        shape = graph.tensors[node.inputs[0]].shape
        return int(np.prod(shape[:-2], dtype=np.int64)), shape[-2], int(node.attrs["hop"]), shape[-1]

    def scratch(self, node, graph):
        rows, frames, hop, taps = self._dims(graph, node)
        return [frames * hop + taps - 1]

    def cost(self, node, graph):
        rows, frames, hop, taps = self._dims(graph, node)
        out = rows * frames * hop
        return Cost(out * taps, graph.tensors[node.inputs[0]].nbytes, out * 4)

    def emit(self, node, graph, ctx):
        rows, frames, hop, taps = self._dims(graph, node)
        return [KernelCall("dg_noise_fir", (ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), str(rows),
                                            str(frames), str(hop), str(taps), f"{int(node.attrs['seed'])}UL",
                                            ctx.scratch(node)))]

    def stream(self, node, s):
        """The generator's state and its last taps - 1 draws are carried: block after block, the same noise as
        over the whole note."""
        t = s.time[node.inputs[0]]
        x = s.offline.tensors[node.inputs[0]]
        if t.axis != len(x.shape) - 2:
            raise self.refuse(node, f"cannot stream: time runs along axis {t.axis} of its input, not the frames "
                                    f"axis {len(x.shape) - 2}")
        if t.lag > 0:
            raise self.refuse(node, f"cannot stream: its input is delayed by {t.lag} frames of lookahead, and the "
                                    f"noise is drawn per sample from the note's start; make the layers before it "
                                    f"causal")
        src = s.materialised(node.inputs[0])
        hop, seed, taps = int(node.attrs["hop"]), int(node.attrs["seed"]), x.shape[-1]
        history, after = xorshift32(seed, taps - 1)
        rng = s.state("rng", (1,), "int32", np.array([after], np.uint32).view(np.int32))
        hist = s.state("history", (max(taps - 1, 1),), init=history if taps > 1 else None)
        y = s.output(node.outputs[0], Time(t.axis, t.rate * hop, 0, clean=False))
        s.emit(Node("NoiseFIRStream", node.name, (src, rng, hist), (y, rng, hist), dict(node.attrs), DOMAIN))


@register
class NoiseFIRStream(NoiseFIR):
    """NoiseFIR one block at a time (the streaming pass makes it)."""
    op_type = "NoiseFIRStream"
    cost_as = "NoiseFIR"
    stream_only = True

    def stream(self, node, s):
        return NotImplemented

    def emit(self, node, graph, ctx):
        rows, frames, hop, taps = self._dims(graph, node)
        return [KernelCall("dg_noise_fir_stream", (ctx.ptr(node.inputs[0]), ctx.ptr(node.outputs[0]), str(rows),
                                                   str(frames), str(hop), str(taps),
                                                   f"(uint32_t *){ctx.ptr(node.inputs[1])}", ctx.ptr(node.inputs[2]),
                                                   ctx.scratch(node)))]
