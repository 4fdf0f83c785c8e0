"""The lottery loop (Esling et al., DAFx 2020): train the dense model, then round after round score the units of
the best model, remove ``rate`` % of those left, reset the survivors to the rewind snapshot (or re-initialise
them) and retrain with a fresh optimiser.

The run folder (see the trim.json contract in dietgen.trim.report): round-NN/ holds each round's best-validation
checkpoint, rewind/ the dense rewind snapshot, trim.json every finished round. A trimmed round also keeps the
rewind snapshot cut to its units in round-NN/rewind/: the next round is cut from it, and a resumed run
continues from it. A masked round needs none, its masks being the zero weights of its checkpoint.

With boards (TrimSettings.boards, dietgen trim --board), each round's record also says how its model fares on
each board (dietgen.trim.fit); the run stops at the first round that fits them all, writes each board's project
into RUN/board-<id>/, and fails, saying what is over, when the floor or the last round comes first. With
selection "cost" (dietgen trim --selection cost), each round ranks the units by score over what removing them
saves on those boards (dietgen.trim.saving, dietgen.trim.select), and its record keeps the savings used.

A round is trained in round-NN.partial/ and renamed when finished, and trim.json is replaced atomically after
the rename, so an interrupted round leaves no trace in trim.json and is redone on resume; Ctrl-C never leaves
trim.json half written.

A model of the user's own goes through the same loop when ``family`` names its factory as
``package.module:factory`` (found in the current folder or on PYTHONPATH; it has no preset). The factory is a
function or a torch.nn.Module class; its keyword arguments come from the overrides (``--set NAME=VALUE``), and
``num_instruments`` (the data's instrument count) too when it takes that argument. The module it returns has

- ``loss(batch) -> Tensor``: the scalar training loss of a batch of the data folder's notes, the dict every
  dietgen.models family gets (dietgen.data.dataset): "audio" (B, N) in [-1, 1]; "pitch", "velocity",
  "instrument" (B,) integers; "f0" and "loudness" (B, N // 160) at 100 frames per second;
- ``input_shapes() -> {name: shape}``: the static shapes of ``forward``'s float inputs, in order. ``forward`` is
  what dietgen export compiles to C; tracing draws random inputs of these shapes to find the units, and the
  MACs per second of audio in trim.json take the last dimension of forward's output as audio samples at
  ``sample_rate`` (an attribute, default 16000);
- optionally ``trim_dependencies()`` (dietgen.trim.units): couplings or locks the trace cannot see.

Its checkpoints (round-NN/, rewind/) name the factory and its arguments, and their weights hold the trimmed
widths, so the factory's fresh model is resized to them (dietgen.trim.surgery.resize_to) before the weights
load: resuming and dietgen export of a round rebuild it without unpickling. Loading imports and calls the
factory, so unless the user named it to this process (the run's own --model), a checkpoint may only name code of
the user's own, found in the current folder or on PYTHONPATH (dietgen.frontend.sources.check_own_code)."""
from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from dietgen import distributed, models
from dietgen.boards import boards as known_boards
from dietgen.data.dataset import Dataset
from dietgen.errors import DietgenError
from dietgen.frontend.sources import call_factory
from dietgen.models.base import AudioModel
from dietgen.models.factory import FactoryModel, trust
from dietgen.output import replace_files_atomically
from dietgen.train import (batch_to, build_for_data, check_training_numbers, fit, mean_loss, pick_device,
                           save_run_checkpoint, state_copy)
from dietgen.trim import fit as fitting, masking, measure
from dietgen.trim.criteria import CRITERIA, score_units
from dietgen.trim.report import DOCUMENT, FORMAT, VERSION, load_run, write_report
from dietgen.trim.saving import unit_savings
from dietgen.trim.select import SCOPES, select_units
from dietgen.trim.surgery import trim_model
from dietgen.trim.units import find_units

METHODS = ("trim", "mask")
SELECTIONS = ("plain", "cost")
# Settings added after trim.json's first runs, with their defaults (TrimSettings.to_dict leaves them out at these).
LATER_SETTINGS = {"boards": (), "rtf": 1.0, "headroom_ram": 0.0, "selection": "plain"}
# The rounds cap of a run with boards when none is given: enough that the floor, not the cap, ends the search.
BOARD_ROUNDS = 30
RESETS = ("rewind", "reinit")
REWIND = "rewind"
PARTIAL = ".partial"
ROUND = re.compile(r"round-(\d+)")


