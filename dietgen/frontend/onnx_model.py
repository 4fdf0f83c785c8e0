"""Reading and normalising ONNX models: parse safely, check, inline local functions, fix the opset,
make every shape static and run shape inference."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx
import onnx.inliner
from google.protobuf.message import DecodeError, Message
from onnx import shape_inference, version_converter

from dietgen.errors import DietgenError, DietgenUsageError

OPSET = 18
# Opsets whose semantics for the supported ops match what the op modules implement; older ones are converted.
MAX_OPSET = 22

Shapes = dict[str, tuple[int, ...]]


def read_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Parse an ONNX file; tensors kept as external data are read from files inside the model's own folder only
    (an untrusted file names them), after checking each location, offset and length."""
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
    for tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _load_external(tensor, path)
    return model


_KEEP_INSIDE = ("re-export with the data file inside the model's folder, or as one file "
                "(onnx.save(model, path, save_as_external_data=False))")


def _load_external(tensor: onnx.TensorProto, model_path: Path) -> None:
    """Move ``tensor``'s external data into raw_data. Nothing is opened before the location is known to be a
    plain relative name that resolves (symlinks followed) inside the model's folder."""
    entries = {e.key: e.value for e in tensor.external_data}
    location = entries.get("location", "")
    where = f"{model_path.name}: tensor {tensor.name!r} keeps its data in {location!r}"
    if not location or PurePosixPath(location).is_absolute() or PureWindowsPath(location).anchor:
        raise DietgenError(f"{where}, which is not a file name relative to the model's folder; {_KEEP_INSIDE}")
    if ".." in PureWindowsPath(location).parts:
        raise DietgenError(f"{where}, outside the model's folder; {_KEEP_INSIDE}")
    folder = model_path.parent.resolve()
    file = (folder / location).resolve()
    if not file.is_relative_to(folder):
        raise DietgenError(f"{where}, a link out of the model's folder; {_KEEP_INSIDE}")
    if not file.is_file():
        raise DietgenError(f"{where}, which is not a file next to the model; copy it there or {_KEEP_INSIDE}")
    try:
        offset = int(entries.get("offset", "0"))
        length = int(entries["length"]) if "length" in entries else None
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (ValueError, KeyError, TypeError):
        raise DietgenError(f"{where} with an unreadable offset, length or data type; {_KEEP_INSIDE}")
    if tensor.data_type == onnx.TensorProto.STRING or any(d < 0 for d in tensor.dims):
        raise DietgenError(f"{where} but is not a numeric tensor of fixed size; {_KEEP_INSIDE}")
    expected = math.prod(tensor.dims) * itemsize
    size = file.stat().st_size
    length = size - offset if length is None else length
    if offset < 0 or length != expected or offset + length > size:
        raise DietgenError(f"{where} at offset {offset}, length {length}, but {location!r} has {size} bytes and "
                           f"the tensor {list(tensor.dims)} needs {expected}; re-export the model with its data file")
    with open(file, "rb") as f:
        f.seek(offset)
        tensor.raw_data = f.read(length)
    tensor.data_location = onnx.TensorProto.DEFAULT
    del tensor.external_data[:]


