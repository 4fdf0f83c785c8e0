"""Sweeps of trim runs: the configurations of a sweep file times its seeds, each one independent, resumable trim
run folder, scheduled as Ray tasks (a local Ray by default, a cluster by address).

The sweep file (TOML) holds the settings every run shares, under TrimSettings' names (``crop`` in seconds, as
``dietgen trim --crop`` takes it; ``overrides`` as a table of preset settings, as ``--set``; ``boards`` as one
board id or a list of the ids the model must all fit, with ``rtf``, ``headroom_ram`` and ``selection``),
``seeds``, the device and the resources of one job, and one ``[grid]`` table or several ``[[grid]]`` blocks: in
a block, a list gives the values a setting takes (the configurations are the product of the lists) and a single
value sets the setting for that block only::

    family = "ddsp"
    preset = "tiny"
    data = "data/notes"
    rounds = 15
    seeds = [0, 1, 2]
    [grid]
    criterion = ["magnitude", "information"]
    scope = ["global", "local"]

The sweep folder holds sweep.json (the expanded plan: every run's name and settings), status.json (each run's
state, rewritten as jobs finish) and one run folder per run, named by its family, preset, the values of the
settings some grid block gives as a list, and its seed (e.g. ddsp-tiny-magnitude-global-seed0). Running
the same sweep again skips the finished runs and resumes the others from their last finished round."""
from __future__ import annotations

import dataclasses
import itertools
import json
import re
import sys
import time
import traceback
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dietgen.errors import DietgenError
from dietgen.output import write_bytes_atomic
from dietgen.trim.fit import failure
from dietgen.trim.lottery import BOARD_ROUNDS, TrimSettings, build_model, is_factory
from dietgen.trim.report import DOCUMENT, load_run, round_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMAT = "dietgen-trim-sweep"
VERSION = 1
PLAN = "sweep.json"
STATUS = "status.json"
DEVICES = ("cpu", "cuda")
# Keys of the sweep file that are not trim settings: they say how the runs are made, not what they compute.
SWEEP_KEYS = ("seeds", "device", "job_cpus", "job_gpus", "grid")
# Settings a run's name always starts with, so a run folder says what it trims.
NAMED_FIRST = ("family", "preset")


@dataclass(frozen=True)
class Job:
    name: str
    settings: TrimSettings


@dataclass(frozen=True)
class Sweep:
    """The expanded sweep file: its runs and what one job asks of the cluster."""
    jobs: tuple[Job, ...]
    device: str
    cpus: float
    gpus: float


def _settings_types() -> dict[str, Any]:
    """The type each trim setting takes in a sweep file: TrimSettings' own, but crop in seconds (as --crop)."""
    hints = {**typing.get_type_hints(TrimSettings), "crop": float}
    return {f.name: hints[f.name] for f in dataclasses.fields(TrimSettings) if f.name != "seed"}


