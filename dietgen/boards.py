"""Board files (boards/*.toml): the facts about a board, with their sources. Data, not code.

Schema (every figure's source goes in [sources], keyed by the field it backs):

    id, name, vendor, mcu, core, clock_hz, ram_bytes, flash_bytes, fpu ("none" | "single" | "double"),
    simd (list: "dsp", "helium", "neon", "pie"), framework_ram_bytes (RAM the framework/OS takes before dietgen),
    audio_out (list: "serial", "dac", "pwm", "i2s", "stdout"),
    [platformio] platform, board, framework          (the official PlatformIO environment; board and framework
                                                      are "" for platform "native", built on the board itself)
    [platformio.options]  option = "value"           (optional: more lines of the official env, e.g.
                                                      upload_protocol, build_flags; loaded as
                                                      board.platformio["options"], {} when absent)
    [[ram_banks]] name, bytes, section, holds, shares  (optional: RAM that is not one block. A static array
                                                      lands in the bank whose section is "" (the default bank,
                                                      exactly one) unless placed in another bank's linker
                                                      section (Teensy 4's DMAMEM is ".dmabuffers"). holds:
                                                      what else lives there; shares: flash budget parts the
                                                      linker also puts there ("code", "weights"). Without
                                                      banks, ram_bytes is one default bank.)
    [toolchain]  cc, cflags (list), ldflags (list), debian_package    (cross compiler; cc may be "" = none here)
                 arduino_variant, arduino_board       (optional: the variant folder and ARDUINO_<board> macro of
                                                      Debian's arduino-core-avr, for offline Arduino builds)
    [emulator]   kind ("qemu-system" | "simavr" | "qemu-user" | "none"), machine / mcu / cpu / binary,
                 debian_package
    [sources]    field = "where the figure comes from"
"""
from __future__ import annotations

import dataclasses
import difflib
import re
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
SIMD = ("dsp", "helium", "neon", "pie")
AUDIO_OUT = ("serial", "dac", "pwm", "i2s", "stdout")


@dataclass(frozen=True)
class Toolchain:
    cc: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    debian_package: str = ""
    arduino_variant: str = ""
    arduino_board: str = ""

    @property
    def cxx(self) -> str:
        """The C++ driver beside cc (arm-none-eabi-gcc -> arm-none-eabi-g++)."""
        return self.cc[:-3] + "g++" if self.cc.endswith("gcc") else self.cc


@dataclass(frozen=True)
class Emulator:
    kind: str
    machine: str = ""      # qemu-system machine (-M)
    mcu: str = ""          # simavr MCU
    cpu: str = ""          # qemu-user -cpu
    binary: str = ""       # qemu-user binary (qemu-aarch64, qemu-arm)
    debian_package: str = ""


@dataclass(frozen=True)
class RamBank:
    name: str
    bytes: int
    section: str = ""           # linker section that places a static array here; "": where they go by default
    holds: str = ""
    shares: tuple[str, ...] = ()   # flash budget parts the linker copies into this bank too


BANK_SHARES = ("code", "weights")


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
    platformio: dict[str, Any]          # platform, board, framework (str) and options (dict[str, str])
    toolchain: Toolchain
    emulator: Emulator
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    ram_banks: tuple[RamBank, ...] = ()

    @property
    def is_linux(self) -> bool:
        return self.core.startswith("cortex-a")

    @property
    def banks(self) -> tuple[RamBank, ...]:
        """The RAM banks, the default one first when the file declares none: ram_bytes as one bank."""
        return self.ram_banks or (RamBank("RAM", self.ram_bytes),)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k != "path"},
                "simd": list(self.simd), "audio_out": list(self.audio_out)}


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
    for key, allowed in (("simd", SIMD), ("audio_out", AUDIO_OUT)):
        unknown = [v for v in doc[key] if v not in allowed]
        if unknown:
            raise fail(key, f"has {unknown[0]!r}; expected values from {', '.join(allowed)}")
    toolchain = Toolchain(**_table(doc["toolchain"], Toolchain, "toolchain", fail))
    emulator = Emulator(**_table(doc["emulator"], Emulator, "emulator", fail))
    if emulator.kind not in EMULATORS:
        raise fail("emulator.kind", f"is {emulator.kind!r}; expected one of {', '.join(EMULATORS)}")
    missing_sources = [k for k in ("clock_hz", "ram_bytes", "flash_bytes") if k not in doc["sources"]]
    if missing_sources:
        raise fail(f"sources.{missing_sources[0]}", "is missing: say where the figure comes from")
    platformio = {**doc["platformio"], "options": _options(doc["platformio"].get("options", {}), fail)}
    banks = _banks(doc.get("ram_banks", []), doc["ram_bytes"], fail)
    if banks and "ram_banks" not in doc["sources"]:
        raise fail("sources.ram_banks", "is missing: say where the banks come from")
    return Board(doc["id"], doc["name"], doc["vendor"], doc["mcu"], doc["core"], doc["clock_hz"],
                 doc["ram_bytes"], doc["flash_bytes"], doc["fpu"], tuple(doc["simd"]), doc["framework_ram_bytes"],
                 tuple(doc["audio_out"]), platformio, toolchain, emulator, dict(doc["sources"]), path, banks)


