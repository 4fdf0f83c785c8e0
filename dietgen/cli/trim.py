"""dietgen trim / dietgen trim report: structured lottery trimming of a model family, round by round, and the
comparison of trim runs (normalised test loss against compression ratio)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from dietgen.cli.common import (cli, model_options, parse_overrides, progress_bar, run_options,
                                shapes_option_value)
from dietgen.errors import DietgenError, DietgenUsageError

COMPARE_PNG = "compare.png"
REQUIRED = (("family", "--model"), ("preset", "--preset"), ("data_dir", "--data"), ("out_dir", "-o/--output"))


def _check_run_options(options: dict) -> None:
    """What only the command line can get wrong; TrimSettings.validate checks the settings themselves. Checked
    here rather than by click so every mistake is one line."""
    missing = [flag for name, flag in REQUIRED if options[name] is None
               and not (name == "preset" and ":" in (options["family"] or ""))]   # a user's factory has none
    if missing:
        raise DietgenUsageError(f"dietgen trim: missing {', '.join(missing)}; e.g. dietgen trim --model ddsp "
                                f"--preset tiny --data DIR -o RUN (or compare runs: dietgen trim report RUN...)")
    if not options["lr"] > 0:
        raise DietgenUsageError(f"--lr {options['lr']}: give a positive learning rate, e.g. --lr 1e-3")
    if options["crop"] is not None and not options["crop"] > 0:
        raise DietgenUsageError(f"--crop {options['crop']}: give a positive number of seconds")
    if not options["boards"]:
        given = [flag for name, flag in (("rtf", "--rtf"), ("headroom_ram", "--headroom-ram"))
                 if options[name] is not None]
        if given:
            raise DietgenUsageError(f"{', '.join(given)}: margins of the board the model must fit; give --board "
                                    f"BOARD too (see dietgen boards)")
        if options["selection"] == "cost":
            raise DietgenUsageError("--selection cost weighs units by what removing them saves on the board; give "
                                    "--board BOARD too (see dietgen boards)")


def _percent(text: str | None) -> float:
    """--headroom-ram as a number of percent: "10%" or "10"."""
    if text is None:
        return 0.0
    try:
        return float(text.strip().removesuffix("%"))
    except ValueError:
        raise DietgenUsageError(f"--headroom-ram {text}: give a percentage of the board's RAM kept free, e.g. "
                                f"--headroom-ram 10%")


@cli.group(invoke_without_command=True,
           help="Structured lottery trimming (Esling et al., DAFx 2020): train the dense model, then each round "
                "score the units, remove --rate % of those left, reset the survivors to the rewind snapshot and "
                "retrain. Each round's checkpoint, trim.json, report.md and report.png go to the run folder; "
                "rerun the same command to resume an interrupted run. `dietgen trim report RUN...` compares "
                "runs; `dietgen trim sweep SWEEP.toml` runs a grid of them on Ray.")
@click.option("--model", "family",
              help="Model family: wavenet, sing or ddsp; or package.module:factory, a model of your own with "
                   "loss(batch) and input_shapes() methods (see examples/user_model), its factory's arguments "
                   "given with --set.")
@click.option("--preset", help="Size preset of the family (e.g. tiny, small, paper); none for a model of your own.")
@click.option("--data", "data_dir", type=click.Path(), help="Dataset folder.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), help="Run folder.")
@click.option("--criterion", metavar="NAME",
              help="Unit score: magnitude, activation, gradient, batchnorm, information (mutual information "
                   "with the layer's input by EDGE, the paper's estimator), information-target (with the "
                   "training target) or information-projection (dietgen's 1-D projection estimator). "
                   "[default: information; magnitude with --method mask]")
@click.option("--scope", default="global", show_default=True, metavar="global|local",
              help="global: one threshold over all layers; local: the same fraction from each layer.")
@click.option("--method", default="trim", show_default=True, metavar="trim|mask",
              help="trim: remove whole units, rebuilding the model physically smaller; mask: zero single "
                   "weights of smallest magnitude across the model (the paper's unstructured baseline: no gain "
                   "in size or speed).")
@click.option("--rate", default=20.0, show_default=True, type=float, help="Percent of the remaining units "
                                                                          "removed per round.")
@click.option("--rounds", type=int,
              help="Rounds, including the dense round 0. [default: 15; 30 with --board, so that the floor rather "
                   "than the cap ends the search]")
@click.option("--rewind", default=1, show_default=True, type=int,
              help="Epochs of dense training before the snapshot the survivors are reset to (0: the "
                   "initialisation).")
@click.option("--reset", default="rewind", show_default=True, metavar="rewind|reinit",
              help="rewind: survivors restart from the snapshot; reinit: from a fresh initialisation.")
@click.option("--floor", default=3, show_default=True, type=int, help="Fewest units a layer keeps.")
@click.option("--epochs", default=100, show_default=True, type=int, help="Most epochs per round.")
@click.option("--patience", default=10, show_default=True, type=int,
              help="Stop a round after this many epochs without a better validation loss.")
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--lr", default=1e-3, show_default=True, type=float)
@click.option("--crop", type=float, help="Train on random excerpts of this many seconds (WaveNet and DDSP).")
@click.option("--time-limit", type=float, help="Stop a round after the epoch that passes this many minutes.")
@click.option("--score-examples", default=256, show_default=True, type=int,
              help="Training examples the units are scored on (spread over the training split).")
@click.option("--board", "boards", multiple=True, metavar="BOARD",
              help="Go on trimming until the model fits BOARD (see dietgen boards): flash, RAM and real-time "
                   "factor as dietgen check computes them, with --rtf and --headroom-ram; then stop and write "
                   "BOARD's PlatformIO project into RUN/board-BOARD/. Give it several times to fit every board "
                   "named. Fails, saying which budget is over and by how much, if the floor or the last round "
                   "comes first.")
@click.option("--rtf", type=float, help="With --board: the largest real-time factor allowed (time per block over "
                                        "its deadline), at most 1. [default: 1]")
@click.option("--headroom-ram", metavar="PERCENT",
              help="With --board: the part of the board's RAM kept free, e.g. 10% (or 10). [default: 0%]")
@click.option("--selection", default="plain", show_default=True, metavar="plain|cost",
              help="plain: units ranked by the criterion's score alone (the paper); cost (with --board, global "
                   "scope): by score over what removing the unit saves on the boards' time, RAM and flash, "
                   "weighted toward the budgets still over, so a round cuts what the device pays for most.")
@run_options
@click.option("--force", is_flag=True, help="Replace the run folder instead of resuming it.")
@click.option("--json", "as_json", is_flag=True, help="Print trim.json at the end (machine-readable).")
@click.pass_context
def trim(ctx, **options):
    if ctx.invoked_subcommand is not None:
        given = [p.opts[-1] for p in ctx.command.params
                 if ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE]
        if given:
            raise DietgenUsageError(f"dietgen trim {ctx.invoked_subcommand} takes no run options "
                                    f"({', '.join(given)}); they belong to dietgen trim --model ... -o RUN")
        return
    _check_run_options(options)
    _run(options)


def _run(options: dict) -> None:
    from dietgen import distributed
    from dietgen.models.base import crop_samples
    from dietgen.trim.fit import first_fits, project_name
    from dietgen.trim.lottery import BOARD_ROUNDS, TrimSettings, run_lottery
    from dietgen.trim.report import load_run, round_line, rounds_table
    out_dir, as_json = options["out_dir"], options["as_json"]
    # Masking ranks single weights by magnitude: the unit criteria do not apply to it.
    criterion = options["criterion"] or ("magnitude" if options["method"] == "mask" else "information")
    settings = TrimSettings(
        family=options["family"], preset=options["preset"], data=options["data_dir"],
        criterion=criterion, scope=options["scope"], method=options["method"], rate=options["rate"],
        rounds=(BOARD_ROUNDS if options["boards"] else TrimSettings.rounds) if options["rounds"] is None
        else options["rounds"],
        rewind=options["rewind"], reset=options["reset"], floor=options["floor"],
        epochs=options["epochs"], patience=options["patience"], batch_size=options["batch_size"],
        lr=options["lr"], crop=crop_samples(options["crop"]),
        time_limit=options["time_limit"], score_examples=options["score_examples"], seed=options["seed"],
        overrides=parse_overrides(options["settings"]), boards=options["boards"],
        rtf=1.0 if options["rtf"] is None else options["rtf"], headroom_ram=_percent(options["headroom_ram"]),
        selection=options["selection"])

    def show(record: dict) -> None:
        # With --json, stdout carries only the document.
        click.echo(round_line(record), err=as_json)

    try:
        doc = run_lottery(settings, out_dir, force=options["force"], device=options["device"],
                          progress=progress_bar, on_round=show)
    except KeyboardInterrupt:
        # trim.json counts the rounds finished before this command too, when it resumed a run.
        try:
            done = len(load_run(out_dir)["rounds"])
        except DietgenError:
            done = 0
        again = "the same command without --force" if options["force"] else "the same command"
        click.echo(f"interrupted: rerun {again} to resume from round {done}", err=True)
        sys.exit(130)   # the exit status of a Ctrl-C, without dietgen.cli.main saying "interrupted" a second time
    if not distributed.is_main():   # under torchrun the first process speaks for all
        return
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    last = doc["rounds"][-1]["round"]
    click.echo(rounds_table(doc))
    if settings.boards:   # a run with boards that returns fits them all (else run_lottery says what is over)
        firsts = first_fits(doc)
        click.echo(f"stopped after round {last}: fits " + ", ".join(
            f"{b} from round {firsts[b]} (project in {Path(out_dir) / project_name(b)})" for b in settings.boards))
    elif doc.get("stopped"):
        click.echo(f"stopped after round {last}: {doc['stopped']}")
    click.echo(f"checkpoints in {Path(out_dir) / 'round-00'} ... {Path(out_dir) / f'round-{last:02d}'} "
               f"(rewind snapshot in {Path(out_dir) / 'rewind'}); report in {Path(out_dir) / 'report.md'} and "
               f"report.png{', boards.png' if settings.boards else ''}; compare runs with: dietgen trim report "
               f"{out_dir} OTHER_RUN")


@trim.command(help="Compare trim runs: each run's rounds (one run) or a comparison at 5x, 10x and 20x "
                   "compression (several), and normalised test loss against compression ratio for all of them "
                   f"in one PNG (default: {COMPARE_PNG} in the current folder). A sweep folder (dietgen trim "
                   "sweep) stands for every run in it that has finished a round.")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "png", default=COMPARE_PNG, show_default=True, type=click.Path(dir_okay=False),
              help="The overlay plot (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report(runs, png, as_json):
    from dietgen.report.plots import compression_png
    from dietgen.output import write_bytes_atomic
    from dietgen.trim.report import compare, compare_table, load_run, rounds_table, seed_groups
    from dietgen.trim.sweep import run_folders
    target = Path(png)
    if target.suffix.lower() != ".png":
        raise DietgenUsageError(f"-o {png}: the plot is a PNG; give a file name ending in .png")
    if not target.parent.is_dir():
        raise DietgenError(f"-o {png}: no folder {target.parent}; create it or choose another place")
    names = []
    for given in runs:
        folders, unstarted = run_folders(given)
        if unstarted:
            click.echo(f"{given}: {unstarted} run(s) of the sweep have not finished a round yet; left out", err=True)
        # A run keeps the name it was given by (a folder or its trim.json); a sweep's runs are its folders.
        names += [given] if folders == [Path(given)] else [str(folder) for folder in folders]
    docs = [load_run(name) for name in names]
    rows, groups = compare(docs, names=names), seed_groups(docs)
    figure = compression_png([(row["label"], [docs[i] for i in group]) for row, group in zip(rows, groups)])
    write_bytes_atomic(target, figure)
    if as_json:
        click.echo(json.dumps({
            "plot": str(target),
            "comparison": [{**row, "runs": [names[i] for i in group]} for row, group in zip(rows, groups)],
            "runs": [{"path": name, "settings": doc["settings"], "dense": doc["dense"], "rounds": doc["rounds"]}
                     for name, doc in zip(names, docs)]}, indent=2))
        return
    if len(docs) == 1:
        click.echo(f"{names[0]}: {rows[0]['label']}")
        click.echo(rounds_table(docs[0]))
    else:
        click.echo(compare_table(rows))
    click.echo(f"wrote {target}: normalised test loss against compression ratio")


@trim.command(help="Run a sweep of trim runs on Ray: the configurations of SWEEP_FILE (a TOML file: the settings "
                   "the runs share, and a grid of lists of values, see examples/sweeps/) times its seeds, each "
                   "one trim run folder in the sweep folder, each one Ray task asking for the file's job_cpus "
                   "(and job_gpus with device = \"cuda\"). Rerun the same command to resume: finished runs are "
                   "skipped, unfinished ones continue from their last finished round. Compare the runs with "
                   "`dietgen trim report SWEEP_DIR`.")
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "sweep_dir", type=click.Path(file_okay=False),
              help="Sweep folder [default: the sweep file's name, in the current folder].")
@click.option("--ray", "address", metavar="ADDRESS",
              help="Address of a Ray cluster (HOST:6379, or ray://HOST:10001) whose nodes see the data and sweep "
                   "folders at the same paths [default: a local Ray on this machine's CPUs and GPUs].")
@click.option("--max-parallel", type=int, metavar="N",
              help="Most jobs running at once [default: as many as the cluster's resources allow].")
def sweep(sweep_file, sweep_dir, address, max_parallel):
    from dietgen.trim.sweep import STATUS, load_sweep, run_sweep
    if max_parallel is not None and max_parallel < 1:
        raise DietgenUsageError(f"--max-parallel {max_parallel}: give a positive number of jobs")
    plan = load_sweep(sweep_file)
    out = Path(sweep_dir) if sweep_dir is not None else Path(Path(sweep_file).stem)
    ended, jobs = [], []

    def start(skipped: int, todo: int) -> None:
        jobs.append(todo)
        where = "on a local Ray" if address is None else f"on the Ray cluster at {address}"
        click.echo(f"{out}: {len(plan.jobs)} runs, {skipped} already finished" +
                   (f", {todo} to run {where}" if todo else ", nothing to run"))

    def show(name: str, result: dict) -> None:
        ended.append(name)
        done = (f"failed: {result['error']}" if "error" in result else
                f"{result['rounds']} rounds, {result['compression']:.3g}x compression, normalised test loss "
                f"{result['normalised_loss']:.3f}")
        click.echo(f"[{len(ended)}/{jobs[0]}] {name}: {done}")

    try:
        status = run_sweep(plan, out, address=address, max_parallel=max_parallel, on_start=start, on_job=show)
    except KeyboardInterrupt:
        click.echo("interrupted: rerun the same command to resume the unfinished runs", err=True)
        sys.exit(130)
    failed = {name: run for name, run in status["runs"].items() if run["state"] == "failed"}
    click.echo(f"{len(plan.jobs) - len(failed)} of {len(plan.jobs)} runs finished; status in {out / STATUS}; "
               f"compare them with: dietgen trim report {out}")
    for name, run in failed.items():
        click.echo(f"failed {name}: {run['error']}", err=True)
    if failed:
        sys.exit(1)


@trim.command(help="Regenerate a results document's tables and plots from the trim runs committed beside it "
                   "(DOC/runs/: a sweep's sweep.json and one RUN/trim.json per finished run). With SWEEP_DIR "
                   "(made by dietgen trim sweep), first replace DOC/runs by that sweep's finished runs. Each "
                   "table between <!-- results: KEY --> and <!-- /results --> is rewritten from the runs named "
                   "KEY-* without boards (their compression comparison, plotted to DOC/KEY.png), each between "
                   "<!-- fits: KEY --> and <!-- /fits --> from those with boards (each board's first fitting "
                   "round, plain against cost-aware selection, plotted to DOC/KEY-boards.png); the prose is "
                   "left as it is.")
@click.argument("sweep_dir", required=False, type=click.Path(file_okay=False))
@click.option("--doc", default="docs/results.md", show_default=True, type=click.Path(dir_okay=False),
              help="The markdown document whose marked tables are regenerated.")
@click.option("--check", is_flag=True,
              help="Change nothing; fail if the document's tables differ from those of its committed runs.")
def results(sweep_dir, doc, check):
    from dietgen.trim.results import check_doc, runs_folder, update_doc
    if check:
        if sweep_dir is not None:
            raise DietgenUsageError(f"--check compares {doc} with its committed runs; give no SWEEP_DIR with it")
        check_doc(doc)
        click.echo(f"{doc}: its tables are those of the runs in {runs_folder(doc)}")
        return
    done = update_doc(doc, sweep_dir)
    if sweep_dir is not None:
        click.echo(f"copied {len(done.copied)} finished runs of {sweep_dir} into {runs_folder(doc)}" +
                   (f"; left out {len(done.unfinished)} unfinished: {', '.join(done.unfinished)}"
                    if done.unfinished else ""))
    click.echo(f"{doc}: tables {', '.join(done.tables)} regenerated from {runs_folder(doc)}; plots "
               f"{', '.join(str(p) for p in done.plots)}")


@trim.command(help="The trimmable units tracing finds in MODEL (a dietgen checkpoint, or package.module:factory "
                   "with --shape): one group per layer, or per set of layers writing one channel space, with "
                   "the layers that write it. Channels of the model's interface, and any the trace cannot "
                   "follow, are locked (never trimmed).")
@model_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def units(model, shapes, as_json):
    import torch
    from dietgen.frontend.sources import load_torch
    from dietgen.report.table import table
    from dietgen.trim import find_units
    loaded = load_torch(model, shapes_option_value(shapes))
    if loaded is None:
        raise DietgenUsageError(f"{model}: an ONNX file has no PyTorch layers to trim; give a dietgen checkpoint "
                                f"or package.module:factory")
    module, inputs, name, _, _ = loaded
    if hasattr(module, "export_module"):
        found = find_units(module)
    elif inputs:
        generator = torch.Generator().manual_seed(0)
        found = find_units(module, inputs=tuple(torch.randn(s, generator=generator) for s in inputs.values()))
    else:
        raise DietgenUsageError(f"{model}: give the input shape of the PyTorch model, e.g. --shape x=1x1x16000")
    groups = [{"group": g.name, "units": g.size, "tied_with": g.tie,
               "written_by": [".".join(p for p in (m, producer.label) if p) for m, producer in g.producers]}
              for g in found.groups]
    if as_json:
        click.echo(json.dumps({"model": name, "units": found.total, "locked_channels": found.locked,
                               "groups": groups}, indent=2))
        return
    rows = [[g["group"], g["units"], ", ".join(g["written_by"]), g["tied_with"] or "-"] for g in groups]
    click.echo(table(["group", "units", "written by", "same width as"], rows, {1}))
    click.echo(f"{name}: {found.total} trimmable units in {len(groups)} groups; {found.locked} channels locked "
               f"(the model's interface, or what the trace cannot follow)")
