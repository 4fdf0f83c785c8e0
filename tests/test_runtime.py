"""The C runtime: every kernel an op names exists, and every kernel compiles warning-free with every target
compiler."""
from __future__ import annotations

import platform
import shutil
import subprocess

import pytest
import torch

from dietgen.ops import registry
from dietgen.resources import firmware
from dietgen.toolchain.host import STRICT

KERNELS = sorted(p.stem for p in (firmware() / "src").glob("*.c"))


@pytest.mark.parametrize("spec", sorted(registry().values(), key=lambda s: (s.domain, s.op_type)),
                         ids=lambda s: s.op_type)
def test_op_names_an_existing_kernel(spec):
    if spec.kernel is None:
        return
    assert (firmware() / "include" / "dietgen" / f"{spec.kernel}.h").is_file()
    assert (firmware() / "src" / f"{spec.kernel}.c").is_file()


def test_every_kernel_serves_an_op_the_note_player_or_the_board_program():
    from dietgen.codegen.player import PLAYER_KERNELS
    from dietgen.glue import GLUE
    from dietgen.project import app_kernels
    board_program = set(app_kernels(True, True, [m for g in GLUE.values() for m in g.runtime]))
    used = {s.kernel for s in registry().values()} | set(PLAYER_KERNELS) | board_program
    assert set(KERNELS) <= used, f"kernels no op, player or board program uses: {set(KERNELS) - used}"


# Every target compiler the boards use, with the flags of a typical board of each.
COMPILERS = {"gcc": [], "clang": [],
             "arm-none-eabi-gcc": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
             "avr-gcc": ["-mmcu=atmega2560"]}


@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("opt", ["-O0", "-O2", "-Os"])
def test_kernels_compile_strict(cc, opt, tmp_path):
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    for kernel in KERNELS:
        result = subprocess.run([cc, *STRICT, opt, *COMPILERS[cc], f"-I{firmware() / 'include'}", "-c",
                                 str(firmware() / "src" / f"{kernel}.c"), "-o", str(tmp_path / f"{kernel}.o")],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, f"{cc} {opt} {kernel}.c:\n{result.stderr}"


@pytest.mark.parametrize("cc", COMPILERS)
def test_all_kernels_compile_as_one_unity_translation_unit(cc, tmp_path):
    """A unity build (DG_UNITY) includes the runtime sources into one file: their static helpers must not clash,
    and every runtime function becomes static (no dg_ symbol left external)."""
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed")
    unity = tmp_path / "unity.c"
    unity.write_text("#define DG_UNITY\n" + "".join(f'#include "{firmware() / "src" / k}.c"\n' for k in KERNELS))
    obj = tmp_path / "unity.o"
    result = subprocess.run([cc, *STRICT, "-O2", *COMPILERS[cc], f"-I{firmware() / 'include'}", "-c", str(unity),
                             "-o", str(obj)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, f"{cc} unity build:\n{result.stderr}"
    nm = shutil.which(cc[:-3] + "nm" if cc.endswith("-gcc") else "nm")
    defined = subprocess.run([nm, "--defined-only", "-g", str(obj)], capture_output=True, text=True, check=True)
    assert "dg_" not in defined.stdout, defined.stdout


@pytest.mark.parametrize("board_id", ["rpizero2w", "rpi4", "nano33ble", "megaatmega2560"])
def test_example_unity_files_compile_strict_for_their_boards(root, board_id, tmp_path):
    """The examples' unity files, kernels specialised for their sizes, compile warning-free with each board's
    compiler and flags, with and without the node marks of counting builds (the specialised ddsp at -O3 on 32-bit
    ARM is where GCC raises a false -Waggressive-loop-optimizations alarm that the unity file turns off)."""
    from dietgen.boards import get_board
    from dietgen.codegen.render import render, unity_name
    from dietgen.output import write_tree
    from dietgen.pipeline import compile_model
    from dietgen.toolchain.cross import _target_flags, cross_available, optimisation_flags
    board = get_board(board_id)
    if not cross_available(board):
        pytest.skip(f"no cross compiler for {board_id}")
    cflags, _ = _target_flags(board, firmware() / "harness")
    for example in ("ddsp", "demo-avr") if board_id == "megaatmega2560" else ("ddsp", "demo"):
        compiled = compile_model(root / "examples" / example)
        src = write_tree(render(compiled.graph), tmp_path / example)
        for marks in ((), ("-DDG_COUNT_NODES",)):
            result = subprocess.run([board.toolchain.cc, *STRICT, *optimisation_flags(board), *marks, *cflags,
                                     f"-I{src}", "-c", str(src / unity_name(compiled.c_name)), "-o",
                                     str(tmp_path / "unity.o")], capture_output=True, text=True)
            assert result.returncode == 0 and not result.stderr, f"{example} {marks}:\n{result.stderr}"


# Layers whose arena is their tile alone (input and output are the caller's): convolutions whose tiles hold fewer
# frames than a panel pass takes columns (2 frames of 384 taps, 1 of 1200), and a dense layer leaving every
# remainder of rows and columns.
WIDE_LAYERS = {"conv_tile2": (lambda: torch.nn.Conv1d(128, 128, 3, padding=1), (1, 128, 512)),
               "conv_tile1": (lambda: torch.nn.Conv1d(400, 17, 3, padding=1), (1, 400, 40)),
               "dense": (lambda: torch.nn.Linear(40, 27), (7, 40))}


X86_FLAGS = {"sse2-O2": ["-O2"], "sse2-O3": ["-O3"], "avx2": ["-O3", "-mavx2", "-mfma"],
             "avx512": ["-O3", "-mavx512f", "-mavx2", "-mfma"], "native": ["-O3", "-march=native"]}


def _compiles_strict_on_the_host(model, shapes, flags, folder):
    from dietgen.codegen.render import render, unity_name
    from dietgen.output import write_tree
    from dietgen.pipeline import compile_model
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("not an x86-64 host")
    compiled = compile_model(model, shapes)
    src = write_tree(render(compiled.graph), folder)
    result = subprocess.run(["gcc", *STRICT, *flags, f"-I{src}", "-c", str(src / unity_name(compiled.c_name)),
                             "-o", str(folder / "unity.o")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr


# With a kernel's sizes known in the unity file, GCC inlines the panel product and sees through to loops that
# cannot run (a DG_MR pass over a tile of fewer frames, more leftover rows than a panel has): it warns about their
# reads and writes past the arena or the sums unless the runtime keeps them provably dead.
@pytest.mark.parametrize("layer", WIDE_LAYERS)
@pytest.mark.parametrize("flags", X86_FLAGS.values(), ids=X86_FLAGS)
def test_unity_file_of_wide_layers_compiles_strict_with_every_x86_port(layer, flags, tmp_path):
    torch.manual_seed(0)
    make, shape = WIDE_LAYERS[layer]
    _compiles_strict_on_the_host(make().eval(), {"x": shape}, flags, tmp_path / layer)


@pytest.mark.parametrize("example", ["demo", "ddsp", "sing", "wavenet"])
@pytest.mark.parametrize("flags", X86_FLAGS.values(), ids=X86_FLAGS)
def test_example_unity_files_compile_strict_with_every_x86_port(root, example, flags, tmp_path):
    _compiles_strict_on_the_host(root / "examples" / example, None, flags, tmp_path / example)
