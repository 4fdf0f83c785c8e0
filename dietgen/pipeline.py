"""The export flow, top to bottom: model -> ONNX -> IR -> passes -> C.

Everything dietgen does to a model goes through ``compile_model``; ``export`` writes what ``render`` makes.

Layering: this module is the top of the compiler layer (dietgen.frontend, ir, ops, passes, codegen, control,
notes, output, resources, errors, and this pipeline), which turns a model into C and knows no board. The board
layer sits above it and calls it: boards, budget, cost, calibrate, glue, project, deploy (export with ``board=``),
toolchain (host and cross builds, emulators, PlatformIO), verify, generate, bench; the CLI and the package's
lazy API sit on top of both. Imports point one way: nothing in the compiler layer imports the board layer, and no
module imports one that imports it back, even inside a function (tests/test_layers.py checks both).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import onnx

from dietgen.codegen.render import model_c_name, render
from dietgen.frontend import import_onnx, load_model
from dietgen.errors import DietgenUsageError
from dietgen.frontend.onnx_model import Shapes
from dietgen.ir import Graph, validate
from dietgen.output import write_tree
from dietgen.passes import PASSES
from dietgen.passes.stream import StreamSpec


@dataclass(frozen=True)
class Compiled:
    onnx: onnx.ModelProto    # the normalised model, the reference for verification
    graph: Graph             # lowered and planned
    c_name: str


def lower(graph: Graph, passes=PASSES) -> Graph:
    for p in passes:
        graph = validate(p(graph))
    return graph


def stream_request(stream: StreamSpec | bool | None, natural: int | None,
                   block: int | None = None) -> StreamSpec | None:
    """What to compile: None follows the model (the step program when it streams by default, as the zoo's causal
    families do, with ``block`` or its natural block), False the offline window, True or a StreamSpec the step
    program (with ``block`` or the model's natural block when the spec gives none)."""
    if stream is None:
        return StreamSpec(block or natural) if natural else None
    if stream is False:
        return None
    spec = StreamSpec(block) if stream is True else stream
    if spec.block is None:
        if not natural:
            raise DietgenUsageError("streaming needs --block N (input frames per step): this model has no "
                                    "natural block")
        spec = replace(spec, block=natural)
    return spec


def compile_model(model: Any, shapes: Shapes | None = None, name: str | None = None,
                  sample_rate: int | None = None, block: int | None = None,
                  stream: StreamSpec | bool | None = None) -> Compiled:
    """``stream``: the step program (one block in, state carried) or the offline window, see stream_request."""
    loaded = load_model(model, shapes, name)                       # PyTorch / checkpoint / ONNX -> ONNX
    meta = {"source": loaded.source, **loaded.meta}
    meta.update({k: v for k, v in (("sample_rate", sample_rate), ("block", block)) if v})
    request = stream_request(stream, meta.get("stream_block"), block)
    if request is not None:
        meta["stream_request"] = request
    graph = validate(import_onnx(loaded.proto, loaded.name, meta))  # ONNX -> IR
    graph = lower(graph)                                             # passes, memory plan
    return Compiled(loaded.proto, graph, model_c_name(graph))


def export(model: Any, out_dir, *, shapes: Shapes | None = None, name: str | None = None,
           force: bool = False, sample_rate: int | None = None, block: int | None = None,
           stream: StreamSpec | bool | None = None) -> Compiled:
    """Generate the C library and host build files for ``model`` into ``out_dir``. ``stream``: see
    stream_request. (A PlatformIO project for a board: dietgen.deploy.export.)"""
    compiled = compile_model(model, shapes, name, sample_rate, block, stream)
    write_tree(render(compiled.graph), out_dir, force=force)        # IR -> C
    return compiled
