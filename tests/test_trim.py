"""Structured trimming: dependency groups found by tracing, physical surgery equal to masking, selection on
hand-made scores, criteria, checkpoints, export and verification of trimmed models."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

from dietgen import models
from dietgen.data import Dataset, synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.models.base import build
from dietgen.models.demo import GatedResidualBlock
from dietgen.trim import (CRITERIA, find_units, masked_model, score_units, select_units, trim_model)
from dietgen.trim.select import normalise
from dietgen.trim.units import example_inputs
from clirun import run

TOLERANCE = 1e-5


class Coupled(nn.Module):
    """Every coupling the tracer must follow: gated residual blocks with skip sums, a concatenation, a layer
    called twice, BatchNorm and LayerNorm, a 2-layer GRU, a 2-layer LSTM, a ConvTranspose1d, an Embedding."""

    def __init__(self, channels=8, skip=6, hidden=10):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, skip, d) for d in (1, 2))
        self.side = nn.Conv1d(1, 5, 3, padding=1)
        self.norm = nn.BatchNorm1d(skip + 5)
        self.shared = nn.Linear(skip + 5, skip + 5)
        self.gru = nn.GRU(skip + 5, hidden, num_layers=2, batch_first=True)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2, batch_first=True)
        self.layer_norm = nn.LayerNorm(hidden)
        self.embed = nn.Embedding(4, hidden)
        self.decoder = nn.ConvTranspose1d(hidden, 3, kernel_size=8, stride=4, padding=2)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        h, skips = self.inp(x), 0
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        h = self.norm(torch.cat([torch.relu(skips), self.side(x)], 1)).transpose(1, 2)
        h = self.shared(torch.relu(self.shared(h)))
        h, _ = self.gru(h)
        h, _ = self.lstm(h)
        h = self.layer_norm(h) + self.embed(torch.zeros(h.shape[1], dtype=torch.long))
        h = self.decoder(torch.relu(h).transpose(1, 2))
        return self.head(h.transpose(1, 2)).transpose(1, 2)


def _coupled():
    torch.manual_seed(0)
    model = Coupled()
    with torch.no_grad():      # non-trivial running statistics, as after training
        model.norm.running_mean.uniform_(-0.5, 0.5)
        model.norm.running_var.uniform_(0.5, 2.0)
    return model.eval()


MODELS = {
    "coupled": lambda: (_coupled(), (torch.randn(2, 1, 24, generator=torch.Generator().manual_seed(1)),)),
    "wavenet": lambda: (build("wavenet", "tiny"), None),
    "wavenet-local": lambda: (build("wavenet", "tiny", local=True), None),
    "sing": lambda: (build("sing", "tiny"), None),
    "sing-2-layer-lstm": lambda: (build("sing", "tiny", lstm_layers=2, conv_layers=2), None),
    "ddsp": lambda: (build("ddsp", "tiny"), None),
    "ddsp-z-reverb": lambda: (build("ddsp", "tiny", z=4, reverb=64, mlp_layers=2), None),
}


def _outputs(model, inputs):
    module, xs = example_inputs(model) if inputs is None else (model, inputs)
    with torch.no_grad():
        return module(*xs)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_trimmed_model_equals_masked_model(name, seed):
    torch.manual_seed(seed)
    model, inputs = MODELS[name]()
    model.eval()
    units = find_units(model, inputs=inputs)
    rng = np.random.default_rng(seed)
    keep = select_units([rng.random(g.size) for g in units.groups], 0.5, floor=1, ties=units.ties)
    trimmed = trim_model(model, units, keep)
    reference = masked_model(model, units, keep)
    if inputs is None:    # the interface keeps its widths: the same inputs feed the trimmed model
        assert trimmed.export_module()[1] == model.export_module()[1]
    got, want, dense = _outputs(trimmed, inputs), _outputs(reference, inputs), _outputs(model, inputs)
    assert got.shape == want.shape == dense.shape
    assert float((got - want).abs().max()) <= TOLERANCE
    assert float((got - dense).abs().max()) > 1e-4, "removing half the units must change the output"
    before, after = (sum(p.numel() for p in m.parameters()) for m in (model, trimmed))
    assert after < 0.75 * before


def _ids(units, name, dim=0):
    return units.dims[name][dim]


def test_groups_follow_residual_skip_gate_and_recurrent_couplings():
    model = build("wavenet", "tiny")
    units = find_units(model)
    by_name = {g.name.split(" ")[0]: g for g in units.groups}
    residual = by_name["input"]
    # The residual stream: the input embedding and every block's residual conv write the same units.
    assert {m for m, _ in residual.producers} == {"input"} | {f"blocks.{i}.residual" for i in range(6)}
    assert (_ids(units, "input.weight", 1) == _ids(units, "blocks.3.residual.weight", 0)).all()
    # Skip sums couple every skip conv; the gate conv's two halves pair channel by channel with its
    # conditioning rows.
    assert (_ids(units, "blocks.0.skip.weight") == _ids(units, "blocks.5.skip.weight")).all()
    gate = _ids(units, "blocks.2.gate.weight")
    assert (gate[:8] == gate[8:]).all() and (gate == _ids(units, "blocks.2.cond.weight")).all()
    # The interface stays: 256 output classes and the one-hot input rows are no group.
    assert not any(np.isin(_ids(units, "head.3.weight"), g.roots).any() for g in units.groups)
    assert "input.weight" not in units.dims or 0 not in units.dims["input.weight"]


def test_recurrent_units_span_gate_blocks_and_layers():
    model, inputs = MODELS["coupled"]()
    units = find_units(model, inputs=inputs)
    for rnn, gates in (("gru", 3), ("lstm", 4)):
        for k in range(2):
            hidden = _ids(units, f"{rnn}.weight_hh_l{k}", 1)
            assert (_ids(units, f"{rnn}.weight_ih_l{k}") == np.tile(hidden, gates)).all()
            assert (_ids(units, f"{rnn}.weight_hh_l{k}") == np.tile(hidden, gates)).all()
            assert (_ids(units, f"{rnn}.bias_hh_l{k}") == np.tile(hidden, gates)).all()
        assert (_ids(units, f"{rnn}.weight_ih_l1", 1) == _ids(units, f"{rnn}.weight_hh_l0", 1)).all()
    # concatenation by offset: the skip units then the side conv's units, both read by the shared Linear
    columns = _ids(units, "shared.weight", 1)
    assert (columns[:6] == _ids(units, "blocks.0.skip.weight")).all()
    assert (columns[6:] == _ids(units, "side.weight")).all()
    assert (_ids(units, "norm.running_mean") == columns).all()
    # a module called twice reads its own output: rows and columns are one set of units
    assert (_ids(units, "shared.weight", 0) == columns).all()
    # the LayerNorm'd LSTM output is added to the embedding: one group
    assert (_ids(units, "embed.weight", 1) == _ids(units, "lstm.weight_hh_l1", 1)).all()
    ties = {g.name: g.tie for g in units.groups}
    assert ties["gru.l0"] == ties["gru.l1"] == "gru"


class Escapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 6)
        self.b = nn.Linear(6, 2)

    def forward(self, x):
        h = torch.from_numpy(np.tanh(self.a(x).detach().numpy()))   # channels leave torch for numpy
        return self.b(h)


def test_untraceable_construct_is_a_clear_error():
    with pytest.raises(DietgenError, match=r"test_trim.py:\d+ .*numpy\(\)"):
        find_units(Escapes(), inputs=(torch.randn(3, 4),))


class Declared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 6), nn.Linear(4, 6), nn.Linear(12, 2)

    def forward(self, x):
        return self.c(torch.cat([self.a(x), self.b(x)], -1))

    def trim_dependencies(self):
        return {"couple": [[("a.weight", 0), ("b.weight", 0)]], "lock": ["b"]}


def test_declared_dependencies_override_the_trace():
    units = find_units(Declared(), inputs=(torch.randn(3, 4),))
    assert units.groups == []     # a and b coupled, then b locked: nothing left to trim
    assert units.locked == 6 + 4 + 4 + 2    # a/b outputs (coupled), a's and b's inputs, c's outputs


def test_unknown_operations_lock_what_they_touch():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 6), nn.Linear(6, 2)

        def forward(self, x):
            return self.b(torch.fft.fft(self.a(x)).real)

    units = find_units(Odd(), inputs=(torch.randn(3, 4),))
    assert [g.name for g in units.groups] == []


# -- selection on hand-made scores ----------------------------------------------------------------------------
def test_scores_are_normalised_per_group():
    assert np.allclose(normalise(np.array([2.0, 4.0, 1.0])), [0.5, 1.0, 0.25])
    assert np.allclose(normalise(np.zeros(3)), 0.0)


def test_global_selection_is_one_threshold_over_normalised_scores():
    # Raw scales differ 1000x; normalised: group 0 [0.1 .. 1.0], group 1 [0.55 .. 1.0].
    scores = [np.linspace(0.1, 1.0, 10) * 1000, np.linspace(0.55, 1.0, 10)]
    keep = select_units(scores, 0.25, "global", floor=1)
    # 5 of 20 units go: the five lowest normalised scores, all in group 0 (0.1, 0.2, 0.3, 0.4, 0.5 < 0.55)
    assert keep[0].tolist() == [False] * 5 + [True] * 5
    assert keep[1].all()


def test_local_selection_takes_the_same_share_of_each_group():
    scores = [np.arange(10.0), np.arange(20.0)[::-1]]
    keep = select_units(scores, 0.3, "local", floor=1)
    assert (~keep[0]).sum() == 3 and not keep[0][:3].any()
    assert (~keep[1]).sum() == 6 and not keep[1][-6:].any()


def test_floor_restores_a_groups_best_units():
    scores = [np.array([0.01, 0.02, 0.03, 0.04, 0.05]) , np.linspace(0.5, 1.0, 20)]
    keep = select_units(scores, 0.5, "global", floor=3)
    # normalised, group 0 is [0.2 .. 1.0]: the threshold would take it all; the floor gives back its best 3
    assert keep[0].tolist() == [False, False, True, True, True]
    small = select_units([np.array([1.0, 2.0])], 0.9, "global", floor=3)
    assert small[0].all()    # a group smaller than the floor keeps everything


def test_tied_groups_keep_equal_counts():
    scores = [np.linspace(0.1, 1.0, 10), np.ones(10), np.linspace(0.2, 1.0, 10)]
    keep = select_units(scores, 0.2, "global", floor=1, ties=["rnn", "rnn", None])
    assert keep[0].sum() == keep[1].sum()


def test_selection_rejects_bad_rate_and_scope():
    with pytest.raises(ValueError):
        select_units([np.ones(3)], 1.0)
    with pytest.raises(ValueError):
        select_units([np.ones(3)], 0.2, "everywhere")


# -- criteria -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "notes"
    synthetic_dataset(folder, instruments=2, seconds=0.5)
    return Dataset(folder)


def test_magnitude_ranks_units_by_incoming_weights():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 0], [3, 0, 0], [0.5, 0, 0], [2, 0, 0]]))
        model[0].bias.zero_()
    units = find_units(model, inputs=(torch.randn(5, 3),))
    scores = score_units(model, units, "magnitude", [])
    assert [g.name for g in units.groups] == ["0"]
    assert np.argsort(scores[0]).tolist() == [2, 0, 3, 1]


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("family", ["wavenet", "sing", "ddsp"])
def test_every_criterion_scores_every_unit(family, criterion, notes):
    model = build(family, "tiny", num_instruments=len(notes.instruments))
    batches = list(notes.loader("valid", 4, crop=None if family == "sing" else 1600))
    units = find_units(model, batch=batches[0])
    if criterion == "batchnorm" and family != "ddsp":
        with pytest.raises(DietgenError, match="no trimmable normalisation"):
            score_units(model, units, criterion, batches)
        return
    scores = score_units(model, units, criterion, batches, seed=3)
    assert [len(s) for s in scores] == [g.size for g in units.groups]
    assert all(np.isfinite(s).all() and (s >= 0).all() for s in scores)
    assert criterion == "information-target" or any(s.max() > 0 for s in scores)
    if criterion.startswith("information"):   # the sub-sampling is drawn once per seed
        again = score_units(model, units, criterion, batches, seed=3)
        assert all(np.array_equal(a, b) for a, b in zip(scores, again))


class Probe(nn.Module):
    """Unit 0 copies the note, unit 1 is its square, unit 2 a constant, unit 3 independent noise."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 1)
        with torch.no_grad():
            self.a.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]))
            self.a.bias.copy_(torch.tensor([0.0, 0, 0.5, 0]))

    def forward(self, audio, noise):
        return self.b(self.a(torch.stack([audio, audio * audio, noise], -1)))

    def loss(self, batch):
        return self(batch["audio"], batch["noise"]).pow(2).mean()


