"""dietgen calibrate: the per-core cost tables the time budget uses, measured on the emulators."""
from __future__ import annotations

import json

import click

from dietgen.cli.common import cli


@cli.command(help="Run the calibration models on each core's emulator (QEMU instructions, simavr cycles) and write "
                  "the per-core cost tables the time budget uses (dietgen/costs/<core>.json).")
@click.option("--core", "cores", multiple=True, metavar="CORE",
              help="Calibrate only this core (repeatable), e.g. cortex-m4f or avr; default: every emulated core.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="Write the tables into this folder instead of dietgen's own.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def calibrate(cores, out_dir, as_json):
    from dietgen.calibrate import calibrate as run
    from dietgen.calibrate import calibration_boards, calibration_models
    from dietgen.report.table import table
    runs = len(calibration_boards(tuple(cores) or None)) * len(calibration_models())
    with click.progressbar(length=runs, label="emulator runs", file=click.get_text_stream("stderr")) as bar:
        results = run(tuple(cores) or None, out_dir, progress=lambda what: bar.update(1))
    if as_json:
        click.echo(json.dumps([{"core": r.core, "board": r.board, "unit": r.unit, "table": str(r.path),
                                "models": r.models, "skipped": list(r.skipped), "nodes": r.nodes,
                                "fit_error": r.fit_error} for r in results], indent=2))
        return
    click.echo(table(["core", "emulated on", "unit", "models", "nodes", "worst model error", "table"],
                     [[r.core, r.board, r.unit, r.models, r.nodes, f"{100 * r.fit_error:.1f}%", str(r.path)]
                      for r in results], {3, 4, 5}))
    for r in results:
        if r.skipped:
            click.echo(f"{r.core}: skipped {', '.join(r.skipped)} (too large for {r.board}'s memory)")
