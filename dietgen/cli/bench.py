"""dietgen bench: how fast the generated C runs, beside onnxruntime and PyTorch, on this machine and a board."""
from __future__ import annotations

import json
import os

import click

from dietgen.cli.common import MODEL_HELP, cli, model_options, shapes_option_value, stream_option_value, stream_options
from dietgen.errors import DietgenUsageError


@cli.command(help="Time MODEL's generated C (-O2, -O3 -march=native), onnxruntime and PyTorch on one thread, side by "
             "side on the same seeded inputs: median per call and per second of audio, ratio against C -O2, "
             "instructions per call (callgrind), MACs/s against this core's FMA peak. " + MODEL_HELP)
@model_options
@stream_options
@click.option("--board", metavar="BOARD", help="Also count every op on BOARD's emulator: instructions (or cycles) "
              "per MAC by op, and the real-time factor.")
@click.option("--repeats", type=int, default=7, show_default=True, help="Timed repeats per runtime.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a PNG bar chart of time per second of audio per runtime.")
def bench(model, shapes, stream, block, time_axes, board, repeats, seed, as_json, plot_path):
    from dietgen.bench import bench as run, plot
    from dietgen.report.table import table
    if repeats < 1:
        raise DietgenUsageError(f"--repeats {repeats}: time at least one repeat")
    if plot_path:
        folder = os.path.dirname(os.path.abspath(plot_path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise DietgenUsageError(f"--plot {plot_path}: cannot write there (folder {folder} missing or not "
                                    f"writable)")
    report = run(model, shapes=shapes_option_value(shapes), stream=stream_option_value(stream, block, time_axes),
                 block=block, board=board, repeats=repeats, seed=seed,
                 progress=None if as_json else lambda label: click.echo(f"... {label}", err=True))
    if plot_path:
        try:
            with open(plot_path, "wb") as f:
                f.write(plot(report))
        except OSError as exc:
            raise DietgenUsageError(f"--plot {plot_path}: cannot write it ({exc.strerror})")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    rows = [[r.runtime, r.median * 1e3, f"{r.minimum * 1e3:.4g}..{r.maximum * 1e3:.4g}", r.ms_per_audio_second,
             f"{r.ratio_vs_c_o2:.2f}x", "" if r.instructions is None else round(r.instructions),
             f"{r.macs_per_second / 1e6:.4g} M", f"{100 * r.fma_peak_fraction:.2f}%"] for r in report.rows]
    click.echo(table(["runtime", "ms/call", "min..max ms", "ms per s audio", "vs C -O2", "instr/call", "MACs/s",
                      "% FMA peak"], rows, {1, 2, 3, 4, 5, 6, 7}))
    mode = (f"streamed, {report.calls_per_input} steps of {report.out_frames} frames" if report.stream
            else f"offline, {report.out_frames} frames per call")
    click.echo(f"{report.model}: {mode} at {report.sample_rate} Hz; {report.macs_per_call:,.0f} MACs per call; "
               f"FMA peak {report.fma_peak_macs_per_second / 1e9:.3g} G MACs/s ({report.fma_peak_how}); "
               f"medians of {repeats} repeats")
    for r in report.rows:
        if r.note:
            click.echo(f"{r.runtime}: {r.note}")
    for note in report.notes:
        click.echo(note)
    b = report.board
    if b:
        click.echo()
        click.echo(table(["op", "nodes", b.unit, "MACs", f"{b.unit}/MAC", "share"],
                         [[o.op, o.nodes, o.count, round(o.macs), "" if o.per_mac is None else f"{o.per_mac:.2f}",
                           f"{100 * o.count / b.total:.1f}%"] for o in b.ops]
                         + [["step", "", b.total, round(report.macs_per_call), "", "100%"]], {1, 2, 3, 4, 5}))
        click.echo(f"{b.board} ({b.core}, emulated): {b.total} {b.unit} per step, real-time factor {b.rtf:.3g} "
                   f"({b.rtf_how})")