def _checked(where: str, key: str, value: Any, hint: Any) -> Any:
    """``value`` as the setting ``key`` takes it, or a one-line error naming the key and the type wanted. TOML
    has no null: an optional setting is either given a value or left out."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    wanted = typing.get_origin(hint) or hint
    if wanted is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if wanted is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if wanted in (str, dict) and isinstance(value, wanted):
        return value
    # boards: one id, or a list of them that the model must all fit (a grid varies it as a list of lists).
    if wanted is tuple and (isinstance(value, str) or isinstance(value, list) and value
                            and all(isinstance(v, str) for v in value)):
        return (value,) if isinstance(value, str) else tuple(value)
    kind = {float: "a number", int: "a whole number", str: "text", dict: "a table",
            tuple: "text or a list of text"}[wanted]
    raise DietgenError(f"{where}: {key} = {value!r}: give {kind}")


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DietgenError(f"{path}: no such sweep file; give a TOML file like examples/sweeps/cpu_small.toml")
    except (OSError, UnicodeDecodeError) as exc:
        raise DietgenError(f"{path}: cannot be read ({exc}); give a TOML sweep file")
    except tomllib.TOMLDecodeError as exc:
        raise DietgenError(f"{path}: not valid TOML ({exc})")


def _seeds(where: str, value: Any) -> list[int]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in value)):
        raise DietgenError(f"{where}: seeds = {value!r}: give a list of whole numbers, e.g. seeds = [0, 1, 2]")
    if len(set(value)) < len(value):
        raise DietgenError(f"{where}: seeds = {value!r}: a seed is repeated")
    return value


def _blocks(where: str, doc: dict) -> list[dict]:
    grid = doc.get("grid", {})
    blocks = [grid] if isinstance(grid, dict) else grid
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks) or not blocks:
        raise DietgenError(f"{where}: grid = {grid!r}: give a [grid] table or [[grid]] blocks of settings")
    return blocks


def _name_part(key: str, value: Any) -> str:
    if isinstance(value, dict):
        return "-".join(_name_part(k, v) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    # Text values (families, criteria, scopes) read as themselves; numbers need their key to mean anything.
    return text if isinstance(value, str) else f"{key}{text}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", name).strip("._") or "run"


def load_sweep(path) -> Sweep:
    """The sweep file at ``path``, expanded into its runs and checked whole before anything runs: unknown keys,
    values of the wrong type and every run's settings (TrimSettings.validate) are one-line errors naming the
    key. Relative data folders are taken from the current folder, as dietgen trim takes them."""
    from dietgen.models.base import crop_samples
    path = Path(path)
    doc, where = _read(path), str(path)
    kinds = _settings_types()
    known = set(kinds) | set(SWEEP_KEYS)
    for key in doc:
        if key not in known:
            raise DietgenError(f"{where}: unknown key {key!r}; give trim settings ({', '.join(kinds)}) or "
                               f"{', '.join(SWEEP_KEYS)}")
    device = doc.get("device", "cpu")
    if device not in DEVICES:
        raise DietgenError(f"{where}: device = {device!r}: give cpu or cuda (each job uses the GPU Ray gives it)")
    cpus = _checked(where, "job_cpus", doc.get("job_cpus", 1), float)
    gpus = _checked(where, "job_gpus", doc.get("job_gpus", 1 if device == "cuda" else 0), float)
    if cpus <= 0 or gpus < 0 or (gpus > 0) != (device == "cuda"):
        raise DietgenError(f"{where}: job_cpus = {cpus:g}, job_gpus = {gpus:g} with device {device}: give a "
                           f"positive job_cpus, and a positive job_gpus exactly when the device is cuda")
    shared = {k: v for k, v in doc.items() if k not in SWEEP_KEYS}
    seeds = _seeds(where, doc.get("seeds", [0]))
    configurations: list[tuple[dict, list[int]]] = []
    gridded: set[str] = set()
    for n, block in enumerate(_blocks(where, doc)):
        at = f"{where}: grid" if isinstance(doc.get("grid"), dict) else f"{where}: grid block {n + 1}"
        for key in block:
            if key not in kinds and key != "seeds":
                raise DietgenError(f"{at}: unknown key {key!r}; a grid varies trim settings ({', '.join(kinds)}) "
                                   f"or seeds")
        varied = {k: v if isinstance(v, list) else [v] for k, v in block.items() if k != "seeds"}
        for key, values in varied.items():
            if not values:
                raise DietgenError(f"{at}: {key} = []: give at least one value")
        gridded |= {k for k, v in block.items() if isinstance(v, list) and k != "seeds"}
        block_seeds = _seeds(at, block["seeds"]) if "seeds" in block else seeds
        configurations += [({**shared, **dict(zip(varied, combination))}, block_seeds)
                           for combination in itertools.product(*varied.values())]
    named = [k for k in kinds if k in NAMED_FIRST] + [k for k in kinds if k not in NAMED_FIRST]
    jobs, names = [], set()
    for raw, run_seeds in configurations:
        values = {k: _checked(where, k, v, kinds[k]) for k, v in raw.items()}
        # A model of the user's own (family = "package.module:factory") has no preset.
        missing = [k for k in ("family", "preset", "data") if k not in values
                   and not (k == "preset" and is_factory(values.get("family", "")))]
        if missing:
            raise DietgenError(f"{where}: no {', '.join(missing)}; every run needs family, preset (for a dietgen "
                               f"family) and data")
        values.setdefault("preset", None)
        if "crop" in values:
            if not values["crop"] > 0:
                raise DietgenError(f"{where}: crop = {raw['crop']!r}: give a positive number of seconds")
            values["crop"] = crop_samples(values["crop"])
        values["data"] = str(Path(values["data"]).expanduser().resolve())
        # As dietgen trim: masking ranks single weights by magnitude, the unit criteria do not apply to it.
        values.setdefault("criterion", "magnitude" if values.get("method") == "mask" else "information")
        if values.get("boards"):
            values.setdefault("rounds", BOARD_ROUNDS)
        base = "-".join(_name_part(k, raw[k]) for k in named if k in raw and (k in NAMED_FIRST or k in gridded))
        for seed in run_seeds:
            name = _safe(f"{base}-seed{seed}")
            settings = TrimSettings(**values, seed=seed)
            try:
                settings.validate()
            except DietgenError as exc:
                raise DietgenError(f"{where}: run {name}: {exc.message}")
            if name in names:
                raise DietgenError(f"{where}: two runs would share the folder {name}: a grid value is repeated, or "
                                   f"the runs differ in a setting a grid block gives as one value; give it as a "
                                   f"list (e.g. method = [\"mask\"]) to name the runs by it")
            names.add(name)
            jobs.append(Job(name, settings))
    return Sweep(tuple(jobs), device, cpus, gpus)


def _check_models(sweep: Sweep) -> None:
    """Every family or factory, preset, override set and data folder of the sweep builds (a factory's model is
    also checked against the interface on one batch), so a typo fails now rather than in every job."""
    from dietgen.data.dataset import Dataset
    datasets = {}
    for job in sweep.jobs:
        s = job.settings
        if s.data not in datasets:
            datasets[s.data] = Dataset(s.data)
    built = set()
    for job in sweep.jobs:
        s = job.settings
        key = (s.family, s.preset, json.dumps(s.overrides, sort_keys=True), s.data)
        if key not in built:
            try:
                build_model(s, datasets[s.data])
            except DietgenError as exc:
                raise DietgenError(f"run {job.name}: {exc.message}")
            built.add(key)


def _write_json(folder: Path, name: str, doc: dict) -> None:
    write_bytes_atomic(folder / name, (json.dumps(doc, indent=2) + "\n").encode())


def load_plan(sweep_dir) -> dict:
    """The sweep.json of a sweep folder: its format, version and runs (name and settings each)."""
    file = Path(sweep_dir) / PLAN
    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DietgenError(f"{file}: cannot be read as JSON ({exc}); rerun dietgen trim sweep to rewrite it")
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if doc.get("format") != FORMAT or doc.get("version") != VERSION or not isinstance(runs, list) or not all(
            isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("settings"), dict)
            for r in runs):
        raise DietgenError(f"{file}: not a version-{VERSION} sweep plan; rerun dietgen trim sweep with this version")
    return doc


def run_folders(path) -> tuple[list[Path], int]:
    """The runs ``path`` names: itself, or for a sweep folder (made by dietgen trim sweep) every run of its plan
    that has finished a round, in the plan's order. Also returns how many of the plan's runs have not."""
    given = Path(path)
    if not (given / PLAN).is_file():
        return [given], 0
    folders = [given / run["name"] for run in load_plan(given)["runs"]]
    started = [f for f in folders if (f / DOCUMENT).is_file()]
    if not started:
        raise DietgenError(f"{given}: no run of this sweep has finished a round yet; rerun dietgen trim sweep, "
                           f"or wait for it")
    return started, len(folders) - len(started)


def _open_sweep(sweep: Sweep, sweep_dir: Path) -> None:
    """Create the sweep folder or check that the runs it holds were made with the settings the sweep file gives
    them now; write the plan."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise DietgenError(f"{sweep_dir}: exists and is not a folder; choose a folder for the sweep")
    if (sweep_dir / PLAN).is_file():
        stored = {r["name"]: r["settings"] for r in load_plan(sweep_dir)["runs"]}
        for job in sweep.jobs:
            before, now = stored.get(job.name), job.settings.to_dict()
            # A run whose folder is gone is made afresh, with the settings the sweep file gives it now.
            if before is None or not (sweep_dir / job.name).exists():
                continue
            for key in now:
                if before.get(key) != now[key]:
                    raise DietgenError(f"{sweep_dir}: run {job.name} was made with {key} {before.get(key)!r}, the "
                                       f"sweep file now gives {now[key]!r}; restore it, delete the run's folder to "
                                       f"make it again, or choose another folder for the changed sweep")
    elif sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        raise DietgenError(f"{sweep_dir}: already exists and holds no sweep ({PLAN} missing); choose another folder")
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DietgenError(f"{sweep_dir}: cannot write there ({exc.strerror}); choose a writable folder")
    _write_json(sweep_dir, PLAN, {"format": FORMAT, "version": VERSION, "device": sweep.device,
                                  "job_cpus": sweep.cpus, "job_gpus": sweep.gpus,
                                  "runs": [{"name": j.name, "settings": j.settings.to_dict()} for j in sweep.jobs]})


