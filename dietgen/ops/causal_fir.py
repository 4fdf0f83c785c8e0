"""dietgen::CausalFIR: a long causal FIR filter with constant taps (DDSP's learned reverb).

Inputs: x (..., N), time along the last axis, and h (taps,), a constant. Output y (..., N):
y[t] = sum_{j=0}^{taps-1} h[j] * x[t - j], with x zero before the start. ONNX's Conv can say the same, but a
reverb's impulse response is thousands of taps long: direct convolution costs taps MACs per sample, which no
small board affords at 16 kHz. Offline the kernel convolves directly (the exact verification form). Streamed,
it convolves by uniformly partitioned overlap-save FFT convolution (UPOLS):

- the block of B samples per step is cut into sub-blocks of P samples (``partition``), the filter into
  K = ceil(taps / P) partitions of P taps;
- each sub-block, with the P samples before it, is one real FFT of size 2P (a complex FFT of size P and a split
  step); its spectrum goes into a ring of the last K spectra (the frequency-domain delay line);
- the output spectrum is sum_i spectrum[now - i] * H_i over the K partitions' spectra H_i (made here, in
  float64, stored as float32 constants, scaled so the C never normalises); its inverse FFT's second half is the
  sub-block's output. No latency: every output sample is computed from the samples up to it.

The partition rule: P is the largest divisor of B whose only prime factors are 2, 3 and 5, with P <= 512
(MAX_PARTITION). When no such divisor reaches 8 (MIN_PARTITION; B = 37, 77, 4, ...) the stream convolves
directly through a ring of the last taps - 1 samples instead: still exact, only slower. Why:
- P divides B, so every step runs whole sub-blocks: no buffering, no latency, no partial sub-block to carry;
- the spectral multiply-accumulate is K (P + 1) complex MACs per P samples, about taps / P per sample, while
  the FFTs cost O(log P) per sample: the largest P wins. DDSP's frame of 160 samples gets P = 160 (K = 25 for
  4000 taps) where a power-of-two rule gave P = 32 (K = 125): five times less multiply-accumulate work, and
  no added latency;
- 2, 3 and 5 have cheap textbook butterflies (the complex FFT of size P runs radix-4, -2, -3 and -5 stages),
  and they cover the frame sizes audio models use (64, 80, 96, 120, 160, 240, 256, 320, 480...); any other
  prime would need a butterfly of its own;
- P <= 512 bounds the scratch (4P + 2 floats), the twiddle table and the work done at once on a small core
  (a block of 1024 runs two sub-blocks of 512);
- under 8 the FFTs cost more than direct convolution saves.
"""
from __future__ import annotations

import numpy as np

from dietgen.ir import Node, Time
from dietgen.ops.registry import Cost, KernelCall, OpCase, OpSpec, Rand, register

DOMAIN = "dietgen"
MAX_PARTITION = 512     # bounds the scratch, the twiddle table and the work done at once on a small core
MIN_PARTITION = 8       # below this the FFTs cost more than direct convolution saves
RADICES = (2, 3, 5)     # the primes the complex FFT has butterflies for (radix 4 is two of the 2s)


