"""Data-parallel training under torchrun: ``torchrun --nproc-per-node N -m dietgen train|trim ...``.

torchrun starts N copies of the command and tells each its place through WORLD_SIZE, RANK and LOCAL_RANK. Every
process builds the same model from the same seed, trains on its shard of each epoch's batches through
DistributedDataParallel (gradients averaged over the processes, so N processes with batch B step as one process
with batch N*B), and sums its losses with the others, so all of them see the same numbers. Rank 0 alone writes
files, prints and draws progress, and takes the decisions that could differ between processes (a time limit
read from its own clock, which units a trimming round removes); the others receive them (``from_main``).

The process group is nccl on CUDA (one GPU per process: cuda:LOCAL_RANK) and gloo on the CPU. Outside torchrun
every function here is the single-process case: no group, rank 0 of 1."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from dietgen.errors import DietgenError

T = TypeVar("T")
_sessions = 0     # nesting depth of session(): the outermost one owns the process group


def launched() -> bool:
    """Whether torchrun (or another launcher setting its variables) started this process."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank; under torchrun also outside a session (the CLI prints its summary on rank 0)."""
    if active():
        return dist.get_rank()
    return int(os.environ["RANK"]) if launched() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """This process's device: under torchrun, CUDA means the GPU numbered LOCAL_RANK."""
    if launched() and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


@contextmanager
def session(device: torch.device) -> Iterator[None]:
    """The process group for the block, when launched by torchrun and none exists yet (nested sessions share
    the outer one's)."""
    global _sessions
    owner = launched() and not active() and _sessions == 0
    if owner:
        if not dist.is_available():
            raise DietgenError("torchrun started dietgen, but this PyTorch has no torch.distributed; run "
                               "dietgen directly")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    _sessions += 1
    try:
        yield
    finally:
        _sessions -= 1
        if owner:
            dist.destroy_process_group()


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run on rank 0 only, its result handed to every rank (it must pickle: tensors on the CPU).
    An error on rank 0 is raised on every rank, so no process is left waiting for the others."""
    if not active():
        return compute()
    box: list = [None]
    failure = None
    if is_main():
        try:
            box[0] = ("value", compute())
        except Exception as exc:
            failure = exc
            box[0] = ("error", exc if isinstance(exc, DietgenError) else
                      DietgenError(f"rank 0 failed: {type(exc).__name__}: {exc}"))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if failure is not None:
        raise failure
    if kind == "error":
        raise value
    return value


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """The element-wise sum of ``values`` over all ranks (in float64, so counts stay exact)."""
    if not active():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def shard(loader: DataLoader, *, shuffle: bool, seed: int) -> DataLoader:
    """This rank's part of ``loader``'s examples. Shuffled: DistributedSampler's permutation of each epoch
    (call ``sampler.set_epoch``), so with equal batches the union of the ranks' k-th batches is the k-th batch
    of one process with N times the batch size. In order: every N-th example, none repeated, so sums over the
    ranks are sums over the split."""
    dataset = loader.dataset
    if shuffle:
        sampler = DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed)
    else:
        sampler = range(rank(), len(dataset), world_size())
    return DataLoader(dataset, batch_size=loader.batch_size, sampler=sampler, collate_fn=loader.collate_fn)


class _Loss(torch.nn.Module):
    """A model's ``loss(batch)`` as its forward: DistributedDataParallel averages the gradients of what runs
    through its forward."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)


def loss_function(model: torch.nn.Module, device: torch.device) -> Callable[[dict], torch.Tensor]:
    """``model.loss``, data-parallel under a process group. The graph is declared static (the same parameters
    take part in every step): a model may leave some parameters out of its loss (a path its configuration
    switches off), which then are found once instead of leaving DistributedDataParallel waiting for them."""
    if not active():
        return model.loss
    return torch.nn.parallel.DistributedDataParallel(
        _Loss(model), device_ids=[device] if device.type == "cuda" else None, static_graph=True)
