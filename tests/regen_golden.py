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
    """The generated files of a golden model. The runtime kernels copied beside them (dietgen/*) are
    firmware/'s own files, so only their names are kept, in RUNTIME."""
    model, stream = GOLDEN[name]
    files = render(compile_model(model(), name=name, stream=stream).graph)
    runtime = sorted(rel for rel in files if rel.startswith("dietgen/"))
    generated = {rel: text for rel, text in files.items() if not rel.startswith("dietgen/")}
    return {**generated, "RUNTIME": "".join(f"{rel}\n" for rel in runtime)}


if __name__ == "__main__":
    for name in GOLDEN:
        write_tree(generate(name), HERE / "golden" / name, force=True)
        print(f"regenerated tests/golden/{name}")