@pytest.mark.parametrize("criterion", ["information", "information-target"])
def test_information_ranks_dependent_units_first(criterion):
    generator = torch.Generator().manual_seed(0)
    batches = [{"audio": torch.randn(64, 1, generator=generator), "noise": torch.randn(64, 1, generator=generator)}
               for _ in range(4)]
    model = Probe()
    units = find_units(model, inputs=(batches[0]["audio"], batches[0]["noise"]))
    [scores] = [s for g, s in zip(units.groups, score_units(model, units, criterion, batches)) if g.name == "a"]
    assert scores[2] == 0.0                              # a constant carries nothing
    if criterion == "information-target":
        assert scores[0] > 1.0 and scores[1] > 0.5      # bits: the copy of the target most, its square some
        assert scores[3] < 0.1                          # noise independent of the target ~ nothing
    else:   # every other unit is a function of the layer input (the estimator reads a lower bound)
        assert min(scores[0], scores[1], scores[3]) > 0.05


def test_activation_criterion_sees_inner_recurrent_layers():
    model, inputs = MODELS["coupled"]()
    units = find_units(model, inputs=inputs)
    scores = dict(zip([g.name for g in units.groups], score_units(model, units, "activation", [inputs])))
    assert scores["lstm.l0"].min() > 0 and scores["gru.l1"].min() > 0


