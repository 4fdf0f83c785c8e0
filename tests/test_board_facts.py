"""Board facts as the boards' own PlatformIO definitions and Arduino cores have them, each with its source line;
RAM that is banks (Teensy 4.1's RAM1 and DMAMEM); a time nobody can estimate is never "fits"; a Raspberry Pi's
RAM row is the model's own, the OS's share apart."""
from __future__ import annotations

import subprocess

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from dietgen.boards import get_board
from dietgen.budget import check
from dietgen.codegen.render import render
from dietgen.output import write_tree
from dietgen.pipeline import compile_model
from dietgen.passes.stream import StreamSpec, out_frames
from dietgen.toolchain.host import build_harness, run_harness
from golden_models import tiny_conv_dense

KIB = 1024


@pytest.mark.parametrize("board_id, field, value", [
    ("electrosmith_daisy", "clock_hz", 400_000_000),       # f_cpu 400000000L, the variant's PLLN = 200
    ("electrosmith_daisy", "ram_bytes", 524_288),          # maximum_ram_size: RAM_D1 only
    ("portenta_h7_m7", "ram_bytes", 523_624),              # maximum_ram_size
    ("esp32-s3-devkitc-1", "flash_bytes", 1_310_720),      # default.csv app0 0x140000
    ("nano33ble", "flash_bytes", 983_040),                 # maximum_size: 1 MB less the bootloader
    ("nanorp2040connect", "flash_bytes", 2_097_152),       # maximum_size, not the 16 MB chip
    ("rpipico2", "ram_bytes", 524_288),                    # maximum_ram_size
])
def test_corrected_figure_and_the_source_that_gives_it(board_id, field, value):
    board = get_board(board_id)
    assert getattr(board, field) == value
    assert str(value) in board.sources[field], board.sources[field]


def test_daisy_uploads_over_dfu_with_usb_serial():
    board = get_board("electrosmith_daisy")
    options = board.platformio["options"]
    assert options["upload_protocol"] == "dfu" and "dfu" in board.sources["upload_protocol"]
    assert options["build_flags"].split() == ["-D", "PIO_FRAMEWORK_ARDUINO_ENABLE_CDC", "-D", "USBCON"]
    assert "PIO_FRAMEWORK_ARDUINO_ENABLE_CDC" in board.sources["build_flags"]


def test_options_are_empty_where_the_board_file_sets_none():
    assert get_board("uno").platformio["options"] == {}


def test_teensy41_ram_is_two_banks_from_its_linker_script():
    board = get_board("teensy41")
    ram1, ram2 = board.banks
    assert (ram1.name, ram1.bytes, ram1.section) == ("RAM1", 512 * KIB, "")
    assert set(ram1.shares) == {"code", "weights"}
    assert (ram2.bytes, ram2.section) == (512 * KIB, ".dmabuffers") and "DMAMEM" in ram2.name
    assert ram1.bytes + ram2.bytes == board.ram_bytes
    assert "imxrt1062_t41.ld" in board.sources["ram_banks"] and ".dmabuffers" in board.sources["ram_banks"]


