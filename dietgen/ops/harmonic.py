"""dietgen::Harmonic: DDSP's bank of harmonic oscillators, one op instead of dense [frames x hop x harmonics] sines.

Input 0: f0 (..., frames) in Hz, held over each frame of ``hop`` samples; input 1: harmonic amplitudes
(..., frames, harmonics). Output (..., frames * hop). Phase is in cycles, on the grid of 2^-32 cycles the C
kernel's uint32 phase accumulators count exactly (so a long note does not drift): a frame's per-sample step is
frac(f0 / sample_rate) rounded to 2^-32, its first sample's phase the wrapped sum of the earlier frames'
hop * step, and theta(n) = start + n * step. Harmonic k plays sin(2 pi frac(k theta)) with an amplitude ramping
linearly from the previous frame's value (0 before the first frame) to this frame's: prev + (a - prev) (n + 1) /
hop. It is silent over a frame where k f0 >= sample_rate / 2. dietgen.models.synth.oscillators is the same
synthesizer in PyTorch.
"""
from __future__ import annotations

import numpy as np

from dietgen.ir import Node, Time
from dietgen.ops.registry import REQUIRED, Cost, KernelCall, OpCase, OpSpec, Rand, register

DOMAIN = "dietgen"
PHASE_ONE = 2.0 ** 32    # one cycle of the uint32 phase accumulator


