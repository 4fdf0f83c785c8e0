"""Level 4: generated trees are byte-for-byte what tests/golden holds (regenerate with tests/regen_golden.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from golden_models import GOLDEN
from regen_golden import generate

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_generated_tree_matches_golden(name):
    files = generate(name)
    on_disk = {str(p.relative_to(GOLDEN_DIR / name)): p.read_text()
               for p in (GOLDEN_DIR / name).rglob("*") if p.is_file()}
    assert sorted(files) == sorted(on_disk), "file list changed: run python tests/regen_golden.py"
    for rel, text in files.items():
        assert text == on_disk[rel], f"{rel} differs from the golden copy: run python tests/regen_golden.py"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_generation_is_deterministic(name):
    assert generate(name) == generate(name)
