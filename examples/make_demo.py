"""Make examples/demo and examples/demo-avr: the toolchain's demo model (dietgen.models.demo), seeded, untrained.

It mixes a gated dilated causal Conv1d stack, a GRU, a 2-layer LSTM, a ConvTranspose1d decoder and Linear layers,
so `make demo` exercises every layer family end to end; demo-avr is the same model narrow and short enough for
an ATmega2560's 8 KB of RAM. The trained audio models are the other examples.
Run: python examples/make_demo.py
"""
from pathlib import Path

import torch

from dietgen.models import save_checkpoint
from dietgen.models.demo import DemoModel

EXAMPLES = {
    "demo": ({"channels": 8, "skip": 8, "dilations": [1, 2, 4], "hidden": 12, "upsample": 4}, [1, 1, 64]),
    "demo-avr": ({"channels": 4, "skip": 4, "dilations": [1, 2], "hidden": 6, "upsample": 2}, [1, 1, 16]),
}

if __name__ == "__main__":
    for name, (config, shape) in EXAMPLES.items():
        torch.manual_seed(2020)
        model = DemoModel(**config)
        out = Path(__file__).resolve().parent / name
        out.mkdir(exist_ok=True)
        save_checkpoint(model, out, "demo", config, {"x": shape}, sample_rate=16000)
        print(f"wrote {out}/config.json and model.safetensors")
