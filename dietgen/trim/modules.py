"""What each prunable layer type owns: which dimensions of its parameters index channels, which channels it
produces (the units a trimmer can remove), and how to bring its attributes back in line with smaller tensors.

Adding a layer type touches only this file: a function registered with ``@layer(nn.Type)`` that declares the
module's channel spaces with fresh unit ids, and optionally a ``resync`` that updates the attributes PyTorch
reads at run time (``in_features``, ``hidden_size``...). An undeclared module is never trimmed: tracing treats
its parameters as fixed, which locks the channels that reach it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from torch import nn

Ids = np.ndarray   # one integer unit id per channel position of a tensor dimension


@dataclass(frozen=True)
class Producer:
    """Channels a module makes: ``ids`` per channel, ``incoming`` the (parameter, dim) slices holding each
    channel's incoming weights, ``layer`` the recurrent layer (and direction) whose output they are."""
    label: str
    ids: Ids
    incoming: tuple[tuple[str, int], ...]
    channel_dim: int
    layer: int | None = None


@dataclass
class Declaration:
    dims: dict[str, dict[int, Ids]]            # local parameter / buffer name -> {dim: ids}
    producers: list[Producer] = field(default_factory=list)


@dataclass(frozen=True)
class LayerKind:
    declare: Callable[[nn.Module, Callable[[int], Ids]], Declaration | None]
    resync: Callable[[nn.Module], None]


LAYERS: dict[type, LayerKind] = {}


def layer(*types: type, resync: Callable[[nn.Module], None] = lambda m: None):
    def wrap(declare):
        for t in types:
            LAYERS[t] = LayerKind(declare, resync)
        return declare
    return wrap


def kind_of(module: nn.Module) -> LayerKind | None:
    for t in type(module).__mro__:
        if t in LAYERS:
            return LAYERS[t]
    return None


def _with_bias(m: nn.Module, dims: dict[str, dict[int, Ids]], out: Ids) -> dict[str, dict[int, Ids]]:
    if getattr(m, "bias", None) is not None:
        dims["bias"] = {0: out}
    return dims


def _linear_resync(m: nn.Linear) -> None:
    m.out_features, m.in_features = m.weight.shape


@layer(nn.Linear, resync=_linear_resync)
def _linear(m: nn.Linear, new):
    out = new(m.out_features)
    dims = _with_bias(m, {"weight": {0: out, 1: new(m.in_features)}}, out)
    return Declaration(dims, [Producer("", out, (("weight", 0), ("bias", 0)), -1)])


def _conv_resync(m: nn.Conv1d) -> None:
    m.out_channels, m.in_channels = m.weight.shape[:2]


@layer(nn.Conv1d, resync=_conv_resync)
def _conv1d(m: nn.Conv1d, new):
    if m.groups != 1:
        return None     # grouped convolutions tie channels in blocks; left untrimmed
    out = new(m.out_channels)
    dims = _with_bias(m, {"weight": {0: out, 1: new(m.in_channels)}}, out)
    return Declaration(dims, [Producer("", out, (("weight", 0), ("bias", 0)), 1)])


def _conv_transpose_resync(m: nn.ConvTranspose1d) -> None:
    m.in_channels, m.out_channels = m.weight.shape[:2]


@layer(nn.ConvTranspose1d, resync=_conv_transpose_resync)
def _conv_transpose1d(m: nn.ConvTranspose1d, new):
    if m.groups != 1:
        return None
    out = new(m.out_channels)
    dims = _with_bias(m, {"weight": {0: new(m.in_channels), 1: out}}, out)
    return Declaration(dims, [Producer("", out, (("weight", 1), ("bias", 0)), 1)])


def _embedding_resync(m: nn.Embedding) -> None:
    m.embedding_dim = m.weight.shape[1]


@layer(nn.Embedding, resync=_embedding_resync)
def _embedding(m: nn.Embedding, new):
    out = new(m.embedding_dim)    # the vocabulary (rows) is the model's interface: never trimmed
    return Declaration({"weight": {1: out}}, [Producer("", out, (("weight", 1),), -1)])


def _layer_norm_resync(m: nn.LayerNorm) -> None:
    m.normalized_shape = tuple(m.weight.shape)


@layer(nn.LayerNorm, resync=_layer_norm_resync)
def _layer_norm(m: nn.LayerNorm, new):
    if len(m.normalized_shape) != 1 or m.weight is None:
        return None     # without affine parameters the normalised width is a constant the trimmer cannot see
    ids = new(m.normalized_shape[0])
    return Declaration(_with_bias(m, {"weight": {0: ids}}, ids))


def _batch_norm_resync(m: nn.BatchNorm1d) -> None:
    m.num_features = (m.weight if m.weight is not None else m.running_mean).shape[0]


@layer(nn.BatchNorm1d, resync=_batch_norm_resync)
def _batch_norm(m: nn.BatchNorm1d, new):
    ids = new(m.num_features)
    dims = {name: {0: ids} for name in ("weight", "bias", "running_mean", "running_var")
            if getattr(m, name, None) is not None}
    return Declaration(dims) if dims else None


def rnn_suffixes(m: nn.RNNBase) -> list[tuple[int, str]]:
    """(layer, parameter-name suffix) of every layer and direction, in PyTorch's flat-weight order."""
    directions = ["", "_reverse"][:2 if m.bidirectional else 1]
    return [(k, f"_l{k}{d}") for k in range(m.num_layers) for d in directions]


def _rnn_resync(m: nn.RNNBase) -> None:
    m.input_size = m.weight_ih_l0.shape[1]
    m.hidden_size = m.weight_hh_l0.shape[1]
    m._init_flat_weights()    # the flat weight list the fused kernel reads still points at the old tensors


@layer(nn.GRU, nn.LSTM, resync=_rnn_resync)
def _rnn(m: nn.RNNBase, new):
    """A hidden unit of layer k spans one row in each gate block (3 for GRU, 4 for LSTM) of both W_ih and W_hh,
    one column of W_hh and one column of the next layer's W_ih: the same ids everywhere."""
    if m.proj_size:
        return None
    gates = 4 if isinstance(m, nn.LSTM) else 3
    dims, producers = {}, []
    inputs = new(m.input_size)
    for k in range(m.num_layers):
        outputs = []
        for _, suffix in [s for s in rnn_suffixes(m) if s[0] == k]:
            hidden = new(m.hidden_size)
            rows = np.tile(hidden, gates)
            dims[f"weight_ih{suffix}"] = {0: rows, 1: inputs}
            dims[f"weight_hh{suffix}"] = {0: rows, 1: hidden}
            if m.bias:
                dims[f"bias_ih{suffix}"] = {0: rows}
                dims[f"bias_hh{suffix}"] = {0: rows}
            incoming = tuple((f"{p}{suffix}", 0) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            producers.append(Producer(suffix[1:], hidden, incoming, -1, len(producers)))
            outputs.append(hidden)
        inputs = np.concatenate(outputs)
    return Declaration(dims, producers)


def rnn_output_ids(decl: Declaration, m: nn.RNNBase) -> Ids:
    """The unit ids along the last dimension of the module's output sequence (its last layer)."""
    last = [p.ids for p in decl.producers if p.label.startswith(f"l{m.num_layers - 1}")]
    return np.concatenate(last)