def sample_step(f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """Each frame's phase step per sample in float64 cycles, a multiple of 2^-32 (as the kernel computes it)."""
    per_sample = f0.astype(np.float64) / sample_rate
    return np.floor((per_sample - np.floor(per_sample)) * PHASE_ONE + 0.5) / PHASE_ONE


def harmonic(f0: np.ndarray, amps: np.ndarray, hop: int, sample_rate: int) -> np.ndarray:
    *lead, frames = f0.shape
    harmonics = amps.shape[-1]
    f = f0.reshape(-1, frames).astype(np.float64)
    a = amps.reshape(-1, frames, harmonics).astype(np.float64)
    step = sample_step(f, sample_rate)
    advance = hop * step
    starts = np.cumsum(advance, -1) - advance
    starts -= np.floor(starts)
    theta = starts[..., None] + step[..., None] * np.arange(hop)                      # (rows, frames, hop)
    before = np.concatenate([np.zeros_like(a[:, :1]), a[:, :-1]], 1)
    ramp = np.arange(1, hop + 1) / hop
    out = np.zeros_like(theta)
    for k in range(1, harmonics + 1):    # one harmonic at a time: no [frames x hop x harmonics] array
        cycles = k * theta
        envelope = before[..., k - 1, None] + (a - before)[..., k - 1, None] * ramp
        live = (k * f < sample_rate / 2)[..., None]
        out += np.where(live, envelope * np.sin(2 * np.pi * (cycles - np.floor(cycles))), 0.0)
    return out.reshape(*lead, frames * hop).astype(np.float32)


@register
class Harmonic(OpSpec):
    op_type = "Harmonic"
    domain = DOMAIN
    kernel = "harmonic"
    attributes = {"hop": REQUIRED, "sample_rate": REQUIRED}

    def infer(self, node, inputs):
        if len(inputs) != 2 or inputs[0] is None or inputs[1] is None:
            raise self.refuse(node, "takes exactly two inputs, f0 (..., frames) and the harmonic amplitudes "
                                    "(..., frames, harmonics)")
        self.require_float(node, inputs, 0, 1)
        f0, amps = inputs[0].shape, inputs[1].shape
        if len(f0) < 1 or tuple(amps[:-1]) != tuple(f0) or amps[-1] < 1:
            raise self.refuse(node, f"f0 of shape {f0} and amplitudes of shape {amps}: the amplitudes should be "
                                    f"f0's shape plus a harmonics axis, (..., frames, harmonics)")
        hop, rate = int(node.attrs["hop"]), int(node.attrs["sample_rate"])
        if hop < 1:
            raise self.refuse(node, f"hop={hop} should be at least 1")
        if not 0 < rate < 2**31:
            raise self.refuse(node, f"sample_rate={rate} should be a positive 32-bit integer")
        return [((*f0[:-1], f0[-1] * hop), inputs[0].dtype)]

    def reference(self, node, x):
        return [harmonic(x[0], x[1], int(node.attrs["hop"]), int(node.attrs["sample_rate"]))]

    def _dims(self, graph, node):
        shape = graph.tensors[node.inputs[1]].shape
        return (int(np.prod(shape[:-2], dtype=np.int64)), shape[-2], int(node.attrs["hop"]), shape[-1])

    def cost(self, node, graph):
        """One multiply-add per harmonic per sample (its rotation costs a fixed few more): a bound, since which
        harmonics lie below Nyquist and are played depends on f0 at run time."""
        rows, frames, hop, harmonics = self._dims(graph, node)
        read = graph.tensors[node.inputs[0]].nbytes + graph.tensors[node.inputs[1]].nbytes
        return Cost(rows * frames * hop * harmonics, read, rows * frames * hop * 4)

    def _args(self, node, graph, ctx):
        rows, frames, hop, harmonics = self._dims(graph, node)
        return (ctx.ptr(node.inputs[0]), ctx.ptr(node.inputs[1]), ctx.ptr(node.outputs[0]), str(rows), str(frames),
                str(hop), str(harmonics), str(int(node.attrs["sample_rate"])))

    def emit(self, node, graph, ctx):
        return [KernelCall("dg_harmonic", self._args(node, graph, ctx))]

    def cases(self):
        return [
            OpCase("one_row", (Rand((1, 6), 50, 900), Rand((1, 6, 8), 0, 1)), {"hop": 16, "sample_rate": 8000}),
            # f0 up to 3 kHz at 8 kHz: harmonics 2 and up cross Nyquist from frame to frame
            OpCase("crossing_nyquist", (Rand((2, 9), 100, 3000), Rand((2, 9, 5), -1, 1)),
                   {"hop": 7, "sample_rate": 8000}),
            OpCase("lead_dims_hop1", (Rand((2, 3, 4), 20, 2000), Rand((2, 3, 4, 3), 0, 1)),
                   {"hop": 1, "sample_rate": 16000}),
            OpCase("long_hop", (Rand((3,), 200, 400), Rand((3, 12), 0, 1)), {"hop": 160, "sample_rate": 16000}),
        ]

    def stream(self, node, s):
        """The phase accumulator and the last frame's amplitudes are carried: block after block, the phase and
        the amplitude ramps continue as over the whole note."""
        f0_name, amps_name = node.inputs
        t, ta = s.time[f0_name], s.time.get(amps_name)
        f0, amps = s.offline.tensors[f0_name], s.offline.tensors[amps_name]
        if t.axis != len(f0.shape) - 1:
            raise self.refuse(node, f"cannot stream: time runs along axis {t.axis} of f0, not its frames axis "
                                    f"{len(f0.shape) - 1}")
        if ta is None or ta.axis != len(amps.shape) - 2 or ta.rate != t.rate:
            raise self.refuse(node, f"cannot stream: the amplitudes should run along their frames axis "
                                    f"{len(amps.shape) - 2} in step with f0")
        if max(t.lag, ta.lag) > 0:
            raise self.refuse(node, f"cannot stream: its inputs are delayed by {max(t.lag, ta.lag)} frames of "
                                    f"lookahead, and the phase accumulates from the note's start; make the layers "
                                    f"before it causal")
        f0_step, amps_step = s.materialised(f0_name), s.materialised(amps_name)
        rows, harmonics = int(np.prod(f0.shape[:-1], dtype=np.int64)), amps.shape[-1]
        phase = s.state("phase", (rows,), "int32")
        prev = s.state("prev_amps", (rows, harmonics))
        y = s.output(node.outputs[0], Time(t.axis, t.rate * int(node.attrs["hop"]), 0, clean=False))
        s.emit(Node("HarmonicStream", node.name, (f0_step, amps_step, phase, prev), (y, phase, prev),
                    dict(node.attrs), DOMAIN))


@register
class HarmonicStream(Harmonic):
    """Harmonic one block at a time (the streaming pass makes it)."""
    op_type = "HarmonicStream"
    cost_as = "Harmonic"
    stream_only = True

    def stream(self, node, s):
        return NotImplemented

    def cases(self):
        return []

    def emit(self, node, graph, ctx):
        return [KernelCall("dg_harmonic_stream", (*self._args(node, graph, ctx),
                                                  f"(uint32_t *){ctx.ptr(node.inputs[2])}",
                                                  ctx.ptr(node.inputs[3])))]
