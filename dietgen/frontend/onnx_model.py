"""Reading and normalising ONNX models: parse safely, check, inline local functions, fix the opset,
make every shape static and run shape inference."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import onnx.inliner
from google.protobuf.message import DecodeError
from onnx import shape_inference, version_converter

from dietgen.errors import DietgenError, DietgenUsageError

OPSET = 18
# Opsets whose semantics for the supported ops match what the op modules implement; older ones are converted.
MAX_OPSET = 22

Shapes = dict[str, tuple[int, ...]]


def read_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Parse an ONNX file without following external-data paths (an untrusted file names them)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DietgenError(f"{path}: no such file; give the path of an .onnx model")
    except IsADirectoryError:
        raise DietgenError(f"{path}: is a folder, not an ONNX file")
    except OSError as exc:
        raise DietgenError(f"{path}: cannot be read ({exc.strerror}); check its permissions")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        raise DietgenError(f"{path}: not an ONNX model (the file is truncated, corrupt or of another format)")
    if not model.HasField("graph") or not model.graph.node:
        raise DietgenError(f"{path}: not an ONNX model (no graph inside); export one with torch.onnx.export")
    return model


def _external_tensors(model: onnx.ModelProto) -> list[str]:
    return [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]


def normalise(model: onnx.ModelProto, shapes: Shapes | None = None, where: str = "model") -> onnx.ModelProto:
    """Checked, function-inlined, opset-18..22, statically shaped copy of ``model``."""
    external = _external_tensors(model)
    if external:
        raise DietgenError(f"{where}: tensor {external[0]!r} is stored as external data; save the model as one "
                           f"file (onnx.save(model, path, save_as_external_data=False))")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise DietgenError(f"{where}: fails the ONNX checker: {_first_line(exc)}")
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise DietgenError(f"{where}: the model imports no default ONNX opset")
    if opset < OPSET:
        try:
            model = version_converter.convert_version(model, OPSET)
        except Exception as exc:  # the converter raises bare RuntimeErrors/IndexErrors
            raise DietgenError(f"{where}: cannot convert opset {opset} to {OPSET} ({_first_line(exc)}); "
                               f"re-export with opset_version={OPSET}")
    elif opset > MAX_OPSET:
        raise DietgenError(f"{where}: opset {opset} is newer than dietgen supports ({OPSET}..{MAX_OPSET}); "
                           f"re-export with opset_version={OPSET}")
    model = _set_static_shapes(model, shapes or {}, where)
    try:
        model = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # InferenceError and friends
        raise DietgenError(f"{where}: ONNX shape inference failed: {_first_line(exc)}")
    return model


def _set_static_shapes(model: onnx.ModelProto, shapes: Shapes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto.FromString(model.SerializeToString())
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    unknown = sorted(set(shapes) - {i.name for i in inputs})
    if unknown:
        raise DietgenUsageError(f"--shape names {unknown[0]!r}, which is not an input of {where} "
                                f"(inputs: {', '.join(i.name for i in inputs)})")
    for inp in inputs:
        dims = inp.type.tensor_type.shape.dim
        if inp.name in shapes:
            want = shapes[inp.name]
            if len(dims) and len(dims) != len(want):
                raise DietgenUsageError(f"--shape {inp.name}={format_shape(want)} has {len(want)} dimensions; "
                                        f"the input has {len(dims)}")
            for i, d in enumerate(dims):
                if d.HasField("dim_value") and d.dim_value != want[i]:
                    raise DietgenUsageError(f"--shape {inp.name}={format_shape(want)}: dimension {i} is fixed "
                                            f"to {d.dim_value} in the model")
            del inp.type.tensor_type.shape.dim[:]
            for v in want:
                inp.type.tensor_type.shape.dim.add().dim_value = v
            continue
        if not inp.type.tensor_type.HasField("shape"):
            raise DietgenError(f"input {inp.name!r} has no shape; give one with --shape {inp.name}=1x1x16000")
        for i, d in enumerate(dims):
            if not d.HasField("dim_value"):
                example = "x".join(str(x.dim_value) if x.HasField("dim_value") else "1" for x in dims)
                raise DietgenError(f"input {inp.name!r} has a dynamic dimension {i} ({d.dim_param or '?'}); "
                                   f"fix it with --shape {inp.name}={example} (your sizes)")
    return model


def free_time_dims(model: onnx.ModelProto, axes: dict[str, int | None]) -> onnx.ModelProto:
    """A copy of ``model`` whose inputs' time axes are free (to be fixed again by --shape) and whose other shapes
    are left to shape inference: the same network, for a signal of another length."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for inp in model.graph.input:
        axis = axes.get(inp.name)
        if axis is not None:
            dim = inp.type.tensor_type.shape.dim[axis]
            dim.Clear()
            dim.dim_param = "time"
    for out in model.graph.output:
        for i, dim in enumerate(out.type.tensor_type.shape.dim):
            dim.Clear()
            dim.dim_param = f"{out.name}_{i}"
    del model.graph.value_info[:]
    return model


def format_shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``name=1x4x16`` -> ("name", (1, 4, 16))."""
    name, sep, dims = text.partition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or any(d < 0 for d in shape):
        raise DietgenUsageError(f"--shape {text!r}: expected NAME=DxDxD, for example x=1x1x16000")
    return name, shape


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
