"""Running the CLI in tests, and what every bad-input case must look like."""
from __future__ import annotations

from click.testing import CliRunner

from dietgen.cli import cli


def run(*args):
    """The CLI on ``args``; an unexpected exception propagates, so a crash fails the test loudly."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *words, code=(1, 2)):
    """One line, exit status 1 or 2 (or ``code``), no traceback, naming every one of ``words``."""
    assert result.exit_code in code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]
