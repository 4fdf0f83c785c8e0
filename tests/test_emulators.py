"""Level 3: the generated C cross-compiled for each instruction set and run on its emulator (QEMU for Cortex-M
and Raspberry Pi, simavr for AVR) gives the host's answer; crashes, hangs and missing tools are clear errors."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from dietgen.boards import Emulator, Toolchain, get_board
from dietgen.cost import kernel_calls
from dietgen.errors import DietgenError
from dietgen.pipeline import compile_model
from dietgen.toolchain.cross import build_elf, elf_sizes, require_cross, stack_bytes
from dietgen.toolchain.emulate import plugin_api_version, run_elf, run_on_board
from dietgen.verify import from_blocks, random_inputs, run_c, to_blocks, verify
from golden_models import tiny_conv_dense

# One board per instruction set the issue names: Cortex-M0+, M4F, M7, M33, AVR, Raspberry Pi (64 and 32 bit).
TARGETS = ["pico", "nano33ble", "teensy41", "rpipico2", "uno", "rpi4", "rpizero2w"]


@pytest.fixture(scope="module")
def tiny():
    return compile_model(tiny_conv_dense())


@pytest.mark.parametrize("board", TARGETS)
def test_emulated_run_matches_host(tiny, board, tmp_path, record_property):
    report = verify(None, compiled=tiny, board=board, seed=3)
    assert report.ok, report.outputs
    host = run_c(tiny, random_inputs(tiny, 3))
    rows, run = run_on_board(tiny, to_blocks(tiny, random_inputs(tiny, 3)), board)
    emulated = from_blocks(tiny, rows)
    for name in host:
        np.testing.assert_allclose(emulated[name], host[name], rtol=0, atol=1e-5)
    # Every node that runs code was counted, and the nodes add up to the step, whatever the compiler inlined.
    assert [op for _, op, _ in run.per_node] == [n.op_type for n, calls in kernel_calls(tiny.graph) if calls]
    assert sum(c for _, _, c in run.per_node) == run.total
    assert run.unit == ("cycles" if board == "uno" else "instructions")
    assert run == report.board_run   # deterministic counts

    from dietgen.codegen.render import render
    from dietgen.output import write_tree
    b = get_board(board)
    src = write_tree(render(tiny.graph), tmp_path / "src")
    elf = build_elf(src, tiny.c_name, b, tmp_path / "bench", "bench")
    sizes = elf_sizes(elf, b)
    weight_bytes = sum(t.nbytes for t in tiny.graph.tensors.values() if t.kind.value == "weight")
    assert sizes["text"] > weight_bytes and sizes["bss"] >= tiny.graph.meta["plan"].arena_bytes
    record_property("board_summary", json.dumps({
        "board": board, "core": b.core, "model": tiny.c_name, **sizes, "stack": stack_bytes(tmp_path / "bench"),
        "unit": run.unit, "count": run.total, "estimate": run.estimate}))


def test_bench_steps_are_counted_alike(tiny, tmp_path):
    """The bench harness runs two steps; a model without data-dependent work costs the same each time."""
    from dietgen.codegen.render import render
    from dietgen.output import write_tree
    board = get_board("nano33ble")
    src = write_tree(render(tiny.graph), tmp_path / "src")
    elf = build_elf(src, tiny.c_name, board, tmp_path / "out", "bench", count_nodes=True)
    run = run_elf(elf, board, tiny.c_name, None, 0)
    assert len(run.steps) == 2 and run.steps[0].total > 0 and len(run.steps[0].nodes) > 1
    assert run.steps[0] == run.steps[1]


def _broken_library(tmp_path: Path, body: str) -> Path:
    """A library with the generated API whose step misbehaves, to prove the harnesses cannot hang or crash
    silently."""
    src = tmp_path / "src"
    (src / "dietgen").mkdir(parents=True)
    (src / "bad.h").write_text("#define BAD_IN_SIZE 1\n#define BAD_OUT_SIZE 1\n"
                               "void bad_init(void);\nvoid bad_step(const float *in, float *out);\n")
    (src / "bad.c").write_text('#include "bad.h"\nvoid bad_init(void) {}\n'
                               f"void bad_step(const float *in, float *out)\n{{\n{body}\n}}\n")
    (src / "bad_weights.c").write_text("extern const float bad_w;\nconst float bad_w = 1.0f;\n")
    return src


@pytest.mark.parametrize("board", ["nano33ble", "uno"])
def test_crash_is_an_error(tmp_path, board):
    src = _broken_library(tmp_path, "    (void)in;\n    *out = 0.0f;\n    __builtin_trap();")
    b = get_board(board)
    elf = build_elf(src, "bad", b, tmp_path / "out", "verify")
    with pytest.raises(DietgenError, match="failed on .* status"):
        run_elf(elf, b, "bad", np.zeros((1, 1), np.float32), 1, timeout=20)


def test_hang_hits_the_time_limit(tmp_path):
    src = _broken_library(tmp_path, "    volatile int forever = 1;\n    (void)in;\n    while (forever)\n"
                                    "        *out = 0.0f;")
    b = get_board("rpipico2")
    elf = build_elf(src, "bad", b, tmp_path / "out", "verify")
    with pytest.raises(DietgenError, match="did not finish within 2 s"):
        run_elf(elf, b, "bad", np.zeros((1, 1), np.float32), 1, timeout=2)


def test_missing_tools_name_the_debian_package(tiny):
    board = get_board("pico")
    no_cc = dataclasses.replace(board, toolchain=Toolchain("nonexistent-none-eabi-gcc",
                                                           debian_package="gcc-arm-none-eabi"))
    with pytest.raises(DietgenError, match="apt-get install gcc-arm-none-eabi"):
        require_cross(no_cc)
    rpi = get_board("rpi4")
    no_emu = dataclasses.replace(rpi, emulator=Emulator("qemu-user", binary="qemu-nonexistent",
                                                        debian_package="qemu-user"))
    with pytest.raises(DietgenError, match="qemu-nonexistent .*apt-get install qemu-user"):
        from dietgen.toolchain.emulate import _emulator_binary
        _emulator_binary(no_emu)


def test_board_without_emulated_core_is_refused(tiny):
    with pytest.raises(DietgenError, match="no cross build for core xtensa"):
        verify(None, compiled=tiny, board="esp32-s3-devkitc-1")


def test_cli_verify_on_board(tmp_path):
    import onnx
    from click.testing import CliRunner

    from dietgen.cli import cli
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_conv_dense(), path)
    result = CliRunner().invoke(cli, ["verify", str(path), "--board", "rpi4", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] and doc["board"]["id"] == "rpi4" and doc["board"]["unit"] == "instructions"
    assert sum(n["count"] for n in doc["board"]["per_node"]) <= doc["board"]["total"]
    result = CliRunner().invoke(cli, ["verify", str(path), "--board", "nosuchboard"], catch_exceptions=False)
    assert result.exit_code == 1 and "unknown board 'nosuchboard'" in result.output


def test_model_too_big_for_avr_ram_is_refused(root):
    demo = compile_model(root / "examples" / "demo", stream=False)    # the 64-frame window: 3 KiB of arena
    with pytest.raises(DietgenError, match="megaatmega2560 build of demo failed: .*`.bss' is not within region "
                                           "`data'; the model does not fit the board's memory"):
        verify(None, compiled=demo, board="megaatmega2560")


@pytest.mark.parametrize("version_text, api", [
    ("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", 1),
    ("qemu-aarch64 version 5.2.0 (Debian 1:5.2+dfsg-11+deb11u3)", 0),     # before API version 1 (QEMU 6.0)
    ("QEMU emulator version 6.0.0", 1),
    ("QEMU emulator version 8.2.0", 1),         # the last release that accepts version 1
    ("QEMU emulator version 9.0.0", 2),         # oldest accepted: 2
    ("qemu-aarch64 version 9.1.0", 2),          # supports 3, still accepts 2
    ("QEMU emulator version 10.1.2 (v10.1.2)", 2)])
def test_plugin_api_version_fits_the_qemu(version_text, api):
    assert plugin_api_version(version_text) == api


def test_unreadable_qemu_version_is_an_error():
    with pytest.raises(DietgenError, match="QEMU version"):
        plugin_api_version("qemu: unknown option")
