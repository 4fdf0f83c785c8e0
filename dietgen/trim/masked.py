"""The reference a trimmed model must equal: the original model with the same units masked. Every channel
slice of a removed unit is zeroed (its incoming weights, its biases and normalisation parameters, and the
columns that read it), so nothing of it reaches a kept unit or an output; a LayerNorm normalises over the
kept units only, as the trimmed model's smaller LayerNorm does."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from dietgen.trim.units import Units


def masked_model(model: nn.Module, units: Units, keep: list[np.ndarray]) -> nn.Module:
    masked = copy.deepcopy(model)
    state = dict(masked.named_parameters()) | dict(masked.named_buffers())
    positions = units.kept_positions(keep)
    with torch.no_grad():
        for name, dims in positions.items():
            for dim, kept in dims.items():
                removed = torch.from_numpy(np.flatnonzero(~kept)).to(state[name].device)
                state[name].index_fill_(dim, removed, 0.0)
    for name, module in masked.named_modules():
        key = f"{name}.weight" if name else "weight"
        if isinstance(module, nn.LayerNorm) and key in positions:
            kept = torch.from_numpy(np.flatnonzero(positions[key][0])).to(module.weight.device)
            module.register_forward_hook(_normalise_kept(kept))
    return masked


def _normalise_kept(kept: torch.Tensor):
    def hook(module: nn.LayerNorm, inputs, output):
        x = inputs[0].index_select(-1, kept)
        normed = nn.functional.layer_norm(x, (len(kept),), module.weight[kept], module.bias[kept]
                                          if module.bias is not None else None, module.eps)
        return torch.zeros_like(output).index_copy(-1, kept, normed)
    return hook
