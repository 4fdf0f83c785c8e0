"""A model of the user's own through dietgen trim (examples/user_model): trimmed end to end through the CLI on
synthetic notes, interrupted and resumed, a round's checkpoint rebuilt by its factory and exported to C; a model
that breaks the interface, and a checkpoint naming code that is not the user's, are one-line errors."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

from dietgen import models
from dietgen.data import Dataset, synthetic_dataset
from dietgen.errors import DietgenError
from dietgen.trim import lottery
from dietgen.models.factory import FactoryModel
from dietgen.trim.lottery import TrimSettings
from dietgen.trim.sweep import _check_models, load_sweep
from clirun import assert_one_line_error, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "user_model"
FACTORY = "note_decoder:make"
# Two rounds of two epochs; 30 % of the 32 units (16 convolution channels, 16 GRU units) go in round 1.
OPTIONS = ["--set", "hidden=16", "--set", "frames=32", "--rounds", "2", "--epochs", "2", "--rewind", "1",
           "--rate", "30", "--criterion", "magnitude", "--batch-size", "8", "--score-examples", "8",
           "--device", "cpu"]
BAD_MODELS = '''
    import torch
    from torch import nn

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 4)

        def forward(self, x):
            return self.layer(x)

        def input_shapes(self):
            return {"x": (1, 4)}

        def loss(self, batch):
            return self.layer(batch["audio"][:, :4]).pow(2).mean()

    class NoLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 4)

        def input_shapes(self):
            return {"x": (1, 4)}

    class VectorLoss(Decoder):
        def loss(self, batch):
            return self.layer(batch["audio"][:, :4]).pow(2)

    class MissingKey(Decoder):
        def loss(self, batch):
            return self.layer(batch["spectrum"]).mean()

    class BadShapes(Decoder):
        def input_shapes(self):
            return [(1, 4)]

    def raises():
        raise ValueError("no such size")

    def not_a_module():
        return 42
'''


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


@pytest.fixture(scope="module")
def example_importable():
    """The example found as a user's module is: on PYTHONPATH."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))
        yield


@pytest.fixture(scope="module")
def trimmed(data, example_importable, tmp_path_factory):
    """The CLI run, interrupted before round 1 and resumed by the same command; (run folder, both outputs)."""
    out = tmp_path_factory.mktemp("runs") / "user"
    command = ["trim", "--model", FACTORY, "--data", data, "-o", out, *OPTIONS]
    real_fit = lottery.fit

    def interrupted_in_round_1(model, dataset, folder, settings, **options):
        if settings["round"] == 1:
            raise KeyboardInterrupt
        return real_fit(model, dataset, folder, settings, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lottery, "fit", interrupted_in_round_1)
        first = run(*command)
    second = run(*command)
    return out, first, second


def test_a_user_model_trims_interrupts_and_resumes_through_the_cli(trimmed):
    out, first, second = trimmed
    assert first.exit_code == 130, first.output
    assert "round 0:" in first.output and "resume from round 1" in first.output
    assert second.exit_code == 0, second.output
    assert "round 1:" in second.output and "round 0:" not in second.output
    doc = json.loads((out / "trim.json").read_text())
    assert doc["settings"]["family"] == FACTORY and doc["settings"]["preset"] is None
    dense, trimmed_round = doc["rounds"]
    assert dense["units"] == 32 and trimmed_round["units"] < 32
    assert trimmed_round["parameters"] < dense["parameters"]
    assert trimmed_round["macs_per_second"] < dense["macs_per_second"]
    assert (out / "report.md").is_file() and (out / "round-01" / "rewind" / "model.safetensors").is_file()


