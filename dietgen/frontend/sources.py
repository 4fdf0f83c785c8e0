"""What a user can name as MODEL: an .onnx file, a dietgen checkpoint, ``package.module:factory``, or (from
Python) a torch module or an ONNX ModelProto. Each becomes one normalised ONNX model."""
from __future__ import annotations

import importlib
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from dietgen.errors import DietgenError, DietgenUsageError
from dietgen.frontend.onnx_model import Shapes, format_shape, normalise, read_onnx
from dietgen.frontend.torch_export import torch_to_onnx


# The most elements one input may have, checked before any tensor is built: 2^22 float32 values (16 MiB) is over
# four minutes of 16 kHz audio (87 s at 48 kHz), a longer offline window than any board here can hold, and
# compiling grows with the window (examples/demo, 64 samples wide, peaks at 2.4 GB inspecting 2^20 samples), so a
# mistyped shape is refused at once instead of exhausting the machine's memory.
MAX_INPUT_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class LoadedModel:
    proto: onnx.ModelProto   # normalised: checked, inlined, static shapes
    name: str                # becomes the C name
    source: str              # shown in generated banners and reports
    meta: dict[str, Any] = field(default_factory=dict)


def _from_torch(module, shapes: Shapes, name: str, source: str, meta: dict) -> LoadedModel:
    import torch
    if not shapes:
        raise DietgenUsageError(f"{source}: give the input shape of the PyTorch model, e.g. --shape x=1x1x16000")
    gen = torch.Generator().manual_seed(0)
    example = tuple(torch.randn(*shape, generator=gen) for shape in shapes.values())
    proto = torch_to_onnx(module, example, list(shapes))
    return LoadedModel(normalise(proto, None, source), name, source, meta)


def check_shapes(shapes: Shapes, expected: Shapes, where: str) -> None:
    """Refuse a --shape before any tensor is built: an empty dimension, more than MAX_INPUT_ELEMENTS elements,
    or (where the model's inputs are known, ``expected``) a rank other than the input's."""
    for name, shape in shapes.items():
        given = f"--shape {name}={format_shape(shape)}"
        known = name in expected
        rank = f"{len(expected[name])} dimensions, e.g. {name}={format_shape(expected[name])}" if known else ""
        if known and len(shape) != len(expected[name]):
            raise DietgenUsageError(f"{given}: input {name!r} of {where} has {rank}; this shape has {len(shape)}")
        if 0 in shape:
            raise DietgenUsageError(f"{given}: dimension {shape.index(0)} is 0; every dimension of input {name!r} "
                                    f"of {where} is at least 1" + (f" ({rank})" if known else ""))
        if math.prod(shape) > MAX_INPUT_ELEMENTS:
            raise DietgenUsageError(f"{given}: {math.prod(shape)} elements, over dietgen's limit of "
                                    f"{MAX_INPUT_ELEMENTS} (2^22) per input; give a shorter window")


def _import(module_name: str):
    """Import as ``python -m`` would: the current folder first on sys.path, so a model file next to the user is
    found, and sys.path left as it was afterwards."""
    here = os.getcwd()
    sys.path.insert(0, here)
    importlib.invalidate_caches()   # a module written since the last import in this process is found too
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(here)


