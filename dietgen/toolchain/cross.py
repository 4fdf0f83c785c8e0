"""Cross builds: a generated library plus a test harness, compiled for a board's instruction set.

Bare-metal Cortex-M images link with dietgen's own startup code and the linker script of the QEMU machine that
emulates the core (firmware/harness/cortexm); AVR images use the memory-streaming harness simavr_run drives
(firmware/harness/avr); Raspberry Pi programs are static Linux executables for qemu-user. Harnesses:
"verify" streams input blocks in and output blocks out; "bench" has no I/O and runs a few steps on a fixed
input (the image a deployment pays for, and what the instruction and cycle counters measure).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from dietgen.boards import Board
from dietgen.errors import DietgenError
from dietgen.resources import firmware
from dietgen.toolchain.host import STRICT, harness_defines, library_sources

HARNESSES = ("verify", "bench", "play")

# The QEMU machine whose memory map a bare-metal image is linked for, when the board names none.
MACHINE_OF_CORE = {"cortex-m0plus": "microbit", "cortex-m3": "mps2-an385", "cortex-m4f": "mps2-an386",
                   "cortex-m7": "mps2-an500", "cortex-m33": "mps2-an505"}


def family(board: Board) -> str:
    """How images for ``board`` are built and run: "cortex-m", "avr" or "linux"."""
    if board.core == "avr":
        return "avr"
    if board.is_linux:
        return "linux"
    if board.core in MACHINE_OF_CORE:
        return "cortex-m"
    raise DietgenError(f"board {board.id!r}: no cross build for core {board.core} (no Debian toolchain "
                       f"or emulator); choose a Cortex-M, AVR or Raspberry Pi board")


def optimisation_flags(board: Board) -> tuple[str, ...]:
    """How the board's builds optimise, its PlatformIO project's (glue.py) and dietgen's own: AVR for size; the
    Pis at -O3, where GCC vectorises the activation and gate loops for NEON, with OpenMP's simd loops on (no
    threads, no runtime) for the short ones common.h marks DG_SIMD (why: see there)."""
    return {"avr": ("-Os",), "linux": ("-O3", "-fopenmp-simd", "-DDG_OMP_SIMD")}.get(family(board), ("-O2",))


def cross_available(board: Board) -> bool:
    """Whether dietgen can cross-build for ``board`` here: a core it builds for and its compiler installed."""
    cc = board.toolchain.cc
    buildable = board.core == "avr" or board.is_linux or board.core in MACHINE_OF_CORE
    return buildable and bool(cc) and shutil.which(cc) is not None


def require_cross(board: Board) -> str:
    """The board's cross compiler, or a DietgenError saying which Debian package provides it."""
    family(board)
    cc = board.toolchain.cc
    if not cc:
        raise DietgenError(f"board {board.id!r} names no cross compiler; its board file needs [toolchain] cc")
    if shutil.which(cc) is None:
        package = board.toolchain.debian_package or "the board's cross compiler"
        raise DietgenError(f"cross compiler {cc} for board {board.id!r} not found; install it: "
                           f"apt-get install {package}")
    return cc


def binutil(board: Board, tool: str) -> str:
    """A binutils program (nm, size) of the board's toolchain: arm-none-eabi-gcc -> arm-none-eabi-nm."""
    cc = require_cross(board)
    prefix = cc[:-3] if cc.endswith("gcc") else ""
    path = shutil.which(prefix + tool)
    if path is None:
        raise DietgenError(f"{prefix}{tool} not found; install the binutils of {cc} (apt-get install "
                           f"{board.toolchain.debian_package or 'binutils'})")
    return path


def avr_mcu(board: Board) -> str:
    for flag in board.toolchain.cflags:
        if flag.startswith("-mmcu="):
            return flag.split("=", 1)[1]
    if board.emulator.mcu:
        return board.emulator.mcu
    raise DietgenError(f"board {board.id!r}: no AVR MCU given; set emulator.mcu or -mmcu= in toolchain.cflags")


def _target_flags(board: Board, harness_dir: Path) -> tuple[list[str], list[str]]:
    """(compile flags, link flags and extra sources) for the board's family."""
    cflags = list(board.toolchain.cflags)
    kind = family(board)
    if kind == "cortex-m":
        machine = board.emulator.machine or MACHINE_OF_CORE[board.core]
        script = harness_dir / "cortexm" / f"{machine}.ld"
        if not script.is_file():
            raise DietgenError(f"board {board.id!r}: no linker script for QEMU machine {machine!r}; supported: "
                               f"{', '.join(sorted(MACHINE_OF_CORE.values()))}")
        if "-mthumb" not in cflags:
            cflags.append("-mthumb")
        link = ["--specs=nano.specs", "--specs=rdimon.specs", "-nostartfiles", f"-L{harness_dir / 'cortexm'}",
                f"-T{script.name}", "-Wl,--gc-sections", str(harness_dir / "cortexm" / "startup.c")]
        return cflags, link
    if kind == "avr":
        if not any(f.startswith("-mmcu=") for f in cflags):
            cflags.append(f"-mmcu={avr_mcu(board)}")
        if not any(f.startswith("-DF_CPU") for f in cflags):
            cflags.append(f"-DF_CPU={board.clock_hz}UL")
        return cflags, ["-Wl,--gc-sections", str(harness_dir / "avr" / "exit.S")]
    return cflags, ["-static", "-Wl,--gc-sections"]


