"""Training, checkpoints and evaluation: a short CPU run on rendered notes must clearly lower the validation
loss; checkpoints round-trip (non-default widths too); interrupted runs keep their last good checkpoint; bad
checkpoints and names are one-line errors."""
from __future__ import annotations

import json

import pytest
import torch

from dietgen import models
from dietgen.data import Dataset, render_dataset, synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.models.base import build, families
from dietgen.train import batch_to, mean_loss, train
from clirun import assert_one_line_error, run

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "notes"
    render_dataset(folder, SOUNDFONT, instruments=(0, 40), pitches=(52, 55, 57, 60, 64, 67), velocities=(60, 120),
                   seconds=0.512, release=0.128)
    return folder


@pytest.fixture(scope="module")
def trained(notes, tmp_path_factory):
    """A short DDSP run through the CLI (about 15 s of CPU)."""
    out = tmp_path_factory.mktemp("runs") / "ddsp"
    result = run("train", "--model", "ddsp", "--preset", "tiny", "--data", notes, "-o", out, "--epochs", 5,
                 "--batch-size", 4, "--lr", 3e-3)
    assert result.exit_code == 0, result.output
    return out


def test_training_clearly_lowers_the_validation_loss(trained):
    document = json.loads((trained / "train.json").read_text())
    losses = [h["valid_loss"] for h in document["history"]]
    assert len(losses) == 6   # the untrained model, then five epochs
    assert min(losses[1:]) < 0.85 * losses[0], losses
    assert (trained / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_checkpoint_is_the_best_validation_model(trained, notes):
    model, document = models.load_checkpoint(trained)
    training = document["training"]
    history = json.loads((trained / "train.json").read_text())["history"]
    best = min(history, key=lambda h: h["valid_loss"])
    assert training["epoch"] == best["epoch"]
    valid = Dataset(notes).loader("valid", 4, instruments=training["instruments"])
    assert mean_loss(model, valid, torch.device("cpu")) == pytest.approx(best["valid_loss"], rel=1e-5)


@pytest.mark.parametrize("family, widths", [("ddsp", dict(hidden=12, gru=10, harmonics=8, bands=9)),
                                            ("wavenet", dict(residual=6, skip=10, layers=3, cycle=3)),
                                            ("sing", dict(hidden=12, latent=8, channels=10))])
def test_checkpoint_round_trip_with_non_default_widths(family, widths, tmp_path):
    if family not in families():
        pytest.skip(f"{family} is not in dietgen.models")
    torch.manual_seed(0)
    model = build(family, "tiny", num_instruments=3, **widths)
    inputs = {name: list(shape) for name, shape in model.export_module()[1].items()}
    models.save_checkpoint(model, tmp_path / "ckpt", family, model.config, inputs)
    loaded, document = models.load_checkpoint(tmp_path / "ckpt")
    assert {k: document["config"][k] for k in widths} == widths
    assert type(loaded) is type(model)
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[k], loaded_state[k]) for k in state)


def test_interrupted_training_keeps_the_last_good_checkpoint(notes, tmp_path, monkeypatch):
    real_save = models.save_checkpoint
    calls = []

    def interrupted_save(module, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            return real_save(module, path, *args, **kwargs)
        cfg, weights = models.checkpoint_paths(path)
        weights.write_bytes(b"half a file")   # the interruption strikes in the middle of writing
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "save_checkpoint", interrupted_save)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train("ddsp", "tiny", notes, out, epochs=3, batch_size=8, lr=3e-3)
    assert len(calls) == 2
    model, document = models.load_checkpoint(out)   # whole, and the epoch before the interruption
    assert document["training"]["epoch"] == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "loss.png", "model.safetensors", "train.json"]


def test_evaluate_writes_figures_examples_and_json(trained):
    result = run("evaluate", trained, "--examples", 2, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output[result.output.index("{"):])
    assert metrics["family"] == "ddsp" and metrics["test_notes"] == 2
    for key in ("test_loss", "spectral_distance", "loudness_error_db"):
        assert metrics[key] > 0
    out = trained / "eval"
    assert json.loads((out / "metrics.json").read_text())["test_loss"] == metrics["test_loss"]
    names = sorted(p.name for p in out.iterdir())
    assert len([n for n in names if n.endswith("_generated.wav")]) == 2
    assert len([n for n in names if n.endswith(".png")]) == 2
    assert_one_line_error(run("evaluate", trained), "already exists", "--force")


def test_unknown_family_and_preset_list_the_valid_ones(notes, tmp_path):
    assert_one_line_error(run("train", "--model", "transformer", "--preset", "tiny", "--data", notes, "-o",
                              tmp_path / "r"), "transformer", "ddsp", "wavenet")
    assert_one_line_error(run("train", "--model", "ddsp", "--preset", "huge", "--data", notes, "-o",
                              tmp_path / "r"), "huge", "tiny", "paper")
    assert not (tmp_path / "r").exists()


def test_existing_run_folder_needs_force(trained, notes):
    assert_one_line_error(run("train", "--model", "ddsp", "--preset", "tiny", "--data", notes, "-o", trained),
                          "already exists", "--force")


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    synthetic_dataset(tmp_path / "data")
    model = build("ddsp", "tiny")
    inputs = {name: list(shape) for name, shape in model.export_module()[1].items()}
    disagree, corrupt = tmp_path / "disagree", tmp_path / "corrupt"
    disagree.mkdir()
    corrupt.mkdir()
    models.save_checkpoint(model, disagree, "ddsp", model.config, inputs,
                           training={"data": str(tmp_path / "data")})
    document = json.loads((disagree / "config.json").read_text())
    document["config"]["hidden"] = 24
    (disagree / "config.json").write_text(json.dumps(document))
    assert_one_line_error(run("evaluate", disagree), "do not match")

    models.save_checkpoint(model, corrupt, "ddsp", model.config, inputs, training={"data": str(tmp_path / "data")})
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert_one_line_error(run("evaluate", corrupt), "corrupt safetensors")
    assert not (corrupt / "eval").exists()


def test_batch_to_and_the_synthetic_data_train_every_family(tmp_path):
    """One step of every family on synthetic notes: the batch format is what each family's loss takes."""
    folder = synthetic_dataset(tmp_path / "data", seconds=0.32)
    dataset = Dataset(folder)
    batch = batch_to(next(iter(dataset.loader("train", 2, crop=3200))), torch.device("cpu"))
    for family in sorted(families()):
        model = build(family, "tiny", num_instruments=len(dataset.instruments))
        loss = model.loss(batch)
        loss.backward()
        assert loss.ndim == 0 and torch.isfinite(loss)
        with pytest.raises(DietgenError):
            build(family, "no-such-preset")


def test_example_checkpoints_load_and_stay_small(root):
    found = [p for p in sorted((root / "examples").iterdir()) if p.name in families()]
    assert found, "examples/ holds no trained family checkpoint"
    for folder in found:
        model, document = models.load_checkpoint(folder)
        assert document["architecture"] == folder.name and document["training"]["preset"] == "tiny"
        metrics = json.loads((folder / "eval" / "metrics.json").read_text())
        assert metrics["family"] == folder.name and metrics["epoch"] == document["training"]["epoch"]
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 1_000_000