# -- checkpoints, export, verification ---------------------------------------------------------------------------
def _trimmed_example(name: str, tmp_path):
    model, doc = models.load_checkpoint(f"examples/{name}")
    units = find_units(model)
    keep = select_units(score_units(model, units, "magnitude", []), 0.5, ties=units.ties)
    trimmed = trim_model(model, units, keep)
    out = tmp_path / name
    out.mkdir()
    models.save_checkpoint(trimmed, out, doc["architecture"], doc["config"], doc["inputs"])
    return model, trimmed, out


@pytest.mark.parametrize("name", ["ddsp", "sing", "wavenet"])
def test_trimmed_example_reloads_exports_and_verifies(name, tmp_path):
    model, trimmed, out = _trimmed_example(name, tmp_path)
    reloaded, doc = models.load_checkpoint(out)
    assert doc["trimmed"] is True      # the weights' shapes, not the config's widths, rebuild the layers
    assert {k: v.shape for k, v in reloaded.state_dict().items()} == \
           {k: v.shape for k, v in trimmed.state_dict().items()}
    assert torch.equal(_outputs(reloaded, None), _outputs(trimmed, None))
    config = json.loads((out / "config.json").read_text())
    del config["trimmed"]     # without the flag, smaller weights are a config mismatch, as for any checkpoint
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(DietgenError, match="do not match"):
        models.load_checkpoint(out)
    config["trimmed"] = True
    (out / "config.json").write_text(json.dumps(config))
    dense_bytes = os.path.getsize(f"examples/{name}/model.safetensors")
    assert os.path.getsize(out / "model.safetensors") < 0.8 * dense_bytes
    result = run("verify", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"]
    dense = run("inspect", f"examples/{name}", "--json")
    small = run("inspect", out, "--json")
    assert json.loads(small.output)["macs"] < json.loads(dense.output)["macs"]


class Shapes(nn.Module):
    """Channel dimensions through reshapes, permutes and indexing: kept whole they stay trimmable; picked by
    position or merged with another dimension they lock."""

    def __init__(self):
        super().__init__()
        self.kept, self.sliced, self.merged = nn.Linear(3, 5), nn.Linear(3, 6), nn.Linear(3, 4)
        self.out = nn.Linear(5 + 3 + 8, 2)

    def forward(self, x):                                   # x: (B, T, 3)
        kept = self.kept(x).reshape(x.shape[0], x.shape[1], 5).permute(0, 2, 1).transpose(1, 2)
        sliced = self.sliced(x)[..., :3]                     # the first 3 channels by position
        merged = self.merged(x).reshape(x.shape[0], x.shape[1] // 2, 8)   # two time steps' channels together
        return self.out(torch.cat([kept[:, ::2], sliced[:, ::2], merged], -1))


def test_reshapes_keep_whole_channel_dimensions_and_lock_the_rest():
    units = find_units(Shapes(), inputs=(torch.randn(2, 4, 3),))
    assert sorted((g.name, g.size) for g in units.groups) == [("kept", 5)]


class TimeConcat(nn.Module):
    """Two layers' outputs joined along time: their channels line up, so they are one group."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(3, 6), nn.Linear(3, 6), nn.Linear(6, 2)

    def forward(self, x):                                   # x: (B, T, 3)
        return self.c(torch.relu(torch.cat([self.a(x), self.b(x)], 1)))


def test_concatenation_along_time_couples_the_channels():
    model = TimeConcat()
    inputs = (torch.randn(2, 4, 3),)
    units = find_units(model, inputs=inputs)
    assert [(g.name, g.size) for g in units.groups] == [("a (+1)", 6)]
    keep = [np.array([True, False, True, False, True, True])]
    with torch.no_grad():
        difference = trim_model(model, units, keep)(*inputs) - masked_model(model, units, keep)(*inputs)
    assert float(difference.abs().max()) <= TOLERANCE