@dataclass(frozen=True)
class TrimSettings:
    """Everything that decides a run's result; a run folder resumes only with the settings it was made with."""
    family: str                     # a dietgen.models family, or package.module:factory for the user's own model
    preset: str | None              # the family's size; None for a user's model
    data: str
    criterion: str = "information"
    scope: str = "global"
    method: str = "trim"
    rate: float = 20.0              # percent of the remaining units (weights, for "mask") removed per round
    rounds: int = 15                # including the dense round 0
    rewind: int = 1                 # epochs before the rewind snapshot; 0 = the initial weights
    reset: str = "rewind"
    floor: int = 3                  # units a layer never drops below
    epochs: int = 100
    patience: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    crop: int | None = None
    time_limit: float | None = None   # minutes per round
    score_examples: int = 256
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    # The boards the model must fit (dietgen.trim.fit): with any, the run stops at the first round that fits
    # them all with these margins, and fails if none does.
    boards: tuple[str, ...] = ()
    rtf: float = 1.0                # most real-time factor allowed on each board
    headroom_ram: float = 0.0       # percent of each board's RAM limit kept free
    # "plain": the paper's score alone; "cost": score over what a unit's removal saves on the boards.
    selection: str = "plain"

    def __post_init__(self):
        # From trim.json or a sweep file the boards come as a list (or one id): kept as a tuple, so settings
        # compare equal however they were given.
        boards = (self.boards,) if isinstance(self.boards, str) else tuple(self.boards)
        object.__setattr__(self, "boards", boards)

    def to_dict(self) -> dict[str, Any]:
        """The settings as trim.json stores them (what JSON gives back, so a stored run compares equal). The
        board targets and the selection are left out at their defaults: runs made before they existed still
        compare equal."""
        stored = {**asdict(self), "data": str(self.data)}
        for name in LATER_SETTINGS:
            if stored[name] == LATER_SETTINGS[name]:
                del stored[name]
        return json.loads(json.dumps(stored))

    def validate(self) -> None:
        if is_factory(self.family) and self.preset is not None:
            raise DietgenError(f"{self.family}: a model of your own has no preset ({self.preset!r}); give its "
                               f"factory's arguments as overrides (--set NAME=VALUE)")
        if not is_factory(self.family) and not self.preset:
            raise DietgenError(f"family {self.family}: give its preset (e.g. tiny, small), or name a model of your "
                               f"own as package.module:factory")
        for name, value, valid in (("criterion", self.criterion, CRITERIA), ("scope", self.scope, SCOPES),
                                   ("method", self.method, METHODS), ("reset", self.reset, RESETS),
                                   ("selection", self.selection, SELECTIONS)):
            if value not in valid:
                raise DietgenError(f"{name} {value!r}: choose one of {', '.join(valid)}")
        if self.method == "mask" and (self.criterion, self.scope) != ("magnitude", "global"):
            raise DietgenError(f"the mask method removes single weights by global magnitude, not by "
                               f"{self.scope} {self.criterion}; give criterion magnitude and scope global, or "
                               f"method trim")
        if not 0 < self.rate < 100:
            raise DietgenError(f"rate {self.rate}: give the percentage removed per round, between 0 and 100")
        check_training_numbers(rounds=self.rounds, floor=self.floor, epochs=self.epochs, patience=self.patience,
                               batch_size=self.batch_size, score_examples=self.score_examples)
        if not 0 <= self.rewind <= self.epochs:
            raise DietgenError(f"rewind {self.rewind}: give the epochs before the snapshot, from 0 (the initial "
                               f"weights) to epochs ({self.epochs})")
        if self.time_limit is not None and self.time_limit <= 0:
            raise DietgenError(f"time limit {self.time_limit}: give a positive number of minutes per round")
        self._validate_boards()

    def _validate_boards(self) -> None:
        for board in self.boards:
            if board not in known_boards():
                close = difflib.get_close_matches(board, known_boards(), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise DietgenError(f"board {board!r}: unknown; {hint}dietgen boards lists the board ids")
        if len(set(self.boards)) < len(self.boards):
            raise DietgenError(f"boards {', '.join(self.boards)}: a board is named twice")
        if not self.boards and (self.rtf, self.headroom_ram) != (LATER_SETTINGS["rtf"],
                                                                 LATER_SETTINGS["headroom_ram"]):
            raise DietgenError(f"rtf {self.rtf:g}, headroom_ram {self.headroom_ram:g}: margins of the boards the "
                               f"model must fit; name a board too")
        if not 0 < self.rtf <= 1:
            raise DietgenError(f"rtf {self.rtf:g}: give the largest real-time factor allowed, above 0 and at most 1 "
                               f"(1 keeps up exactly, 0.7 leaves 30 % of the time; above 1 the board falls behind)")
        if not 0 <= self.headroom_ram < 100:
            raise DietgenError(f"headroom_ram {self.headroom_ram:g}: give the percent of the RAM kept free, from 0 "
                               f"to below 100")
        if self.selection == "cost" and not self.boards:
            raise DietgenError("selection cost weighs each unit by what removing it saves on the boards the model "
                               "must fit; name a board too, or use selection plain")
        if self.selection == "cost" and self.scope != "global":
            raise DietgenError(f"selection cost with scope {self.scope}: it ranks every layer's units together; "
                               f"use scope global")
        if self.boards and self.method == "mask":
            raise DietgenError(f"boards {', '.join(self.boards)} with the mask method: masked weights are still "
                               f"stored and multiplied, so the model never gets smaller on a board; use method "
                               f"trim")


def is_factory(family: str) -> bool:
    """Whether a run's ``family`` names a user's factory (package.module:factory) rather than a zoo family."""
    return ":" in family


def build_model(settings: TrimSettings, dataset: Dataset) -> AudioModel:
    """The dense model of a run: a zoo family at its preset, or the user's factory (see the module docstring),
    whose interface is checked on one training batch (the random state is left as it was)."""
    if not is_factory(settings.family):
        return build_for_data(settings.family, settings.preset, len(dataset.instruments), settings.overrides)
    spec = settings.family
    trust(spec)
    net, kwargs = call_factory(spec, settings.overrides, {"num_instruments": len(dataset.instruments)})
    batch = next(iter(dataset.loader("train", settings.batch_size, crop=settings.crop, seed=settings.seed)))
    with torch.random.fork_rng(devices=[]):
        _check_interface(spec, net, batch)
    return FactoryModel(spec, kwargs, net)


def _check_interface(spec: str, net: nn.Module, batch: dict[str, torch.Tensor]) -> None:
    what = f"{spec}: the model ({type(net).__name__})"
    for method, role in (("loss", "loss(batch) -> scalar tensor, the training loss of a batch of notes"),
                         ("input_shapes", "input_shapes() -> {name: shape}, the inputs of forward")):
        if not callable(getattr(net, method, None)):
            raise DietgenError(f"{what} has no {method} method; dietgen trim needs {role} (see "
                               f"dietgen.trim.lottery)")
    shapes = _call(what, "input_shapes()", net.input_shapes)
    if not (isinstance(shapes, dict) and shapes and all(
            isinstance(name, str) and isinstance(shape, (tuple, list)) and shape
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
            for name, shape in shapes.items())):
        raise DietgenError(f"{what}: input_shapes() returned {shapes!r}; give a dict of input names to shapes of "
                           f"positive integers, e.g. {{\"x\": (1, 2, 100)}}")
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(torch.rand(tuple(shape), generator=generator) for shape in shapes.values())
    was_training = net.training
    net.eval()   # the probe must not move normalisation statistics
    try:
        with torch.no_grad():
            _call(what, "forward on inputs of input_shapes()", lambda: net(*inputs))
        loss = _call(what, f"loss(batch) (batch keys: {', '.join(batch)})", lambda: net.loss(batch))
    finally:
        net.train(was_training)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
        got = (f"a tensor of shape {list(loss.shape)} and type {loss.dtype}" if isinstance(loss, torch.Tensor)
               else f"a {type(loss).__name__}")
        raise DietgenError(f"{what}: loss(batch) returned {got}; return the scalar loss as a float tensor")
    if not loss.requires_grad:
        raise DietgenError(f"{what}: loss(batch) does not depend on the model's parameters; return the loss "
                           f"computed from its output, with gradients")


def _call(what: str, call: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except Exception as exc:   # the user's code: one line, not a traceback inside dietgen
        raise DietgenError(f"{what}: {call} raised {type(exc).__name__}: {exc}") from None


@dataclass
class _Run:
    """What the loop carries from one round to the next."""
    settings: TrimSettings
    run_dir: Path
    dataset: Dataset
    device: torch.device
    doc: dict
    best: AudioModel | None = None     # the last finished round's best-validation model
    rewind: AudioModel | None = None   # the rewind snapshot at that round's shapes (dense for "mask")
    savings: dict | None = None        # with selection "cost": what the last selection weighed (trim.json)


def run_lottery(settings: TrimSettings, out_dir, *, force: bool = False, device: str | None = None,
                progress: Callable[[Iterable, str], Iterable] = lambda items, label: items,
                on_round: Callable[[dict], None] = lambda record: None,
                on_epoch: Callable[[dict], None] = lambda record: None) -> dict:
    """Run (or resume) the lottery loop of ``settings`` in ``out_dir``; returns the trim.json document.

    A folder holding a run with the same settings continues after its last finished round; a folder holding
    anything else is refused unless ``force``, which starts over. ``progress(batches, label)`` wraps each
    epoch's batches, ``on_epoch`` gets each epoch's record (with its "round"), ``on_round`` each finished
    round's record.

    Under torchrun every round trains data-parallel (dietgen.train.fit); rank 0 alone writes the run folder,
    calls the callbacks, and chooses what each round removes, which the other ranks receive."""
    settings.validate()
    dataset, device_ = Dataset(settings.data), distributed.local_device(pick_device(device))
    with distributed.session(device_):
        if not distributed.is_main():
            progress, on_round, on_epoch = (lambda items, label: items), (lambda r: None), (lambda r: None)
        # Built before the folder is touched, so an unknown family or preset leaves nothing behind.
        torch.manual_seed(settings.seed)
        dense = build_model(settings, dataset)
        run_dir = Path(out_dir)
        doc = distributed.from_main(lambda: _open_run(run_dir, settings, force))
        run = _Run(settings, run_dir, dataset, device_, doc)
        done = len(doc["rounds"])
        if "stopped" in doc or done >= settings.rounds:
            return _finish(run)
        if done:
            run.best, run.rewind = _load_round(run, done - 1)
        for r in range(done, settings.rounds):
            started = time.monotonic()
            if r == 0:
                result = _dense_round(run, dense, progress, on_epoch)
            else:
                model = _next_model(run, r)
                if model is None:
                    doc["stopped"] = "floor reached"
                    _write_document(run)
                    break
                result = _train_round(run, r, model, progress, on_epoch)
            record = distributed.from_main(lambda: _record(run, r, result, started))
            doc["rounds"].append(record)
            if r == 0:
                doc["dense"] = {"parameters": record["parameters"], "test_loss": record["test_loss"]}
            run.best = result.model
            if settings.boards and fitting.fits_all(record, settings.boards):
                doc["stopped"] = fitting.stopped(settings.boards)
            _write_document(run)
            on_round(record)
            if "stopped" in doc:
                break
        return _finish(run)


def _finish(run: _Run) -> dict:
    """The document of a run that ended (or had ended): with boards, each one's project is written from the
    first round that fits it, and a run that fits not all of them fails saying what is over (trim.json and the
    report stay as written)."""
    if run.settings.boards and distributed.is_main():
        fitting.export_projects(run.run_dir, run.doc)
    problem = fitting.failure(run.doc)
    if problem is not None:
        raise problem
    return run.doc


def _open_run(run_dir: Path, settings: TrimSettings, force: bool) -> dict:
    """The document to continue: the stored one for the same settings, else a fresh one in an empty folder.
    Leftovers of an interrupted round go."""
    fresh = {"format": FORMAT, "version": VERSION, "settings": settings.to_dict(), "dense": None, "rounds": []}
    if run_dir.exists() and not run_dir.is_dir():
        raise DietgenError(f"{run_dir}: exists and is not a folder; choose a folder for the run")
    if force and run_dir.is_dir():
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DietgenError(f"{run_dir}: cannot write there ({exc.strerror}); choose a writable folder")
    if (run_dir / DOCUMENT).is_file():
        doc = load_run(run_dir)
        wanted = fresh["settings"]
        for key in [*wanted, *(k for k in doc["settings"] if k not in wanted)]:
            if doc["settings"].get(key) != wanted.get(key):
                raise DietgenError(f"{run_dir}: holds a trim run with {key} {doc['settings'].get(key)!r}, not "
                                   f"{wanted.get(key)!r}; resume with its settings, choose another folder or "
                                   f"pass --force to start over")
    else:
        doc = fresh
        foreign = sorted(p.name for p in run_dir.iterdir() if not _leftover(p.name, 0))
        if foreign:
            raise DietgenError(f"{run_dir}: already exists and holds no trim run ({foreign[0]}); choose another "
                               f"folder or pass --force to replace it")
    for path in run_dir.iterdir():
        if _leftover(path.name, len(doc["rounds"])):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return doc


def _leftover(name: str, finished: int) -> bool:
    """Whether ``name`` in a run folder is part of an unfinished round (a run with ``finished`` rounds), or a
    board project's temporary folder (dietgen.output.write_tree names it .board-<id>.*)."""
    number = ROUND.fullmatch(name)
    return (name.endswith(PARTIAL) or name.startswith((".tmp.", "." + fitting.project_name("")))
            or (number is not None and int(number[1]) >= finished)
            or (name == REWIND and finished == 0))


def _load_round(run: _Run, r: int) -> tuple[AudioModel, AudioModel]:
    """(best model, rewind snapshot) of finished round ``r``, from the run folder."""
    best, _ = models.load_checkpoint(run.run_dir / _name(r))
    cut = run.settings.method == "trim" and r > 0
    rewind, _ = models.load_checkpoint(run.run_dir / _name(r) / REWIND if cut else run.run_dir / REWIND)
    return best.to(run.device), rewind.to(run.device)


def _dense_round(run: _Run, model: AudioModel, progress, on_epoch):
    """Round 0: the dense ``model`` trained, and the rewind snapshot after ``rewind`` epochs (fewer if training
    stops earlier) saved as RUN/rewind/."""
    s = run.settings
    snapshot = {}

    def keep_snapshot(record: dict) -> None:
        if record["epoch"] <= s.rewind:
            snapshot.update(state_copy(model))
        on_epoch(record)

    result = _train_round(run, 0, model, progress, keep_snapshot)
    run.rewind = copy.deepcopy(result.model)
    run.rewind.load_state_dict(snapshot)
    _publish(run.run_dir, REWIND, lambda folder: _save(run.rewind, folder, {"round": 0, "rewind": s.rewind}))
    return result


def _next_model(run: _Run, r: int) -> AudioModel | None:
    """Round ``r``'s starting model: the rewind snapshot without the units (weights) the best model of round
    r - 1 scores lowest, or None when nothing can be removed. For "trim", run.rewind becomes the cut snapshot."""
    s, best = run.settings, run.best
    torch.manual_seed(s.seed + r)   # what the round draws does not depend on whether the run was resumed
    if s.method == "mask":
        masks = masking.masks_of(best)
        chosen = distributed.from_main(
            lambda: {n: m.cpu() for n, m in masking.prune(best, masks, s.rate / 100).items()})
        new_masks = {n: m.to(run.device) for n, m in chosen.items()}
        if all(torch.equal(masks[n], new_masks[n]) for n in masks):
            return None
        model = copy.deepcopy(run.rewind)
    else:
        units = find_units(best, batch=_train_batch(run))
        keep = distributed.from_main(lambda: _selection(run, best, units))
        if all(k.all() for k in keep):
            return None
        run.rewind = trim_model(run.rewind, units, keep)
        model = copy.deepcopy(run.rewind)
    if s.reset == "reinit":
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    if s.method == "mask":
        masking.apply(model, new_masks)
    return model


def _selection(run: _Run, best: AudioModel, units) -> list:
    """Which units of ``best`` stay (one boolean array per group)."""
    s = run.settings
    # Scored on training notes: the criteria need examples (the information ones a few hundred), and the
    # validation split is kept for choosing each round's best checkpoint.
    scoring = run.dataset.loader("train", s.batch_size, crop=s.crop, seed=s.seed, limit=s.score_examples)
    scores = score_units(best, units, s.criterion, [batch_to(b, run.device) for b in scoring], seed=s.seed)
    costs = None
    if s.selection == "cost":
        per_group, run.savings = unit_savings(best, units, s.boards, s.rtf, s.headroom_ram)
        costs = [np.full(g.size, saving) for g, saving in zip(units.groups, per_group)]
    return select_units(scores, s.rate / 100, s.scope, s.floor, ties=units.ties, costs=costs)


def _train_round(run: _Run, r: int, model: AudioModel, progress, on_epoch):
    """Train round ``r`` into round-NN.partial/ and rename it round-NN/ once finished."""
    s = run.settings
    settings = {**s.to_dict(), "instruments": run.dataset.instruments, "note_samples": run.dataset.note_samples,
                "round": r, "parameters": sum(p.numel() for p in model.parameters())}
    result = None

    def train_into(folder: Path) -> None:
        nonlocal result
        options = dict(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, weight_decay=s.weight_decay,
                       patience=s.patience, crop=s.crop, seed=s.seed, device=str(run.device),
                       time_limit=s.time_limit,
                       progress=lambda items, label: progress(items, f"round {r}, {label}"),
                       on_epoch=lambda record: on_epoch({**record, "round": r}))
        if s.method == "mask" and r > 0:
            with masking.enforced(model, masking.masks_of(model)) as after_step:
                result = fit(model, run.dataset, folder, settings, after_step=after_step, **options)
        else:
            result = fit(model, run.dataset, folder, settings, **options)
        if s.method == "trim" and r > 0:
            _save(run.rewind, folder / REWIND, {"round": r, "rewind": s.rewind})

    _publish(run.run_dir, _name(r), train_into)
    return result


def _record(run: _Run, r: int, result, started: float) -> dict:
    """Round ``r``'s line of trim.json; its seconds run from ``started`` (time.monotonic() before the round's
    selection) to the end of its measures and board checks."""
    s, best, doc = run.settings, result.model, run.doc
    if s.method == "trim":
        parameters, units = measure.parameters(best), find_units(best, batch=_train_batch(run)).total
        macs = measure.macs_per_second(best)
    else:
        parameters, units = measure.parameters(best, masking.masks_of(best) if r else None), None
        # Masks save no computation: every masked round costs what the dense model does.
        macs = doc["rounds"][0]["macs_per_second"] if r else measure.macs_per_second(best)
    test = mean_loss(best, run.dataset.loader("test", s.batch_size), run.device)
    dense = doc["dense"] or {"parameters": parameters, "test_loss": test}
    boards = {"boards": fitting.check_round(run.run_dir / _name(r), s.boards, s.rtf, s.headroom_ram)
              } if s.boards else {}
    seconds = time.monotonic() - started
    return {"round": r, "checkpoint": _name(r), "parameters": parameters, "units": units,
            "weights_left": parameters / dense["parameters"], "compression": dense["parameters"] / parameters,
            "macs_per_second": macs, "file_bytes": measure.file_bytes(run.run_dir / _name(r)),
            "valid_loss": result.best_valid, "test_loss": test, "normalised_loss": test / dense["test_loss"],
            "best_epoch": result.best_epoch, "epochs": len(result.history) - 1, "seconds": round(seconds, 2),
            **boards, **({"savings": run.savings} if s.selection == "cost" and r > 0 else {})}


def _train_batch(run: _Run) -> dict[str, torch.Tensor]:
    """The batch dependency tracing runs the model's loss on: the first training batch, unshuffled."""
    s = run.settings
    loader = run.dataset.loader("train", s.batch_size, crop=s.crop, seed=s.seed)
    return batch_to(next(iter(loader)), run.device)


def _name(r: int) -> str:
    return f"round-{r:02d}"


def _save(model: AudioModel, folder: Path, training: dict) -> None:
    if not distributed.is_main():
        return
    folder.mkdir(exist_ok=True)   # a checkpoint folder, not folder.json beside folder.safetensors
    save_run_checkpoint(model, folder, training)


def _publish(run_dir: Path, name: str, write: Callable[[Path], None]) -> None:
    """``write`` fills RUN/name.partial/, which then replaces RUN/name/. Under torchrun every rank runs
    ``write`` (it trains), rank 0 alone touches the folders."""
    stage = run_dir / f"{name}{PARTIAL}"
    if distributed.is_main():
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
    write(stage)
    if distributed.is_main():
        shutil.rmtree(run_dir / name, ignore_errors=True)
        os.replace(stage, run_dir / name)


def _write_document(run: _Run) -> None:
    if not distributed.is_main():
        return
    text = json.dumps(run.doc, indent=2) + "\n"
    replace_files_atomically(lambda tmp: (tmp / DOCUMENT).write_text(text), [DOCUMENT], run.run_dir)
    write_report(run.run_dir, run.doc)