def _all_nodes(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    """Every node of ``model``: in the graph, its subgraphs and the local functions."""
    def walk(nodes) -> Iterator[onnx.NodeProto]:
        for node in nodes:
            yield node
            for sub in _subgraphs(node):
                yield from walk(sub.node)

    yield from walk(model.graph.node)
    for fn in model.functions:
        yield from walk(fn.node)


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [g for a in node.attribute for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)]


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor stored in ``model``: initializers and tensor attributes, in subgraphs and functions too."""
    nodes = list(_all_nodes(model))
    for g in [model.graph, *(sub for node in nodes for sub in _subgraphs(node))]:
        yield from g.initializer
        for sparse in g.sparse_initializer:
            yield from (sparse.values, sparse.indices)
    for node in nodes:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors


def check_text(message: Message, where: str) -> None:
    """Refuse a name or text field that is not UTF-8: the protobuf parser hands such a field over as bytes,
    which would break every later use of the name (messages, C identifiers, sorting)."""
    plain = _PLAIN.get(type(message))
    if plain is not None and plain(message):
        return
    for field, value in message.ListFields():
        values = value if field.is_repeated else (value,)
        if field.type == field.TYPE_MESSAGE:
            for i, sub in enumerate(values):
                check_text(sub, _place(sub, i, where))
            continue
        if field.type == field.TYPE_STRING:
            bad = any(isinstance(v, bytes) for v in values)
        elif isinstance(message, onnx.AttributeProto) and field.name in ("s", "strings"):
            bad = not all(_is_utf8(v) for v in values)
        else:
            continue
        if bad:
            raise DietgenError(f"{where}: field {field.name!r} is not valid UTF-8 text; ONNX names and strings "
                               f"must be UTF-8 (the file is corrupt or was written by a broken tool)")


# Quick checks of the messages a model holds by the thousand; a message they do not clear (an invalid name, or
# a rarer field such as a subgraph) goes through the generic walk, which finds the field to name. The walk alone
# would double the time normalise takes.
def _plain_node(node: onnx.NodeProto) -> bool:
    texts = (node.name, node.op_type, node.domain, node.overload, node.doc_string, *node.input, *node.output,
             *_entries(node.metadata_props))
    if _any_bytes(texts):
        return False
    return all(a.type in _PLAIN_ATTRIBUTES and not _any_bytes((a.name, a.ref_attr_name, a.doc_string))
               and _is_utf8(a.s) and all(_is_utf8(v) for v in a.strings) for a in node.attribute)


def _plain_tensor(tensor: onnx.TensorProto) -> bool:
    return not _any_bytes((tensor.name, tensor.doc_string, *_entries(tensor.external_data),
                           *_entries(tensor.metadata_props)))


def _plain_value(value: onnx.ValueInfoProto) -> bool:
    if not value.type.HasField("tensor_type"):
        return False
    dims = value.type.tensor_type.shape.dim
    return not _any_bytes((value.name, value.doc_string, value.type.denotation, *_entries(value.metadata_props),
                           *(t for d in dims for t in (d.dim_param, d.denotation))))


def _entries(props) -> Iterator[str | bytes]:
    """The keys and values of StringStringEntryProtos."""
    for e in props:
        yield e.key
        yield e.value


def _any_bytes(texts) -> bool:
    return any(isinstance(t, bytes) for t in texts)


_PLAIN_ATTRIBUTES = {onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT, onnx.AttributeProto.STRING,
                     onnx.AttributeProto.FLOATS, onnx.AttributeProto.INTS, onnx.AttributeProto.STRINGS}
_PLAIN = {onnx.NodeProto: _plain_node, onnx.TensorProto: _plain_tensor, onnx.ValueInfoProto: _plain_value}


def _place(message: Message, index: int, where: str) -> str:
    name = getattr(message, "name", "")
    label = repr(name) if isinstance(name, str) and name else f"#{index}"
    if isinstance(message, onnx.NodeProto):
        return f"{where}: node {label}"
    if isinstance(message, onnx.AttributeProto):
        return f"{where}, attribute {label}"
    if isinstance(message, onnx.FunctionProto):
        return f"{where}: function {label}"
    return where


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def normalise(model: onnx.ModelProto, shapes: Shapes | None = None, where: str = "model") -> onnx.ModelProto:
    """Checked, function-inlined, opset-18..22, statically shaped copy of ``model``."""
    check_text(model, where)
    external = next((t.name for t in _all_tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL), None)
    if external is not None:
        raise DietgenError(f"{where}: tensor {external!r} is stored as external data; give the path of the .onnx "
                           f"file (its data is read from the model's folder) or save the model as one file "
                           f"(onnx.save(model, path, save_as_external_data=False))")
    if not model.graph.output:
        raise DietgenError(f"{where}: the graph has no outputs; export the model with the outputs it computes")
    _check_before_onnx(model, where)
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


def _check_before_onnx(model: onnx.ModelProto, where: str) -> None:
    """What onnx's own C++ (checker, inliner, shape inference) does not survive: it aborts the process or
    recurses without end instead of raising."""
    calls = {_function_key(f.domain, f.name, f.overload): [_function_key(n.domain, n.op_type, n.overload)
                                                            for n in f.node] for f in model.functions}
    state: dict[str, int] = {}   # 1: being visited, 2: done

    def visit(k: str, path: list[str]) -> None:
        state[k] = 1
        for callee in calls[k]:
            if state.get(callee) == 1:
                raise DietgenError(f"{where}: local function {callee!r} calls itself "
                                   f"({' -> '.join([*path, callee])}); recursive functions cannot be inlined")
            if callee in calls and callee not in state:
                visit(callee, [*path, callee])
        state[k] = 2

    for k in calls:
        if k not in state:
            visit(k, [k])
    for node in _all_nodes(model):
        # Split's shape inference indexes past its outputs (an assertion that aborts the process) when
        # num_outputs says fewer than there are
        if node.op_type == "Split" and node.domain in ("", "ai.onnx"):
            chunks = next((a.i for a in node.attribute if a.name == "num_outputs"), None)
            if chunks is not None and chunks != len(node.output):
                raise DietgenError(f"{where}: node {node.name!r} (Split): num_outputs={chunks} but the node has "
                                   f"{len(node.output)} outputs")


def _function_key(domain: str, name: str, overload: str) -> str:
    return f"{domain}::{name}" + (f"::{overload}" if overload else "")


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
