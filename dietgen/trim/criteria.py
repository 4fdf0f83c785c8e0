"""How much each unit matters, by one of the paper's criteria. Scores are per unit of each group, raw (the
selection normalises them per group); a unit written by several layers (a residual channel) scores the mean
over its channels.

- magnitude: L1 norm of the unit's incoming weights (rows of every layer writing it, all gate blocks of a
  recurrent unit) and biases.
- gradient: the same over the loss gradient accumulated over the scoring batches.
- activation: mean |output| of the unit over the scoring batches.
- batchnorm: |gamma| of the normalisation layer reading the unit (groups without one fall back to magnitude).
- information: I(X; H_j) in bits (EDGE estimator, dietgen.trim.information) between the input X of the layer
  writing the unit (flattened per example, at most 1000 coordinates) and the unit's activation H_j (at most 100
  time positions). The coordinates and positions are drawn once per layer and kept for the whole pass (the
  reference code redrew them per batch, mixing coordinates).
- information-target: the same with the training target (the note's waveform) in place of X.
- information-projection: I(X; H_j) by dietgen's earlier estimator (dietgen.trim.information's
  projection_information: one random 1-D view of each side), which ranks units shaped like layer inputs better
  than EDGE does at these sizes (see that module and docs/results/edge_bias.md).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from dietgen.errors import DietgenError
from dietgen.trim.information import projection_information, unit_information
from dietgen.trim.modules import Producer, rnn_suffixes
from dietgen.trim.units import Units

CRITERIA = ("magnitude", "activation", "gradient", "batchnorm", "information", "information-target",
            "information-projection")
INPUT_COORDINATES = 1000
UNIT_POSITIONS = 100


class _Scores:
    """Per-class running sums, read back per group."""

    def __init__(self):
        self.total: dict[int, float] = defaultdict(float)
        self.count: dict[int, int] = defaultdict(int)

    def add(self, roots: np.ndarray, values: np.ndarray) -> None:
        for r, v in zip(roots.tolist(), np.asarray(values, dtype=np.float64).tolist()):
            self.total[r] += v
            self.count[r] += 1

    def per_group(self, units: Units) -> list[np.ndarray]:
        return [np.array([self.total[r] / self.count[r] if self.count[r] else 0.0 for r in g.roots.tolist()])
                for g in units.groups]


def _loss(model: nn.Module, batch) -> Tensor:
    """A family's training loss; a plain module (batches of input tuples) has none: its output's mean square."""
    if isinstance(batch, dict):
        return model.loss(batch)
    return model(*batch).pow(2).mean()


def _incoming(model: nn.Module, units: Units, tensor_of) -> _Scores:
    scores = _Scores()
    tensors = dict(model.named_parameters())
    for group in units.groups:
        for module, producer in group.producers:
            for local, dim in producer.incoming:
                name = f"{module}.{local}" if module else local
                if name not in units.dims or name not in tensors:
                    continue
                t = tensor_of(tensors[name])
                if t is None:
                    continue
                values = t.detach().abs().transpose(0, dim).reshape(t.shape[dim], -1).sum(1)
                scores.add(units.dims[name][dim], values.cpu().numpy())
    return scores


def _producer_modules(model: nn.Module, units: Units) -> dict[str, list[Producer]]:
    """Each producing module's producers, once each (a module writing several groups is hooked once)."""
    found: dict[str, dict[str, Producer]] = defaultdict(dict)
    for group in units.groups:
        for module, producer in group.producers:
            found[module][producer.label] = producer
    return {module: list(producers.values()) for module, producers in found.items()}


def rnn_layer_io(module: nn.RNNBase, x: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(input, output) of every layer and direction of a recurrent module run from zero state, in producer
    order: the inner layers' outputs are not visible from outside the module."""
    lstm = isinstance(module, nn.LSTM)
    run = torch._VF.lstm if lstm else torch._VF.gru
    directions = 2 if module.bidirectional else 1
    batch = x.shape[0 if module.batch_first else 1]
    pairs = []
    for k in range(module.num_layers):
        weights = [getattr(module, f"{p}{s}") for _, s in rnn_suffixes(module) if _ == k
                   for p in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if module.bias else ())]
        h0 = x.new_zeros(directions, batch, module.hidden_size)
        out = run(x, (h0, h0) if lstm else h0, weights, module.bias, 1, 0.0, False, module.bidirectional,
                  module.batch_first)[0]
        pairs += [(x, part) for part in out.chunk(directions, -1)]
        x = out
    return pairs


