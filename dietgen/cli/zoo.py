"""dietgen data render / train / evaluate: instrument notes to train on, the model families trained on them,
and how well the trained models sound."""
from __future__ import annotations

import json
import sys

import click

from dietgen.cli.common import cli, parse_overrides, progress_bar, run_options
from dietgen.errors import DietgenUsageError

FAMILIES_HELP = "Model family: wavenet, sing or ddsp."


def _int_list(text: str, what: str) -> list[int]:
    """"0,24,40" or a range "36-84" (inclusive)."""
    try:
        if "-" in text.strip("-"):
            low, high = (int(v) for v in text.split("-"))
            return list(range(low, high + 1))
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DietgenUsageError(f"{what} {text!r}: give numbers separated by commas, or a range such as 36-84")


@cli.group(help="Training data: NSynth-style notes rendered from General MIDI SoundFonts.")
def data():
    pass


@data.command(help="Render NSynth-style notes (instrument x pitch x velocity) with FluidSynth into a dataset "
                   "folder with examples.json, audio/*.wav and train/valid/test splits. Rerun the same "
                   "command to resume an interrupted render.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Dataset folder to create (or to resume).")
@click.option("--soundfont", type=click.Path(dir_okay=False),
              help="General MIDI .sf2 file (default: FluidR3_GM from fluid-soundfont-gm, else TimGM6mb).")
@click.option("--instruments", default="0,11,19,24,32,40,52,56,65,73,80", show_default=True,
              help="General MIDI programs (0-127).")
@click.option("--pitches", default="36-84", show_default=True, help="MIDI pitches: a range or a list.")
@click.option("--velocities", default="25,50,75,100,127", show_default=True, help="MIDI velocities.")
@click.option("--seconds", default=4.0, show_default=True, type=float, help="Length of each note.")
@click.option("--release", default=1.0, show_default=True, type=float,
              help="Seconds of the note after the key is released.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the train/valid/test split.")
@click.option("--splits", default="0.8,0.1,0.1", show_default=True, help="Train, valid and test fractions.")
@click.option("--force", is_flag=True, help="Replace the folder if it holds a render with other settings.")
def render(out_dir, soundfont, instruments, pitches, velocities, seconds, release, seed, splits, force):
    from dietgen.data.render import render_dataset
    programs = _int_list(instruments, "instruments")
    try:
        fractions = tuple(float(v) for v in splits.split(","))
    except ValueError:
        raise DietgenUsageError(f"--splits {splits!r}: give three fractions, e.g. 0.8,0.1,0.1")
    try:
        summary = render_dataset(out_dir, soundfont, programs, _int_list(pitches, "pitches"),
                                 _int_list(velocities, "velocities"), seconds, release, seed=seed,
                                 fractions=fractions, force=force, progress=progress_bar)
    except KeyboardInterrupt:
        # the instruments finished are kept in the folder: say how to use them, with a Ctrl-C's exit status
        click.echo(f"interrupted: rerun the same command to resume the render in {out_dir}", err=True)
        sys.exit(130)
    splits_text = ", ".join(f"{n} {s}" for s, n in summary["splits"].items())
    click.echo(f"wrote {out_dir}: {summary['notes']} notes ({splits_text}); {summary['silent_skipped']} silent "
               f"notes left out; pitch estimate disagrees with the MIDI pitch on "
               f"{summary['pitch_disagreements']} notes")


@cli.command(help="Train a model family on a dataset folder (rendered or NSynth); the best-validation "
                  "checkpoint, train.json and loss.png go to the run folder.")
@click.option("--model", "family", required=True, help=FAMILIES_HELP)
@click.option("--preset", required=True, help="Size preset of the family (e.g. tiny, small, paper).")
@click.option("--data", "data_dir", required=True, type=click.Path(), help="Dataset folder.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--epochs", default=100, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--patience", default=10, show_default=True, type=click.IntRange(1),
              help="Stop after this many epochs without a better validation loss.")
@click.option("--crop", type=click.FloatRange(min=0, min_open=True),
              help="Train on random excerpts of this many seconds (default: whole notes); for WaveNet and DDSP, "
                   "not SING, which models whole notes from their start.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Stop after the epoch that passes this many minutes.")
@run_options
@click.option("--force", is_flag=True, help="Replace the run folder if it exists.")
def train(family, preset, data_dir, out_dir, epochs, batch_size, lr, patience, crop, time_limit, seed, device,
          settings, force):
    from dietgen import distributed
    from dietgen.models.base import crop_samples
    from dietgen.report.table import table
    from dietgen.train import train as run

    def show(record):
        train_text = "" if record["train_loss"] is None else f"train {record['train_loss']:.4f}  "
        click.echo(f"epoch {record['epoch']}: {train_text}valid {record['valid_loss']:.4f}  lr {record['lr']:.2g}")

    try:
        result = run(family, preset, data_dir, out_dir, epochs=epochs, batch_size=batch_size, lr=lr,
                     patience=patience, crop=crop_samples(crop), seed=seed, device=device, time_limit=time_limit,
                     overrides=parse_overrides(settings), force=force, progress=progress_bar, on_epoch=show)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the best checkpoint so far is kept in {out_dir}", err=True)
        sys.exit(130)   # the exit status of a Ctrl-C, without dietgen.cli.main saying "interrupted" a second time
    if not distributed.is_main():   # under torchrun the first process speaks for all
        return
    click.echo(table(["", "validation loss"], [["untrained", result.initial_valid],
                                              [f"best (epoch {result.best_epoch})", result.best_valid]]))
    click.echo(f"stopped: {result.stopped}; checkpoint in {out_dir} (config.json + model.safetensors); "
               f"evaluate it with: dietgen evaluate {out_dir}")


@cli.command(help="Evaluate a training run on its test split: test loss, multi-scale spectral distance, "
                  "loudness and f0 errors; writes example WAVs, spectrogram PNGs and metrics.json.")
@click.argument("run_dir", type=click.Path())
@click.option("--data", "data_dir", type=click.Path(), help="Dataset folder (default: the one trained on).")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="Folder for the WAVs, PNGs and metrics.json (default: RUN/eval).")
@click.option("--examples", default=4, show_default=True, type=click.IntRange(1), help="Notes to generate.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True),
              help="Generate only the first seconds of each note (WaveNet generates slowly).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU).")
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate(run_dir, data_dir, out_dir, examples, seconds, batch_size, device, force, as_json):
    from dietgen.evaluate import evaluate as run
    from dietgen.report.table import table
    metrics = run(run_dir, data_dir=data_dir, out_dir=out_dir, examples=examples, seconds=seconds,
                  batch_size=batch_size, device=device, force=force, progress=progress_bar)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    rows = [[r["note"], r["spectral_distance"], r["loudness_error_db"],
             "unpitched" if r["f0_error_cents"] is None else r["f0_error_cents"]] for r in metrics["examples"]]
    rows.append(["mean", metrics["spectral_distance"], metrics["loudness_error_db"],
                 "-" if metrics["f0_error_cents"] is None else metrics["f0_error_cents"]])
    click.echo(f"{metrics['family']} {metrics['preset']}: test loss {metrics['test_loss']:.4f} over "
               f"{metrics['test_notes']} notes")
    click.echo(table(["note", "spectral distance", "loudness error (dB)", "f0 error (cents)"], rows, {1, 2, 3}))
    click.echo(f"wrote {out_dir or run_dir + '/eval'}: example WAVs, spectrograms and metrics.json")
