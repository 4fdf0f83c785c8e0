"""dietgen inspect / export / verify: what a model costs, its C, and the proof that the C is right."""
from __future__ import annotations

import json
import math

import click

from dietgen.cli.common import (MODEL_HELP, cli, model_options, shapes_option_value, stream_option_value,
                                stream_options)
from dietgen.errors import DietgenError, DietgenUsageError


@cli.command(help="Per-node cost (op, shapes, parameters, MACs, bytes) and the memory plan of MODEL. " + MODEL_HELP)
@model_options
@stream_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(model, shapes, stream, block, time_axes, as_json):
    from dietgen.report.inspect import inspect as run
    from dietgen.report.table import human_bytes, table
    report = run(model, shapes=shapes_option_value(shapes), stream=stream_option_value(stream, block, time_axes),
                 block=block)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    streaming = report.stream is not None
    rows = [[r.name, r.op + (f"+{r.fused}" if r.fused else ""), " ".join("x".join(map(str, s)) for s in r.inputs),
             " ".join("x".join(map(str, s)) for s in r.output), r.params, r.macs, r.bytes]
            + ([r.state_bytes, "" if r.latency is None else r.latency] if streaming else []) for r in report.nodes]
    rows.append(["total", "", "", "", report.params, report.macs, sum(r.bytes for r in report.nodes)]
                + ([report.state_bytes, report.stream["latency"]] if streaming else []))
    click.echo(table(["node", "op", "inputs", "output", "params", "MACs", "bytes"]
                     + (["state B", "latency"] if streaming else []), rows, {4, 5, 6, 7, 8}))
    click.echo()
    click.echo(table(["buffer", "bytes", "offset", "live"],
                     [[b.tensor, b.bytes, b.offset, f"{b.first}..{b.last}"] for b in report.buffers], {1, 2}))
    click.echo()
    click.echo(f"arena {human_bytes(report.arena_bytes)} ({report.arena_bytes} B), lower bound "
               f"{report.lower_bound} B, ratio {report.ratio:.3f}; state {report.state_bytes} B; "
               f"weights {human_bytes(report.weight_bytes)}; I/O {report.io_bytes} B")
    if streaming:
        s = report.stream
        axes = ", ".join(f"{n}={'none' if a is None else a}" for n, a in s["time_axes"].items())
        click.echo(f"streaming: {s['block']} input frames -> {s['out_block']} output frames per step (time axes "
                   f"{axes}); latency {s['latency']} output frames; the arena above is one step's")
    else:
        click.echo("offline: one call runs the whole window from a zero state (stream it with --stream --block N)")


@cli.command(help="Generate the C library for MODEL into a new folder. " + MODEL_HELP)
@model_options
@stream_options
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to create with the C library and host build files.")
@click.option("--force", is_flag=True, help="Replace the output folder if it exists.")
@click.option("--name", help="C name of the model (default: from MODEL).")
@click.option("--sample-rate", type=click.IntRange(1), help="Audio sample rate recorded in the header.")
@click.option("--board", metavar="BOARD", help="Write a PlatformIO project for BOARD (see dietgen boards), after "
              "checking the model fits it; --force writes it even over budget.")
@click.option("--role", type=click.Choice(["generator", "effect"]),
              help="What the board program does with the model: generator = notes in, audio out; effect = audio "
                   "in, audio out; default: inferred from the model's inputs.")
def export(model, shapes, stream, block, time_axes, out_dir, force, name, sample_rate, board, role):
    from dietgen.deploy import export as run
    if role and not board:
        raise DietgenUsageError("--role is what the board program does with the model: it needs --board")
    compiled = run(model, out_dir, shapes=shapes_option_value(shapes), name=name, force=force, sample_rate=sample_rate,
                   block=block, board=board, role=role, stream=stream_option_value(stream, block, time_axes))
    if board:
        from dietgen.boards import get_board
        how = (f"build it on the Pi with pio run, or here: cd {out_dir} && PLATFORMIO_CORE_DIR=offline/core pio run "
               f"-e offline" if get_board(board).is_linux else f"build and flash it with: dietgen flash {out_dir}")
        click.echo(f"wrote {out_dir}: PlatformIO project of {compiled.c_name} for {board}; {how}   "
                   f"(see {out_dir}/README.md)")
        return
    plan = compiled.graph.meta["plan"]
    info = compiled.graph.meta.get("stream")
    mode = (f"streaming {info.block} -> {info.out_block} frames per step, latency {info.model_latency}"
            if info else "offline window")
    click.echo(f"wrote {out_dir}: {compiled.c_name}.h/.c ({mode}), {len(compiled.graph.nodes)} kernel calls, arena "
               f"{plan.arena_bytes} B (lower bound {plan.lower_bound} B), state {plan.all_state_bytes} B")
    click.echo(f"build it for this machine with: make -C {out_dir}   (or cmake -S {out_dir} -B build)")


