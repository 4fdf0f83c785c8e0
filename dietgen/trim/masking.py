"""The unstructured baseline: global magnitude masks over the weight matrices (Esling et al.'s "masking").

Masked tensors are the multiply-accumulate weights: every weight of dimension >= 2 of Linear, Conv1d,
ConvTranspose1d and the recurrent layers (GRU/LSTM weight_ih and weight_hh). Biases and normalisation gains
are left whole (one value per unit, as the trimming criteria treat them), and so are embedding tables: they
are the model's conditioning interface, looked up once per note, so masking their entries saves no compute.

A masked weight is exactly 0, so the masks of a saved checkpoint are its zero weights (``masks_of``) and a
resumed run continues with the masks it had. Masks give no speed-up and no smaller file: that is the point
of the comparison with structured trimming."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

Masks = dict[str, torch.Tensor]   # parameter name -> bool tensor of its shape, False = removed
MASKED_LAYERS = (nn.Linear, nn.Conv1d, nn.ConvTranspose1d, nn.RNNBase)


def maskable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights the baseline masks, by parameter name."""
    return {f"{prefix}.{name}" if prefix else name: p
            for prefix, module in model.named_modules() if isinstance(module, MASKED_LAYERS)
            for name, p in module.named_parameters(recurse=False) if p.dim() >= 2}


def masks_of(model: nn.Module) -> Masks:
    """The masks ``model`` carries: its maskable weights that are not exactly 0."""
    return {name: p.detach() != 0 for name, p in maskable(model).items()}


def prune(model: nn.Module, masks: Masks, rate: float) -> Masks:
    """New masks removing ``rate`` of the weights ``masks`` still keeps, those of smallest magnitude in
    ``model`` across all masked tensors (one global threshold; ties broken by position, so exactly
    round(rate * remaining) go)."""
    weights = maskable(model)
    names = list(weights)
    keep = torch.cat([masks[n].flatten() for n in names])
    # Removed weights rank below every survivor, so the first (removed + k) of the order are the new removals.
    magnitude = torch.where(keep, torch.cat([weights[n].detach().abs().flatten() for n in names]),
                            torch.tensor(-1.0, device=keep.device))
    remove = int((~keep).sum()) + round(rate * int(keep.sum()))
    kept = torch.ones_like(keep)
    kept[torch.argsort(magnitude, stable=True)[:remove]] = False
    return {n: part.view_as(masks[n]) for n, part in zip(names, kept.split([masks[n].numel() for n in names]))}


def apply(model: nn.Module, masks: Masks) -> None:
    """Zero the masked-out weights of ``model`` in place."""
    with torch.no_grad():
        for name, p in maskable(model).items():
            p.mul_(masks[name].to(p.device))


@contextmanager
def enforced(model: nn.Module, masks: Masks) -> Iterator[Callable[[nn.Module], None]]:
    """Within the block, masked weights get no gradient, so gradient clipping and Adam see only the surviving
    weights, as in a network without them. Yields the ``after_step`` for dietgen.train.fit, which zeroes the
    masked weights after every step: exact zeros are what make the masks recoverable from a checkpoint, so
    they must not rest on how an optimiser treats a zero gradient."""
    weights = maskable(model)
    on_device = {name: masks[name].to(p.device) for name, p in weights.items()}
    handles = [p.register_hook(lambda grad, mask=on_device[name]: grad * mask) for name, p in weights.items()]
    try:
        yield lambda trained: apply(trained, on_device)
    finally:
        for handle in handles:
            handle.remove()
