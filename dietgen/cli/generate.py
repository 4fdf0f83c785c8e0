"""dietgen generate: notes in, the generated C's audio out."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from dietgen.cli.common import cli
from dietgen.errors import DietgenUsageError


def _writable(path: Path, what: str) -> None:
    """Fail before minutes of work, not after: the folder must exist and take a file."""
    folder = path.resolve().parent
    if path.is_dir():
        raise DietgenUsageError(f"{what} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise DietgenUsageError(f"{what} {path}: folder {folder} does not exist; create it first")
    import os
    if not os.access(folder, os.W_OK):
        raise DietgenUsageError(f"{what} {path}: cannot write in {folder}; choose a writable folder")


@cli.command(help="Play notes with the model's generated C (its streamed step and note player) on the host, "
                  "or on a board's emulator with --board, and write the WAV a board would play. --compare "
                  "also renders the notes with PyTorch and writes both spectrograms on one scale. MODEL is a "
                  "dietgen checkpoint of a generative family (wavenet, sing, ddsp), or package.module:factory "
                  "of a model with a control() saying how notes play it.")
@click.argument("model")
@click.option("--notes", "notes_text", metavar="P:V:S:D[:I],...",
              help='Notes as pitch:velocity:start:duration[:instrument] (seconds), e.g. "60:100:0:1.0,64:100:1.0:1.0".')
@click.option("--midi", type=click.Path(dir_okay=False), help="A Standard MIDI File (monophonic part; drums ignored).")
@click.option("--instrument", type=click.IntRange(min=0),
              help="The model's instrument index for every note (default: from the notes or MIDI programs).")
@click.option("--board", help="Run on this board's emulator (ARM boards); default: a host build.")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(1, 2**32 - 1),
              help="Seed of the sampling generator (sampled models such as WaveNet).")
@click.option("--temperature", default=1.0, show_default=True, type=float,
              help="Softmax temperature of sampled models (> 0).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="WAV file to write.")
@click.option("--compare", is_flag=True, help="Also render with PyTorch: spectral distance and a comparison PNG.")
@click.option("--png", type=click.Path(dir_okay=False),
              help="Where --compare puts its plot (default: the WAV's name with .png).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def generate(model, notes_text, midi, instrument, board, seed, temperature, output, compare, png, as_json):
    from dietgen.generate import generate as run
    from dietgen.notes import parse_notes, read_midi
    from dietgen.report.audio import write_wav
    if (notes_text is None) == (midi is None):
        raise DietgenUsageError("give the notes with either --notes or --midi")
    if not temperature > 0:
        raise DietgenUsageError(f"--temperature {temperature}: give a number above 0")
    output = Path(output)
    png = Path(png) if png else output.with_suffix(".png")
    _writable(output, "--output")
    if compare:
        _writable(png, "--png")
    notes = parse_notes(notes_text) if notes_text is not None else read_midi(midi)
    if instrument is not None:
        notes = [replace(n, instrument=instrument) for n in notes]
    result = run(model, notes, board=board, seed=seed, temperature=temperature, compare=compare,
                 programs=midi is not None and instrument is None)
    write_wav(output, result.audio, result.sample_rate)
    summary = {**result.summary(), "wav": str(output)}
    if compare:
        from dietgen.output import write_bytes_atomic
        from dietgen.report.plots import spectrogram_compare_png
        title = f"{Path(str(model)).name}: generated C ({result.where}) vs PyTorch"
        write_bytes_atomic(png, spectrogram_compare_png(result.audio, result.reference, result.sample_rate,
                                                        title=title))
        summary["png"] = str(png)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"played {summary['notes']} notes on {result.where}: {summary['seconds']:.2f} s of audio "
               f"({summary['steps']} steps of {summary['samples_per_step']} samples), peak {result.stats['peak']:.3f}, "
               f"RMS {result.stats['rms_dbfs']:.1f} dBFS")
    worst = f", worst step {result.worst_step_rtf:.3f}" if result.worst_step_rtf is not None else ""
    click.echo(f"real-time factor {result.rtf:.3f}{worst} ({result.rtf_source})")
    if result.stats.get("is_silent"):
        click.echo("warning: the audio is silent", err=True)
    if result.stats.get("clipped"):
        click.echo(f"warning: {result.stats['clipped']} samples beyond full scale (clipped in the WAV)", err=True)
    click.echo(f"wrote {output}")
    if compare:
        click.echo(f"spectral distance to PyTorch {result.distance:.4f} (multi-scale, 0 = identical); wrote {png}")