def _finished_rounds(run_dir: Path, settings: TrimSettings) -> tuple[int, bool]:
    """(rounds finished, whether the run is complete) of a run folder made with ``settings``; (0, False) for
    anything else, which the job then resumes or refuses with run_lottery's own message."""
    try:
        doc = load_run(run_dir)
    except DietgenError:
        return 0, False
    if doc["settings"] != settings.to_dict():
        return 0, False
    # A run with boards that fits none of them failed: its job runs again, to fail again with the reason.
    ended = ("stopped" in doc or len(doc["rounds"]) >= settings.rounds) and failure(doc) is None
    return len(doc["rounds"]), ended


def _summary(doc: dict) -> dict:
    last = doc["rounds"][-1]
    return {"rounds": len(doc["rounds"]), "stopped": doc.get("stopped"), "compression": last["compression"],
            "normalised_loss": last["normalised_loss"]}


def trim_job(settings: dict, run_dir: str, device: str, threads: int) -> dict:
    """One sweep run, in a Ray worker: the lottery loop in ``run_dir``, resumed if it holds finished rounds.
    Returns the run's summary, or {"error": one line} (with "traceback" for what is not a DietgenError): a
    failed job is reported by the sweep, it does not stop the others."""
    import torch
    from dietgen.trim.lottery import run_lottery
    # Ray reserved ``threads`` CPUs for this job; torch would otherwise use every core of the node.
    torch.set_num_threads(threads)
    name = Path(run_dir).name

    def show(record: dict) -> None:
        print(f"{name}: {round_line(record)}", file=sys.stderr, flush=True)

    try:
        return _summary(run_lottery(TrimSettings(**settings), run_dir, device=device, on_round=show))
    except DietgenError as exc:
        return {"error": exc.message}
    except Exception as exc:
        # Anything else is a bug or a broken node: one line for the report, the traceback in status.json.
        line = next((s.strip() for s in str(exc).splitlines() if s.strip()), "")
        return {"error": f"{type(exc).__name__}: {line}", "traceback": traceback.format_exc()}


