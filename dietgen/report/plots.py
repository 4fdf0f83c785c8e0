"""Figures as PNG bytes (matplotlib with the Agg backend: no display needed)."""
from __future__ import annotations

import io

import numpy as np


def blank_figure(width: float, height: float):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100)


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    # A fixed creation date in the metadata keeps the same figure the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


SPECTROGRAM_DB_RANGE = (-100.0, 0.0)


def log_spectrogram_db(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """(frequency bins, frames) magnitude in dB re full scale of a Hann-windowed STFT, floored at -100 dB.

    Each frame's spectrum is divided by half the window's sum, so a sine of amplitude 1.0 centred on a bin reads
    0 dB (between bins down to about -1.4 dB, Hann's scalloping loss) and amplitude A reads 20 log10 A: the
    scale is absolute, the same for every signal and every plot."""
    audio = np.asarray(audio, dtype=np.float64)
    audio = np.pad(audio, (0, max(0, n_fft - len(audio))))
    frames = 1 + (len(audio) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = np.hanning(n_fft)
    spectrum = np.abs(np.fft.rfft(audio[index] * window, axis=1)).T / (window.sum() / 2.0)
    return 20.0 * np.log10(np.maximum(spectrum, 10.0 ** (SPECTROGRAM_DB_RANGE[0] / 20.0)))


def spectrogram_figure(a: np.ndarray, b: np.ndarray, sample_rate: int, labels: tuple[str, str], title: str):
    """Two spectrograms side by side on the fixed -100..0 dB scale of ``log_spectrogram_db``, one colorbar,
    time in seconds, frequency in kHz: the matplotlib Figure, for callers that inspect or restyle it."""
    figure = blank_figure(10, 3.6)
    # Constrained layout keeps the suptitle, panel titles, axis labels and colorbar from overlapping.
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, 2, sharex=True, sharey=True)
    low, high = SPECTROGRAM_DB_RANGE
    for ax, audio, label in zip(axes, (a, b), labels):
        image = ax.imshow(log_spectrogram_db(audio), origin="lower", aspect="auto", cmap="magma", vmin=low,
                          vmax=high, extent=(0, len(audio) / sample_rate, 0, sample_rate / 2000))
        ax.set_title(label)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    figure.colorbar(image, ax=list(axes), label="dB re full scale")
    figure.suptitle(title)
    return figure


def spectrogram_compare_png(a: np.ndarray, b: np.ndarray, sample_rate: int,
                            labels: tuple[str, str] = ("generated C", "PyTorch"), title: str = "") -> bytes:
    """``a`` beside ``b`` (by default the generated program's audio beside PyTorch's), on one fixed dB scale."""
    return png_bytes(spectrogram_figure(a, b, sample_rate, labels, title))


def spectrogram_pair_png(reference: np.ndarray, generated: np.ndarray, sample_rate: int, title: str) -> bytes:
    """The reference note's spectrogram beside the generated one, on one fixed dB scale."""
    return spectrogram_compare_png(reference, generated, sample_rate, ("reference", "generated"), title)


def loss_curve_png(history: list[dict], best_epoch: int) -> bytes:
    """Training and validation loss per epoch, the kept (best-validation) epoch marked."""
    figure = blank_figure(6, 3.6)
    ax = figure.subplots()
    trained = [h for h in history if h["train_loss"] is not None]
    ax.plot([h["epoch"] for h in trained], [h["train_loss"] for h in trained], label="train")
    ax.plot([h["epoch"] for h in history], [h["valid_loss"] for h in history], label="valid")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    figure.tight_layout()
    return png_bytes(figure)


COMPRESSION_TICKS = (1, 2, 5, 10, 20, 50, 100)


def compression_png(runs: list[tuple[str, list[dict]]]) -> bytes:
    """Normalised test loss against compression ratio (log axis, the paper's ticks), one line per (label, trim
    run documents) in ``runs``: one run as it is; several (seeds of one configuration) as their mean over the
    rounds all of them finished, with the min-max band shaded. The dense model's level dashed at 1."""
    figure = blank_figure(6.4, 4)
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
    return png_bytes(figure)


def board_fit_figure(runs: list[tuple[str, dict]]):
    """For each board the trim runs (label, trim.json document) in ``runs`` aim at, one row of two plots:
    normalised test loss against the real-time factor and against RAM, a line per run naming the board (a point
    per round), with the budget lines (the --rtf margin, the RAM limit less the headroom, dashed red) and each
    run's first round that fits the board starred: the matplotlib Figure, for callers that inspect it. One run
    is a run's report (boards.png); several compare selections on the same boards (docs/results.md)."""
    boards = list(dict.fromkeys(b for _, doc in runs for b in doc["settings"]["boards"]))
    figure = blank_figure(10, 3.4 * len(boards))
    axes = figure.subplots(len(boards), 2, squeeze=False)
    for (ax_time, ax_ram), board in zip(axes, boards):
        aiming = [(label, doc) for label, doc in runs if board in doc["settings"]["boards"]]
        # The RAM limit is the bank's that holds the arena, which a smaller model may change: the line is the
        # first run's first fitting round's (else its last round's).
        reference = _fit_reference(aiming[0][1], board)
        headroom = aiming[0][1]["settings"].get("headroom_ram", 0.0)
        for ax, limit, limit_label, xlabel in (
                (ax_time, reference["rtf_limit"], f"real-time factor {reference['rtf_limit']:.3g}",
                 "real-time factor (time per block / deadline)"),
                (ax_ram, reference["ram_limit"] / 1024,
                 "RAM limit" + (f" less {headroom:g} % headroom" if headroom else ""), "RAM used (KiB)")):
            drawn = [_draw_fit(ax, label, doc, board, time=ax is ax_time, named=len(aiming) > 1)
                     for label, doc in aiming]
            if not any(drawn):
                ax.text(0.5, 0.5, f"no time estimate for {board}", ha="center", va="center",
                        transform=ax.transAxes)
            ax.axvline(limit, color="tab:red", linestyle="--", label=limit_label)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("test loss / dense test loss")
            ax.set_title(f"{board}: {'time' if ax is ax_time else 'RAM'}", fontsize="medium")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _first_fit(doc: dict, board: str) -> int | None:
    """The index of the first round of ``doc`` that fits ``board``; None when none does."""
    return next((n for n, r in enumerate(doc["rounds"]) if r["boards"][board]["fits"]), None)


def _fit_reference(doc: dict, board: str) -> dict:
    first = _first_fit(doc, board)
    return doc["rounds"][-1 if first is None else first]["boards"][board]


def _draw_fit(ax, label: str, doc: dict, board: str, time: bool, named: bool) -> bool:
    """One run's rounds on ``board``: its line with the round numbers and its first fit starred in the line's
    colour (the star names the run when ``named``: several share the plot); False when no round has the figure
    (time unknown on that core)."""
    rounds = doc["rounds"]
    fits = [r["boards"][board] for r in rounds]
    xs = [f["real_time_factor"] if time else f["ram_used"] / 1024 for f in fits]
    shown = [n for n, x in enumerate(xs) if x is not None]
    if not shown:
        return False
    loss = [r["normalised_loss"] for r in rounds]
    line, = ax.plot([xs[n] for n in shown], [loss[n] for n in shown], marker="o", label=label)
    for n in shown:
        ax.annotate(str(rounds[n]["round"]), (xs[n], loss[n]), textcoords="offset points", xytext=(4, 4),
                    fontsize="small")
    first = _first_fit(doc, board)
    if first is not None and first in shown:
        ax.plot([xs[first]], [loss[first]], marker="*", markersize=16, linestyle="none",
                color=line.get_color(), markeredgecolor="black",
                label=f"round {rounds[first]['round']}: first fit" + (f", {label}" if named else ""))
    return True


def board_fit_png(runs: list[tuple[str, dict]]) -> bytes:
    """``board_fit_figure`` as PNG bytes."""
    return png_bytes(board_fit_figure(runs))
