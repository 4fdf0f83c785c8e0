"""The board-facing export: the compiled model checked against a board's budget and written as a PlatformIO
project. It sits above dietgen.pipeline (which compiles and knows no board), see the layering there."""
from __future__ import annotations

from typing import Any

from dietgen import pipeline
from dietgen.budget import check
from dietgen.errors import DietgenUsageError
from dietgen.frontend.onnx_model import Shapes
from dietgen.glue import ROLES
from dietgen.output import write_tree
from dietgen.passes.stream import StreamSpec
from dietgen.project import render_project


def export(model: Any, out_dir, *, shapes: Shapes | None = None, name: str | None = None, force: bool = False,
           sample_rate: int | None = None, block: int | None = None, board: str | None = None,
           role: str | None = None, stream: StreamSpec | bool | None = None) -> pipeline.Compiled:
    """Generate the C library and host build files for ``model`` into ``out_dir``; with ``board``, a PlatformIO
    project for it, refused when the model is over the board's budget (unless ``force``). ``role``: what the
    board program does with the model, "generator" (notes in, audio out) or "effect" (audio in, audio out);
    None infers it from the model's inputs. ``stream``: see pipeline.stream_request."""
    if role is not None and role not in ROLES:
        raise DietgenUsageError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if board is None:
        if role is not None:
            raise DietgenUsageError("role is what a board program does with the model: give it with a board")
        return pipeline.export(model, out_dir, shapes=shapes, name=name, force=force, sample_rate=sample_rate,
                               block=block, stream=stream)
    compiled = pipeline.compile_model(model, shapes, name, sample_rate, block, stream)
    report = check(compiled=compiled, board=board)                   # flash, RAM, time per block
    if not report.ok and not force:
        raise report.error()
    write_tree(render_project(compiled, report.board, report, role=role), out_dir, force=force)  # + PlatformIO
    return compiled
