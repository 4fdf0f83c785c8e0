"""dietgen boards / check / flash: the boards dietgen knows, whether a model fits them, and putting it on one."""
from __future__ import annotations

import json
import sys

import click

from dietgen.cli.common import (MODEL_HELP, cli, model_options, shapes_option_value, stream_option_value,
                                stream_options)
from dietgen.errors import DietgenUsageError


def _mhz(hz: int) -> str:
    return f"{hz / 1e6:g} MHz"


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def boards(ctx, as_json):
    """The boards dietgen knows (boards/*.toml): core, clock, RAM, flash, toolchain."""
    if ctx.invoked_subcommand:
        return
    from dietgen.boards import boards as known
    from dietgen.report.table import human_bytes, table
    from dietgen.toolchain.platformio import toolchain_installed
    if as_json:
        click.echo(json.dumps([b.to_dict() for b in known().values()], indent=2))
        return
    click.echo(table(["board", "name", "core", "clock", "RAM", "flash", "FPU", "audio out", "compiler here"],
                     [[b.id, b.name, b.core, _mhz(b.clock_hz), human_bytes(b.ram_bytes), human_bytes(b.flash_bytes),
                       b.fpu, ",".join(b.audio_out), "yes" if toolchain_installed(b) else "no"]
                      for b in known().values()]))


@boards.command("show")
@click.argument("board")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def boards_show(board, as_json):
    """Every fact about BOARD and where it comes from."""
    from dietgen.boards import get_board
    from dietgen.report.table import human_bytes
    b = get_board(board)
    if as_json:
        click.echo(json.dumps(b.to_dict(), indent=2))
        return
    pio = b.platformio
    rows = [("board", f"{b.id}: {b.name} ({b.vendor})"), ("MCU / SoC", b.mcu), ("core", b.core),
            ("clock", _mhz(b.clock_hz)), ("RAM", f"{human_bytes(b.ram_bytes)} ({b.ram_bytes} B), framework/OS "
                                                 f"takes {b.framework_ram_bytes} B"),
            ("flash", f"{human_bytes(b.flash_bytes)} ({b.flash_bytes} B)"), ("FPU", b.fpu),
            ("SIMD", ", ".join(b.simd) or "none"), ("audio out", ", ".join(b.audio_out)),
            ("PlatformIO", f"platform {pio['platform']}" + (f", board {pio['board']}" if pio["board"] else "")
             + (f", framework {pio['framework']}" if pio["framework"] else "")
             + "".join(f", {k} = {v}" for k, v in pio["options"].items())),
            *((f"RAM bank {bank.name}", f"{human_bytes(bank.bytes)}" + (f", placed with section {bank.section}"
                                                                          if bank.section else ", the default"))
              for bank in b.banks),
            ("compiler", f"{b.toolchain.cc} {' '.join(b.toolchain.cflags)} (Debian: {b.toolchain.debian_package})"
             if b.toolchain.cc else "none in Debian: build with the official PlatformIO env"),
            ("emulator", b.emulator.kind + "".join(f" {v}" for v in (b.emulator.machine, b.emulator.mcu,
                                                                      b.emulator.binary, b.emulator.cpu) if v))]
    rows += [(f"source: {k}", v) for k, v in b.sources.items()]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")


def _row(r) -> list:
    t = r.time
    return [r.board.id,
            f"{r.flash.used / r.flash.limit:.1%}" + ("" if r.flash.measured else " est"),
            int(r.flash.used), f"{r.ram.used / r.ram.limit:.1%}" + ("" if r.ram.measured else " est"),
            int(r.ram.used), f"{t.used * 1e3:.3g}" if t else "-", f"{t.limit * 1e3:.3g}" if t else "-",
            f"{t.ratio:.3g}" if t else "-", r.verdict]


@cli.command(help="Does MODEL fit a board? Flash, RAM and time per block against the board's figures "
                  "(\"est\": estimated, the notes under the table say why). " + MODEL_HELP)
@model_options
@stream_options
@click.option("--sample-rate", type=click.IntRange(1), help="The model's audio sample rate (default: the one it "
              "records, else 16000): a block's deadline is its output frames at this rate.")
@click.option("--board", "board_id", metavar="BOARD", help="Board id (see dietgen boards).")
@click.option("--all-boards", is_flag=True, help="Check every known board; fails only if none fits.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(model, shapes, stream, block, time_axes, sample_rate, board_id, all_boards, as_json):
    from dietgen.boards import boards as known, get_board
    from dietgen.budget import check as run
    from dietgen.pipeline import compile_model
    from dietgen.report.table import table
    if bool(board_id) == bool(all_boards):
        raise DietgenUsageError("give either --board BOARD or --all-boards")
    targets = list(known().values()) if all_boards else [get_board(board_id)]
    compiled = compile_model(model, shapes_option_value(shapes), sample_rate=sample_rate, block=block,
                             stream=stream_option_value(stream, block, time_axes))
    with click.progressbar(targets, label="measuring", item_show_func=lambda b: b.id if b else "",
                           file=sys.stderr) as bar:
        reports = [run(board=b, compiled=compiled) for b in bar]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        info = compiled.graph.meta.get("stream")
        mode = f"streaming, latency {info.model_latency} frames" if info else "offline window"
        click.echo(f"{reports[0].model}: {reports[0].block} frames per step at {reports[0].sample_rate} Hz ({mode})")
        click.echo(table(["board", "flash", "flash B", "RAM", "RAM B", "ms/block", "deadline ms", "RTF", ""],
                         [_row(r) for r in reports], {1, 2, 3, 4, 5, 6, 7}))
        by_note: dict[str, list[str]] = {}
        for r in reports:
            for note in r.notes:
                by_note.setdefault(note, []).append(r.board.id)
        for note, ids in by_note.items():
            click.echo(f"{', '.join(ids)}: {note}")
        for r in reports:
            if r.ram.detail:
                click.echo(f"{r.board.id}: RAM {r.ram.detail}")
    if not any(r.ok for r in reports):
        # The board that misses by the least says best what it would take.
        raise min(reports, key=lambda r: max(b.ratio for b in r.budgets)).error()


@cli.command(help="Build the PlatformIO project DIR (from dietgen export --board) and upload it to the board: "
                  "pio run -t upload, its output streamed.")
@click.argument("project", type=click.Path(file_okay=False))
@click.option("-e", "--environment", "env", help="PlatformIO environment (default: the board's official one).")
@click.option("--port", help="Upload port (default: PlatformIO finds the board).")
def flash(project, env, port):
    from dietgen.toolchain.platformio import upload
    upload(project, env=env, port=port, echo=lambda line: click.echo(line, nl=False))
