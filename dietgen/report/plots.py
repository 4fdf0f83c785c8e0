"""Figures as PNG bytes (matplotlib with the Agg backend: no display needed)."""
from __future__ import annotations

import io

import numpy as np


def _figure(width: float, height: float):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # A fixed creation date in the metadata keeps the same figure the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def log_spectrogram_db(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """(frequency bins, frames) magnitude in dB of a Hann-windowed STFT, floored 100 dB below 1."""
    audio = np.asarray(audio, dtype=np.float64)
    audio = np.pad(audio, (0, max(0, n_fft - len(audio))))
    frames = 1 + (len(audio) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spectrum = np.abs(np.fft.rfft(audio[index] * np.hanning(n_fft), axis=1)).T
    return 20.0 * np.log10(np.maximum(spectrum, 1e-5))


def spectrogram_pair_png(reference: np.ndarray, generated: np.ndarray, sample_rate: int, title: str) -> bytes:
    """The reference note's spectrogram beside the generated one, on one colour scale."""
    figure = _figure(10, 3.6)
    axes = figure.subplots(1, 2, sharey=True)
    spectra = [log_spectrogram_db(reference), log_spectrogram_db(generated)]
    top = max(s.max() for s in spectra)
    for ax, spectrum, label, audio in zip(axes, spectra, ("reference", "generated"), (reference, generated)):
        image = ax.imshow(spectrum, origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
                          extent=(0, len(audio) / sample_rate, 0, sample_rate / 2000))
        ax.set_title(label)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    figure.colorbar(image, ax=list(axes), label="dB")
    figure.suptitle(title)
    return _png(figure)


def loss_curve_png(history: list[dict], best_epoch: int) -> bytes:
    """Training and validation loss per epoch, the kept (best-validation) epoch marked."""
    figure = _figure(6, 3.6)
    ax = figure.subplots()
    trained = [h for h in history if h["train_loss"] is not None]
    ax.plot([h["epoch"] for h in trained], [h["train_loss"] for h in trained], label="train")
    ax.plot([h["epoch"] for h in history], [h["valid_loss"] for h in history], label="valid")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    figure.tight_layout()
    return _png(figure)


COMPRESSION_TICKS = (1, 2, 5, 10, 20, 50, 100)


def compression_png(runs: list[tuple[str, list[dict]]]) -> bytes:
    """Normalised test loss against compression ratio (log axis, the paper's ticks), one line per (label, trim
    run documents) in ``runs``: one run as it is; several (seeds of one configuration) as their mean over the
    rounds all of them finished, with the min-max band shaded. The dense model's level dashed at 1."""
    figure = _figure(6.4, 4)
    ax = figure.subplots()
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="dense")
    for label, docs in runs:
        rounds = min(len(doc["rounds"]) for doc in docs)
        compression = np.array([[r["compression"] for r in doc["rounds"][:rounds]] for doc in docs])
        loss = np.array([[r["normalised_loss"] for r in doc["rounds"][:rounds]] for doc in docs])
        line, = ax.plot(compression.mean(0), loss.mean(0), marker="o", label=label)
        if len(docs) > 1:
            ax.fill_between(compression.mean(0), loss.min(0), loss.max(0), color=line.get_color(), alpha=0.2)
    # Past 100x (the paper's range) the axis grows with the data rather than cutting a run off.
    largest = max([r["compression"] for _, docs in runs for doc in docs for r in doc["rounds"]]
                  + [COMPRESSION_TICKS[-1]])
    ax.set_xscale("log")
    ax.set_xlim(0.9, largest * 1.1)
    ax.set_xticks(list(COMPRESSION_TICKS), [f"{t}x" for t in COMPRESSION_TICKS])
    ax.minorticks_off()
    ax.set_xlabel("compression ratio (dense parameters / parameters)")
    ax.set_ylabel("test loss / dense test loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    figure.tight_layout()
    return _png(figure)
