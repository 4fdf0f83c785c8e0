"""Training a dietgen.models family on a rendered dataset or an NSynth copy.

Adam with weight decay, ReduceLROnPlateau on the validation loss, early stopping, and the best-validation model
kept as a checkpoint in the run folder (config.json + model.safetensors, nothing pickled). The checkpoint is
written to a temporary folder and renamed into place with Ctrl-C held back for the two renames, so an
interrupted run always leaves the last good checkpoint whole. The untrained model is checkpoint 0, so a run
folder always holds one."""
from __future__ import annotations

import inspect
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from dietgen import distributed, models
from dietgen.control import describe_notes
from dietgen.data.dataset import Dataset
from dietgen.errors import DietgenError
from dietgen.output import replace_files_atomically
from dietgen.models.base import HOP, AudioModel, build

HISTORY = "train.json"
MAX_GRAD_NORM = 1.0   # the recurrent families (SING's LSTM, DDSP's GRU) otherwise spike early in training


@dataclass
class TrainResult:
    run_dir: Path
    initial_valid: float
    best_valid: float
    best_epoch: int
    stopped: str
    model: AudioModel   # holding the best-validation weights, in eval mode
    history: list[dict] = field(default_factory=list)


def pick_device(device: str | None) -> torch.device:
    """The given device, else CUDA when present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise DietgenError(f"device {device!r}: give cpu, cuda or cuda:N")
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise DietgenError(f"device {device!r}: no CUDA device here; use --device cpu")
    return chosen


def batch_to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def mean_loss(model: AudioModel, loader, device: torch.device) -> float:
    """The loss averaged over every example of ``loader`` (batches weighted by their size)."""
    total, count = _loss_sums(model, loader, device)
    return total / count


def _loss_sums(model: AudioModel, loader, device: torch.device) -> tuple[float, int]:
    """(sum of the per-example losses, examples) over ``loader``."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            n = batch["audio"].shape[0]
            total += float(model.loss(batch_to(batch, device))) * n
            count += n
    return total, count


def _shared_mean_loss(model: AudioModel, loader, device: torch.device) -> float:
    """mean_loss over the examples of every rank's shard of the split."""
    total, count = distributed.all_sum(list(_loss_sums(model, loader, device)), device)
    return total / count


def build_for_data(family: str, preset: str, instruments: int, overrides: dict[str, Any] | None = None):
    """``build`` with the dataset's instrument count for families conditioned on the instrument."""
    overrides = dict(overrides or {})
    known = models.base.families()
    if family in known and "num_instruments" in inspect.signature(known[family]).parameters:
        overrides.setdefault("num_instruments", instruments)
    return build(family, preset, **overrides)


def save_run_checkpoint(model: AudioModel, run_dir: Path, training: dict) -> None:
    inputs = {name: list(shape) for name, shape in model.export_module()[1].items()}
    # Weights first: the config names the epoch, so it lands last.
    replace_files_atomically(lambda tmp: models.save_checkpoint(model, tmp, model.family, model.config, inputs,
                                                           training=training),
                        ["model.safetensors", "config.json"], run_dir)