def build_elf(src_dir: Path, c_name: str, board: Board, out_dir: Path, harness: str, *,
              count_nodes: bool = False, unity: bool = True) -> Path:
    """Compile the generated library in ``src_dir`` with a harness for ``board``; the image's path.

    ``count_nodes`` defines DG_COUNT_NODES: the step calls the harness's dg_mark_node before each node, so that
    the emulator's count splits per node (emulate.node_counts), at the price of those calls; images measured
    for their size or whole-step cost leave it off. ``unity``: see host.library_sources. Each object's stack
    frame is written next to it (-fstack-usage), for stack_bytes(out_dir).
    """
    if harness not in HARNESSES:
        raise ValueError(f"harness {harness!r}")
    cc = require_cross(board)
    harness_dir = firmware() / "harness"
    cflags, link = _target_flags(board, harness_dir)
    if harness == "play" and family(board) == "avr":
        raise DietgenError(f"{board.id}: dietgen generate runs on ARM boards' emulators; simavr has no stdio "
                           f"for a phrase in and audio out")
    if harness == "verify":
        main = harness_dir / ("avr/avr_main.c" if family(board) == "avr" else "host_main.c")
    else:
        main = harness_dir / f"{harness}_main.c"
    src_dir, out_dir = Path(src_dir).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = library_sources(src_dir, c_name, player=harness == "play", unity=unity)
    elf = out_dir / f"{c_name}-{board.id}-{harness}.elf"
    cmd = [cc, *STRICT, *optimisation_flags(board), *cflags, "-ffunction-sections", "-fdata-sections",
           "-fstack-usage", f"-I{src_dir}",
           *harness_defines(c_name, player=harness == "play"), *(["-DDG_COUNT_NODES"] if count_nodes else []),
           str(main), *map(str, sources),
           *link, *board.toolchain.ldflags, "-o", str(elf), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=out_dir)
    if result.returncode != 0:
        raise DietgenError(f"{board.id} build of {c_name} failed: {_first_problem(result.stderr)}")
    return elf


# What a failed cross build says first, most telling first: the image does not fit, then compile errors.
_PROBLEMS = (("not within region", "the model does not fit the board's memory (see dietgen check)"),
             ("overflowed by", "the model does not fit the board's memory (see dietgen check)"),
             ("relocation truncated", "the model does not fit the board's memory (see dietgen check)"),
             ("error:", ""), ("undefined reference", ""))


def _first_problem(stderr: str) -> str:
    lines = stderr.splitlines()
    for needle, hint in _PROBLEMS:
        line = next((ln for ln in lines if needle in ln), None)
        if line:
            line = re.sub(r"^\S*/ld(\.bfd)?: ", "", line.strip())
            return f"{line}; {hint}" if hint else line
    return stderr.strip()[:300]


def elf_sizes(elf: Path, board: Board) -> dict[str, int]:
    """Bytes of text (code and constants, weights included), data (initialised RAM, also stored in flash)
    and bss (zeroed RAM) of an image, from the toolchain's size."""
    result = subprocess.run([binutil(board, "size"), "-B", str(elf)], capture_output=True, text=True)
    rows = result.stdout.split("\n")
    if result.returncode != 0 or len(rows) < 2:
        raise DietgenError(f"cannot read the sizes of {elf.name}: {result.stderr.strip()}")
    text, data, bss = (int(v) for v in rows[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


_SU_LINE = re.compile(r"^(?P<where>.*):(?P<fn>[^:\s]+)\s+(?P<bytes>\d+)\s+(?P<kind>\S+)")


def stack_bytes(out_dir: Path) -> int:
    """Deepest stack of a step, from the -fstack-usage files of a build: NAME_step's frame plus the largest
    frame of the functions it calls (kernels call only inline helpers and libm), plus the harness's main."""
    frames: dict[str, int] = {}
    for su in Path(out_dir).glob("*.su"):
        for line in su.read_text().splitlines():
            m = _SU_LINE.match(line)
            if m:
                frames[m["fn"]] = max(frames.get(m["fn"], 0), int(m["bytes"]))
    if not frames:
        raise DietgenError(f"no -fstack-usage files in {out_dir}; build the image with build_elf first")
    step = max((b for fn, b in frames.items() if fn.endswith("_step")), default=0)
    main = frames.get("main", 0)
    callees = [b for fn, b in frames.items() if fn.startswith("dg_")]
    return main + step + max(callees, default=0)
