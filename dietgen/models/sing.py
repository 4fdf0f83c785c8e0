"""SING (Defossez et al. 2018): an LSTM sequence generator over frames, driven by instrument, pitch, velocity
and time embeddings, and a convolutional decoder (a convolution over frames, 1x1 convolutions, then a
ConvTranspose1d with kernel 4x its stride) from the LSTM's per-frame latent to the waveform.

The decoder's first convolution is causal here (it sees the current and earlier frames) so the model streams
frame by frame with bounded state; the original centres it, which would need frames from the future."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from dietgen.control import Control
from dietgen.errors import DietgenError
from dietgen.models import architecture
from dietgen.models.base import PITCHES, VELOCITIES, AudioModel, crop_pair
from dietgen.models.losses import log_power_spectrogram_loss, multiscale_spectral_loss

NOTE_SAMPLES = 64000   # 4 s at 16 kHz: the time embedding covers one note


@architecture("sing")
class SING(AudioModel):
    family = "sing"
    stream_block = 1     # one frame (stride samples) per step
    presets = {
        # The paper's sizes: 3 x 1024 LSTM, embeddings 16/8/2/4, latent 128, decoder 4096 wide, stride 256.
        "paper": dict(hidden=1024, lstm_layers=3, latent=128, channels=4096, kernel=9, stride=256,
                      embed_instrument=16, embed_pitch=8, embed_velocity=2, embed_time=4),
        "small": dict(hidden=256, lstm_layers=2, latent=64, channels=512, kernel=9, stride=256),
        "tiny": dict(hidden=32, lstm_layers=1, latent=16, channels=32, kernel=3, stride=64, conv_layers=1),
    }

    def __init__(self, hidden: int = 1024, lstm_layers: int = 3, latent: int = 128, channels: int = 4096,
                 kernel: int = 9, stride: int = 256, conv_layers: int = 2, embed_instrument: int = 16,
                 embed_pitch: int = 8, embed_velocity: int = 2, embed_time: int = 4, num_instruments: int = 16,
                 loss: str = "spectral", export_frames: int = 8):
        super().__init__(hidden=hidden, lstm_layers=lstm_layers, latent=latent, channels=channels, kernel=kernel,
                         stride=stride, conv_layers=conv_layers, embed_instrument=embed_instrument,
                         embed_pitch=embed_pitch, embed_velocity=embed_velocity, embed_time=embed_time,
                         num_instruments=num_instruments, loss=loss, export_frames=export_frames)
        if loss not in ("spectral", "logpower"):
            raise DietgenError(f"loss={loss!r}: choose 'spectral' (multi-scale) or 'logpower' (SING's "
                               f"log-power MSE)")
        self.stride, self.kernel, self.num_instruments = stride, kernel, num_instruments
        self.max_frames = -(-NOTE_SAMPLES // stride)
        self.instrument = nn.Embedding(num_instruments, embed_instrument)
        self.pitch = nn.Embedding(PITCHES, embed_pitch)
        self.velocity = nn.Embedding(VELOCITIES, embed_velocity)
        self.time = nn.Embedding(self.max_frames, embed_time)
        self.lstm = nn.LSTM(embed_instrument + embed_pitch + embed_velocity + embed_time, hidden, lstm_layers,
                            batch_first=True)
        self.to_latent = nn.Linear(hidden, latent)
        self.conv = nn.Conv1d(latent, channels, kernel)
        self.pointwise = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(conv_layers))
        self.decoder = nn.ConvTranspose1d(channels, 1, 4 * stride, stride)

    # -- pieces shared by the offline, streaming and exported forms ----------------------------------------
    def note_embedding(self, instrument: Tensor, pitch: Tensor, velocity: Tensor) -> Tensor:
        return torch.cat([instrument, pitch, velocity], -1)

    def sequence(self, note: Tensor, time: Tensor, state=None):
        """note (B, E) and time embeddings (F, T) -> per-frame latents (B, F, latent) and the LSTM state."""
        frames = time.shape[0]
        x = torch.cat([note.unsqueeze(1).expand(-1, frames, -1), time.unsqueeze(0).expand(note.shape[0], -1, -1)],
                      -1)
        h, state = self.lstm(x, state)
        return self.to_latent(h), state

    def features(self, latents: Tensor) -> Tensor:
        """(B, latent, frames + kernel - 1) with the causal history in front -> decoder input (B, C, frames)."""
        h = torch.relu(self.conv(latents))
        for layer in self.pointwise:
            h = torch.relu(layer(h))
        return h

    def frames_for(self, samples: int) -> int:
        return -(-samples // self.stride)

    def synthesize(self, instrument: Tensor, pitch: Tensor, velocity: Tensor, frames: int) -> Tensor:
        """(B, frames * stride) audio for a note given its embeddings ((B, E) each)."""
        note = self.note_embedding(instrument, pitch, velocity)
        time = self.time.weight[torch.clamp(torch.arange(frames), max=self.max_frames - 1)]
        latents, _ = self.sequence(note, time)
        h = self.features(nn.functional.pad(latents.transpose(1, 2), (self.kernel - 1, 0)))
        return self.decoder(h)[:, 0, :frames * self.stride]

    def render(self, batch: dict[str, Tensor]) -> Tensor:
        frames = self.frames_for(batch["audio"].shape[-1])
        return self.synthesize(self.instrument(batch["instrument"]), self.pitch(batch["pitch"]),
                    self.velocity(batch["velocity"]), frames)

    # -- the AudioModel interface ---------------------------------------------------------------------------
    def loss(self, batch):
        pred, target = crop_pair(self.render(batch), batch["audio"])
        if self.config["loss"] == "logpower":
            return log_power_spectrogram_loss(pred, target)
        return multiscale_spectral_loss(pred, target)

    def generate(self, batch):
        with torch.no_grad():
            return self.render(batch)[:, :batch["audio"].shape[-1]]

    def export_module(self):
        return SINGExport(self), {"instrument": (1, self.num_instruments), "pitch": (1, PITCHES),
                                  "velocity": (1, VELOCITIES), "time": (1, self.config["export_frames"],
                                                                        self.max_frames)}

    def streaming(self):
        return SINGStream(self)

    def control(self):
        return Control({"instrument": "onehot_instrument", "pitch": "onehot_pitch", "velocity": "onehot_velocity",
                        "time": "onehot_frame"}, "audio", self.stride * self.stream_block, reset_per_note=True)

    def perform(self, performance, seed, temperature):
        """Each note rendered whole from its start (the time embedding counts frames since the note began),
        cut at its end; silence between notes (SING is not sampled: ``seed`` and ``temperature`` are unused)."""
        audio = torch.zeros(performance.samples)
        with torch.no_grad():
            for n in performance.notes:
                frames = n.off - n.on
                note = self.synthesize(self.instrument.weight[n.instrument][None], self.pitch.weight[n.pitch][None],
                                       self.velocity.weight[n.velocity][None], frames)[0]
                audio[n.on * self.stride:n.on * self.stride + note.shape[-1]] = note
        return audio


class SINGExport(nn.Module):
    """Frames of a note from one-hot instrument, pitch and velocity (one per note: float inputs, the embeddings
    become products with constant matrices) and, per frame, the one-hot of the frame's index since the note began
    (``time``, (1, frames, max_frames)): the time axis that streams, one frame (``stride`` samples) per step. The
    offline window is the note's first ``export_frames`` frames."""

    def __init__(self, model: SING):
        super().__init__()
        self.model = model

    def forward(self, instrument, pitch, velocity, time):
        m = self.model
        note = m.note_embedding(instrument @ m.instrument.weight, pitch @ m.pitch.weight,
                                velocity @ m.velocity.weight)
        times = time @ m.time.weight                                     # (1, frames, embed_time)
        # the note broadcast over the frames of the time input (so its frames stream with them)
        notes = note.unsqueeze(1) + 0.0 * times[..., :1]
        latents, _ = m.lstm(torch.cat([notes, times], -1))
        h = m.features(nn.functional.pad(m.to_latent(latents).transpose(1, 2), (m.kernel - 1, 0)))
        return m.decoder(h)[:, 0, :time.shape[1] * m.stride]


