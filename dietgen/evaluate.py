"""Evaluating a training run on its test split: the test loss, the multi-scale spectral distance between
generated and reference notes, loudness and f0 errors of the generated notes, example WAVs and spectrograms."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from dietgen import models
from dietgen.data.dataset import Dataset
from dietgen.data.features import a_weighted_loudness, estimate_f0, hz_to_cents, midi_to_hz
from dietgen.data.wav import wav_bytes
from dietgen.errors import DietgenError
from dietgen.models.base import HOP, AudioModel
from dietgen.models.losses import multiscale_spectral_loss
from dietgen.output import write_tree
from dietgen.report.plots import spectrogram_pair_png
from dietgen.train import batch_to, mean_loss, pick_device

METRICS = "metrics.json"


def _example_metrics(reference: torch.Tensor, generated: torch.Tensor, pitch: int, sample_rate: int) -> dict:
    n = min(reference.shape[-1], generated.shape[-1])
    reference, generated = reference[:n], generated[:n]
    loudness = a_weighted_loudness(torch.stack([reference, generated]), sample_rate)
    estimate = estimate_f0(generated.numpy(), sample_rate)
    return {"spectral_distance": float(multiscale_spectral_loss(generated[None], reference[None])),
            "loudness_error_db": float((loudness[0] - loudness[1]).abs().mean()),
            "f0_error_cents": None if estimate is None else
            abs(hz_to_cents(estimate, float(midi_to_hz(pitch))))}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def evaluate(run_dir, *, data_dir=None, out_dir=None, examples: int = 4, seconds: float | None = None,
             batch_size: int = 8, device: str | None = None, force: bool = False,
             progress: Callable[[Iterable, str], Iterable] = lambda items, label: items) -> dict:
    """Evaluate the checkpoint in ``run_dir`` on the test split of its training data (or ``data_dir``); writes
    the example WAVs, spectrogram PNGs and metrics.json to ``out_dir`` (default RUN/eval) and returns the
    metrics. ``seconds`` shortens the generated examples (autoregressive WaveNet is slow in Python)."""
    run_dir = Path(run_dir)
    model, document = models.load_checkpoint(run_dir)
    if not isinstance(model, AudioModel):
        raise DietgenError(f"{run_dir}: a {document['architecture']!r} checkpoint; evaluate takes a run of "
                           f"`dietgen train` (a wavenet, sing or ddsp model)")
    training = document.get("training") or {}
    data_dir = data_dir or training.get("data")
    if data_dir is None:
        raise DietgenError(f"{run_dir}: the checkpoint does not name its data; pass --data DIR")
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "eval"
    if out_dir.exists() and not force:
        raise DietgenError(f"{out_dir}: already exists; choose another folder or pass --force to replace it")
    if examples < 1:
        raise DietgenError(f"examples {examples}: give a positive number")
    dataset = Dataset(data_dir, model.sample_rate)
    instruments = training.get("instruments", dataset.instruments)
    device_ = pick_device(device)
    model.to(device_)
    loader = dataset.loader("test", batch_size, instruments=instruments)
    test_loss = mean_loss(model, progress(loader, "test loss"), device_)

    # Examples spread evenly over the test notes, so several instruments and pitches show up.
    test_set = loader.dataset
    chosen = sorted(set(np.linspace(0, len(test_set) - 1, min(examples, len(test_set))).round().astype(int)))
    samples = None if seconds is None else max(HOP, int(seconds * model.sample_rate) // HOP * HOP)
    files: dict[str, str | bytes] = {}
    rows = []
    for index in progress(chosen, "generating"):
        item = test_set[int(index)]
        batch = {k: v[None] for k, v in item.items()}
        if samples is not None:
            batch["audio"] = batch["audio"][:, :samples]
            batch["f0"], batch["loudness"] = batch["f0"][:, :samples // HOP], batch["loudness"][:, :samples // HOP]
        with torch.no_grad():
            generated = model.generate(batch_to(batch, device_))[0].float().cpu()
        reference = batch["audio"][0]
        name = test_set.notes[int(index)].name
        row = {"note": name, **_example_metrics(reference, generated, int(item["pitch"]), model.sample_rate)}
        rows.append(row)
        files[f"{name}_reference.wav"] = wav_bytes(reference.numpy(), model.sample_rate)
        files[f"{name}_generated.wav"] = wav_bytes(generated.numpy(), model.sample_rate)
        files[f"{name}.png"] = spectrogram_pair_png(reference.numpy(), generated.numpy(), model.sample_rate,
                                                    f"{document['architecture']} {training.get('preset', '')}: "
                                                    f"{name}")
    metrics = {"run": str(run_dir), "family": document["architecture"], "preset": training.get("preset"),
               "epoch": training.get("epoch"), "parameters": sum(p.numel() for p in model.parameters()),
               "data": str(data_dir), "test_notes": len(test_set), "test_loss": test_loss,
               "spectral_distance": _mean(r["spectral_distance"] for r in rows),
               "loudness_error_db": _mean(r["loudness_error_db"] for r in rows),
               "f0_error_cents": _mean(r["f0_error_cents"] for r in rows),
               "f0_unpitched": sum(r["f0_error_cents"] is None for r in rows), "examples": rows}
    if not math.isfinite(test_loss):
        raise DietgenError(f"{run_dir}: the test loss is {test_loss}; the checkpoint's weights are not usable")
    files[METRICS] = json.dumps(metrics, indent=2) + "\n"
    write_tree(files, out_dir, force=force)
    return metrics
