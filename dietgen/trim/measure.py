"""What a trimming round bought: parameters, multiply-accumulates per second of audio, bytes on disk.

MACs come from the compiled export form (the graph the C code runs), not from counting PyTorch layers, so
recurrent layers are counted over their sequence, transposed convolutions, norms and the synthesis ops are
included, and a trimmed model is costed exactly as it will be deployed."""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from dietgen.models import checkpoint_paths
from dietgen.models.base import AudioModel


def parameters(model: torch.nn.Module, masks: dict[str, torch.Tensor] | None = None) -> int:
    """Parameters of ``model``; with ``masks`` (name -> bool tensor, False = removed), masked-out weights are
    counted as removed."""
    total = sum(p.numel() for p in model.parameters())
    return total - sum(int((~mask).sum()) for mask in (masks or {}).values())


def macs_per_second(model: AudioModel) -> int:
    """Multiply-accumulates of the compiled export form, scaled to one second of audio at the model's rate.

    Every family's export output ends in its audio samples: WaveNet's logits (1, 256, T) are one per sample,
    SING's and DDSP's outputs (1, N) are the waveform. Conditioning that the streaming form computes once per
    note (WaveNet's embeddings and per-layer conditioning) is counted once per export window, which overstates
    it slightly for notes longer than the window."""
    from dietgen.pipeline import compile_model
    from dietgen.report.inspect import inspect

    on_cpu = copy.deepcopy(model).cpu()   # the caller's model stays on its device
    compiled = compile_model(on_cpu, on_cpu.export_module()[1])
    graph = compiled.graph
    samples = graph.tensors[graph.outputs[0]].shape[-1]
    return round(inspect(compiled=compiled).macs * model.sample_rate / samples)


def file_bytes(checkpoint: Path) -> int:
    """Size of a checkpoint's weights file (model.safetensors)."""
    return checkpoint_paths(checkpoint)[1].stat().st_size
