"""``--device`` end to end without a GPU: train, a 2-round trim and evaluate run on an accelerator stand-in that
refuses what CUDA refuses, and give the numbers the CPU gives.

The stand-in. A CUDA tensor cannot be faked on a CPU-only build (autograd asks the CUDA runtime for a device
guard as soon as a CUDA tensor needs a gradient), and the real "meta" device holds no values, so a model on it
cannot train. The stand-in keeps the values on the CPU and moves only the *device*: a tensor "on the device" is
a wrapper subclass (``OnDevice``) that reports device "meta" and holds a real CPU tensor. A dispatch mode
(``_Accelerator``) sees every aten op: ``device="meta"`` in a factory or a ``.to()`` makes the result an
``OnDevice``; an op on ``OnDevice`` operands runs on their CPU values and gives ``OnDevice`` results; and an op
mixing an ``OnDevice`` with a plain CPU tensor raises "Expected all tensors to be on the same device", as CUDA
does. CUDA's exceptions are kept: 0-dim CPU tensors are scalars, index tensors of ``x[idx]`` may stay on the
CPU, and ``.cpu()`` / ``.to("cpu")`` / ``float()`` / ``.item()`` bring values back (``.numpy()`` of a device
tensor fails, as on CUDA). Code that builds a tensor on the CPU and hands it to the model therefore fails here
exactly where it fails on a GPU; that is how this test failed before the loop followed the model's device
(dietgen.trim.units.example_inputs traced with CPU inputs after the dense round)."""
from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._mode_utils import no_dispatch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from dietgen.data import Dataset, synthetic_dataset
from dietgen.evaluate import evaluate
from dietgen.models.base import build
from dietgen.train import train
from dietgen.trim import find_units, masked_model, measure, score_units, select_units, trim_model
from dietgen.trim.lottery import TrimSettings, run_lottery

DEVICE = "meta"
aten = torch.ops.aten
# CUDA accepts CPU index tensors for advanced indexing (x[idx], x[idx] = v); every other operand must match.
INDEXING = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default}
MOVES = {aten._to_copy.default, aten.copy_.default}


class OnDevice(torch.Tensor):
    """A tensor on the stand-in device: reports device "meta", holds its values in ``elem`` on the CPU."""

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, elem.shape, strides=elem.stride(),
                                                   storage_offset=elem.storage_offset(), dtype=elem.dtype,
                                                   layout=elem.layout, device=torch.device(DEVICE),
                                                   requires_grad=elem.requires_grad)

    def __init__(self, elem: torch.Tensor):
        self.elem = elem

    def __repr__(self):
        return f"OnDevice({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        with _Accelerator():
            return func(*args, **(kwargs or {}))


def _to_device(device) -> bool:
    return device is not None and torch.device(device).type == DEVICE