def spread(arena_bytes: int) -> onnx.ModelProto:
    """One input sample spread over a wide row, squashed and reduced to one output: an arena of two rows
    (``arena_bytes`` in all), next to no I/O and no weights."""
    n = arena_bytes // 8
    nodes = [helper.make_node("Expand", ["x", "shape"], ["h"], name="spread"),
             helper.make_node("Tanh", ["h"], ["t"], name="act"),
             helper.make_node("ReduceMax", ["t"], ["y"], name="peak", axes=[1], keepdims=1)]
    graph = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 1])],
                              [numpy_helper.from_array(np.array([1, n], np.int64), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def ram_check(arena_bytes: int, board: str):
    compiled = compile_model(spread(arena_bytes), sample_rate=1)
    assert compiled.graph.meta["plan"].arena_bytes == arena_bytes
    return check(compiled=compiled, board=board, measure=False)


def test_arena_too_big_for_ram1_goes_to_dmamem_on_teensy41():
    r = ram_check(500 * KIB, "teensy41")
    assert r.ram.fits and r.arena_section == ".dmabuffers" and r.to_dict()["arena_section"] == ".dmabuffers"
    assert (r.ram.used, r.ram.limit) == (500 * KIB, 512 * KIB)   # the row is the bank that holds the arena
    assert "RAM2 (DMAMEM)" in r.ram.detail and "RAM1" in r.ram.detail


def test_small_arena_stays_in_the_default_bank():
    r = ram_check(64 * KIB, "teensy41")
    assert r.ram.fits and r.arena_section == "" and r.ram.limit == 512 * KIB
    assert r.ram.used == sum(r.ram.parts.values()) and r.ram.parts["code"] > 0   # RAM1 holds the code too
    assert r.ram.detail == "in RAM1, the default bank"


def test_600_kib_arena_on_a_one_bank_board_is_over_naming_the_bank():
    r = ram_check(600 * KIB, "portenta_h7_m7")
    assert not r.ram.fits and r.arena_section == "" and r.status == "over"
    rest = r.ram.used - 600 * KIB
    assert rest == r.ram.parts["io"] + r.ram.parts["stack"] + r.board.framework_ram_bytes
    assert f"available (arena and state (600.0 KiB) fit no RAM bank: RAM 511.4 KiB less {rest / KIB:.1f} KiB of " \
           "io, stack, framework)" in r.error().message


def test_740_kib_arena_fits_no_teensy41_bank():
    r = ram_check(740 * KIB, "teensy41")
    assert not r.ok and not r.ram.fits and r.arena_section == "" and r.verdict.startswith("OVER RAM")
    assert (r.ram.used, r.ram.limit) == (740 * KIB, 512 * KIB)   # RAM2, the roomier bank, over by 228 KiB
    message = r.error().message
    assert "fit no RAM bank: RAM1 512.0 KiB less " in message and "RAM2 (DMAMEM) 512.0 KiB" in message
    assert "over by 228.0 KiB" in message


def test_unknown_time_is_never_fits(monkeypatch, tmp_path):
    import dietgen.cost
    monkeypatch.setattr(dietgen.cost, "has_cost_table", lambda core: False)
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    r = check(str(path), "esp32-s3-devkitc-1", measure=False)
    assert r.time is None and r.flash.fits and r.ram.fits
    assert r.ok and r.status == "unknown" and "fits" not in r.verdict   # nothing over: check exits 0
    assert r.to_dict()["status"] == "unknown"


def test_known_time_within_budget_fits(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    r = check(str(path), "rpi4", measure=False)
    assert r.status == "fits" and r.verdict == "fits"


def test_raspberry_pi_ram_row_is_the_models_own(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    r = check(str(path), "rpi4", measure=False)
    board, plan = r.board, r.graph.meta["plan"]
    rings = 2 * 2 * out_frames(r.graph)        # the board program's two 16-bit blocks of audio
    own = plan.arena_bytes + plan.all_state_bytes + 4 * (plan.in_size + plan.out_size) + rings + r.ram.parts["stack"]
    assert r.ram.used == own < 64 * KIB and "framework" not in r.ram.parts
    assert r.ram.limit == board.ram_bytes - board.framework_ram_bytes
    assert r.ram.detail == "of 1.0 GiB after the OS's 238.4 MiB"


@pytest.mark.parametrize("stream", [False, StreamSpec(3)], ids=["offline", "streaming"])
def test_arena_section_macro_places_arena_and_state_and_builds_strict(stream, tmp_path):
    compiled = compile_model(tiny_conv_dense(), stream=stream)
    src = write_tree(render(compiled.graph), tmp_path / "src")
    name, plan = compiled.c_name, compiled.graph.meta["plan"]
    blocks = np.random.default_rng(0).uniform(-1, 1, (3, plan.in_size)).astype(np.float32)
    plain = build_harness(src, name, tmp_path / "plain")
    placed = build_harness(src, name, tmp_path / "placed", extra=("-DDG_ARENA_SECTION=.dmabuffers",))
    sections = subprocess.run(["objdump", "-h", str(placed)], capture_output=True, text=True, check=True).stdout
    size = next(int(line.split()[2], 16) for line in sections.splitlines() if " .dmabuffers " in line)
    assert size >= plan.arena_bytes + plan.state_bytes
    assert ".dmabuffers" not in subprocess.run(["objdump", "-h", str(plain)], capture_output=True, text=True,
                                               check=True).stdout
    np.testing.assert_array_equal(run_harness(placed, blocks, plan.out_size), run_harness(plain, blocks, plan.out_size))
