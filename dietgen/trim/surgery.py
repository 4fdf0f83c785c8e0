"""Physical trimming: a new model whose tensors hold only the kept channels, with every layer's attributes
(``in_features``, ``hidden_size``...) brought in line, so it saves, reloads, exports and runs smaller."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from dietgen.errors import DietgenError
from dietgen.trim.modules import kind_of
from dietgen.trim.units import Units

TRIMMED = "trimmed"    # set on a module by trim_model, and in the config of its checkpoints (dietgen.models)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_name, _, local = name.rpartition(".")
    return model.get_submodule(module_name), local


def _replace(module: nn.Module, local: str, value: torch.Tensor) -> None:
    if local in module._parameters:
        old = module._parameters[local]
        module._parameters[local] = nn.Parameter(value, requires_grad=old.requires_grad)
    else:
        module._buffers[local] = value


def trim_model(model: nn.Module, units: Units, keep: list[np.ndarray]) -> nn.Module:
    """A copy of ``model`` without the units whose ``keep`` entry is False (``model`` is untouched; ``units``
    may come from another instance with the same shapes, such as the model this one was rewound from)."""
    trimmed = copy.deepcopy(model)
    changed = set()
    for name, dims in units.kept_positions(keep).items():
        module, local = _owner(trimmed, name)
        tensor = getattr(module, local).detach()
        for dim, mask in dims.items():
            if len(mask) != tensor.shape[dim]:
                raise DietgenError(f"{name}: dimension {dim} has {tensor.shape[dim]} channels, the units were "
                                   f"found on a model with {len(mask)}; find the units on this model")
            if not mask.all():
                tensor = tensor.index_select(dim, torch.from_numpy(np.flatnonzero(mask)).to(tensor.device))
        _replace(module, local, tensor.clone())
        changed.add(id(module))
    for module in trimmed.modules():
        if id(module) in changed:
            kind_of(module).resync(module)
    setattr(trimmed, TRIMMED, True)    # its checkpoints then rebuild these widths, not the config's
    return trimmed


def resize_to(model: nn.Module, shapes: dict[str, tuple[int, ...]]) -> None:
    """Give ``model``'s trimmable layers the tensor shapes of a trimmed checkpoint (values to be loaded next)."""
    state = model.state_dict()
    changed = {}
    for name, shape in shapes.items():
        if name not in state or tuple(state[name].shape) == tuple(shape):
            continue
        module, local = _owner(model, name)
        if kind_of(module) is None or len(shape) != state[name].ndim:
            raise DietgenError(f"{name}: shape {list(shape)} where the architecture has "
                               f"{list(state[name].shape)}, and {type(module).__name__} cannot be trimmed")
        _replace(module, local, torch.zeros(shape, dtype=state[name].dtype, device=state[name].device))
        changed[id(module)] = module
    for module in changed.values():
        kind_of(module).resync(module)
