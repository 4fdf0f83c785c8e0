"""Run cross-built images on the emulator of their instruction set, and count what each step costs.

qemu-system-arm runs Cortex-M images (stdio and exit status through semihosting), qemu-aarch64 / qemu-arm run
Raspberry Pi programs, simavr (through dietgen's own runner, linked with -lsimavr) runs AVR images. Every run
has a time limit. Counts come per step and, in images built with count_nodes, per node: guest instructions under
QEMU (a TCG plugin that is part of dietgen; QEMU has no cycle model) and exact cycles under simavr.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dietgen.boards import Board
from dietgen.errors import DietgenError
from dietgen.resources import firmware
from dietgen.toolchain.cross import MACHINE_OF_CORE, avr_mcu, binutil, family
from dietgen.toolchain.host import find_compiler

TIMEOUT = 120.0
# simavr runs about 100 M cycles/s: this stops a runaway image long before the time limit would.
MAX_AVR_CYCLES = 2_000_000_000


@dataclass(frozen=True)
class StepCount:
    total: int                      # everything between the harness's markers but dg_mark_node's own body
    nodes: tuple[int, ...]          # per node marked by dg_mark_node (count_nodes builds), in order; sums to total


@dataclass(frozen=True)
class EmulatorRun:
    outputs: np.ndarray             # (n_blocks, out_size) float32; empty for the bench harness
    steps: tuple[StepCount, ...]
    unit: str                       # "instructions" (QEMU) or "cycles" (simavr)


def unit_of(board: Board) -> str:
    return "cycles" if family(board) == "avr" else "instructions"


def _emulator_binary(board: Board) -> str:
    kind = family(board)
    if kind == "cortex-m":
        name, package = "qemu-system-arm", "qemu-system-arm"
    elif kind == "avr":
        name, package = "simavr", "simavr libsimavr-dev"
    else:
        name = board.emulator.binary or ("qemu-aarch64" if "aarch64" in board.toolchain.cc else "qemu-arm")
        package = "qemu-user"
    if shutil.which(name) is None:
        raise DietgenError(f"emulator {name} for board {board.id!r} not found; install it: apt-get install "
                           f"{board.emulator.debian_package or package}")
    return name


def _cache_dir() -> Path:
    """$DIETGEN_CACHE_DIR, by default ~/.cache/dietgen: the host helpers built once (QEMU plugin, simavr runner)."""
    return Path(os.environ.get("DIETGEN_CACHE_DIR") or
                Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dietgen")


def _host_tool(source: Path, stem: str, flags: list[str], libs: list[str], package: str) -> Path:
    """Build a host helper (the QEMU plugin, the simavr runner) once per source version, in the user cache."""
    shared = firmware() / "harness" / "segments.h"
    text = source.read_bytes() + shared.read_bytes()
    digest = hashlib.sha256(text + " ".join(flags + libs).encode()).hexdigest()[:16]
    out = _cache_dir() / f"{stem}-{digest}"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{stem}-")
    os.close(fd)
    cmd = [find_compiler(), "-O2", "-std=gnu99", f"-I{shared.parent}", *flags, str(source), "-o", tmp, *libs]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        os.unlink(tmp)
        first = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr[:300])
        raise DietgenError(f"cannot build {source.name}: {first.strip()}; install {package}")
    os.replace(tmp, out)   # atomic: parallel test workers may build the same tool at once
    return out


def plugin_api_version(version_text: str) -> int:
    """The plugin API version to declare to the QEMU whose ``--version`` says ``version_text``. QEMU loads a
    plugin only when its version lies between the oldest and the newest that QEMU supports: QEMU 4.2 to 5.2 take
    0, 6.0 to 8.2 take 0 and 1, 9.0 and later take 2 up to their own (3 from 9.1, 4 from 9.2). The calls the
    plugin makes are the same in all of these: 0 before QEMU 6.0, 1 up to 8.2, 2 from 9.0."""
    found = re.search(r"(\d+)\.(\d+)", version_text)
    if found is None:
        raise DietgenError(f"cannot tell the QEMU version from {version_text.strip()[:80]!r}")
    release = (int(found.group(1)), int(found.group(2)))
    return 0 if release < (6, 0) else 1 if release < (9, 0) else 2


@lru_cache(maxsize=None)
def _qemu_version(binary: str) -> str:
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DietgenError(f"cannot run {binary} --version: {exc}")
    return result.stdout.split("\n", 1)[0]


def qemu_plugin(binary: str) -> Path:
    """The counting plugin, built for the plugin API of the QEMU ``binary`` (qemu-system-arm and qemu-user come
    from separate packages and may differ)."""
    version = plugin_api_version(_qemu_version(binary))
    return _host_tool(firmware() / "harness" / "qemu_count.c", "libqemu_count.so",
                      ["-shared", "-fPIC", f"-DDG_QEMU_PLUGIN_VERSION={version}"], [], "gcc")


def simavr_runner() -> Path:
    return _host_tool(firmware() / "harness" / "avr" / "simavr_run.c", "simavr_run", [], ["-lsimavr"],
                      "libsimavr-dev")


def symbols(elf: Path, board: Board) -> dict[str, tuple[int, int]]:
    """Defined function and object symbols of an image: name -> (address, size)."""
    result = subprocess.run([binutil(board, "nm"), "-S", "--defined-only", str(elf)], capture_output=True, text=True)
    if result.returncode != 0:
        raise DietgenError(f"cannot read the symbols of {elf.name}: {result.stderr.strip()}")
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return found


def _markers(elf: Path, board: Board, c_name: str) -> dict[str, int]:
    syms = symbols(elf, board)
    # The model's own step: a note player's build may inline NAME_step into NAME_play_step (a small model at -O3,
    # WaveNet on the Pis) and link without it, so either entry names the model.
    entry = f"{c_name}_step" if f"{c_name}_step" in syms else f"{c_name}_play_step"
    missing = [s for s in ("dg_mark_begin", "dg_mark_end", entry) if s not in syms]
    if missing:
        raise DietgenError(f"{elf.name} has no symbol {missing[0]}; build it with build_elf")
    # Thumb function symbols carry the mode in bit 0. An image built without count_nodes has no dg_mark_node
    # (the linker drops it unused): an empty range, so its steps count as a whole.
    node_lo, node_size = syms.get("dg_mark_node", (0, 0))
    node_lo &= ~1
    marks = {"begin": syms["dg_mark_begin"][0] & ~1, "end": syms["dg_mark_end"][0] & ~1, "nlo": node_lo,
             "nhi": node_lo + node_size}
    for name in ("dg_io_read", "dg_io_write", "dg_io_status"):
        if name in syms:
            marks[name] = syms[name][0]
    return marks


def _command(elf: Path, board: Board, marks: dict[str, int], counts: Path) -> list[str]:
    binary = _emulator_binary(board)
    kind = family(board)
    if kind == "avr":
        # Only the verify harness streams blocks; AVR data symbols sit at 0x800000 + their RAM address.
        io = [f"{marks['dg_io_read']:x}", f"{marks['dg_io_write']:x}", f"{marks['dg_io_status'] & 0xFFFF:x}"] \
            if "dg_io_read" in marks else []
        return [str(simavr_runner()), avr_mcu(board), str(board.clock_hz), str(elf), str(MAX_AVR_CYCLES),
                str(counts), *(f"{marks[k]:x}" for k in ("begin", "end", "nlo", "nhi")), *io]
    plugin = (f"{qemu_plugin(binary)},begin={marks['begin']:x},end={marks['end']:x},nlo={marks['nlo']:x},"
              f"nhi={marks['nhi']:x},out={counts}")
    if kind == "cortex-m":
        machine = board.emulator.machine or MACHINE_OF_CORE[board.core]
        return [binary, "-M", machine, "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-plugin", plugin, "-kernel", str(elf)]
    cpu = ["-cpu", board.emulator.cpu] if board.emulator.cpu else []
    return [binary, *cpu, "-plugin", plugin, str(elf)]


def node_counts(graph, step: StepCount) -> dict[str, int]:
    """A step's count per node (0 for views, which run no code), from an image built with count_nodes: NAME_step
    marks each node that makes runtime calls before it, in node order, so the n-th segment belongs to the n-th
    such node, however the compiler inlined its kernels."""
    from dietgen.cost import kernel_calls
    running = [node for node, n in kernel_calls(graph) if n]
    if len(running) != len(step.nodes):
        raise DietgenError(f"{graph.name}: the emulator counted {len(step.nodes)} nodes, the generated step runs "
                           f"{len(running)} (count them in an image built with count_nodes)")
    counts = {node.name: 0 for node in graph.nodes}
    counts.update((node.name, c) for node, c in zip(running, step.nodes))
    return counts


def run_elf_raw(elf: Path, board: Board, c_name: str, data: bytes,
                timeout: float = TIMEOUT) -> tuple[bytes, tuple[StepCount, ...]]:
    """Run an image from build_elf on ``board``'s emulator with ``data`` on its stdin: (its stdout, the counts
    of each marked step)."""
    marks = _markers(elf, board, c_name)
    with tempfile.TemporaryDirectory(prefix="dietgen-emu-") as tmp:
        counts = Path(tmp) / "counts.txt"
        cmd = _command(elf, board, marks, counts)
        try:
            result = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DietgenError(f"{elf.name} did not finish within {timeout:.0f} s on {cmd[0].rsplit('/', 1)[-1]} "
                               f"(a hang or a model too large for the emulator)")
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        reason = next((line for line in detail if "fault" in line or "crash" in line or "cycles" in line),
                      detail[-1] if detail else "")
        if result.returncode != 0:
            raise DietgenError(f"{elf.name} failed on {board.id}'s emulator with status {result.returncode}"
                               + (f": {reason.strip()}" if reason else ""))
        lines = counts.read_text().split("\n") if counts.exists() else []
    steps = tuple(StepCount(int(v[0]), tuple(int(x) for x in v[1:])) for v in (ln.split() for ln in lines) if v)
    return result.stdout, steps


def run_elf(elf: Path, board: Board, c_name: str, blocks: np.ndarray | None, out_size: int,
            timeout: float = TIMEOUT) -> EmulatorRun:
    """Run an image from build_elf on ``board``'s emulator; ``blocks`` (n, in_size) feed a verify harness,
    None runs a bench harness."""
    data = b"" if blocks is None else np.ascontiguousarray(blocks, dtype=np.float32).tobytes()
    stdout, steps = run_elf_raw(elf, board, c_name, data, timeout)
    if blocks is None:
        return EmulatorRun(np.zeros((0, out_size), np.float32), steps, unit_of(board))
    out = np.frombuffer(stdout, dtype=np.float32)
    if out.size != blocks.shape[0] * out_size:
        raise DietgenError(f"{elf.name} on {board.id} wrote {out.size} floats, expected "
                           f"{blocks.shape[0] * out_size}")
    return EmulatorRun(out.reshape(blocks.shape[0], out_size), steps, unit_of(board))


@dataclass(frozen=True)
class BoardRun:
    board: str
    core: str
    unit: str                                   # "instructions" or "cycles"
    total: int                                  # per step, between the harness's markers
    per_node: tuple[tuple[str, str, int], ...]  # (node, op, count), in execution order
    estimate: float | None                      # the cost model's figure in the same unit (None: no table)


def run_on_board(compiled, blocks: np.ndarray, board_id: str) -> tuple[np.ndarray, BoardRun]:
    """Cross-compile ``compiled`` with the verify harness, run ``blocks`` (one row of inputs per step) through it
    on the board's emulator; the output rows and what the last step cost."""
    from dietgen.boards import get_board
    from dietgen.codegen.render import render
    from dietgen.cost import block_counts, has_cost_table
    from dietgen.output import write_tree
    from dietgen.toolchain.cross import build_elf
    board = get_board(board_id)
    g = compiled.graph
    with tempfile.TemporaryDirectory(prefix="dietgen-board-") as tmp:
        src = write_tree(render(g), Path(tmp) / "src")
        elf = build_elf(src, compiled.c_name, board, Path(tmp) / "build", "verify", count_nodes=True)
        run = run_elf(elf, board, compiled.c_name, blocks, g.meta["plan"].out_size)
    if not run.steps:
        raise DietgenError(f"{board.id}: the emulator reported no counts for {compiled.c_name}")
    step = run.steps[-1]
    counts = node_counts(g, step)
    per_node = tuple((n.name, n.op_type, counts[n.name]) for n in g.nodes if counts[n.name])
    estimate = block_counts(g, board.core)[0] if has_cost_table(board.core) else None
    return run.outputs, BoardRun(board.id, board.core, run.unit, step.total, per_node, estimate)