class _Accelerator(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        operands = tree_flatten((args, kwargs))[0]
        on = [t for t in operands if isinstance(t, OnDevice)]
        if any(isinstance(t, torch.Tensor) and t.is_meta and not isinstance(t, OnDevice) for t in operands):
            raise AssertionError(f"{func}: a tensor reached the stand-in device without its values")
        checked = tree_flatten((args[:1], kwargs) if func in INDEXING else (args, kwargs))[0]
        off = [t for t in checked if isinstance(t, torch.Tensor) and not isinstance(t, OnDevice) and t.dim() > 0]
        if on and off and func not in MOVES:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{DEVICE} and cpu! ({func})")
        target = kwargs.get("device")
        if _to_device(target):
            kwargs["device"] = torch.device("cpu")
        values, kwargs = tree_map(lambda t: t.elem if isinstance(t, OnDevice) else t, (args, kwargs))
        out = func(*values, **kwargs)
        if func is aten.copy_.default:
            return args[0]
        if not (_to_device(target) or (on and target is None)):
            return out

        def wrap(t):
            if not isinstance(t, torch.Tensor):
                return t
            for a in on:
                if a.elem is t:     # in place: the operand itself, with any new shape (transpose_, ...)
                    if a.shape != t.shape or a.stride() != t.stride():
                        with no_dispatch():
                            a.as_strided_(t.shape, t.stride(), t.storage_offset())
                    return a
            return OnDevice(t)
        return tree_map(wrap, out)


class _Constructors(TorchFunctionMode):
    """torch.tensor(data, device=...) moves its data below the dispatcher, where the mode cannot see it."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in (torch.tensor, torch.as_tensor) and _to_device(kwargs.get("device")):
            return func(*args, **{k: v for k, v in kwargs.items() if k != "device"}).to(kwargs["device"])
        return func(*args, **kwargs)


@contextmanager
def accelerator():
    with _Constructors(), _Accelerator():
        yield


CROP = 1600
TRAINING = dict(epochs=2, batch_size=8, lr=3e-3, crop=CROP)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


@pytest.fixture
def cheap_macs(monkeypatch):
    """Compiling for the MAC count takes seconds a round and runs on a CPU copy anyway."""
    monkeypatch.setattr(measure, "macs_per_second", measure.parameters)


def test_the_stand_in_refuses_what_cuda_refuses():
    with accelerator():
        x = torch.ones(2, 3).to(DEVICE)
        layer = torch.nn.Linear(3, 2).to(DEVICE)
        assert x.device.type == DEVICE and layer.weight.device.type == DEVICE
        with pytest.raises(RuntimeError, match="same device"):
            layer(torch.ones(2, 3))
        with pytest.raises(RuntimeError, match="same device"):
            x.index_select(0, torch.tensor([1]))
        layer(x).sum().backward()
        assert layer.weight.grad.device.type == DEVICE
        assert float((x * torch.tensor(2.0))[torch.tensor([1])].sum()) == 6.0
        assert x.cpu().device.type == "cpu"


def trim_settings(data, **changes) -> TrimSettings:
    return TrimSettings(**{"family": "ddsp", "preset": "tiny", "data": str(data), "criterion": "magnitude",
                           "rate": 30.0, "rounds": 2, "rewind": 1, "patience": 2, "score_examples": 4,
                           **TRAINING, **changes})


def assert_same_rounds(doc: dict, reference: dict) -> None:
    assert len(doc["rounds"]) == len(reference["rounds"])
    for record, expected in zip(doc["rounds"], reference["rounds"]):
        assert record.keys() == expected.keys()
        for key in expected.keys() - {"seconds"}:
            want = expected[key]
            assert record[key] == (pytest.approx(want, rel=1e-3) if isinstance(want, float) else want), key


def test_train_trim_and_evaluate_on_a_device_match_the_cpu(data, tmp_path, cheap_macs):
    with accelerator():
        trained = train("ddsp", "tiny", data, tmp_path / "train", device=DEVICE, **TRAINING)
        assert next(trained.model.parameters()).device.type == DEVICE
        metrics = evaluate(tmp_path / "train", examples=2, seconds=0.1, device=DEVICE)
        trimmed = run_lottery(trim_settings(data), tmp_path / "trim", device=DEVICE)
    assert [r["round"] for r in trimmed["rounds"]] == [0, 1]
    assert trimmed["rounds"][1]["parameters"] < trimmed["rounds"][0]["parameters"]
    assert metrics["test_loss"] == pytest.approx(trimmed["rounds"][0]["test_loss"], rel=1e-5)

    # The stand-in computes on the CPU, so the device run must give the CPU's numbers, to rounding: on
    # another device PyTorch takes its generic paths (the GRU cell by cell), not the CPU kernels.
    on_cpu = run_lottery(trim_settings(data), tmp_path / "trim-cpu", device="cpu")
    assert_same_rounds(trimmed, on_cpu)
    history = json.loads((tmp_path / "train" / "train.json").read_text())["history"]
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]


@pytest.mark.parametrize("criterion", ["information", "information-target", "activation", "gradient"])
def test_every_criterion_scores_on_the_device_as_on_the_cpu(data, criterion):
    torch.manual_seed(0)
    model = build("ddsp", "tiny", num_instruments=2)
    batch = next(iter(Dataset(data).loader("train", 4, crop=CROP)))
    expected = score_units(model, find_units(model, batch=batch), criterion, [batch], seed=0)
    with accelerator():
        model.to(DEVICE)
        on_device = {k: v.to(DEVICE) for k, v in batch.items()}
        scores = score_units(model, find_units(model, batch=on_device), criterion, [on_device], seed=0)
    for got, want in zip(scores, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_a_masked_run_on_the_device(data, tmp_path, cheap_macs):
    with accelerator():
        doc = run_lottery(trim_settings(data, method="mask", epochs=1, rewind=0), tmp_path / "mask", device=DEVICE)
    assert doc["rounds"][1]["parameters"] < doc["rounds"][0]["parameters"]


class _Normalised(torch.nn.Module):
    """A LayerNorm over trimmable units (the masked reference normalises over the kept ones) and a GRU."""

    def __init__(self):
        super().__init__()
        self.inp, self.norm = torch.nn.Linear(3, 8), torch.nn.LayerNorm(8)
        self.gru, self.out = torch.nn.GRU(8, 6, batch_first=True), torch.nn.Linear(6, 2)

    def forward(self, x):
        return self.out(self.gru(torch.relu(self.norm(self.inp(x))))[0])


def test_a_trimmed_model_equals_the_masked_one_on_the_device():
    torch.manual_seed(0)
    model, x = _Normalised(), torch.randn(2, 5, 3)
    with accelerator():
        model.to(DEVICE)
        x = x.to(DEVICE)
        units = find_units(model, inputs=(x,))
        keep = select_units([np.random.default_rng(0).random(g.size) for g in units.groups], 0.5, floor=1)
        with torch.no_grad():
            got, want = (m(x).cpu() for m in (trim_model(model, units, keep), masked_model(model, units, keep)))
    assert sum(int((~k).sum()) for k in keep) >= 4
    assert float((got - want).abs().max()) <= 1e-5
