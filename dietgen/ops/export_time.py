"""Ops that only ever run at export time: the shape arithmetic exporters emit (Shape, Size, ConstantOfShape,
Range, comparisons, logic, Mod, Sign) and Cast. Their inputs must be constants, except Shape and Size, which
only need the static shape of their input, and Cast of a float32 tensor to float32, which is a view (a copy
only when its output is a graph output).

References keep integer and bool dtypes exactly as ONNX does, because folding runs them on int64 shapes.
"""
from __future__ import annotations

import numpy as np
import onnx

from dietgen.ir.graph import DTYPES
from dietgen.ops.common import broadcast_shapes
from dietgen.ops.registry import REQUIRED, OpCase, OpSpec, Rand, register
from dietgen.ops.views import View


class ExportTime(OpSpec):
    kernel = None

    def require_dtypes(self, node, inputs, allowed: tuple[str, ...]) -> str:
        """The dtype shared by all inputs, which must be one of ``allowed``."""
        dtypes = {t.dtype for t in inputs if t is not None}
        if len(dtypes) != 1 or not dtypes <= set(allowed):
            raise self.refuse(node, f"inputs are {', '.join(sorted(dtypes))}; expected one of "
                                    f"{', '.join(allowed)}, the same for every input")
        return dtypes.pop()

    def infer(self, node, inputs):
        return self.infer_constant(node, inputs)

    def infer_constant(self, node, inputs):
        """Output (shape, dtype); a run-time input is refused after the passes (OpSpec.check_device)."""
        raise NotImplementedError


def _register_elementwise(op: str, fn, allowed: tuple[str, ...], out_dtype: str | None):
    """An op applying numpy ``fn`` with broadcasting; out_dtype None keeps the input dtype."""
    def infer_constant(self, node, inputs):
        dtype = self.require_dtypes(node, inputs, allowed)
        shape = broadcast_shapes(f"node {node.name!r} ({op})", *(t.shape for t in inputs))
        return [(shape, out_dtype or dtype)]

    def reference(self, node, x):
        return [np.asarray(fn(*x)).astype(out_dtype or x[0].dtype)]
    return register(type(op, (ExportTime,), {"op_type": op, "infer_constant": infer_constant,
                                             "reference": reference}))


_NUMBERS = ("float32", "int64", "int32")
_ALL = _NUMBERS + ("bool",)
Equal = _register_elementwise("Equal", np.equal, _ALL, "bool")
Less = _register_elementwise("Less", np.less, _NUMBERS, "bool")
Greater = _register_elementwise("Greater", np.greater, _NUMBERS, "bool")
LessOrEqual = _register_elementwise("LessOrEqual", np.less_equal, _NUMBERS, "bool")
GreaterOrEqual = _register_elementwise("GreaterOrEqual", np.greater_equal, _NUMBERS, "bool")
Not = _register_elementwise("Not", np.logical_not, ("bool",), "bool")
And = _register_elementwise("And", np.logical_and, ("bool",), "bool")
Or = _register_elementwise("Or", np.logical_or, ("bool",), "bool")
Sign = _register_elementwise("Sign", np.sign, _NUMBERS, None)


@register
class Mod(ExportTime):
    op_type = "Mod"
    attributes = {"fmod": 0}

    def infer_constant(self, node, inputs):
        dtype = self.require_dtypes(node, inputs, _NUMBERS)
        if node.attrs["fmod"] not in (0, 1) or (dtype == "float32" and not node.attrs["fmod"]):
            raise self.refuse(node, f"fmod={node.attrs['fmod']} with {dtype} inputs; ONNX requires fmod=1 for "
                                    f"floats and 0 or 1 for integers")
        return [(broadcast_shapes(f"node {node.name!r} (Mod)", inputs[0].shape, inputs[1].shape), dtype)]

    def reference(self, node, x):
        # fmod=0: the sign of the divisor (Python's %); fmod=1: the sign of the dividend (C's fmod)
        fn = np.fmod if node.attrs["fmod"] else np.mod
        return [np.asarray(fn(x[0], x[1])).astype(x[0].dtype)]


