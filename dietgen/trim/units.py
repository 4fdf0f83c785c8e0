"""The units a model can lose, grouped by layer: ``find_units`` traces the model (dietgen.trim.trace) and turns
the resulting classes of coupled channels into groups, one per layer (or per set of layers writing one channel
space, such as WaveNet's residual stream). A unit is everything that must go together: a residual channel in
every block that writes it, a pair of gate channels, a recurrent hidden unit across its gate blocks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dietgen.errors import DietgenError
from dietgen.trim.modules import Producer
from dietgen.trim.trace import Tracer


@dataclass(frozen=True)
class Group:
    name: str
    roots: np.ndarray                          # one class id per unit
    producers: tuple[tuple[str, Producer], ...]   # (module name, producer) writing these units
    tie: str | None = None     # groups with one tie keep equal unit counts (the layers of one nn.GRU / nn.LSTM)

    @property
    def size(self) -> int:
        return len(self.roots)


@dataclass(frozen=True)
class Units:
    groups: list[Group]
    dims: dict[str, dict[int, np.ndarray]]     # parameter / buffer name -> {dim: class id per position}
    producer_roots: dict[tuple[str, str], np.ndarray]   # (module, producer label) -> class id per channel
    locked: int                                # channels of declared layers that are never trimmed

    @property
    def ties(self) -> list[str | None]:
        return [g.tie for g in self.groups]

    @property
    def total(self) -> int:
        return sum(g.size for g in self.groups)

    def kept_positions(self, keep: list[np.ndarray]) -> dict[str, dict[int, np.ndarray]]:
        """For every trimmable parameter dimension, a boolean mask of the positions that stay."""
        if len(keep) != len(self.groups) or any(len(k) != g.size for k, g in zip(keep, self.groups)):
            raise ValueError("keep must hold one boolean array per group, one entry per unit")
        removed = np.concatenate([g.roots[~np.asarray(k, bool)] for g, k in zip(self.groups, keep)] or [[]])
        return {name: {d: ~np.isin(roots, removed) for d, roots in dims.items()} for name, dims in self.dims.items()}


def device_of(model: nn.Module) -> torch.device:
    """Where ``model``'s parameters (else buffers) are: the device every tensor built for it must be on."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return torch.device("cpu") if tensor is None else tensor.device


def example_inputs(model: nn.Module) -> tuple[nn.Module, tuple]:
    """The deployable form of a dietgen.models family and random inputs of its export shapes, on its device
    (drawn on the CPU, so the values do not depend on the device)."""
    module, shapes = model.export_module()
    generator = torch.Generator().manual_seed(0)
    device = device_of(model)
    return module, tuple(torch.rand(shape, generator=generator).to(device) for shape in shapes.values())


def find_units(model: nn.Module, *, inputs: tuple | None = None, batch: dict | None = None) -> Units:
    """Trace ``model`` and group its trimmable units. A dietgen.models family is traced through its export form
    (its interface: inputs and outputs keep their widths) and, given a training ``batch``, through its loss, so
    that training-only paths are followed too; any other module runs on ``inputs``. Layers the trace never
    reaches are left untrimmed."""
    tracer = Tracer(model)
    with torch.no_grad(), tracer:
        if inputs is None:
            if not hasattr(model, "export_module"):
                raise DietgenError(f"{type(model).__name__}: give example inputs to trace a model that is not a "
                                   f"dietgen.models family")
            module, inputs = example_inputs(model)
        else:
            module = model
        try:
            outputs = [module(*inputs)]
            if batch is not None:
                outputs.append(model.loss(batch))
        except DietgenError:
            raise
        except Exception as exc:
            raise DietgenError(f"cannot trace {type(model).__name__}: {type(exc).__name__}: {exc}; declare its "
                               f"groups with a trim_dependencies() method") from None
    tracer.lock_all(outputs)
    _untraced_layers_stay(tracer, model)
    _apply_declarations(tracer, model)
    return _group(tracer)


def _untraced_layers_stay(tracer: Tracer, model: nn.Module) -> None:
    """A layer the trace did not see may feed or read channels in ways nobody followed."""
    for name, decl in tracer.declarations.items():
        module = model.get_submodule(name)
        if not any(id(p) in tracer.used for p in module.parameters(recurse=False)):
            for dims in decl.dims.values():
                for ids in dims.values():
                    tracer.uf.lock(ids)


def _apply_declarations(tracer: Tracer, model: nn.Module) -> None:
    """A model's own word on its dependencies, applied over the trace: ``trim_dependencies()`` returns
    {"couple": [[(param, dim), (param, dim), ...], ...], "lock": [module or parameter name prefixes]}."""
    declare = getattr(model, "trim_dependencies", None)
    if declare is None:
        return
    spec = declare()
    for names in spec.get("couple", []):
        try:
            first, *rest = [tracer.dims[p][d] for p, d in names]
        except KeyError as exc:
            raise DietgenError(f"trim_dependencies(): {exc.args[0]} is not a trimmable parameter dimension")
        for ids in rest:
            tracer.uf.union(first, ids)
    for prefix in spec.get("lock", []):
        for name, dims in tracer.dims.items():
            if name == prefix or name.startswith(prefix + "."):
                for ids in dims.values():
                    tracer.uf.lock(ids)


def _group(tracer: Tracer) -> Units:
    uf = tracer.uf
    producer_roots = {(module, p.label): uf.roots(p.ids) for module, p in tracer.producers}
    # Classes written by one producer are one layer; producers sharing a class are one layer together.
    joined = list(range(len(tracer.producers)))

    def find(i: int) -> int:
        while joined[i] != i:
            i = joined[i]
        return i

    writer: dict[int, int] = {}
    for index, (module, p) in enumerate(tracer.producers):
        for r in producer_roots[(module, p.label)].tolist():
            if r in uf.locked:
                continue
            if r in writer:
                joined[find(index)] = find(writer[r])
            writer[r] = index
    members: dict[int, list[int]] = {}
    for index in range(len(tracer.producers)):
        members.setdefault(find(index), []).append(index)
    groups = []
    for indices in members.values():
        seen: dict[int, None] = {}
        for i in indices:
            module, p = tracer.producers[i]
            for r in producer_roots[(module, p.label)]:
                if int(r) not in uf.locked:
                    seen.setdefault(int(r), None)
        if not seen:
            continue
        producers = tuple(tracer.producers[i] for i in indices)
        names = [".".join(x for x in (m, p.label) if x) for m, p in producers]
        name = names[0] + (f" (+{len(names) - 1})" if len(names) > 1 else "")
        # PyTorch's recurrent modules give every layer and direction one hidden size.
        tie = next((m for m, p in producers if p.layer is not None), None)
        groups.append(Group(name, np.array(list(seen), dtype=np.int64), producers, tie))
    dims = {name: {d: uf.roots(ids) for d, ids in per_dim.items()} for name, per_dim in tracer.dims.items()}
    declared = {int(r) for per_dim in dims.values() for roots in per_dim.values() for r in roots}
    return Units(groups, dims, producer_roots, len(declared & uf.locked))
