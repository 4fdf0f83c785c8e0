"""PlatformIO projects from `dietgen export --board`, built offline with `pio run -e offline` (dietgen's local
platform, the system compilers, no registry) for every board with a Debian compiler; the Pi program runs under
qemu-user and the Uno sketch under simavr, and both play exactly the model's output; `dietgen flash` fails
clearly."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import onnx
import pytest

from dietgen.boards import get_board
from dietgen.project import render_project
from dietgen.errors import DietgenError
from dietgen.pipeline import compile_model
from dietgen.toolchain import platformio
from dietgen.verify import run_onnxruntime
from golden_models import tiny_conv_dense
from clirun import run

pytest.importorskip("platformio", reason="PlatformIO is a dietgen dependency: pip install platformio")

ROOT_TESTS = Path(__file__).resolve().parent
SIMAVR_HEADERS = Path("/usr/include/simavr")


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """A PlatformIO core folder of the tests' own: never the user's ~/.platformio."""
    monkeypatch.setenv("DIETGEN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "dietgen-cache"))


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


def xorshift_inputs(n_floats: int, blocks: int) -> np.ndarray:
    """The noise dietgen_audio.h feeds the model (xorshift32 from 0x2545F491), block by block."""
    s, out = 0x2545F491, []
    for _ in range(n_floats * blocks):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        out.append(np.float32(s >> 8) * np.float32(2.0 / 16777216.0) - np.float32(1.0))
    return np.array(out, dtype=np.float32).reshape(blocks, n_floats)


def test_core_dir_is_dietgens_own_with_tool_scons(tmp_path, monkeypatch):
    monkeypatch.setenv("DIETGEN_CACHE_DIR", str(tmp_path))
    core = platformio.setup_core_dir()
    assert core == tmp_path / "platformio"
    pkg = core / "packages" / "tool-scons"
    meta = json.loads((pkg / ".piopm").read_text())
    assert meta["name"] == "tool-scons" and meta["version"] == json.loads((pkg / "package.json").read_text())["version"]
    assert (pkg / "scons.py").is_file()


def test_project_layout_ini_and_library(tiny):
    compiled = compile_model(str(tiny))
    files = render_project(compiled, get_board("nano33ble"))
    assert set(files) == {"platformio.ini", "README.md", "src/main.cpp", "src/dietgen_audio.h",
                          "lib/tiny/library.json", "lib/tiny/tiny.c", "lib/tiny/tiny.h", "lib/tiny/tiny_weights.c",
                          "lib/tiny/tiny_weights.h", "lib/tiny/dietgen/common.h",
                          *(f"lib/tiny/dietgen/{k}.{ext}" for k in ("conv", "copy", "gemm") for ext in "ch")}
    ini = files["platformio.ini"]
    assert "[env:nano33ble]\nplatform = nordicnrf52\nboard = nano33ble\nframework = arduino\n" in ini
    assert f"[env:offline]\nplatform = symlink://{platformio.offline_platform()}\ncustom_cc = arm-none-eabi-gcc" in ini
    assert json.loads(files["lib/tiny/library.json"])["name"] == "tiny"
    assert "Serial.write" in files["src/main.cpp"] and "tiny_step(dg_in, dg_out)" in files["src/main.cpp"]
    # Linux boards get a C program; boards without a compiler in Debian get no offline env.
    pi = render_project(compiled, get_board("rpi5"))
    assert "src/main.c" in pi and "src/main.cpp" not in pi and "[env:rpi5]\nplatform = native\n" in pi["platformio.ini"]
    esp = render_project(compiled, get_board("esp32-s3-devkitc-1"))["platformio.ini"]
    assert "[env:offline]" not in esp and "platform = espressif32" in esp


def test_raspberry_pi_project_builds_offline_and_plays_the_model(tiny, tmp_path):
    need("rpi4")
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 not installed (apt-get install qemu-user)")
    project = export(tiny, "rpi4", tmp_path)
    assert "| RAM |" in (project / "README.md").read_text()
    elf = platformio.build(project)
    assert elf.is_file()
    raw = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", str(elf), "-n", "3"], capture_output=True,
                         timeout=60, check=True).stdout
    got = np.frombuffer(raw, dtype="<i2").reshape(3, -1)
    pcm = model_pcm(tiny, 3)
    assert got.shape == pcm.shape and np.abs(got.astype(int) - pcm).max() <= 1 and np.any(pcm != 0)
    subprocess.run(["qemu-aarch64", str(elf), "-n", "2", "-o", str(tmp_path / "out.wav")], timeout=60, check=True)
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 2 * 24)
        assert np.array_equal(np.frombuffer(w.readframes(48), "<i2"), got[:2].reshape(-1))


def test_cortex_m_project_builds_offline(tiny, tmp_path):
    need("nano33ble")
    project = export(tiny, "nano33ble", tmp_path)
    elf = platformio.build(project)
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " T tiny_step" in symbols and " T main" in symbols
    header = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True).stdout
    assert "Tag_CPU_arch: v7E-M" in header and "Tag_ABI_VFP_args: VFP registers" in header   # M4F, hard float


def model_pcm(tiny, blocks: int) -> np.ndarray:
    """What the generated mains should play for ``blocks`` steps: onnxruntime on the same noise, as int16."""
    compiled = compile_model(str(tiny))
    inputs = xorshift_inputs(compiled.graph.meta["plan"].in_size, blocks)
    want = np.stack([run_onnxruntime(compiled, {"x": block.reshape(1, 2, 8)})["y"].reshape(-1) for block in inputs])
    return np.trunc(np.clip(want, -1, 1).astype(np.float32) * np.float32(32767)).astype(np.int16)


def test_avr_project_builds_offline_and_streams_the_model_over_serial_in_real_time(tiny, tmp_path):
    need("uno")
    if not (shutil.which("gcc") and (SIMAVR_HEADERS / "sim_avr.h").is_file()):
        pytest.skip("simavr's library is missing (apt-get install libsimavr-dev)")
    # tiny's 3-frame step takes the Uno milliseconds: at 100 Hz it keeps up (at 16 kHz the budget refuses it).
    project = export(tiny, "uno", tmp_path, "--sample-rate", "100")
    elf = platformio.build(project)
    assert (elf.parent / "firmware.hex").read_text().startswith(":")
    symbols = subprocess.run(["avr-nm", "-C", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " T setup" in symbols and " T loop" in symbols and "tiny_step" in symbols
    assert "HardwareSerial" in symbols     # the Arduino core from arduino-core-avr, built offline
    # One simulated second of the sketch on simavr: what the serial port carries is the model's audio, paced
    # at the sample rate (100 samples a second: 24-sample steps at 100 Hz).
    tool = tmp_path / "simavr_uart"
    subprocess.run(["gcc", "-O2", f"-I{SIMAVR_HEADERS}", str(ROOT_TESTS / "tools" / "simavr_uart.c"), "-o",
                    str(tool), "-lsimavr"], check=True)
    raw = subprocess.run([str(tool), "atmega328p", "16000000", str(elf), "16000000"], capture_output=True,
                         timeout=60, check=True).stdout
    got = np.frombuffer(raw, dtype="<i2")
    assert 95 <= got.size <= 101
    want = model_pcm(tiny, 5).reshape(-1)[:got.size]
    assert np.abs(got.astype(int) - want).max() <= 1


@pytest.mark.parametrize("board_id", ["megaatmega2560", "due", "pico", "nanorp2040connect", "rpipico2",
                                      "portenta_h7_m7", "teensy41", "electrosmith_daisy", "rpizero2w", "rpi3",
                                      "rpi5"])
def test_every_other_board_with_a_debian_compiler_builds_offline(tiny, tmp_path, board_id):
    need(board_id)
    board = get_board(board_id)
    out = tmp_path / board_id
    result = run("export", tiny, "--board", board_id, "-o", out, "--sample-rate", "100")
    if result.exit_code != 0:     # then it must be the budget saying why, and nothing written
        assert f"tiny does not fit {board_id}" in result.output and not out.exists()
        return
    elf = platformio.build(out)
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