def _prepare_run_dir(out_dir, force: bool) -> Path:
    run_dir = Path(out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DietgenError(f"{run_dir}: exists and is not a folder; choose a folder for the run")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not force:
            raise DietgenError(f"{run_dir}: already exists; choose another folder or pass --force to replace it")
        shutil.rmtree(run_dir)   # a stale eval/ or loss curve must not pass for the new run's
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DietgenError(f"{run_dir}: cannot write there ({exc.strerror}); choose a writable folder")
    return run_dir


def train(family: str, preset: str, data_dir, out_dir, *, epochs: int = 100, batch_size: int = 16,
          lr: float = 1e-3, weight_decay: float = 1e-4, patience: int = 10, crop: int | None = None,
          seed: int = 0, device: str | None = None, time_limit: float | None = None,
          overrides: dict[str, Any] | None = None, force: bool = False,
          progress: Callable[[Iterable, str], Iterable] = lambda items, label: items,
          on_epoch: Callable[[dict], None] = lambda record: None) -> TrainResult:
    """Train ``family`` at ``preset`` on ``data_dir``; the best-validation checkpoint goes to ``out_dir``.

    ``crop`` (samples) trains and validates on frame-aligned excerpts; ``time_limit`` (minutes) stops after the
    epoch that passes it; ``progress(batches, label)`` wraps each epoch's batches (a progress bar);
    ``on_epoch`` receives each epoch's record. Under torchrun the processes train one model data-parallel
    (``batch_size`` per process; dietgen.distributed), and only rank 0 writes, calls ``progress`` and
    ``on_epoch``."""
    check_training_numbers(epochs=epochs, batch_size=batch_size, patience=patience)
    device_ = distributed.local_device(pick_device(device))
    with distributed.session(device_):
        torch.manual_seed(seed)
        dataset = Dataset(data_dir)
        model = build_for_data(family, preset, len(dataset.instruments), overrides)
        run_dir = distributed.from_main(lambda: _prepare_run_dir(out_dir, force))
        settings = {"family": family, "preset": preset, "data": str(data_dir),
                    "instruments": dataset.instruments, "note_samples": dataset.note_samples, "crop": crop,
                    "epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                    "patience": patience, "seed": seed, "overrides": dict(overrides or {}),
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "notes": describe_notes(dataset, HOP)}     # how dietgen generate plays the model
        if not distributed.is_main():
            progress, on_epoch = (lambda items, label: items), (lambda record: None)
        return fit(model, dataset, run_dir, settings, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, patience=patience, crop=crop, seed=seed, device=str(device_),
                   time_limit=time_limit, progress=progress, on_epoch=on_epoch)


def check_training_numbers(**numbers: int) -> None:
    """Each count (epochs, batch_size, patience, ...) must be positive."""
    for name, value in numbers.items():
        if value < 1:
            raise DietgenError(f"{name.replace('_', ' ')} {value}: give a positive number")


def fit(model: AudioModel, dataset: Dataset, run_dir: Path, settings: dict, *, epochs: int, batch_size: int,
        lr: float, weight_decay: float, patience: int, crop: int | None, seed: int, device: str | None,
        time_limit: float | None, progress: Callable[[Iterable, str], Iterable],
        on_epoch: Callable[[dict], None],
        after_step: Callable[[AudioModel], None] | None = None) -> TrainResult:
    """Train ``model`` in place with a fresh Adam, ReduceLROnPlateau and early stopping; the best-validation
    checkpoint is kept in the existing folder ``run_dir`` (with ``settings`` as its training record, beside
    train.json and loss.png) and its weights are back in ``model`` (TrainResult.model) on return.

    ``after_step(model)`` runs after every optimizer step (the masking baseline re-applies its masks there).

    Under torchrun (dietgen.distributed) every process calls fit with the same model and settings: each
    trains on its shard of the batches, the losses are summed over all of them, only rank 0 writes to
    ``run_dir`` and its clock decides the time limit; ``progress`` and ``on_epoch`` run on every rank."""
    device_ = distributed.local_device(pick_device(device))
    with distributed.session(device_):
        model.to(device_)
        train_loader = dataset.loader("train", batch_size, crop=crop, shuffle=True, seed=seed)
        valid_loader = dataset.loader("valid", batch_size, crop=crop, seed=seed)
        if distributed.active():
            train_loader = distributed.shard(train_loader, shuffle=True, seed=seed)
            valid_loader = distributed.shard(valid_loader, shuffle=False, seed=seed)
        loss_of = distributed.loss_function(model, device_)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5,
                                                               patience=max(1, patience // 3))

        def checkpoint(training: dict) -> None:
            if distributed.is_main():
                save_run_checkpoint(model, run_dir, {**settings, **training})

        def record_history() -> None:
            if distributed.is_main():
                _write_history(run_dir, settings, history, best_epoch)

        started = time.monotonic()
        best = _shared_mean_loss(model, valid_loader, device_)
        best_state = state_copy(model)
        history = [{"epoch": 0, "train_loss": None, "valid_loss": best, "lr": lr, "seconds": 0.0}]
        initial, best_epoch, stopped = best, 0, "epochs"
        checkpoint({"epoch": 0, "valid_loss": best})
        record_history()
        on_epoch(history[-1])
        for epoch in range(1, epochs + 1):
            model.train()
            train_loader.dataset.set_epoch(epoch)
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            total, count = 0.0, 0
            for batch in progress(train_loader, f"epoch {epoch}/{epochs}"):
                n = batch["audio"].shape[0]
                loss = loss_of(batch_to(batch, device_))
                # Summed over the ranks, so that all of them stop together on a diverged shard.
                step_total, step_count = distributed.all_sum([float(loss.detach()) * n, n], device_)
                if not math.isfinite(step_total):
                    raise DietgenError(f"training diverged at epoch {epoch} (loss {step_total / step_count}); "
                                       f"the best checkpoint (epoch {best_epoch}) is kept in {run_dir}; "
                                       f"lower --lr")
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                optimizer.step()
                if after_step is not None:
                    after_step(model)
                total += step_total
                count += step_count
            valid = _shared_mean_loss(model, valid_loader, device_)
            scheduler.step(valid)
            history.append({"epoch": epoch, "train_loss": total / count, "valid_loss": valid,
                            "lr": optimizer.param_groups[0]["lr"],
                            "seconds": round(time.monotonic() - started, 2)})
            if valid < best:
                best, best_epoch, best_state = valid, epoch, state_copy(model)
                checkpoint({"epoch": epoch, "valid_loss": valid})
            record_history()
            on_epoch(history[-1])
            # Rank 0's word: the ranks' losses agree, their clocks need not.
            reason = distributed.from_main(
                lambda: "early stop" if epoch - best_epoch >= patience else
                "time limit" if time_limit is not None and time.monotonic() - started > 60 * time_limit else None)
            if reason is not None:
                stopped = reason
                break
        model.load_state_dict(best_state)
        model.eval()
        return TrainResult(run_dir, initial, best, best_epoch, stopped, model, history)


def state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights and buffers, detached copies (a snapshot training does not change)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _write_history(run_dir: Path, settings: dict, history: list[dict], best_epoch: int) -> None:
    from dietgen.report.plots import loss_curve_png

    def write(tmp: Path) -> None:
        document = {"settings": settings, "best_epoch": best_epoch, "history": history}
        (tmp / HISTORY).write_text(json.dumps(document, indent=2) + "\n")
        (tmp / "loss.png").write_bytes(loss_curve_png(history, best_epoch))

    replace_files_atomically(write, [HISTORY, "loss.png"], run_dir)
