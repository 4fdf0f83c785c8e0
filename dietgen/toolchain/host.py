"""Build a generated library with the host C compiler, together with a test harness, and run it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from dietgen.errors import DietgenError
from dietgen.resources import firmware

STRICT = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


def find_compiler(cc: str | None = None) -> str:
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise DietgenError(f"C compiler {cc!r} not found; install one (apt-get install gcc) or set CC")
    return cc


def build_harness(src_dir: Path, name: str, out: Path, *, cc: str | None = None, opt: str = "-O2",
                  sanitize: bool = False, extra: tuple[str, ...] = ()) -> Path:
    """Compile the generated library in ``src_dir`` with firmware/harness/host_main.c into ``out``."""
    cc = find_compiler(cc)
    sources = [src_dir / f"{name}.c", src_dir / f"{name}_weights.c", *sorted((src_dir / "dietgen").glob("*.c"))]
    upper = name.upper()
    cmd = [cc, *STRICT, opt, *(SANITIZE if sanitize else ()), *extra, f"-I{src_dir}",
           f'-DDG_HEADER="{name}.h"', f"-DDG_INIT={name}_init", f"-DDG_STEP={name}_step",
           f"-DDG_IN_SIZE={upper}_IN_SIZE", f"-DDG_OUT_SIZE={upper}_OUT_SIZE",
           str(firmware() / "harness" / "host_main.c"), *map(str, sources), "-o", str(out), "-lm"]
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