class SINGStream(nn.Module):
    """One block of frames at a time. State: the LSTM's hidden and cell states, the last kernel - 1 latents
    (the causal convolution's history) and the transposed convolution's overlap-add tail (3 * stride
    samples); the note embedding and the frame counter are fixed / advanced by the caller's slicing."""

    def __init__(self, model: SING):
        super().__init__()
        self.model = model
        self.note: Tensor | None = None

    def initial_state(self, batch: dict[str, Tensor]) -> tuple[Tensor, ...]:
        m = self.model
        self.note = m.note_embedding(m.instrument(batch["instrument"]), m.pitch(batch["pitch"]),
                                     m.velocity(batch["velocity"]))
        b = self.note.shape[0]
        layers, hidden = m.lstm.num_layers, m.lstm.hidden_size
        return (torch.zeros(layers, b, hidden), torch.zeros(layers, b, hidden),
                torch.zeros(b, m.to_latent.out_features, m.kernel - 1), torch.zeros(b, 3 * m.stride))

    def length(self, batch: dict[str, Tensor]) -> int:
        return self.model.frames_for(batch["audio"].shape[-1])

    def inputs(self, batch: dict[str, Tensor], start: int, stop: int) -> dict[str, Tensor]:
        stop = min(stop, self.length(batch))
        return {"frame_index": torch.clamp(torch.arange(start, stop), max=self.model.max_frames - 1)}

    def forward(self, block: dict[str, Tensor], state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        m = self.model
        h, c, history, tail = state
        latents, (h, c) = m.sequence(self.note, m.time(block["frame_index"]), (h, c))
        window = torch.cat([history, latents.transpose(1, 2)], -1)
        feats = m.features(window)
        # Overlap-add without the bias (it belongs once to each output sample, added when it is emitted).
        audio = nn.functional.conv_transpose1d(feats, m.decoder.weight, None, m.stride)[:, 0]
        audio = torch.cat([audio[:, :tail.shape[1]] + tail, audio[:, tail.shape[1]:]], -1)
        emitted = feats.shape[-1] * m.stride
        out = audio[:, :emitted] + m.decoder.bias
        return out, (h, c, window[..., window.shape[-1] - (m.kernel - 1):], audio[:, emitted:])
