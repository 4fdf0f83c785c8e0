"""The README stays true: quickstart commands, every CLI command, every supported op."""
import re

from dietgen.cli import cli
from dietgen.ops import supported_ops


def test_readme_lists_quickstart_commands_and_ops(root):
    text = (root / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    for command in cli.commands:
        assert f"dietgen {command}" in text, f"README has no example of `dietgen {command}`"
    words = set(re.findall(r"[A-Za-z0-9]+", text))
    missing = [op for op in supported_ops() if op not in words]
    assert not missing, f"README does not mention supported ops {missing}"