def _resolve(spec: str):
    """The object ``package.module:name`` names, imported as ``python -m`` would find it."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise DietgenUsageError(f"{spec}: expected package.module:factory, e.g. mymodel:make")
    try:
        module = _import(module_name)
    except ImportError as exc:
        raise DietgenError(f"{spec}: cannot import {module_name} ({exc}); expected package.module:factory in the "
                           f"current folder or on PYTHONPATH")
    except Exception as exc:  # the user's own module failed while it was imported
        raise DietgenError(f"{spec}: importing {module_name} raised {type(exc).__name__}: {exc}")
    try:
        return getattr(module, attr)
    except AttributeError:
        raise DietgenError(f"{spec}: cannot import {attr!r}, module {module_name} has no such name; expected "
                           f"package.module:factory")


def _factory(spec: str):
    obj = _resolve(spec)
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj
    return call_factory(spec, {})[0]


def call_factory(spec: str, kwargs: dict[str, Any], optional: dict[str, Any] | None = None):
    """(a fresh torch.nn.Module, the keyword arguments it was built with) from the factory (a function or a
    Module class) ``spec`` names, called with ``kwargs`` and those of ``optional`` its signature takes; every
    failure is one line."""
    import inspect

    import torch
    obj = _resolve(spec)
    if isinstance(obj, torch.nn.Module) or not callable(obj):
        raise DietgenError(f"{spec}: is a {type(obj).__name__}; name a function or torch.nn.Module class that "
                           f"builds the model")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):    # a builtin without a signature: called as given
        signature = None
    parameters = signature.parameters if signature is not None else {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {**{k: v for k, v in (optional or {}).items() if takes_any or k in parameters}, **kwargs}
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            given = f"with {', '.join(f'{k}={v!r}' for k, v in kwargs.items())}" if kwargs else "without arguments"
            raise DietgenError(f"{spec}: cannot be called {given} ({exc}); wrap it in a factory function")
    try:
        module = obj(**kwargs)
    except Exception as exc:   # the user's code: its failure is reported, not a dietgen traceback
        raise DietgenError(f"{spec}: the factory raised {type(exc).__name__}: {exc}")
    if not isinstance(module, torch.nn.Module):
        raise DietgenError(f"{spec}: the factory returned {type(module).__name__}, not a torch.nn.Module")
    return module, kwargs


def check_own_code(spec: str) -> None:
    """Refuse a factory that a file (a checkpoint) names unless it is the user's own code: a module found in the
    current folder or on PYTHONPATH, never the standard library, an installed package or dietgen itself, whose
    functions a crafted checkpoint could otherwise call with arguments of its choosing. Checked before anything
    is imported (finding a top-level module runs none of its code)."""
    import importlib.util
    import site
    import sysconfig
    top = spec.partition(":")[0].partition(".")[0]
    here = os.getcwd()
    sys.path.insert(0, here)
    try:
        found = importlib.util.find_spec(top) if top else None
    except (ImportError, ValueError):
        found = None
    finally:
        sys.path.remove(here)
    if found is None:
        raise DietgenError(f"{spec}: cannot import {top or spec}; run from the folder that holds it or add that "
                           f"folder to PYTHONPATH")
    places = [Path(p) for p in (found.submodule_search_locations or [])] or [Path(found.origin or "")]
    libraries = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    libraries |= {*site.getsitepackages(), site.getusersitepackages(), str(Path(__file__).parents[1])}
    roots = [Path(p).resolve() for p in libraries]
    if found.origin in ("built-in", "frozen") or any(
            place.resolve() == root or root in place.resolve().parents for place in places for root in roots):
        raise DietgenError(f"{spec}: a checkpoint may only name a factory of your own (in the current folder or "
                           f"on PYTHONPATH), not of an installed package or the standard library")


def load_torch(model: Any, shapes: Shapes | None = None) -> tuple[Any, Shapes, str, str, dict] | None:
    """A PyTorch MODEL (a module, a dietgen checkpoint or package.module:factory) as (module, input shapes, name,
    source, checkpoint metadata); None when MODEL names an ONNX file."""
    shapes = dict(shapes or {})
    if hasattr(model, "forward"):  # a torch.nn.Module
        check_shapes(shapes, {}, type(model).__name__)
        return model, shapes, type(model).__name__, type(model).__name__, {}
    text = os.fspath(model)
    path = Path(text)
    if path.suffix in (".json", ".safetensors") or path.is_dir():
        from dietgen.models import load_checkpoint
        module, doc = load_checkpoint(path)
        # a zoo family knows its export inputs (they may have changed since the checkpoint was written)
        saved = {k: tuple(v) for k, v in (module.export_module()[1] if hasattr(module, "export_module")
                                          else doc.get("inputs", {})).items()}
        unknown = [n for n in shapes if saved and n not in saved]
        if unknown:
            raise DietgenUsageError(f"--shape names {unknown[0]!r}, which is not an input of {path.name} "
                                    f"(inputs: {', '.join(saved)})")
        check_shapes(shapes, saved, path.name)
        inputs = {**saved, **shapes}
        meta = {k: doc[k] for k in ("sample_rate", "block") if k in doc}
        training = doc.get("training")
        if hasattr(module, "control") and isinstance(training, dict) and isinstance(training.get("notes"), dict):
            meta["notes"] = training["notes"]     # what the training notes were (dietgen.control.NoteFacts)
        return module, inputs, path.name if path.is_dir() else path.stem, path.name, meta
    if ":" in text and not path.exists() and not text.endswith(".onnx"):
        module = _factory(text)
        if not hasattr(module, "forward"):
            raise DietgenError(f"{text}: the factory returned {type(module).__name__}, not a torch.nn.Module")
        check_shapes(shapes, {}, text)   # a user's module does not state its inputs' ranks; torch.export checks
        return module, shapes, text.rpartition(":")[2], text, {}
    return None


def load_model(model: Any, shapes: Shapes | None = None, name: str | None = None) -> LoadedModel:
    """Resolve MODEL (see module docstring) into a normalised ONNX model."""
    shapes = dict(shapes or {})
    if isinstance(model, onnx.ModelProto):
        check_shapes(shapes, {}, name or "the ONNX model")   # normalise checks the rank against the graph
        return LoadedModel(normalise(model, shapes, name or "model"), name or model.graph.name or "model",
                           name or "ONNX model")
    loaded = load_torch(model, shapes)
    if loaded is not None:
        module, inputs, label, source, meta = loaded
        if getattr(module, "stream_block", None):    # the module streams by default, with its natural block
            meta = {**meta, "stream_block": int(module.stream_block)}
        control = module.control() if hasattr(module, "control") else None
        if control is not None:                      # the family says how notes play it
            meta = {**meta, "control": {"control": control.to_json(), "notes": meta.pop("notes", None)}}
        return _from_torch(module, inputs, name or label, source, meta)
    path = Path(model)
    check_shapes(shapes, {}, path.name)
    proto = read_onnx(path)
    return LoadedModel(normalise(proto, shapes, path.name), name or path.stem, path.name)


def describe_shapes(shapes: Shapes) -> str:
    return ", ".join(f"{k}={format_shape(v)}" for k, v in shapes.items())
