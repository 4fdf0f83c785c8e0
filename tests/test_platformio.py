"""PlatformIO projects from `dietgen export --board`, self-contained: built offline with the README's own command
(the local platform and core folder the project carries, the system compilers, no registry) for every board
with a Debian compiler, from a copy moved to another folder; `dietgen flash` fails clearly. (The programs
themselves: tests/test_board_program.py, tests/test_glue.py, tests/test_linux_program.py.)"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from dietgen.boards import get_board
from dietgen.project import render_project
from dietgen.errors import DietgenError
from dietgen.pipeline import compile_model
from dietgen.toolchain import platformio
from golden_models import tiny_conv_dense
from clirun import run

pytest.importorskip("platformio", reason="PlatformIO is a dietgen dependency: pip install platformio")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    return path


def export(tiny, board, tmp_path, *options):
    out = tmp_path / board
    result = run("export", tiny, "--board", board, "-o", out, *options)
    assert result.exit_code == 0, result.output
    return out


def need(board_id):
    missing = platformio.offline_missing(get_board(board_id))
    if missing:
        pytest.skip(missing)


def test_projects_carry_their_offline_platform_and_name_no_path_into_dietgen(tiny):
    files = render_project(compile_model(str(tiny)), get_board("nano33ble"))
    meta = json.loads(files["offline/core/packages/tool-scons/.piopm"])
    assert meta["name"] == "tool-scons" and meta["version"] == \
        json.loads(files["offline/core/packages/tool-scons/package.json"])["version"]
    assert {"offline/platform/platform.json", "offline/platform/builder/main.py",
            "offline/core/packages/tool-scons/scons.py"} <= set(files)
    checkout = str(Path(platformio.__file__).resolve().parents[2])
    assert not any(checkout in text for text in files.values())


def test_project_layout_ini_and_library(tiny):
    compiled = compile_model(str(tiny))
    files = render_project(compiled, get_board("nano33ble"))
    assert {"platformio.ini", "README.md", "src/main.cpp", "src/dietgen_app.h", "src/dietgen_board.h",
            "lib/tiny/library.json", "lib/tiny/tiny.c", "lib/tiny/tiny.h", "lib/tiny/tiny_weights.c",
            "lib/tiny/tiny_weights.h", "lib/tiny/dietgen/common.h", "lib/tiny/dietgen/ring.c",
            *(f"lib/tiny/dietgen/{k}.{ext}" for k in ("conv", "copy", "panel") for ext in "ch")} <= set(files)
    ini = files["platformio.ini"]
    assert "[env:nano33ble]\nplatform = nordicnrf52\nboard = nano33ble\nframework = arduino\n" in ini
    assert "[env:offline]\nplatform = symlink://offline/platform\ncustom_cc = arm-none-eabi-gcc" in ini
    assert json.loads(files["lib/tiny/library.json"])["name"] == "tiny"
    # Every C file of the library compiles once: the model in its unity file, the board program's runtime (the
    # rings, the glue's resampler) on its own, external, as the program calls it.
    build = json.loads(files["lib/tiny/library.json"])["build"]
    alone = ["dietgen/resample.c", "dietgen/ring.c"]
    assert build["srcFilter"] == ["-<*>", "+<tiny_unity.c>", *(f"+<{c}>" for c in alone)]
    included = re.findall(r'^#include "(\S+\.c)"$', files["lib/tiny/tiny_unity.c"], re.M)
    assert sorted([*included, *alone, "tiny_unity.c"]) == sorted(
        rel.removeprefix("lib/tiny/") for rel in files if rel.startswith("lib/tiny/") and rel.endswith(".c"))
    assert "dg_app_work();" in files["src/main.cpp"] and "tiny_step(dg_x, dg_y)" in files["src/dietgen_app.h"]
    # Linux boards get a C program; boards without a compiler in Debian get no offline env.
    pi = render_project(compiled, get_board("rpi5"))
    assert "src/main.c" in pi and "src/main.cpp" not in pi and "[env:rpi5]\nplatform = native\n" in pi["platformio.ini"]
    esp = render_project(compiled, get_board("esp32-s3-devkitc-1"))["platformio.ini"]
    assert "[env:offline]" not in esp and "platform = espressif32" in esp


def test_cortex_m_project_builds_offline(tiny, tmp_path):
    need("nano33ble")
    project = export(tiny, "nano33ble", tmp_path)
    elf = platformio.build(project)
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " T tiny_step" in symbols and " T main" in symbols and " T dg_ring_take" in symbols
    header = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True).stdout
    assert "Tag_CPU_arch: v7E-M" in header and "Tag_ABI_VFP_args: VFP registers" in header   # M4F, hard float


@pytest.mark.parametrize("board_id", ["uno", "megaatmega2560", "due", "pico", "nanorp2040connect", "rpipico2",
                                      "portenta_h7_m7", "teensy41", "electrosmith_daisy", "nano33ble",
                                      "rpizero2w", "rpi3", "rpi4", "rpi5"])
def test_every_board_with_a_debian_compiler_builds_offline_from_a_moved_copy_as_its_readme_says(
        tiny, tmp_path, board_id):
    need(board_id)
    board = get_board(board_id)
    out = tmp_path / "made" / board_id
    result = run("export", tiny, "--board", board_id, "-o", out, "--sample-rate", "100")
    if result.exit_code != 0:     # then it must be the budget saying why, and nothing written
        assert f"tiny does not fit {board_id}" in result.output and not out.exists()
        return
    # The project moved elsewhere and the folder it was made in gone: it still builds, with the README's
    # command run in the project, pio found as the README says (dietgen's environment).
    moved = tmp_path / "elsewhere" / "project"
    shutil.copytree(out, moved)
    shutil.rmtree(tmp_path / "made")
    command = next(line for line in (moved / "README.md").read_text().splitlines()
                   if line.startswith("PLATFORMIO_CORE_DIR="))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No"}
    done = subprocess.run(command, shell=True, cwd=moved, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    elf = moved / ".pio" / "build" / "offline" / "firmware.elf"
    size = subprocess.run([board.toolchain.cc[:-3] + "size", "-B", str(elf)], capture_output=True, text=True,
                          check=True).stdout.splitlines()[1].split()
    assert 0 < int(size[0]) + int(size[1]) <= board.flash_bytes


def test_build_failure_is_one_clear_line(tiny, tmp_path):
    need("nano33ble")
    project = export(tiny, "nano33ble", tmp_path)
    ini = project / "platformio.ini"
    ini.write_text(ini.read_text().replace("custom_cc = arm-none-eabi-gcc", "custom_cc = no-such-gcc"))
    with pytest.raises(DietgenError, match="pio run -e offline failed in .*: .*no-such-gcc not found"):
        platformio.build(project)


def test_flash_fails_clearly_without_project_pio_or_with_the_offline_env(tiny, tmp_path, monkeypatch):
    result = run("flash", tmp_path)
    assert result.exit_code == 1 and "no platformio.ini" in result.output
    project = export(tiny, "nano33ble", tmp_path)
    result = run("flash", project, "-e", "offline")
    assert result.exit_code == 1 and "flash with the board's official env" in result.output
    pi = tmp_path / "pi"
    pi.mkdir()
    (pi / "platformio.ini").write_text(render_project(compile_model(str(tiny)), get_board("rpi4"))["platformio.ini"])
    result = run("flash", pi)
    assert result.exit_code == 1 and "a Linux program, not firmware" in result.output
    monkeypatch.setattr(platformio, "pio_command", lambda: [str(tmp_path / "no-pio")])
    result = run("flash", project)
    assert result.exit_code == 1 and "install PlatformIO: pip install platformio" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_offline_build_needs_say_which_debian_package():
    uno = get_board("uno")
    absent = dataclasses.replace(uno, toolchain=dataclasses.replace(uno.toolchain, cc="no-such-gcc"))
    assert platformio.offline_missing(absent) == \
        "no-such-gcc not found; install it with: apt-get install gcc-avr avr-libc"
    assert "official env" in platformio.offline_missing(get_board("esp32-s3-devkitc-1"))
