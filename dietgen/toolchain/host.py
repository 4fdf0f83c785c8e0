"""Build a generated library with the host C compiler, together with a test harness, and run it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from dietgen.codegen.render import unity_name
from dietgen.errors import DietgenError
from dietgen.resources import firmware

STRICT = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


def find_compiler(cc: str | None = None) -> str:
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise DietgenError(f"C compiler {cc!r} not found; install one (apt-get install gcc) or set CC")
    return cc


def library_sources(src_dir: Path, name: str, player: bool = False, unity: bool = True) -> list[Path]:
    """The generated library's C files (with its note player when asked). dietgen's own builds compile its one
    translation unit, NAME_unity.c (which includes the player), where there is one: they build what a board runs
    (the PlatformIO project compiles it too), so counts, sizes and outputs are that build's. Libraries without one
    (hand-written test libraries) and ``unity=False`` give each file."""
    unity_file = src_dir / unity_name(name)
    if unity and unity_file.is_file():
        return [unity_file]
    own = [f"{name}.c", f"{name}_weights.c", *([f"{name}_player.c"] if player else [])]
    return [src_dir / f for f in own] + sorted((src_dir / "dietgen").glob("*.c"))


def harness_defines(name: str, player: bool = False) -> list[str]:
    """What a harness main needs to know of the model (or of its player)."""
    upper = name.upper()
    if player:
        return [f'-DDG_PLAYER_HEADER="{name}_player.h"', f"-DDG_PLAY_START={name}_play_start",
                f"-DDG_PLAY_STEP={name}_play_step", f"-DDG_PLAY_SAMPLES={upper}_PLAY_SAMPLES"]
    return [f'-DDG_HEADER="{name}.h"', f"-DDG_INIT={name}_init", f"-DDG_STEP={name}_step",
            f"-DDG_IN_SIZE={upper}_IN_SIZE", f"-DDG_OUT_SIZE={upper}_OUT_SIZE"]


def build_harness(src_dir: Path, name: str, out: Path, *, cc: str | None = None, opt: str = "-O2",
                  sanitize: bool = False, extra: tuple[str, ...] = (), player: bool = False,
                  main: str | None = None, unity: bool = True) -> Path:
    """Compile the generated library in ``src_dir`` with firmware/harness/host_main.c (or, for its note
    player, play_main.c, timing its steps; or the harness named by ``main``) into ``out``; ``unity``: see
    library_sources."""
    cc = find_compiler(cc)
    main = firmware() / "harness" / (main or ("play_main.c" if player else "host_main.c"))
    timing = ("-DDG_PLAY_TIMING",) if player else ()
    cmd = [cc, *STRICT, opt, *(SANITIZE if sanitize else ()), *timing, *extra, f"-I{src_dir}",
           *harness_defines(name, player), str(main), *map(str, library_sources(src_dir, name, player, unity)),
           "-o", str(out), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        first = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr[:300])
        raise DietgenError(f"host build of {name} failed: {first.strip()}")
    return out


def run_harness(exe: Path, blocks: np.ndarray, out_size: int, timeout: float = 120) -> np.ndarray:
    """Feed ``blocks`` (n_blocks, in_size) float32 through the harness; (n_blocks, out_size) back."""
    blocks = np.ascontiguousarray(blocks, dtype=np.float32)
    try:
        result = subprocess.run([str(exe)], input=blocks.tobytes(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DietgenError(f"{exe.name} did not finish within {timeout:.0f} s")
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise DietgenError(f"{exe.name} failed with status {result.returncode}"
                           + (f": {detail[0]}" if detail else ""))
    out = np.frombuffer(result.stdout, dtype=np.float32)
    return out.reshape(blocks.shape[0], out_size)
