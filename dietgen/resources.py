"""Where templates/, firmware/ and boards/ are: inside the installed package (a wheel carries them in
dietgen/_data), or at the top of a source checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource(name: str) -> Path:
    for base in (_PACKAGE / "_data", _PACKAGE.parent):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"dietgen installation is incomplete: folder {name}/ not found")


def templates() -> Path:
    return resource("templates")


def firmware() -> Path:
    return resource("firmware")
