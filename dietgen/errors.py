"""User-facing errors: one line saying what was found and what to do, never a traceback."""
from __future__ import annotations

import click


class DietgenError(click.ClickException):
    """A problem with the user's input or environment (exit status 1)."""

    exit_code = 1

    def __init__(self, message: str):
        # One line: a multi-line message from a library is cut to its first meaningful line.
        first = next((line.strip() for line in str(message).splitlines() if line.strip()), "error")
        super().__init__(first)


class DietgenUsageError(DietgenError):
    """A command line that cannot be acted on (exit status 2, like click's own usage errors)."""

    exit_code = 2


def wraps_interrupt(exc: BaseException | None) -> bool:
    """Whether Ctrl-C is behind ``exc``: a library (torch's tracer) may catch KeyboardInterrupt and raise its own
    error in its place."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
