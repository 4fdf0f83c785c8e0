"""Board files (boards/*.toml): the facts about a board, with their sources. Data, not code.

Schema (every figure's source goes in [sources], keyed by the field it backs):

    id, name, vendor, mcu, core, clock_hz, ram_bytes, flash_bytes, fpu ("none" | "single" | "double"),
    simd (list: "dsp", "helium", "neon"), framework_ram_bytes (RAM the framework/OS takes before dietgen),
    audio_out (list: "serial", "dac", "pwm", "i2s", "stdout"),
    [platformio] platform, board, framework          (the official PlatformIO environment)
    [toolchain]  cc, cflags (list), ldflags (list), debian_package    (cross compiler; cc may be "" = none here)
    [emulator]   kind ("qemu-system" | "simavr" | "qemu-user" | "none"), machine / mcu / cpu / binary,
                 debian_package
    [sources]    field = "where the figure comes from"
"""
from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dietgen.errors import DietgenError
from dietgen.resources import resource

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORES = ("avr", "cortex-m0plus", "cortex-m3", "cortex-m4f", "cortex-m7", "cortex-m33", "xtensa-lx7",
         "cortex-a53", "cortex-a72", "cortex-a76")
FPUS = ("none", "single", "double")
EMULATORS = ("qemu-system", "simavr", "qemu-user", "none")


@dataclass(frozen=True)
class Toolchain:
    cc: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    debian_package: str = ""


@dataclass(frozen=True)
class Emulator:
    kind: str
    machine: str = ""      # qemu-system machine (-M)
    mcu: str = ""          # simavr MCU
    cpu: str = ""          # qemu-user -cpu
    binary: str = ""       # qemu-user binary (qemu-aarch64, qemu-arm)
    debian_package: str = ""


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    vendor: str
    mcu: str
    core: str
    clock_hz: int
    ram_bytes: int
    flash_bytes: int
    fpu: str
    simd: tuple[str, ...]
    framework_ram_bytes: int
    audio_out: tuple[str, ...]
    platformio: dict[str, str]
    toolchain: Toolchain
    emulator: Emulator
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @property
    def is_linux(self) -> bool:
        return self.core.startswith("cortex-a")


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str, "name": str, "vendor": str, "mcu": str, "core": str, "clock_hz": int, "ram_bytes": int,
    "flash_bytes": int, "fpu": str, "simd": list, "framework_ram_bytes": int, "audio_out": list,
    "platformio": dict, "toolchain": dict, "emulator": dict, "sources": dict,
}


def load_board(path: Path) -> Board:
    """One board file, every field checked; errors name the file and the field."""
    def fail(fld: str, msg: str) -> DietgenError:
        return DietgenError(f"{path.name}: field {fld!r} {msg}")

    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DietgenError(f"{path.name}: not a readable TOML board file ({exc})")
    for key, kind in _REQUIRED.items():
        if key not in doc:
            raise fail(key, "is missing")
        if not isinstance(doc[key], kind) or isinstance(doc[key], bool):
            raise fail(key, f"should be {getattr(kind, '__name__', kind)}, got {type(doc[key]).__name__}")
    for key in ("clock_hz", "ram_bytes", "flash_bytes"):
        if doc[key] <= 0:
            raise fail(key, f"should be positive, got {doc[key]}")
    if doc["framework_ram_bytes"] < 0 or doc["framework_ram_bytes"] >= doc["ram_bytes"]:
        raise fail("framework_ram_bytes", f"should be between 0 and ram_bytes, got {doc['framework_ram_bytes']}")
    if doc["core"] not in CORES:
        raise fail("core", f"is {doc['core']!r}; known cores: {', '.join(CORES)}")
    if doc["fpu"] not in FPUS:
        raise fail("fpu", f"is {doc['fpu']!r}; expected one of {', '.join(FPUS)}")
    if doc["id"] != path.stem:
        raise fail("id", f"is {doc['id']!r} but the file is named {path.name}")
    for key in ("platform", "board", "framework"):
        if not isinstance(doc["platformio"].get(key), str):
            raise fail(f"platformio.{key}", "is missing")
    try:
        toolchain = Toolchain(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc["toolchain"].items()})
        emulator = Emulator(**doc["emulator"])
    except TypeError as exc:
        raise DietgenError(f"{path.name}: bad [toolchain] or [emulator] table ({exc})")
    if emulator.kind not in EMULATORS:
        raise fail("emulator.kind", f"is {emulator.kind!r}; expected one of {', '.join(EMULATORS)}")
    missing_sources = [k for k in ("clock_hz", "ram_bytes", "flash_bytes") if k not in doc["sources"]]
    if missing_sources:
        raise fail(f"sources.{missing_sources[0]}", "is missing: say where the figure comes from")
    return Board(doc["id"], doc["name"], doc["vendor"], doc["mcu"], doc["core"], doc["clock_hz"],
                 doc["ram_bytes"], doc["flash_bytes"], doc["fpu"], tuple(doc["simd"]), doc["framework_ram_bytes"],
                 tuple(doc["audio_out"]), dict(doc["platformio"]), toolchain, emulator, dict(doc["sources"]), path)


@lru_cache(maxsize=None)
def boards() -> dict[str, Board]:
    """Every board shipped in boards/, by id."""
    return {b.id: b for b in (load_board(p) for p in sorted(resource("boards").glob("*.toml")))}


def get_board(board_id: str) -> Board:
    known = boards()
    if board_id not in known:
        close = difflib.get_close_matches(board_id, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DietgenError(f"unknown board {board_id!r}; {hint}known boards: {', '.join(sorted(known))}")
    return known[board_id]
