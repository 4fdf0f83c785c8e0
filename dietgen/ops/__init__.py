"""One module per ONNX op type (or family); each registers itself with ``@register``.

Modules are discovered automatically: adding an op means adding its module here and its C kernel in firmware/.
"""
from __future__ import annotations

import importlib
import pkgutil

from dietgen.ops.registry import REQUIRED, Cost, KernelCall, OpCase, OpSpec, Rand, get_op, register, registry, \
    supported_ops

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("registry", "common"):
            importlib.import_module(f"{__name__}.{info.name}")


__all__ = ["REQUIRED", "Cost", "KernelCall", "OpCase", "OpSpec", "Rand", "get_op", "register", "registry",
           "supported_ops", "load_all"]
