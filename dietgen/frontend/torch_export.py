"""PyTorch module -> ONNX with the torch.export-based exporter, at dietgen's fixed opset."""
from __future__ import annotations

import contextlib
import io
import logging
import warnings

import onnx

from dietgen.errors import DietgenError, wraps_interrupt
from dietgen.frontend.onnx_model import OPSET


def torch_to_onnx(module, example_inputs: tuple, input_names: list[str] | None = None) -> onnx.ModelProto:
    import torch

    module = module.eval()
    names = input_names or (["x"] if len(example_inputs) == 1 else [f"x{i}" for i in range(len(example_inputs))])
    quiet = io.StringIO()
    # The exporter narrates its progress on stdout and warns about internals the user cannot act on.
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), _quiet_loggers():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, tuple(example_inputs), dynamo=True, opset_version=OPSET,
                                        input_names=names, optimize=True, verbose=False)
        except Exception as exc:
            if wraps_interrupt(exc):
                # Ctrl-C mid-capture (e.g. while torch imports its tracer) resurfaces as an export failure; it
                # is the user stopping the program, not the model failing to export.
                raise KeyboardInterrupt from exc
            msg = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise DietgenError(f"torch.export could not capture {type(module).__name__}: {msg}")
    return program.model_proto



@contextlib.contextmanager
def _quiet_loggers():
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
