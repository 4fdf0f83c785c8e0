"""The dietgen command line. Each module adds its commands to the group in cli.common."""
from __future__ import annotations

import os
import sys

import click

from dietgen.cli import model  # noqa: F401  (registers inspect, export, verify)
from dietgen.cli import boards  # noqa: F401  (registers boards, check, flash)
from dietgen.cli import zoo  # noqa: F401  (registers data render, train, evaluate)
from dietgen.cli import emulate  # noqa: F401  (registers calibrate)
from dietgen.cli import trim  # noqa: F401  (registers trim, trim report)
from dietgen.cli import generate  # noqa: F401  (registers generate)
from dietgen.cli import bench  # noqa: F401  (registers bench)
from dietgen.cli.common import cli
from dietgen.errors import wraps_interrupt

__all__ = ["cli", "main"]


def main(argv=None):
    """Console entry point: bad input is a one-line error; Ctrl-C is "interrupted" with exit status 130 (as a
    shell reports SIGINT); an unexpected crash is one line too unless DIETGEN_DEBUG is set (then the traceback is
    shown for a bug report)."""
    try:
        cli.main(args=argv, prog_name="dietgen", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):   # click turns Ctrl-C inside a command into Abort
        _interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: keep the user's terminal clean, but say how to get details
        if wraps_interrupt(exc):   # a library caught Ctrl-C and raised its own error in its place
            _interrupted()
        if os.environ.get("DIETGEN_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); rerun with DIETGEN_DEBUG=1 and "
                   f"report it", err=True)
        sys.exit(1)


def _interrupted():
    click.echo("interrupted", err=True)
    sys.exit(130)



if __name__ == "__main__":
    main()
