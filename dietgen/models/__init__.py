"""Model architectures dietgen knows by name, and the checkpoint format that rebuilds them.

A checkpoint is a safetensors weights file plus a JSON config naming a registered architecture and the keyword
arguments that rebuild it; a trimmed model's config says "trimmed": true, and its layers then take their
(smaller) widths from the weights file's shapes. Nothing is unpickled, and only architectures registered here
can be built; the one that imports code the file names, a user's model rebuilt by its factory
(dietgen.models.factory), accepts only the user's own code (dietgen.frontend.sources.check_own_code).
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
from pathlib import Path
from typing import Any, Callable

from dietgen.errors import DietgenError

FORMAT = "dietgen-checkpoint"
_ARCHITECTURES: dict[str, Callable[..., Any]] = {}


def architecture(name: str):
    """Register a torch.nn.Module class (or factory) under ``name`` for checkpoints."""
    def wrap(factory):
        _ARCHITECTURES[name] = factory
        return factory
    return wrap


def architectures() -> dict[str, Callable[..., Any]]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return dict(_ARCHITECTURES)


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(config.json, weights.safetensors) for a checkpoint given as a folder, its .json or its .safetensors."""
    path = Path(path)
    if path.is_dir():
        return path / "config.json", path / "model.safetensors"
    return path.with_suffix(".json"), path.with_suffix(".safetensors")


def save_checkpoint(module, path: str | os.PathLike, architecture: str, config: dict,
                    inputs: dict[str, list[int]], **meta: Any) -> tuple[Path, Path]:
    """Write ``module``'s weights and the config that rebuilds it; returns the two paths."""
    from safetensors.torch import save_file

    from dietgen.trim.surgery import TRIMMED
    if architecture not in architectures():
        raise DietgenError(f"architecture {architecture!r} is not registered in dietgen.models")
    cfg_path, weights_path = checkpoint_paths(path)
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(weights_path))
    doc = {"format": FORMAT, "version": 1, "architecture": architecture, "config": dict(sorted(config.items())),
           "inputs": inputs, **meta}
    if getattr(module, TRIMMED, False):
        doc[TRIMMED] = True
    # Keys sorted for stable files, except the inputs: their order is the order the model takes them in.
    cfg_path.write_text(json.dumps({k: doc[k] for k in sorted(doc)}, indent=2) + "\n")
    return cfg_path, weights_path


def load_checkpoint(path: str | os.PathLike):
    """(module in eval mode, config document) from a checkpoint; every mismatch is a DietgenError."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg_path, weights_path = checkpoint_paths(path)
    for p in (cfg_path, weights_path):
        if not p.is_file():
            raise DietgenError(f"{p}: missing; a dietgen checkpoint is a .json config beside a .safetensors file")
    try:
        doc = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DietgenError(f"{cfg_path}: not a readable JSON config ({exc})")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DietgenError(f"{cfg_path}: not a dietgen checkpoint config (no \"format\": \"{FORMAT}\")")
    known = architectures()
    arch = doc.get("architecture")
    if arch not in known:
        raise DietgenError(f"{cfg_path}: unknown architecture {arch!r}; known: {', '.join(sorted(known))}")
    try:
        module = known[arch](**doc.get("config", {}))
    except TypeError as exc:
        raise DietgenError(f"{cfg_path}: config does not fit architecture {arch!r}: {exc}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DietgenError(f"{weights_path}: corrupt safetensors file ({exc})")
    from dietgen.trim.surgery import TRIMMED, resize_to
    if doc.get(TRIMMED) is True:
        resize_to(module, {name: tuple(t.shape) for name, t in state.items()})
        setattr(module, TRIMMED, True)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split("\n\t")[1:2]) or str(exc)
        raise DietgenError(f"{weights_path}: weights do not match the config's architecture: {detail.strip()}")
    with torch.no_grad():
        module.eval()
    return module, doc