def _options(options: Any, fail) -> dict[str, str]:
    """[platformio.options]: option names to the string values written into platformio.ini as they are."""
    if not isinstance(options, dict):
        raise fail("platformio.options", f"should be a table of strings, got {type(options).__name__}")
    bad = next((k for k, v in options.items() if not isinstance(v, str)), None)
    if bad is not None:
        raise fail(f"platformio.options.{bad}", f"should be str, got {type(options[bad]).__name__}")
    return dict(options)


def _banks(tables: Any, ram_bytes: int, fail) -> tuple[RamBank, ...]:
    """[[ram_banks]]: each checked, exactly one default bank (section ""), together no more than ram_bytes."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise fail("ram_banks", "should be an array of tables ([[ram_banks]])")
    banks = []
    for n, table in enumerate(tables):
        where = f"ram_banks[{n}]"
        if not isinstance(table.get("bytes"), int) or isinstance(table.get("bytes"), bool) or table["bytes"] <= 0:
            raise fail(f"{where}.bytes", f"should be a positive integer, got {table.get('bytes')!r}")
        fields = _table({k: v for k, v in table.items() if k != "bytes"}, RamBank, where, fail,
                        exempt=("bytes",))
        unknown = [s for s in fields.get("shares", ()) if s not in BANK_SHARES]
        if unknown:
            raise fail(f"{where}.shares", f"has {unknown[0]!r}; expected values from {', '.join(BANK_SHARES)}")
        banks.append(RamBank(bytes=table["bytes"], **fields))
    defaults = [b.name for b in banks if not b.section]
    if banks and len(defaults) != 1:
        raise fail("ram_banks", f"should have exactly one bank with section \"\" (the default), has {len(defaults)}")
    bad = next((b.section for b in banks if b.section and not re.fullmatch(r"\.?[A-Za-z_][\w.]*", b.section)), None)
    if bad is not None:
        raise fail("ram_banks", f"has section {bad!r}; expected a linker section name such as .dmabuffers")
    if sum(b.bytes for b in banks) > ram_bytes:
        raise fail("ram_banks", f"add up to {sum(b.bytes for b in banks)} bytes, more than ram_bytes {ram_bytes}")
    # The default bank first: it is where everything without a section goes, and the first choice.
    return tuple(sorted(banks, key=lambda b: bool(b.section)))


def _table(table: dict[str, Any], cls: type, section: str, fail, exempt: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of one [section] checked against the dataclass that holds them: names and types (the
    ``exempt`` fields are the caller's to check)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in exempt}
    out = {}
    for key, value in table.items():
        if key not in fields:
            raise fail(f"{section}.{key}", f"is not a known field; known: {', '.join(fields)}")
        want = fields[key].type
        if want.startswith("tuple"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail(f"{section}.{key}", "should be a list of strings")
            value = tuple(value)
        elif not isinstance(value, str):
            raise fail(f"{section}.{key}", f"should be str, got {type(value).__name__}")
        out[key] = value
    required = [f.name for f in fields.values() if f.default is dataclasses.MISSING]
    missing = [k for k in required if k not in out]
    if missing:
        raise fail(f"{section}.{missing[0]}", "is missing")
    return out


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
