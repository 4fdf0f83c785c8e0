"""Regenerate tests/golden/ from tests/golden_models.py: python tests/regen_golden.py (never edit by hand)."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from golden_models import GOLDEN  # noqa: E402

from dietgen.codegen.render import render  # noqa: E402
from dietgen.output import write_tree  # noqa: E402
from dietgen.pipeline import compile_model  # noqa: E402


def generate(name: str) -> dict[str, str]:
    return render(compile_model(GOLDEN[name](), name=name).graph)


if __name__ == "__main__":
    for name in GOLDEN:
        write_tree(generate(name), HERE / "golden" / name, force=True)
        print(f"regenerated tests/golden/{name}")