def _observe(model: nn.Module, units: Units, batches: Iterable, seen) -> None:
    """Run the scoring batches with hooks that hand ``seen(module, producer, layer input, output, batch)``
    each producer's input and output."""
    modules = _producer_modules(model, units)
    current = {}

    def hook_for(name: str):
        def hook(module, inputs, output):
            if isinstance(module, nn.RNNBase):
                io = rnn_layer_io(module, inputs[0])
                for producer in modules[name]:
                    seen(name, producer, *io[producer.layer], current["batch"])
            else:
                for producer in modules[name]:
                    seen(name, producer, inputs[0], output, current["batch"])
        return hook

    handles = [model.get_submodule(name).register_forward_hook(hook_for(name)) for name in modules]
    try:
        with torch.no_grad():
            for batch in batches:
                current["batch"] = batch
                _loss(model, batch)
    finally:
        for h in handles:
            h.remove()


def _channels_first(output: Tensor, producer: Producer) -> Tensor:
    """(examples, channels, positions) from a producer's output."""
    out = output.movedim(producer.channel_dim, 1)
    return out.reshape(out.shape[0], out.shape[1], -1)


def score_units(model: nn.Module, units: Units, criterion: str, batches: list, *, seed: int = 0
                ) -> list[np.ndarray]:
    """Raw scores of every unit, one array per group of ``units`` (found on ``model``). ``batches``: training
    batches of a dietgen.models family (dicts), or input tuples of a plain module."""
    if criterion not in CRITERIA:
        raise DietgenError(f"criterion {criterion!r}: choose one of {', '.join(CRITERIA)}")
    was_training = model.training
    model.eval()
    try:
        if criterion == "magnitude":
            return _incoming(model, units, lambda p: p).per_group(units)
        if criterion == "gradient":
            model.zero_grad()
            for batch in batches:
                _loss(model, batch).backward()
            scores = _incoming(model, units, lambda p: p.grad)
            model.zero_grad()
            return scores.per_group(units)
        if criterion == "batchnorm":
            return _batchnorm(model, units)
        if criterion == "activation":
            scores = _Scores()
            totals: dict[tuple[str, str], Tensor] = {}

            def seen(name, producer, x, output, batch):
                sums = _channels_first(output, producer).abs().sum((0, 2))
                key = (name, producer.label)
                totals[key] = totals[key] + sums if key in totals else sums
            _observe(model, units, batches, seen)
            for key, sums in totals.items():
                scores.add(units.producer_roots[key], sums.cpu().numpy())
            return scores.per_group(units)
        return _information(model, units, batches, criterion == "information-target",
                            projection_information if criterion == "information-projection" else unit_information,
                            seed)
    finally:
        model.train(was_training)


def _batchnorm(model: nn.Module, units: Units) -> list[np.ndarray]:
    scores = _Scores()
    for name, module in model.named_modules():
        key = f"{name}.weight" if name else "weight"
        if isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)) and key in units.dims:
            scores.add(units.dims[key][0], module.weight.detach().abs().cpu().numpy())
    if not scores.count:
        raise DietgenError(f"criterion batchnorm: {type(model).__name__} has no trimmable normalisation layer; "
                           f"use magnitude")
    normed = scores.per_group(units)
    magnitude = _incoming(model, units, lambda p: p).per_group(units)
    return [s if any(scores.count[r] for r in g.roots.tolist()) else m
            for s, m, g in zip(normed, magnitude, units.groups)]


def _information(model: nn.Module, units: Units, batches: list, target: bool, estimator, seed: int
                 ) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    picks: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    xs: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    hs: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)

    def seen(name, producer, x, output, batch):
        if target:
            if not isinstance(batch, dict) or "audio" not in batch:
                raise DietgenError("criterion information-target needs training batches with the target audio")
            x = batch["audio"]
        flat = x.reshape(x.shape[0], -1).float()
        h = _channels_first(output, producer)
        key = (name, producer.label)
        if key not in picks:     # drawn once: every batch must use the same coordinates and positions
            picks[key] = (np.sort(rng.choice(flat.shape[1], min(INPUT_COORDINATES, flat.shape[1]), replace=False)),
                          np.sort(rng.choice(h.shape[2], min(UNIT_POSITIONS, h.shape[2]), replace=False)))
        coords, positions = picks[key]
        if coords[-1] >= flat.shape[1] or positions[-1] >= h.shape[2]:
            raise DietgenError("scoring batches differ in length; score on batches of one note length or crop")
        xs[key].append(flat[:, coords].cpu().numpy())
        hs[key].append(h[:, :, positions].cpu().numpy())

    _observe(model, units, batches, seen)
    scores = _Scores()
    for key in xs:
        bits = estimator(np.concatenate(xs[key]), np.concatenate(hs[key]), seed=seed)
        scores.add(units.producer_roots[key], bits)
    return scores.per_group(units)