def _start_ray(address: str | None, sweep: Sweep, log_to_driver: bool):
    try:
        import ray
    except ImportError:
        raise DietgenError("dietgen trim sweep runs its jobs on Ray, which is not installed; pip install ray")
    import logging
    try:
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=log_to_driver, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=log_to_driver, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise DietgenError(f"--ray {address}: cannot connect to a Ray cluster there ({exc})" if address else
                           f"cannot start a local Ray ({exc})")
    if address is None:
        # A local Ray never grows: a job asking for more than it has would wait forever.
        have = ray.cluster_resources()
        for kind, wanted, option in (("CPU", sweep.cpus, "job_cpus"), ("GPU", sweep.gpus, "job_gpus")):
            if wanted > have.get(kind, 0):
                ray.shutdown()
                raise DietgenError(f"{option} = {wanted:g}: this machine has {have.get(kind, 0):g} {kind}s for "
                                   f"Ray; lower {option} or give a cluster with --ray ADDRESS")
    return ray


def run_sweep(sweep: Sweep, sweep_dir, *, address: str | None = None, max_parallel: int | None = None,
              log_to_driver: bool = True, on_start: Callable[[int, int], None] = lambda skipped, todo: None,
              on_job: Callable[[str, dict], None] = lambda name, result: None) -> dict:
    """Run (or resume) every run of ``sweep`` in ``sweep_dir`` as a Ray task, at most ``max_parallel`` at a
    time (default: as many as the cluster's resources allow), on a local Ray or the cluster at ``address``.
    Finished runs are skipped without starting Ray. ``on_start(skipped, todo)`` is called with the number of runs
    already finished and of jobs to run; ``on_job(name, result)`` is called as each job ends, with
    its summary or its {"error"}. Returns the status document (also SWEEP/status.json): each run's state
    (finished, failed, submitted, waiting or interrupted), with its summary or error."""
    if max_parallel is not None and max_parallel < 1:
        raise DietgenError(f"max parallel {max_parallel}: give a positive number of jobs")
    sweep_dir = Path(sweep_dir)
    _check_models(sweep)
    _open_sweep(sweep, sweep_dir)
    status: dict[str, dict] = {}
    todo = []
    for job in sweep.jobs:
        rounds, complete = _finished_rounds(sweep_dir / job.name, job.settings)
        if complete:
            status[job.name] = {"state": "finished", **_summary(load_run(sweep_dir / job.name))}
        else:
            status[job.name] = {"state": "waiting", "rounds": rounds}
            todo.append(job)
    doc = {"format": FORMAT + "-status", "version": VERSION, "runs": status}

    def save() -> None:
        doc["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _write_json(sweep_dir, STATUS, doc)

    save()
    on_start(len(sweep.jobs) - len(todo), len(todo))
    if not todo:
        return doc
    ray = _start_ray(address, sweep, log_to_driver)
    task = ray.remote(trim_job).options(num_cpus=sweep.cpus, num_gpus=sweep.gpus)
    threads = max(1, int(sweep.cpus))
    running: dict[Any, Job] = {}
    try:
        while todo or running:
            while todo and len(running) < (max_parallel or len(sweep.jobs)):
                job = todo.pop(0)
                ref = task.remote(job.settings.to_dict(), str((sweep_dir / job.name).resolve()), sweep.device,
                                  threads)
                running[ref] = job
                status[job.name]["state"] = "submitted"
            save()
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    # The worker or its node died: nothing of the job's own code reached us.
                    line = next((s.strip() for s in str(exc).splitlines() if s.strip()), "")
                    result = {"error": f"{type(exc).__name__}: {line}"}
                status[job.name] = {"state": "failed" if "error" in result else "finished", **result}
                on_job(job.name, result)
        save()
    except KeyboardInterrupt:
        for ref in running:
            ray.cancel(ref, force=True)
        for job in running.values():
            status[job.name]["state"] = "interrupted"
        save()
        raise
    finally:
        ray.shutdown()
    return doc