def causal_fir(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """y[..., t] = sum_j h[j] * x[..., t - j], in float64 by FFT (exact to float64 rounding), as float32."""
    n, taps = x.shape[-1], h.shape[0]
    size = 1 << (n + taps - 2).bit_length()      # a power of two >= n + taps - 1: no circular wrap
    spectrum = np.fft.rfft(x.astype(np.float64), size) * np.fft.rfft(h.astype(np.float64), size)
    return np.fft.irfft(spectrum, size)[..., :n].astype(np.float32)


def _smooth(p: int) -> bool:
    for r in RADICES:
        while p % r == 0:
            p //= r
    return p == 1


def partition(block: int) -> int:
    """Sub-block size P for a streamed block of ``block`` samples: the largest divisor of it with no prime factor
    but 2, 3 and 5, at most MAX_PARTITION; 0 (direct convolution) when that is under MIN_PARTITION."""
    return max((p for p in range(MIN_PARTITION, min(block, MAX_PARTITION) + 1) if block % p == 0 and _smooth(p)),
               default=0)


def radices(p: int) -> list[int]:
    """The complex FFT's stage radices, first stage first: radix 4 while it divides (no multiplications in its
    butterfly), a 2 for an odd power of two, then 3s and 5s. The last stage's twiddles are all 1 and the C skips
    them, so ending on the largest radix skips the most multiplications."""
    out = []
    for r in (4, 2, 3, 5):
        while p % r == 0 and (r != 2 or p % 4):
            out.append(r)
            p //= r
    if p != 1:
        raise ValueError(f"partition {p} has a prime factor other than 2, 3 and 5")
    return out


def partition_spectra(h: np.ndarray, p: int) -> np.ndarray:
    """(P + 1, K, 2) float32: the real FFT of size 2P of each P taps of h, zero-padded, scaled by 1/(4P), bin-major
    (a bin's K partitions adjacent, the order the C's multiply-accumulate reads them in).

    The C's forward split step makes twice the input spectrum and its inverse twice the time signal times P
    (neither divides): 1/(4P) undoes both, so the kernel multiplies and accumulates, nothing else."""
    parts = -(-h.shape[0] // p)
    padded = np.zeros(parts * p)
    padded[:h.shape[0]] = h.astype(np.float64)
    spectra = np.fft.rfft(padded.reshape(parts, p), 2 * p) / (4 * p)
    spectra[:, 0].imag = 0.0        # exact: the DC and Nyquist bins of a real signal are real
    spectra[:, -1].imag = 0.0
    return np.stack([spectra.real, spectra.imag], axis=-1).transpose(1, 0, 2).astype(np.float32)


def _stages(p: int):
    """(radix, m, s) of each stage of the C's Stockham FFT of size P: sub-transforms of n = radix * m at stride s."""
    n, s = p, 1
    for r in radices(p):
        yield r, n // r, s
        n, s = n // r, s * r


def twiddles(p: int) -> np.ndarray:
    """The kernel's twiddle constants as (re, im) pairs, so the C computes no sine or cosine: exp(-i pi k / P) for
    k <= P / 2 (the split steps read entry k), then for each FFT stage (radix r, sub-transforms of n = r m) and
    each j < m, exp(-2 pi i j k / n) for k = 1 .. r - 1 (the stage multiplies output k of butterfly j by it)."""
    parts = [np.exp(-1j * np.pi * np.arange(p // 2 + 1) / p)]
    for r, m, _ in _stages(p):
        parts.append(np.exp(-2j * np.pi * np.outer(np.arange(m), np.arange(1, r)) / (r * m)).reshape(-1))
    w = np.concatenate(parts)
    w.real[np.abs(w.real) < 1e-12] = 0.0      # exact zeros: at k = P/2, where the split step pairs k with itself
    w.imag[np.abs(w.imag) < 1e-12] = 0.0
    return np.stack([w.real, w.imag], axis=-1).astype(np.float32).reshape(-1)


# Real flops of one radix-r butterfly before its twiddles, counted from the C: radix 2, 4 adds; radix 4, 16
# adds; radix 3, 12 adds and 4 products (sin60 and the halving); radix 5, 32 adds and 16 products.
_BUTTERFLY_FLOPS = {2: 4, 3: 16, 4: 16, 5: 48}


def fft_flops(p: int) -> int:
    """Real flops of the C's complex FFT of size P: P / r butterflies per stage, and a complex product (6 flops)
    for each of the r - 1 outputs of the butterflies with j > 0."""
    return sum(_BUTTERFLY_FLOPS[r] * m * s + 6 * (r - 1) * (m - 1) * s for r, m, s in _stages(p))


def upols_macs(p: int, parts: int) -> int:
    """Multiply-accumulates for one sub-block of P samples (a MAC = 2 flops, so a complex MAC = 4), counted
    from the C: two complex FFTs of size P (fft_flops), the forward and inverse split steps (floor(P / 2) pairs
    of 14 flops each, and 6 for DC and Nyquist), and K * (P + 1) complex MACs of 8 flops."""
    split = 2 * (p // 2) * 14 + 6
    return -(-(2 * fft_flops(p) + split + 8 * parts * (p + 1)) // 2)


def _rows(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:-1], dtype=np.int64))


def _taps(seed: int, taps: int) -> np.ndarray:
    """A decaying random response, shaped like a learned reverb's."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, taps) * np.exp(-np.arange(taps) / (0.3 * taps))).astype(np.float32)


@register
class CausalFIR(OpSpec):
    op_type = "CausalFIR"
    domain = DOMAIN
    kernel = "fir"
    flash_inputs = (1,)

    def infer(self, node, inputs):
        if len(inputs) != 2 or inputs[0] is None or inputs[1] is None:
            raise self.refuse(node, "takes two inputs: the signal (..., N) and the taps (taps,)")
        self.require_float(node, inputs, 0)
        if inputs[1].value is None:
            raise self.refuse(node, f"the taps (input 1, {inputs[1].name!r}) must be a constant known at export "
                                    f"time (an initializer); a computed impulse response is not supported")
        x, h = inputs[0], inputs[1]
        if h.dtype != "float32" or len(h.shape) != 1 or h.shape[0] < 1:
            raise self.refuse(node, f"the taps {h.name!r} are {h.dtype} of shape {h.shape}; expected float32 of "
                                    f"shape (taps,) with taps >= 1")
        if len(x.shape) < 1 or x.shape[-1] < 1:
            raise self.refuse(node, f"the signal of shape {x.shape} should be (..., N) with time last")
        return [(x.shape, x.dtype)]

    def reference(self, node, x):
        return [causal_fir(x[0], x[1])]

    def cost(self, node, graph):
        x, h = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        return Cost(x.size * h.size, x.nbytes + h.nbytes, x.nbytes)

    def emit(self, node, graph, ctx):
        x, h = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        return [KernelCall("dg_causal_fir", (ctx.ptr(x.name), ctx.ptr(h.name), ctx.ptr(node.outputs[0]),
                                             str(_rows(x.shape)), str(x.shape[-1]), str(h.size)))]

    def cases(self):
        return [
            OpCase("taps1", (Rand((1, 16)), _taps(0, 1))),
            OpCase("taps7", (Rand((2, 3, 40)), _taps(1, 7))),
            OpCase("taps100", (Rand((1, 1, 300)), _taps(2, 100))),
            OpCase("taps_over_n", (Rand((2, 50)), _taps(3, 130))),
            OpCase("taps1000", (Rand((1, 640)), _taps(4, 1000))),
        ]

    def stream(self, node, s):
        """The block is convolved by UPOLS (see the module's docstring) when it has a divisor of at least
        MIN_PARTITION with no prime factor but 2, 3 and 5, directly through a ring of the last taps - 1 samples
        otherwise. The
        output starts with the input (no latency) and is zero wherever the input has not started yet."""
        t = s.time[node.inputs[0]]
        x, h = s.offline.tensors[node.inputs[0]], s.offline.tensors[node.inputs[1]]
        if t.axis != len(x.shape) - 1:
            raise self.refuse(node, f"cannot stream: time runs along axis {t.axis} of its input, not the last "
                                    f"axis {len(x.shape) - 1}")
        src, lag = s.from_start(node.inputs[0])
        block = s.frames(t)
        rows, taps = _rows(x.shape), h.shape[0]
        y = s.output(node.outputs[0], Time(t.axis, t.rate, lag))
        p = partition(block)
        if not p:
            span = taps - 1
            ring = s.state("ring", (rows * max(span, 1),))
            pos = s.state("pos", (1,), "int32")
            s.emit(Node("CausalFIRDirectStream", node.name, (src, node.inputs[1], ring, pos), (y, ring, pos), {},
                        DOMAIN))
            return
        spectra = partition_spectra(h.value, p)
        parts = spectra.shape[1]
        spec = s.constant(f"{node.name}::spectra", spectra.reshape(-1))
        tw = s.constant(f"{node.name}::twiddles", twiddles(p))
        history = s.state("history", (rows * p,))
        fdl = s.state("spectra", (rows * (p + 1) * parts * 2,))
        pos = s.state("pos", (1,), "int32")
        s.emit(Node("CausalFIRStream", node.name, (src, spec, tw, history, fdl, pos), (y, history, fdl, pos),
                    {"partition": p, "parts": parts}, DOMAIN))


class _Step(OpSpec):
    domain = DOMAIN
    kernel = "fir"
    stream_only = True

    def infer(self, node, inputs):
        raise self.refuse(node, "made by the streaming pass only")

    def dims(self, node, graph) -> tuple[int, int]:
        shape = graph.tensors[node.inputs[0]].shape
        return _rows(shape), shape[-1]


@register
class CausalFIRDirectStream(_Step):
    """CausalFIR one block at a time by direct convolution: the ring holds each row's last taps - 1 samples,
    the oldest at slot pos."""
    op_type = "CausalFIRDirectStream"
    cost_as = "CausalFIR"
    flash_inputs = (1,)

    def cost(self, node, graph):
        x, h = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        return Cost(x.size * h.size, x.nbytes + h.nbytes + graph.tensors[node.inputs[2]].nbytes,
                    x.nbytes + graph.tensors[node.inputs[2]].nbytes)

    def emit(self, node, graph, ctx):
        rows, n = self.dims(node, graph)
        taps = graph.tensors[node.inputs[1]].size
        return [KernelCall("dg_causal_fir_stream", (ctx.ptr(node.inputs[0]), ctx.ptr(node.inputs[1]),
                                                    ctx.ptr(node.outputs[0]), ctx.ptr(node.inputs[2]),
                                                    ctx.ptr(node.inputs[3]), str(rows), str(n), str(taps)))]


@register
class CausalFIRStream(_Step):
    """CausalFIR one block at a time by UPOLS. Its work is FFTs and spectral products, not taps * samples, so it
    has a cost of its own rather than the offline op's."""
    op_type = "CausalFIRStream"
    attributes = {"partition": 8, "parts": 1}
    flash_inputs = (1, 2)

    def scratch(self, node, graph):
        return [4 * node.attrs["partition"] + 2]     # the FFT's P complex values and the P + 1 output bins

    def cost(self, node, graph):
        """Per sub-block and row, the kernel streams through all K partitions' spectra and the K spectra of the
        delay line once each, reads the twiddles twice, and writes one spectrum and P samples of history."""
        rows, n = self.dims(node, graph)
        p, parts = node.attrs["partition"], node.attrs["parts"]
        runs = rows * (n // p)
        spectrum = 8 * (p + 1)
        tw = graph.tensors[node.inputs[2]].nbytes
        read = 4 * n * rows + runs * (2 * parts * spectrum + 2 * tw + 4 * p)
        written = 4 * n * rows + runs * (spectrum + 4 * p)
        return Cost(runs * upols_macs(p, parts), read, written)

    def emit(self, node, graph, ctx):
        rows, n = self.dims(node, graph)
        a = node.attrs
        return [KernelCall("dg_causal_fir_upols", (
            ctx.ptr(node.inputs[0]), ctx.ptr(node.inputs[1]), ctx.ptr(node.inputs[2]),
            ctx.table(radices(a["partition"])), ctx.ptr(node.outputs[0]),
            ctx.ptr(node.inputs[3]), ctx.ptr(node.inputs[4]), ctx.ptr(node.inputs[5]), ctx.scratch(node),
            str(rows), str(n), str(a["partition"]), str(a["parts"])))]
