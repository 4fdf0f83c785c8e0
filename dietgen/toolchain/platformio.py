"""PlatformIO for generated projects, also with no registry: each project carries the local platform
(firmware/platformio/platform: builds with the system compilers) and a PlatformIO core folder of its own holding a
tool-scons package that runs the SCons installed beside PlatformIO, so it builds offline wherever it is copied and
never touches the user's ~/.platformio."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from dietgen.boards import Board
from dietgen.errors import DietgenError
from dietgen.resources import firmware

SCONS_VERSION = "4.41101.0"     # what PlatformIO 6.2 asks for: tool-scons ~4.41101.0 (SCons 4.11.1)
OFFLINE_ENV = "offline"
ARDUINO_AVR_CORE = Path("/usr/share/arduino/hardware/arduino/avr")   # Debian's arduino-core-avr
ARDUINO_AVR_PACKAGE = "arduino-core-avr"


# Where a generated project keeps what its offline env needs, relative to the project: the local platform, and a
# PlatformIO core folder of its own holding tool-scons (never the user's ~/.platformio).
OFFLINE_PLATFORM = "offline/platform"
OFFLINE_CORE = "offline/core"


def offline_files() -> dict[str, str]:
    """Relative path -> content of the offline platform and core folder a project carries, so that it builds
    offline wherever it is copied, with no path into dietgen."""
    src = firmware() / "platformio"
    files = {f"{OFFLINE_PLATFORM}/{rel}": (src / "platform" / rel).read_text()
             for rel in ("platform.json", "builder/main.py")}
    scons = f"{OFFLINE_CORE}/packages/tool-scons"
    files.update({f"{scons}/{name}": (src / "tool-scons" / name).read_text() for name in ("package.json", "scons.py")})
    # Without this metadata file PlatformIO does not see the folder as an installed package.
    files[f"{scons}/.piopm"] = json.dumps({
        "type": "tool", "name": "tool-scons", "version": SCONS_VERSION,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None}})
    return files


def pio_command() -> list[str]:
    """PlatformIO as installed with dietgen (same Python), else a `pio` on PATH."""
    try:
        import platformio  # noqa: F401
        return [sys.executable, "-m", "platformio"]
    except ImportError:
        pio = shutil.which("pio") or shutil.which("platformio")
        if pio is None:
            raise DietgenError("PlatformIO is not installed; install it with: pip install platformio")
        return [pio]


def toolchain_installed(board: Board) -> bool:
    return bool(board.toolchain.cc) and shutil.which(board.toolchain.cc) is not None


def offline_missing(board: Board) -> str | None:
    """What keeps the offline env of ``board`` from building here (one line), or None."""
    tc = board.toolchain
    if not tc.cc:
        return f"Debian has no compiler for {board.id} ({board.core}): build with the official env instead"
    if shutil.which(tc.cc) is None:
        return f"{tc.cc} not found; install it with: apt-get install {tc.debian_package}"
    if tc.arduino_variant and not ARDUINO_AVR_CORE.is_dir():
        return f"the Arduino AVR core is missing; install it with: apt-get install {ARDUINO_AVR_PACKAGE}"
    return None


def _environment(project: Path, env_name: str | None) -> dict[str, str]:
    environ = dict(os.environ)
    if env_name == OFFLINE_ENV:
        environ["PLATFORMIO_CORE_DIR"] = str((project / OFFLINE_CORE).resolve())
    # No telemetry or update checks: both would reach for the network.
    environ.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
    environ.setdefault("PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL", "3650")
    return environ


def _stream(cmd: list[str], environ: dict[str, str], echo: Callable[[str], None]) -> tuple[int, str]:
    """Run ``cmd``, echoing its output line by line; (status, the output's last lines)."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ)
    except OSError as exc:
        raise DietgenError(f"cannot run {cmd[0]} ({exc.strerror}); install PlatformIO: pip install platformio")
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        echo(line)
        tail = (tail + [line.rstrip()])[-60:]
    return proc.wait(), "\n".join(tail)


def _first_cause(output: str) -> str:
    """The line of a failed build that says why: a compiler or linker error, else a missing tool."""
    lines = [line.strip() for line in output.splitlines()]
    for mark in ("error:", "undefined reference", "not found", "rror"):
        hit = next((line for line in lines if mark in line), None)
        if hit:
            return hit
    return "see its output above"


def _check_project(project: Path) -> None:
    if not (project / "platformio.ini").is_file():
        raise DietgenError(f"{project}: no platformio.ini; create the project with "
                           f"dietgen export MODEL --board BOARD -o {project}")


def build(project, env: str = OFFLINE_ENV, echo: Callable[[str], None] = lambda line: None) -> Path:
    """`pio run -e ENV` in ``project``; the path of the firmware ELF."""
    project = Path(project)
    _check_project(project)
    status, tail = _stream([*pio_command(), "run", "-d", str(project), "-e", env], _environment(project, env), echo)
    if status != 0:
        raise DietgenError(f"pio run -e {env} failed in {project}: {_first_cause(tail)}")
    return project / ".pio" / "build" / env / "firmware.elf"


def upload(project, env: str | None = None, port: str | None = None,
           echo: Callable[[str], None] = lambda line: None) -> None:
    """`pio run -t upload` in ``project`` (the board's official env unless ``env``), output streamed to echo."""
    project = Path(project)
    _check_project(project)
    if env == OFFLINE_ENV:
        raise DietgenError("the offline env only checks that the project builds with the system compiler; "
                           "flash with the board's official env (drop -e)")
    ini = configparser.ConfigParser()
    ini.read(project / "platformio.ini")
    official = env or ini.get("platformio", "default_envs", fallback="")
    if ini.get(f"env:{official}", "platform", fallback="") == "native":
        raise DietgenError(f"{project} is a Linux program, not firmware: build it on the Raspberry Pi with "
                           f"pio run -e {official} (see its README)")
    cmd = [*pio_command(), "run", "-d", str(project), "-t", "upload", *(["-e", env] if env else []),
           *(["--upload-port", port] if port else [])]
    status, tail = _stream(cmd, _environment(project, env), echo)
    if status != 0:
        lines = tail.lower()
        if "httpclienterror" in lines or "could not resolve" in lines or "connection" in lines:
            hint = "PlatformIO could not download the board's platform: upload needs a network connection once"
        elif "upload_port" in lines or "no device" in lines or "please specify" in lines or "not found" in lines:
            hint = "no board found: connect it over USB (or give --port) and try again"
        else:
            hint = next((line for line in reversed(tail.splitlines()) if line.strip()), "see its output").strip()
        raise DietgenError(f"upload of {project} failed: {hint}")
