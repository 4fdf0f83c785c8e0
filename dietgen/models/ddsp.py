"""DDSP (Engel et al. 2020): a frame-rate decoder from f0 and loudness to the controls of a harmonic-plus-noise
synthesizer. f0 and loudness each go through an MLP, a GRU reads both, and an MLP over the GRU's output (with
both inputs' features) feeds three heads: global amplitude, harmonic distribution, noise-filter bands. An
optional learned reverb (an impulse response of ``reverb`` samples) adds a wet path to the dry synthesis. With
``z`` > 0, an encoder (MFCCs, GRU, Linear) turns the audio into a per-frame latent z that conditions the decoder
too (DDSP's autoencoder); the exported decoder then takes z as a third input.

DDSP is conditioned on f0 and loudness only; ``num_instruments`` is accepted so every family builds from the
same dataset arguments."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from dietgen.control import Control
from dietgen.errors import DietgenError
from dietgen.models import architecture
from dietgen.models.base import HOP, AudioModel, crop_pair, f0_feature, loudness_feature
from dietgen.models.losses import multiscale_spectral_loss
from dietgen.models.synth import (NoiseState, exp_sigmoid, harmonic_amplitudes, harmonic_bank,
                                  impulse_response_matrix, noise_for, oscillators)


def mlp(width_in: int, width: int, layers: int) -> nn.Sequential:
    mods = []
    for i in range(layers):
        mods += [nn.Linear(width_in if i == 0 else width, width), nn.LayerNorm(width), nn.ReLU()]
    return nn.Sequential(*mods)


MFCC_FFT = 1024
MEL_BANDS = 64


def mfcc_matrices(sample_rate: int, n_fft: int, mfccs: int) -> tuple[Tensor, Tensor]:
    """The mel filterbank (power bins -> MEL_BANDS triangular bands, 20 Hz to Nyquist) and the orthonormal
    DCT-II from log-mel bands to the first ``mfccs`` cepstral coefficients."""
    if mfccs > MEL_BANDS:
        raise DietgenError(f"mfccs={mfccs}: at most {MEL_BANDS} (the mel bands)")
    bins = n_fft // 2 + 1
    top_mel = 2595.0 * np.log10(1.0 + sample_rate / 2 / 700.0)
    bottom_mel = 2595.0 * np.log10(1.0 + 20.0 / 700.0)
    edges_hz = 700.0 * (10 ** (np.linspace(bottom_mel, top_mel, MEL_BANDS + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0, sample_rate / 2, bins)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    bank = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))).T    # (bins, bands)
    n, k = np.arange(MEL_BANDS)[:, None], np.arange(MEL_BANDS)[None, :]
    dct = np.cos(np.pi * (n + 0.5) * k / MEL_BANDS) * np.sqrt(2.0 / MEL_BANDS)
    dct[:, 0] /= np.sqrt(2.0)
    return torch.from_numpy(bank.astype(np.float32)), torch.from_numpy(dct[:, :mfccs].astype(np.float32))


@architecture("ddsp")
class DDSP(AudioModel):
    family = "ddsp"
    stream_block = 1     # one frame (hop samples of audio) per step
    presets = {
        "paper": dict(hidden=512, mlp_layers=3, gru=512, harmonics=100, bands=81, reverb=16000),  # about 4.6 M
        "small": dict(hidden=128, mlp_layers=2, gru=128, harmonics=60, bands=65, reverb=4000),
        "tiny": dict(hidden=16, mlp_layers=1, gru=16, harmonics=16, bands=17),
    }

    def __init__(self, hidden: int = 512, mlp_layers: int = 3, gru: int = 512, harmonics: int = 100,
                 bands: int = 81, reverb: int = 0, z: int = 0, mfccs: int = 30, hop: int = HOP,
                 seed: int = 20201, export_frames: int = 8, num_instruments: int = 1):
        super().__init__(hidden=hidden, mlp_layers=mlp_layers, gru=gru, harmonics=harmonics, bands=bands,
                         reverb=reverb, z=z, mfccs=mfccs, hop=hop, seed=seed, export_frames=export_frames,
                         num_instruments=num_instruments)
        if bands < 2:
            raise DietgenError(f"bands={bands}: the noise filter needs at least 2 bands")
        self.hop, self.seed, self.harmonics = hop, seed, harmonics
        self.f0_mlp = mlp(1, hidden, mlp_layers)
        self.loudness_mlp = mlp(1, hidden, mlp_layers)
        inputs = 3 if z else 2
        if z:
            mel, dct = mfcc_matrices(self.sample_rate, MFCC_FFT, mfccs)
            self.register_buffer("mel", mel, persistent=False)
            self.register_buffer("dct", dct, persistent=False)
            self.encoder_norm = nn.LayerNorm(mfccs)
            self.encoder_gru = nn.GRU(mfccs, hidden, batch_first=True)
            self.encoder_out = nn.Linear(hidden, z)
            self.z_mlp = mlp(z, hidden, mlp_layers)
        self.gru = nn.GRU(inputs * hidden, gru, batch_first=True)
        self.out_mlp = mlp(gru + inputs * hidden, hidden, mlp_layers)
        self.amplitude = nn.Linear(hidden, 1)
        self.distribution = nn.Linear(hidden, harmonics)
        self.noise = nn.Linear(hidden, bands)
        self.register_buffer("ir_matrix", impulse_response_matrix(bands), persistent=False)
        # A faint decaying tail to start from: silence would give the reverb no gradient to grow from.
        decay = torch.exp(-torch.arange(reverb) / (0.1 * self.sample_rate))
        self.reverb = nn.Parameter(1e-3 * torch.randn(reverb) * decay) if reverb else None

    # -- the network: frame-rate controls --------------------------------------------------------------------
    def encode(self, audio: Tensor, frames: int) -> Tensor:
        """(B, N) audio -> per-frame latent z (B, frames, z): MFCCs of centred frames, normalised, GRU, Linear."""
        audio = nn.functional.pad(audio, (0, max(0, frames * self.hop - audio.shape[-1])))   # a shortened note
        window = torch.hann_window(MFCC_FFT, device=audio.device, dtype=audio.dtype)
        spec = torch.stft(audio, MFCC_FFT, hop_length=self.hop, window=window, center=True, pad_mode="constant",
                          return_complex=True).abs() ** 2
        mfcc = torch.log(spec.transpose(1, 2)[:, :frames] @ self.mel + 1e-6) @ self.dct
        h, _ = self.encoder_gru(self.encoder_norm(mfcc))
        return self.encoder_out(h)

    def latent(self, batch: dict[str, Tensor]) -> Tensor | None:
        return self.encode(batch["audio"], batch["f0"].shape[-1]) if self.config["z"] else None

    def controls(self, f0: Tensor, loudness: Tensor, z: Tensor | None = None, gru_state: Tensor | None = None):
        """(harmonic amplitudes (B, F, H), noise impulse responses (B, F, taps), GRU state)."""
        features = [self.f0_mlp(f0_feature(f0).unsqueeze(-1)),
                    self.loudness_mlp(loudness_feature(loudness).unsqueeze(-1))]
        if z is not None:
            features.append(self.z_mlp(z))
        h, state = self.gru(torch.cat(features, -1), gru_state)
        h = self.out_mlp(torch.cat([h, *features], -1))
        amps = harmonic_amplitudes(exp_sigmoid(self.amplitude(h)), exp_sigmoid(self.distribution(h)), f0,
                                   self.sample_rate)
        magnitudes = exp_sigmoid(self.noise(h) - 5.0)    # DDSP's offset: start quiet, let training add noise
        return amps, magnitudes @ self.ir_matrix, state

    def synthesize(self, f0: Tensor, loudness: Tensor, z: Tensor | None = None) -> Tensor:
        """(B, F * hop) audio for f0 and loudness (B, F) (and z (B, F, z) when the model has one)."""
        amps, ir, _ = self.controls(f0, loudness, z)
        phase0 = torch.zeros(f0.shape[0], dtype=torch.float64, device=f0.device)
        harmonic, _ = oscillators(phase0, f0, amps, torch.zeros_like(amps[:, 0]), self.hop, self.sample_rate)
        return self.reverberate(harmonic + noise_for(ir, self.hop, self.seed))

    def reverberate(self, dry: Tensor) -> Tensor:
        """dry + dry convolved with the learned impulse response (causal, cut to the dry length); by FFT, since
        the response is long."""
        if self.reverb is None:
            return dry
        n = dry.shape[-1] + self.reverb.shape[0] - 1
        wet = torch.fft.irfft(torch.fft.rfft(dry.double(), n) * torch.fft.rfft(self.reverb.double(), n), n)
        return dry + wet[..., :dry.shape[-1]].to(dry.dtype)

    # -- the AudioModel interface ---------------------------------------------------------------------------
    def loss(self, batch):
        pred, target = crop_pair(self.synthesize(batch["f0"], batch["loudness"], self.latent(batch)), batch["audio"])
        return multiscale_spectral_loss(pred, target)

    def generate(self, batch):
        """The note's audio, cut to batch["audio"]'s length when there is one."""
        with torch.no_grad():
            audio = self.synthesize(batch["f0"], batch["loudness"], self.latent(batch))
        return audio[:, :batch["audio"].shape[-1]] if "audio" in batch else audio

    def export_module(self):
        frames = self.config["export_frames"]
        shapes = {"f0": (1, frames), "loudness": (1, frames)}
        if self.config["z"]:
            shapes["z"] = (1, frames, self.config["z"])
        return DDSPExport(self), shapes

    def streaming(self):
        return DDSPStream(self)

    def control(self):
        # f0 and loudness frame by frame; the encoder's z comes from audio, so a model with one has no note role
        # for it and is refused by the player.
        reverb = 0 if self.reverb is None else self.reverb.shape[0]
        return Control({"f0": "f0_hz", "loudness": "loudness_db"}, "audio", self.hop * self.stream_block,
                       reset_per_note=False, tail_seconds=reverb / self.sample_rate)

    def perform(self, performance, seed, temperature):
        """The phrase through the offline synthesizer (the noise is the model's own seeded stream: ``seed`` and
        ``temperature`` are for sampled models)."""
        f0 = torch.from_numpy(performance.inputs["f0"][:, 0])[None]
        loudness = torch.from_numpy(performance.inputs["loudness"][:, 0])[None]
        with torch.no_grad():
            return self.synthesize(f0, loudness)[0]


class DDSPExport(nn.Module):
    """The whole note: the network in float32 ops the frontend supports, the oscillator bank as dietgen::Harmonic
    and the noise as dietgen::NoiseFIR (synthesis ops whose streamed C carries phase and tails)."""

    def __init__(self, model: DDSP):
        super().__init__()
        self.model = model

    def forward(self, f0: Tensor, loudness: Tensor, z: Tensor | None = None) -> Tensor:
        m, hop, sr = self.model, self.model.hop, self.model.sample_rate
        amps, ir, _ = m.controls(f0, loudness, z)
        harmonic = harmonic_bank(f0, amps, hop, sr)
        if torch.onnx.is_in_onnx_export():
            noise = torch.onnx.ops.symbolic("dietgen::NoiseFIR", (ir,), {"hop": hop, "seed": m.seed},
                                            dtype=torch.float32, shape=(f0.shape[0], f0.shape[1] * hop),
                                            version=1)
        else:
            noise = noise_for(ir, hop, m.seed)
        dry = harmonic + noise
        if m.reverb is None:
            return dry
        if torch.onnx.is_in_onnx_export():
            # dietgen::CausalFIR: streamed by partitioned FFT convolution, so the learned response costs a
            # fraction of its length per sample
            return dry + torch.onnx.ops.symbolic("dietgen::CausalFIR", (dry, m.reverb), {}, dtype=torch.float32,
                                                 shape=tuple(dry.shape), version=1)
        return m.reverberate(dry)


class DDSPStream(nn.Module):
    """One block of frames at a time. State: GRU hidden state, oscillator phase (float64 cycles), the last
    frame's harmonic amplitudes, the noise generator's state and its last taps - 1 draws, and the reverb's
    input history (its last reverb - 1 dry samples). The encoder's z is computed from the note when the state
    is made (the decoder is what streams)."""

    def __init__(self, model: DDSP):
        super().__init__()
        self.model = model
        self.z: Tensor | None = None

    def initial_state(self, batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
        m = self.model
        b = batch["f0"].shape[0]
        rng, history = NoiseState.initial(m.seed, m.ir_matrix.shape[1])
        self.z = m.latent(batch)
        reverb = 0 if m.reverb is None else m.reverb.shape[0]
        return (torch.zeros(1, b, m.gru.hidden_size), torch.zeros(b, dtype=torch.float64),
                torch.zeros(b, m.harmonics), rng, history, torch.zeros(b, max(reverb - 1, 0)))

    @staticmethod
    def length(batch: dict[str, Tensor]) -> int:
        return batch["f0"].shape[-1]

    def inputs(self, batch: dict[str, Tensor], start: int, stop: int) -> dict[str, Tensor]:
        block = {"f0": batch["f0"][:, start:stop], "loudness": batch["loudness"][:, start:stop]}
        if self.z is not None:
            block["z"] = self.z[:, start:stop]
        return block

    def forward(self, block: dict[str, Tensor], state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        m = self.model
        gru_state, phase, prev_amps, rng, history, dry_history = state
        amps, ir, gru_state = m.controls(block["f0"], block["loudness"], block.get("z"), gru_state)
        harmonic, phase = oscillators(phase, block["f0"], amps, prev_amps, m.hop, m.sample_rate)
        noise, rng, history = NoiseState.step(ir, rng, history, m.hop)
        out = dry = harmonic + noise
        if m.reverb is not None:
            window = torch.cat([dry_history, dry], -1)
            out = dry + nn.functional.conv1d(window.unsqueeze(1), m.reverb.flip(0).view(1, 1, -1))[:, 0]
            dry_history = window[:, window.shape[-1] - dry_history.shape[-1]:]
        return out, (gru_state, phase, amps[:, -1], rng, history, dry_history)