@cli.command(help="Build MODEL's C for this machine and compare every output with onnxruntime. " + MODEL_HELP)
@model_options
@stream_options
@click.option("--blocks", type=click.IntRange(1), metavar="K",
              help="Streaming: consecutive blocks to run (default: enough to fill every ring buffer and wrap it "
                   "twice).")
@click.option("--input", "input_path", type=click.Path(dir_okay=False),
              help="Inputs as .npy (single input) or .npz (by name); default: seeded uniform noise.")
@click.option("--tol", type=click.FloatRange(0, min_open=True), default=1e-4, show_default=True,
              help="Largest error allowed, relative to the RMS of each output.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--sanitize", is_flag=True, help="Build with AddressSanitizer and UBSan.")
@click.option("--board", metavar="BOARD", help="Cross-compile for BOARD and run on the emulator of its instruction "
              "set (QEMU, simavr); also reports instructions or cycles per op.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(model, shapes, stream, block, time_axes, blocks, input_path, tol, seed, sanitize, board, as_json):
    from dietgen.report.table import table
    from dietgen.verify import verify as run
    if sanitize and board:
        raise DietgenUsageError("--sanitize builds for this machine; it cannot be combined with --board")
    report = run(model, shapes=shapes_option_value(shapes), inputs=input_path, tol=tol, seed=seed, sanitize=sanitize,
                 board=board, stream=stream_option_value(stream, block, time_axes), block=block, blocks=blocks)
    counted = report.board_run
    if as_json:
        doc = {"model": report.c_name, "tol": tol, "ok": report.ok, "stream": report.stream_summary(), "outputs": [
            {"name": o.name, "shape": list(o.shape), "max_abs": o.max_abs, "max_rel": o.max_rel,
             "snr_db": o.snr_db if math.isfinite(o.snr_db) else None, "ok": o.ok} for o in report.outputs]}
        if counted:
            doc["board"] = {"id": counted.board, "core": counted.core, "unit": counted.unit, "total": counted.total,
                            "estimate": counted.estimate,
                            "per_node": [{"node": n, "op": op, "count": c} for n, op, c in counted.per_node]}
        click.echo(json.dumps(doc, indent=2))
    else:
        if report.stream:
            s = report.stream_summary()
            click.echo(f"streamed {s['blocks']} blocks of {s['block']} input frames; compared with onnxruntime's "
                       f"offline run on the whole input, shifted by the latency ({s['latency']} output frames)")
        click.echo(table(["output", "shape", "max abs err", "max err / RMS", "SNR dB", ""],
                         [[o.name, "x".join(map(str, o.shape)), o.max_abs, o.max_rel,
                           o.snr_db if math.isfinite(o.snr_db) else "inf", "ok" if o.ok else "FAIL"]
                          for o in report.outputs], {2, 3, 4}))
        if counted:
            click.echo()
            click.echo(table(["node", "op", counted.unit, "share"],
                             [[n, op, c, f"{100 * c / counted.total:.1f}%"] for n, op, c in counted.per_node]
                             + [["step", "", counted.total, "100%"]], {2, 3}))
            estimate = "" if counted.estimate is None else \
                f"; cost model estimate {counted.estimate:.0f} ({100 * (counted.estimate / counted.total - 1):+.1f}%)"
            click.echo(f"{counted.board} ({counted.core}, emulated): {counted.total} {counted.unit} per step{estimate}")
    if not report.ok:
        raise DietgenError(f"{report.c_name}: generated C differs from onnxruntime beyond --tol {tol:g}")