@register
class Shape(ExportTime):
    op_type = "Shape"
    attributes = {"start": 0, "end": None}
    shape_only = True

    def dims(self, node, shape: tuple[int, ...]) -> tuple[int, ...]:
        # Python slicing clamps out-of-range bounds exactly as Shape-15 specifies
        return tuple(shape)[node.attrs["start"]:node.attrs["end"]]

    def infer(self, node, inputs):
        return [((len(self.dims(node, inputs[0].shape)),), "int64")]

    def reference(self, node, x):
        return [np.array(self.dims(node, x[0].shape), dtype=np.int64)]


@register
class Size(ExportTime):
    op_type = "Size"
    shape_only = True

    def infer(self, node, inputs):
        return [((), "int64")]

    def reference(self, node, x):
        return [np.array(x[0].size, dtype=np.int64)]


@register
class ConstantOfShape(ExportTime):
    op_type = "ConstantOfShape"
    attributes = {"value": None}

    def fill(self, node) -> np.ndarray:
        value = node.attrs["value"]
        if value is None:
            return np.zeros((), np.float32)
        if np.asarray(value).size != 1:
            raise self.refuse(node, f"value should hold one element, got shape {np.shape(value)}")
        return np.asarray(value).reshape(())

    def shape(self, node, value: np.ndarray) -> tuple[int, ...]:
        dims = tuple(int(d) for d in value.reshape(-1))
        if value.ndim != 1 or min(dims, default=0) < 0:
            raise self.refuse(node, f"the shape input should be a 1-D list of non-negative sizes, got {dims}")
        return dims

    def infer_constant(self, node, inputs):
        return [(self.shape(node, inputs[0].value), str(self.fill(node).dtype))]

    def reference(self, node, x):
        fill = self.fill(node)
        return [np.full(self.shape(node, x[0]), fill, dtype=fill.dtype)]


@register
class Range(ExportTime):
    op_type = "Range"

    def infer_constant(self, node, inputs):
        dtype = self.require_dtypes(node, inputs, _NUMBERS)
        if any(t.size != 1 for t in inputs):
            raise self.refuse(node, "start, limit and delta should be scalars")
        if inputs[2].value.reshape(()) == 0:
            raise self.refuse(node, "delta is 0")
        return [(self.reference(node, [t.value for t in inputs])[0].shape, dtype)]

    def reference(self, node, x):
        start, limit, delta = (np.asarray(v).reshape(()) for v in x)
        return [np.arange(start, limit, delta).astype(start.dtype)]


@register
class Cast(View):
    """Casts fold at export time; a float32 -> float32 Cast of a run-time tensor is a view (no code)."""
    op_type = "Cast"
    attributes = {"to": REQUIRED, "saturate": 1}  # saturate only concerns float8 targets, which are refused

    def target(self, node) -> str:
        to = node.attrs["to"]
        name = onnx.helper.tensor_dtype_to_np_dtype(to).name if to in onnx.TensorProto.DataType.values() \
            else f"type {to}"
        if name not in DTYPES:
            raise self.refuse(node, f"cast to {name} is not supported; targets: {', '.join(DTYPES)}")
        return name

    def infer(self, node, inputs):
        to, x = self.target(node), inputs[0]
        if not x.is_constant and (x.dtype, to) != ("float32", "float32"):
            raise self.refuse(node, f"casting run-time tensor {x.name!r} from {x.dtype} to {to} is not "
                                    f"supported; only float32 -> float32 runs on the device")
        return self.checked(node, inputs, [(x.shape, to)])

    def reference(self, node, x):
        return [np.asarray(x[0]).astype(self.target(node))]

    def cases(self):
        return [OpCase("float_to_float", (Rand((2, 9)),), {"to": onnx.TensorProto.FLOAT})]
