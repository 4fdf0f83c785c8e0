"""Board files: every board the issue names, each figure with its source; bad board files name file and field;
`dietgen boards` and `dietgen boards show`."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from dietgen.boards import CORES, boards, get_board, load_board
from dietgen.errors import DietgenError
from clirun import run

ISSUE_BOARDS = {"uno": "avr", "megaatmega2560": "avr", "nano33ble": "cortex-m4f", "due": "cortex-m3",
                "nanorp2040connect": "cortex-m0plus", "portenta_h7_m7": "cortex-m7", "pico": "cortex-m0plus",
                "rpipico2": "cortex-m33", "teensy41": "cortex-m7", "electrosmith_daisy": "cortex-m7",
                "esp32-s3-devkitc-1": "xtensa-lx7", "rpizero2w": "cortex-a53", "rpi3": "cortex-a53",
                "rpi4": "cortex-a72", "rpi5": "cortex-a76"}


def test_every_board_of_the_issue_is_there_with_its_core():
    known = boards()
    for board_id, core in ISSUE_BOARDS.items():
        assert known[board_id].core == core, board_id


@pytest.mark.parametrize("board_id", sorted(ISSUE_BOARDS))
def test_board_figures_are_sane_and_sourced(board_id):
    b = get_board(board_id)
    for fld in ("clock_hz", "ram_bytes", "flash_bytes", "framework_ram_bytes"):
        assert b.sources.get(fld), f"{board_id}: no source for {fld}"
    assert 1_000_000 <= b.clock_hz <= 3_000_000_000
    assert 0 <= b.framework_ram_bytes < b.ram_bytes
    if b.is_linux:
        assert b.emulator.kind == "qemu-user" and "stdout" in b.audio_out and not b.platformio["board"]
    else:
        assert "serial" in b.audio_out and b.platformio["framework"] == "arduino" and b.platformio["board"]
    if b.toolchain.cc:
        assert b.toolchain.debian_package, f"{board_id}: say which Debian package has {b.toolchain.cc}"
    if b.core == "avr":
        assert b.toolchain.arduino_variant and b.toolchain.arduino_board


def test_known_datasheet_figures():
    assert get_board("uno").ram_bytes == 2048 and get_board("uno").clock_hz == 16_000_000
    assert get_board("megaatmega2560").ram_bytes == 8192
    assert get_board("teensy41").clock_hz == 600_000_000
    assert get_board("electrosmith_daisy").clock_hz == 400_000_000   # the Arduino core's PLL, not the chip's 480
    assert get_board("pico").ram_bytes == 264 * 1024
    assert get_board("rpipico2").ram_bytes == 512 * 1024   # what PlatformIO checks; 8 KB of scratch hold stacks


def test_unknown_board_lists_known_and_suggests_closest():
    with pytest.raises(DietgenError) as err:
        get_board("teensy40")
    assert "did you mean 'teensy41'" in err.value.message and "uno" in err.value.message


@pytest.fixture
def board_file(tmp_path):
    def make(edit):
        text = (get_board("nano33ble").path).read_text()
        path = tmp_path / "nano33ble.toml"
        path.write_text(edit(text))
        return path
    return make


@pytest.mark.parametrize("edit, field", [
    (lambda t: re.sub(r"^ram_bytes = .*\n", "", t, flags=re.M), "ram_bytes"),
    (lambda t: t.replace("clock_hz = 64_000_000", 'clock_hz = "64 MHz"'), "clock_hz"),
    (lambda t: t.replace('core = "cortex-m4f"', 'core = "cortex-m99"'), "core"),
    (lambda t: t.replace('simd = ["dsp"]', 'simd = ["mmx"]'), "simd"),
    (lambda t: t.replace('audio_out = ["serial", "pwm"]', 'audio_out = ["speaker"]'), "audio_out"),
    (lambda t: t.replace('cc = "arm-none-eabi-gcc"', 'cc = "arm-none-eabi-gcc"\ncompiler = "x"'),
     "toolchain.compiler"),
    (lambda t: t.replace('cflags = ["-mcpu=cortex-m4"', 'cflags = [4, "-mcpu=cortex-m4"'), "toolchain.cflags"),
    (lambda t: t.replace('kind = "qemu-system"', 'kind = "bochs"'), "emulator.kind"),
    (lambda t: re.sub(r'^kind = .*\n', "", t, flags=re.M), "emulator.kind"),
    (lambda t: t.replace('id = "nano33ble"', 'id = "nano"'), "id"),
    (lambda t: t.replace("framework_ram_bytes = 48_000", "framework_ram_bytes = 999_999"), "framework_ram_bytes"),
    (lambda t: re.sub(r'^flash_bytes = ".*\n', "", t, flags=re.M), "sources.flash_bytes"),
    (lambda t: t.replace('framework = "arduino"\n', 'framework = "arduino"\n\n[platformio.options]\n'
                         'upload_speed = 115200\n'), "platformio.options.upload_speed"),
    (lambda t: t.replace('framework = "arduino"\n', 'framework = "arduino"\noptions = "dfu"\n'),
     "platformio.options"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "RAM"\nbytes = "256K"\n\n[toolchain]'),
     "ram_banks[0].bytes"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "RAM"\nbytes = 262_144\nplace = "x"\n\n[toolchain]'),
     "ram_banks[0].place"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "A"\nbytes = 131_072\nsection = ".a"\n\n'
                         '[[ram_banks]]\nname = "B"\nbytes = 131_072\nsection = ".b"\n\n[toolchain]'),
     "ram_banks"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "RAM"\nbytes = 524_288\n\n[toolchain]'),
     "ram_banks"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "RAM"\nbytes = 262_144\nshares = ["stack"]\n\n'
                         '[toolchain]'), "ram_banks[0].shares"),
    (lambda t: t.replace('[toolchain]', '[[ram_banks]]\nname = "RAM"\nbytes = 262_144\n\n[toolchain]'),
     "sources.ram_banks"),
])
def test_bad_board_file_names_file_and_field(board_file, edit, field):
    with pytest.raises(DietgenError) as err:
        load_board(board_file(edit))
    assert err.value.message.startswith("nano33ble.toml: field ") and repr(field) in err.value.message


def test_unreadable_board_file(board_file):
    with pytest.raises(DietgenError, match="nano33ble.toml: not a readable TOML"):
        load_board(board_file(lambda t: t + "\n[[["))


def test_boards_command_table_and_json():
    result = run("boards")
    assert result.exit_code == 0
    for board_id in ISSUE_BOARDS:
        assert re.search(rf"^{re.escape(board_id)}\s", result.output, re.M), board_id
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert ("yes" in rows["uno"].split()[-1]) == bool(shutil.which("avr-gcc"))
    assert rows["esp32-s3-devkitc-1"].split()[-1] == "no"
    data = json.loads(run("boards", "--json").output)
    assert {d["id"] for d in data} == set(boards())
    uno = next(d for d in data if d["id"] == "uno")
    assert uno["ram_bytes"] == 2048 and uno["toolchain"]["cc"] == "avr-gcc" and uno["core"] in CORES


def test_boards_show_gives_facts_and_sources():
    result = run("boards", "show", "teensy41")
    assert result.exit_code == 0
    assert "600 MHz" in result.output and "source: clock_hz" in result.output and "pjrc" in result.output.lower()
    assert "platform teensy, board teensy41, framework arduino" in result.output
    assert json.loads(run("boards", "show", "rpi4", "--json").output)["emulator"]["cpu"] == "cortex-a72"


def test_boards_show_unknown_board_is_one_line():
    result = run("boards", "show", "unoo")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "did you mean 'uno'" in result.output
