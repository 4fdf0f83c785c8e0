"""Data-parallel training under torchrun, on the CPU with the gloo backend: two processes train one model (the
same weights on both ranks), and two processes with batch B train as one process with batch 2B; a 2-process
trim runs its rounds and leaves one run folder, written by rank 0."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dietgen.data import synthetic_dataset
from dietgen.trim.report import load_run

# Run by every process torchrun starts: dietgen.train.train, then this rank's final weights and loss history.
TRAIN_AND_DUMP = """
import json, os, sys
from dietgen.train import train
data, out, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
result = train("ddsp", "tiny", data, os.path.join(out, "run"), epochs=2, batch_size=batch, lr=3e-3, crop=1600,
               device="cpu")
with open(os.path.join(out, f"rank{os.environ['RANK']}.json"), "w") as f:
    json.dump({"history": result.history,
               "weights": {k: v.flatten().tolist() for k, v in result.model.state_dict().items()}}, f)
"""


def torchrun(processes: int, *args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             f"--nproc-per-node={processes}", *map(str, args)],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # 16 training notes: 2 ranks x 2 batches of 4, or 1 process x 2 batches of 8, no partial batch.
    return synthetic_dataset(tmp_path_factory.mktemp("data") / "notes", seconds=0.32)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """(2 processes with batch 4, 1 process with batch 8): each rank's dump, by rank."""
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "train_and_dump.py").write_text(TRAIN_AND_DUMP)
    runs = {}
    for processes, batch in ((2, 4), (1, 8)):
        out = folder / f"{processes}x{batch}"
        out.mkdir()
        torchrun(processes, "train_and_dump.py", data, out, batch, cwd=folder)
        runs[processes] = [json.loads((out / f"rank{r}.json").read_text()) for r in range(processes)]
    return runs


def test_both_ranks_end_with_the_same_model_and_losses(trained):
    first, second = trained[2]
    assert first["weights"] == second["weights"]
    losses = [[(h["train_loss"], h["valid_loss"]) for h in rank["history"]] for rank in (first, second)]
    assert losses[0] == losses[1]
    valid = [h["valid_loss"] for h in first["history"]]
    assert valid[-1] < valid[0]


def test_two_processes_train_as_one_with_twice_the_batch(trained):
    (two, _), (one,) = trained[2], trained[1]
    assert len(two["history"]) == len(one["history"])
    # Epoch 0 is the untrained model: no training loss. After the first epoch the two runs differ by the rounding
    # of the gradients' all-reduce only (1e-4). Adam divides each update by the gradient's running RMS, so for
    # weights whose gradients are near zero that rounding changes the step itself, and the runs drift apart a
    # little more each epoch (1e-3 after the second on some CPUs): later epochs are held to 1e-2, which still
    # catches ranks that see the same batches or gradients that are not averaged over both.
    for key in ("train_loss", "valid_loss"):
        assert two["history"][1][key] == pytest.approx(one["history"][1][key], rel=1e-4)
        assert [h[key] for h in two["history"][2:]] == \
            pytest.approx([h[key] for h in one["history"][2:]], rel=1e-2)
    assert two["history"][0]["valid_loss"] == pytest.approx(one["history"][0]["valid_loss"], rel=1e-4)
    # Summed in another order, the gradients differ by rounding, which Adam's normalisation magnifies in the
    # weights whose gradients are near 0: the weights agree to 0.5 % (up to 0.21 % measured), each within
    # 5e-3.
    names = sorted(one["weights"])
    a, b = (np.concatenate([run["weights"][n] for n in names]) for run in (two, one))
    assert np.linalg.norm(a - b) < 5e-3 * np.linalg.norm(b)
    assert np.abs(a - b).max() < 5e-3


def test_a_two_process_trim_writes_one_run(data, tmp_path):
    result = torchrun(2, "-m", "dietgen", "trim", "--model", "ddsp", "--preset", "tiny", "--data", data,
                      "-o", "run", "--criterion", "information", "--rounds", 2, "--epochs", 1, "--patience", 1,
                      "--batch-size", 4, "--crop", 0.1, "--score-examples", 8, "--device", "cpu", cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == \
        ["report.md", "report.png", "rewind", "round-00", "round-01", "trim.json"]
    doc = load_run(tmp_path / "run")
    assert [r["round"] for r in doc["rounds"]] == [0, 1]
    assert doc["rounds"][1]["parameters"] < doc["rounds"][0]["parameters"]
    # Progress is rank 0's alone.
    assert result.stdout.count("round 1: ") == 1, result.stdout
