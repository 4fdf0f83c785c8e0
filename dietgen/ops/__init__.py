"""One module per ONNX op type (or family); each registers itself with ``@register``.

Modules are discovered automatically: adding an op means adding its module here and its C kernel in firmware/.
"""
from __future__ import annotations

from dietgen.ops.registry import REQUIRED, Cost, KernelCall, OpCase, OpSpec, Rand, get_op, load_all, register, \
    registry, supported_ops

__all__ = ["REQUIRED", "Cost", "KernelCall", "OpCase", "OpSpec", "Rand", "get_op", "register", "registry",
           "supported_ops", "load_all"]