def test_a_round_checkpoint_rebuilds_the_trimmed_model_and_exports_to_c(trimmed, tmp_path):
    out, _, _ = trimmed
    doc = json.loads((out / "trim.json").read_text())
    model, config = models.load_checkpoint(out / "round-01")
    assert isinstance(model, FactoryModel) and config["config"] == {"factory": FACTORY,
                                                                    "kwargs": {"hidden": 16, "frames": 32}}
    assert sum(p.numel() for p in model.parameters()) == doc["rounds"][1]["parameters"]
    hidden = model.net.gru.hidden_size
    assert hidden < 16 and model.net.out.in_features == hidden   # the GRU's units went with the layer reading them
    controls = torch.rand(1, 2, 32)
    assert model(controls).shape == (1, 32 * 160)
    result = run("export", out / "round-01", "-o", tmp_path / "c")
    assert result.exit_code == 0, result.output
    source = (tmp_path / "c" / "round_01.c").read_text()
    assert "round_01_step" in source


def test_a_checkpoint_may_not_name_code_that_is_not_the_users(trimmed, tmp_path):
    out, _, _ = trimmed
    for factory in ("subprocess:run", "dietgen.models.base:build"):
        forged = tmp_path / factory.replace(":", "_")
        shutil.copytree(out / "round-01", forged)
        config = json.loads((forged / "config.json").read_text())
        config["config"] = {"factory": factory, "kwargs": {"args": ["touch", str(tmp_path / "ran")]}}
        (forged / "config.json").write_text(json.dumps(config))
        assert_one_line_error(run("export", forged, "-o", tmp_path / "c"), factory, "your own")
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("factory, extra, words", [
    ("dg_bad_models:NoLoss", [], ["no loss method", "loss(batch)"]),
    ("dg_bad_models:VectorLoss", [], ["loss(batch) returned a tensor of shape [8, 4]", "scalar"]),
    ("dg_bad_models:MissingKey", [], ["loss(batch)", "raised KeyError", "spectrum", "audio"]),
    ("dg_bad_models:BadShapes", [], ["input_shapes() returned", "dict"]),
    ("dg_bad_models:raises", [], ["the factory raised ValueError: no such size"]),
    ("dg_bad_models:not_a_module", [], ["returned int, not a torch.nn.Module"]),
    ("dg_bad_models:Decoder", ["--set", "width=3"], ["cannot be called with width=3"]),
    ("dg_bad_models:Decoder", ["--preset", "tiny"], ["has no preset", "--set"]),
])
def test_a_model_breaking_the_interface_is_a_one_line_error(factory, extra, words, data, tmp_path, monkeypatch):
    (tmp_path / "dg_bad_models.py").write_text(textwrap.dedent(BAD_MODELS))
    monkeypatch.chdir(tmp_path)
    result = run("trim", "--model", factory, "--data", data, "-o", tmp_path / "run", "--batch-size", "8", *extra)
    assert_one_line_error(result, factory, *words)
    assert not (tmp_path / "run").exists()


def test_a_sweep_checks_a_user_model_before_any_job(data, example_importable, tmp_path):
    sweep = tmp_path / "user.toml"
    sweep.write_text(f'family = "{FACTORY}"\ndata = "{data}"\nrounds = 2\nepochs = 1\nbatch_size = 8\n'
                     f'overrides = {{ hidden = 8, frames = 32 }}\n[grid]\ncriterion = ["magnitude", "activation"]\n')
    plan = load_sweep(sweep)
    assert [job.name for job in plan.jobs] == ["note_decoder_make-magnitude-seed0",
                                               "note_decoder_make-activation-seed0"]
    assert all(job.settings.preset is None for job in plan.jobs)
    _check_models(plan)
    sweep.write_text(sweep.read_text().replace("hidden = 8", "depth = 8"))
    with pytest.raises(DietgenError, match=r"run note_decoder_make-magnitude-seed0: .*cannot be called with depth=8"):
        _check_models(load_sweep(sweep))


def test_build_model_keeps_the_random_state_and_the_model_unchanged(data, example_importable):
    settings = TrimSettings(family=FACTORY, preset=None, data=str(data), batch_size=8, overrides={"hidden": 8})
    torch.manual_seed(3)
    model = lottery.build_model(settings, Dataset(data))
    after = torch.rand(4)
    torch.manual_seed(3)
    fresh = FactoryModel(FACTORY, {"hidden": 8})
    assert torch.equal(torch.rand(4), after)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
