"""The lottery loop on tiny DDSP models and synthetic notes: structured rounds shrink the model by what the
selection removes, masked rounds keep their masked weights at exactly 0, every round is checkpointed and
reported, an interrupted run resumes to the same result, and bad settings are one-line errors."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from dietgen import models
from dietgen.data import Dataset, synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.models.base import build
from dietgen.train import fit, mean_loss
from dietgen.trim import find_units, lottery, masking, measure, score_units, select_units
from dietgen.trim.lottery import TrimSettings, run_lottery

CROP = 1600
QUICK = dict(epochs=2, rewind=1, patience=2, batch_size=8, lr=3e-3, crop=CROP, score_examples=4)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


def settings(data, **changes) -> TrimSettings:
    return TrimSettings(**{"family": "ddsp", "preset": "tiny", "data": str(data), "criterion": "magnitude",
                           "rate": 30.0, "rounds": 3, **QUICK, **changes})


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every document write_report was given, by run folder."""
    calls = {}
    real = lottery.write_report

    def spy(run_dir, doc):
        calls.setdefault(run_dir.name, []).append(json.loads(json.dumps(doc)))
        real(run_dir, doc)

    patch = pytest.MonkeyPatch()
    patch.setattr(lottery, "write_report", spy)
    yield calls
    patch.undo()


