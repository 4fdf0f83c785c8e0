"""Make examples/demo: the toolchain's demo model (dietgen.models.demo), seeded, untrained.

It mixes a gated dilated causal Conv1d stack, a GRU, a 2-layer LSTM, a ConvTranspose1d decoder and Linear layers,
so `make demo` exercises every layer family end to end. Trained audio models come with the model zoo.
Run: python examples/make_demo.py
"""
from pathlib import Path

import torch

from dietgen.models import save_checkpoint
from dietgen.models.demo import DemoModel

CONFIG = {"channels": 8, "skip": 8, "dilations": [1, 2, 4], "hidden": 12, "upsample": 4}

if __name__ == "__main__":
    torch.manual_seed(2020)
    model = DemoModel(**CONFIG)
    out = Path(__file__).resolve().parent / "demo"
    save_checkpoint(model, out, "demo", CONFIG, {"x": [1, 1, 64]}, sample_rate=16000)
    print(f"wrote {out}/config.json and model.safetensors")