@pytest.fixture(scope="module")
def trimmed(data, reports, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "trim"
    rounds = []
    doc = run_lottery(settings(data), out, on_round=rounds.append)
    return out, doc, rounds


@pytest.fixture
def cheap_macs(monkeypatch):
    """Compiling for the MAC count takes seconds a round; tests that are not about it count parameters instead
    and record which models were measured."""
    measured = []

    def count(model):
        measured.append(model)
        return measure.parameters(model)

    monkeypatch.setattr(measure, "macs_per_second", count)
    return measured


def comparable(rounds: list[dict]) -> list[dict]:
    """Round records without what depends on the clock or (with cheap_macs) on the MAC stand-in."""
    return [{k: v for k, v in r.items() if k not in ("seconds", "macs_per_second")} for r in rounds]


def test_structured_rounds_shrink_by_what_the_selection_leaves(trimmed, data):
    out, doc, _ = trimmed
    rounds = doc["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2] and "stopped" not in doc
    parameters = [r["parameters"] for r in rounds]
    assert parameters[0] > parameters[1] > parameters[2]
    dataset = Dataset(data)
    for before, after in zip(rounds, rounds[1:]):
        # Redo the selection on the previous round's best model: the next round has exactly its survivors.
        best, _ = models.load_checkpoint(out / before["checkpoint"])
        batch = next(iter(dataset.loader("train", 8, crop=CROP)))
        units = find_units(best, batch=batch)
        assert units.total == before["units"]
        scores = score_units(best, units, "magnitude",
                             list(dataset.loader("train", 8, crop=CROP, limit=4)), seed=0)
        keep = select_units(scores, 0.3, "global", 3, ties=units.ties)
        assert after["units"] == sum(int(k.sum()) for k in keep) < before["units"]
        model, _ = models.load_checkpoint(out / after["checkpoint"])
        assert measure.parameters(model) == after["parameters"]
    dense = doc["dense"]
    assert dense == {"parameters": rounds[0]["parameters"], "test_loss": rounds[0]["test_loss"]}
    for r in rounds:
        assert r["compression"] == pytest.approx(dense["parameters"] / r["parameters"])
        assert r["weights_left"] == pytest.approx(r["parameters"] / dense["parameters"])
        assert r["normalised_loss"] == pytest.approx(r["test_loss"] / dense["test_loss"])
        assert r["file_bytes"] == (out / r["checkpoint"] / "model.safetensors").stat().st_size
    # Fewer units, fewer multiply-accumulates and a smaller file: what masking cannot give.
    assert rounds[0]["macs_per_second"] > rounds[1]["macs_per_second"] > rounds[2]["macs_per_second"]
    assert rounds[0]["file_bytes"] > rounds[1]["file_bytes"] > rounds[2]["file_bytes"]


def test_every_round_is_checkpointed_documented_and_reported(trimmed, data, reports):
    out, doc, on_round = trimmed
    assert json.loads((out / "trim.json").read_text()) == doc
    assert doc["format"] == "dietgen-trim-run" and doc["settings"] == settings(data).to_dict()
    assert on_round == doc["rounds"]
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "report.png", "rewind", "round-00", "round-01",
                                                     "round-02", "trim.json"]
    assert sorted(p.name for p in (out / "round-01").iterdir()) == ["config.json", "loss.png", "model.safetensors",
                                                                    "rewind", "train.json"]
    dataset = Dataset(data)
    for r in doc["rounds"]:
        folder = out / r["checkpoint"]
        model, checkpoint = models.load_checkpoint(folder)
        history = json.loads((folder / "train.json").read_text())
        assert checkpoint["training"]["epoch"] == r["best_epoch"] == history["best_epoch"]
        assert r["epochs"] == len(history["history"]) - 1
        test = mean_loss(model, dataset.loader("test", 8), torch.device("cpu"))
        assert test == pytest.approx(r["test_loss"], rel=1e-5)
    # The report was rewritten after every round, each time with the rounds finished so far.
    assert [len(d["rounds"]) for d in reports["trim"]] == [1, 2, 3]
    assert reports["trim"][-1] == doc


def test_rewinding_restarts_from_the_cut_snapshot_and_reinit_does_not(trimmed, data, tmp_path, cheap_macs):
    out, _, _ = trimmed
    reinit = tmp_path / "reinit"
    run_lottery(settings(data, reset="reinit", rounds=2), reinit)
    valid = Dataset(data).loader("valid", 8, crop=CROP)
    # Same dense round and same selection, so the same cut snapshot; only the starting weights differ.
    snapshot, _ = models.load_checkpoint(out / "round-01" / "rewind")
    other, _ = models.load_checkpoint(reinit / "round-01" / "rewind")
    assert all(torch.equal(a, b) for a, b in zip(snapshot.state_dict().values(), other.state_dict().values()))
    start = mean_loss(snapshot, valid, torch.device("cpu"))
    rewound = json.loads((out / "round-01" / "train.json").read_text())["history"][0]["valid_loss"]
    reinitialised = json.loads((reinit / "round-01" / "train.json").read_text())["history"][0]["valid_loss"]
    assert rewound == pytest.approx(start, rel=1e-5)
    assert reinitialised != pytest.approx(start, rel=1e-3)


def test_an_interrupted_run_resumes_to_the_same_document(trimmed, data, tmp_path, cheap_macs):
    _, uninterrupted, _ = trimmed
    out = tmp_path / "run"

    def interrupt(record):
        if record["round"] == 1 and record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_lottery(settings(data, rounds=2), out, on_epoch=interrupt)
    document = json.loads((out / "trim.json").read_text())
    assert [r["round"] for r in document["rounds"]] == [0]
    assert (out / "round-01.partial").is_dir()   # the interrupted round, to be redone
    resumed_rounds, epochs = [], []
    doc = run_lottery(settings(data, rounds=2), out, on_round=resumed_rounds.append, on_epoch=epochs.append)
    assert [r["round"] for r in resumed_rounds] == [1] and {e["round"] for e in epochs} == {1}
    assert not (out / "round-01.partial").exists()
    # The same rounds as the uninterrupted three-round run with the same seed, as far as this one goes.
    assert doc["dense"] == uninterrupted["dense"]
    assert comparable(doc["rounds"]) == comparable(uninterrupted["rounds"][:2])
    # A finished run resumed again has nothing left to do.
    assert run_lottery(settings(data, rounds=2), out, on_round=resumed_rounds.append) == doc
    assert len(resumed_rounds) == 1


def test_other_settings_on_a_run_folder_are_a_one_line_error(trimmed, data, tmp_path):
    out, doc, _ = trimmed
    with pytest.raises(DietgenError) as error:
        run_lottery(settings(data, rate=20.0), out)
    message = error.value.format_message()
    assert "\n" not in message and "rate" in message and "--force" in message and "another folder" in message
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DietgenError, match="notes.txt.*--force"):
        run_lottery(settings(data), foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    assert json.loads((out / "trim.json").read_text()) == doc


@pytest.mark.parametrize("changes, words", [
    (dict(criterion="loudest"), ("criterion", "magnitude")),
    (dict(scope="everywhere"), ("scope", "global")),
    (dict(method="prune"), ("method", "mask")),
    (dict(reset="random"), ("reset", "reinit")),
    (dict(rate=0.0), ("rate", "between 0 and 100")),
    (dict(rate=100.0), ("rate", "between 0 and 100")),
    (dict(rounds=0), ("rounds", "positive")),
    (dict(floor=0), ("floor", "positive")),
    (dict(rewind=5, epochs=3), ("rewind", "epochs")),
    (dict(method="mask", criterion="information"), ("mask", "magnitude")),
    (dict(time_limit=0.0), ("time limit",)),
])
def test_bad_settings_are_one_line_errors(changes, words, data, tmp_path):
    with pytest.raises(DietgenError) as error:
        run_lottery(settings(data, **changes), tmp_path / "run")
    message = error.value.format_message()
    assert "\n" not in message and all(w in message for w in words), message
    assert not (tmp_path / "run").exists()


def test_a_round_that_can_remove_nothing_stops_the_run(data, tmp_path, cheap_macs):
    # With a floor above every layer's width, the first selection gives back every unit it took.
    doc = run_lottery(settings(data, floor=10_000, epochs=1, rewind=0), tmp_path / "run")
    assert doc["stopped"] == "floor reached" and [r["round"] for r in doc["rounds"]] == [0]
    assert json.loads((tmp_path / "run" / "trim.json").read_text()) == doc


def test_masked_rounds_keep_their_weights_at_exactly_zero(data, tmp_path, cheap_macs):
    out = tmp_path / "mask"
    doc = run_lottery(settings(data, method="mask", rate=50.0), out)
    rounds = doc["rounds"]
    dense, _ = models.load_checkpoint(out / "round-00")
    total = sum(p.numel() for p in masking.maskable(dense).values())
    assert all(bool(m.all()) for m in masking.masks_of(dense).values())
    removed = 0
    previous = masking.masks_of(dense)
    for r in rounds[1:]:
        model, _ = models.load_checkpoint(out / r["checkpoint"])
        masks = masking.masks_of(model)
        # Half of what was left goes each round, and what went stays gone through training: a weight moved
        # off 0 would show up as fewer zeros than the masks removed.
        removed += round(0.5 * (total - removed))
        assert sum(int((~m).sum()) for m in masks.values()) == removed
        assert all(bool((previous[n] | ~masks[n]).all()) for n in masks)
        assert r["parameters"] == measure.parameters(model, masks) == rounds[0]["parameters"] - removed
        assert r["units"] is None
        # Masks save no computation and no bytes.
        assert r["macs_per_second"] == rounds[0]["macs_per_second"]
        assert r["file_bytes"] == rounds[0]["file_bytes"]
        previous = masks
    assert len(cheap_macs) == 1   # only the dense model is costed
    # The rewind snapshot of a masked round is the dense one with the same weights masked.
    rewind, _ = models.load_checkpoint(out / "rewind")
    model, _ = models.load_checkpoint(out / "round-01")
    masking.apply(rewind, masking.masks_of(model))
    start = json.loads((out / "round-01" / "train.json").read_text())["history"][0]["valid_loss"]
    valid = Dataset(data).loader("valid", 8, crop=CROP)
    assert mean_loss(rewind, valid, torch.device("cpu")) == pytest.approx(start, rel=1e-5)


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Conv1d(3, 2, 2)
        self.embedding = nn.Embedding(5, 4)


def test_prune_removes_the_smallest_weights_with_one_global_threshold():
    model = Pair()
    with torch.no_grad():
        model.a.weight.copy_(torch.arange(12.0).view(3, 4) + 1.0)      # 1..12
        model.b.weight.copy_(-(torch.arange(12.0).view(2, 3, 2) + 100.0))   # all larger in magnitude
    assert set(masking.maskable(model)) == {"a.weight", "b.weight"}   # no biases, no embedding table
    masks = masking.prune(model, masking.masks_of(model), 0.25)
    assert int((~masks["a.weight"]).sum()) == 6 and bool(masks["b.weight"].all())
    assert torch.equal(masks["a.weight"].flatten(), torch.arange(12) >= 6)
    # The rate applies to what is left: 25 % of the 18 survivors.
    again = masking.prune(model, masks, 0.25)
    assert int((~again["a.weight"]).sum()) == 10 and int((~again["b.weight"]).sum()) == 0


def test_enforced_masks_stay_zero_through_adam_with_weight_decay():
    torch.manual_seed(0)
    model = Pair()
    masks = masking.prune(model, masking.masks_of(model), 0.5)
    masking.apply(model, masks)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    with masking.enforced(model, masks) as after_step:
        for _ in range(3):
            out = model.b(torch.relu(model.a(torch.randn(6, 5, 4))).transpose(1, 2))
            optimizer.zero_grad()
            out.square().mean().backward()
            assert all(bool((p.grad[~masks[n]] == 0).all()) for n, p in masking.maskable(model).items())
            optimizer.step()
            after_step(model)
    assert all(bool((p[~masks[n]] == 0).all()) and bool((p[masks[n]] != 0).all())
               for n, p in masking.maskable(model).items())
    # Outside the block the hooks are gone: the model trains whole again.
    model.a(torch.randn(2, 4)).sum().backward()
    assert bool((model.a.weight.grad != 0).any())


def test_fit_calls_after_step_after_every_step_and_returns_the_best_model(data, tmp_path):
    torch.manual_seed(0)
    dataset = Dataset(data)
    model = build("ddsp", "tiny", num_instruments=len(dataset.instruments))
    steps = []
    epochs = []
    result = fit(model, dataset, tmp_path, {"data": str(data)}, epochs=2, batch_size=8, lr=3e-3,
                 weight_decay=1e-4, patience=5, crop=CROP, seed=0, device="cpu", time_limit=None,
                 progress=lambda items, label: items, on_epoch=epochs.append,
                 after_step=lambda trained: steps.append(trained is model))
    batches = -(-len(dataset.split("train")) // 8)
    assert steps == [True] * (2 * batches) and [e["epoch"] for e in epochs] == [0, 1, 2]
    saved, checkpoint = models.load_checkpoint(tmp_path)
    assert result.model is model and checkpoint["training"]["epoch"] == result.best_epoch
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), model.state_dict().values()))
    valid = dataset.loader("valid", 8, crop=CROP)
    assert mean_loss(model, valid, torch.device("cpu")) == pytest.approx(result.best_valid, rel=1e-6)
