"""Writing generated trees: everything into a temporary sibling folder, renamed into place at the end, so a
failure or an interruption (Ctrl-C) never leaves a half-written project or a hidden temporary behind, and an
existing folder is only replaced with force."""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from dietgen.errors import DietgenError


def write_tree(files: dict[str, str | bytes], out_dir, *, force: bool = False) -> Path:
    out = Path(out_dir)
    if out.exists() and not force:
        raise DietgenError(f"{out}: already exists; choose another folder or pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise DietgenError(f"{out}: exists and is not a folder")
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise DietgenError(f"{out}: cannot write there ({exc.strerror}); choose a writable folder")
    old = None   # where the folder being replaced waits until the new one is in place
    try:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except BaseException as exc:   # an OS error or Ctrl-C: the user's folder as it was, and nothing else
        if old is not None and not out.exists():
            os.replace(old / out.name, out)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise DietgenError(f"{out}: cannot write there ({exc.strerror}); choose a writable folder")
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    os.chmod(out, 0o755)
    return out


def write_bytes_atomic(path, data: bytes) -> Path:
    """One file written whole or not at all: a temporary sibling renamed over ``path``, removed on any
    failure or interruption."""
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DietgenError(f"{path}: cannot write it ({exc.strerror or exc}); choose a writable path")
        raise
    return path


@contextmanager
def _interrupt_held_back():
    """Ctrl-C during the block is delivered at its end, so the block is never cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def replace_files_atomically(write: Callable[[Path], None], names: list[str], folder: Path) -> None:
    """Several files of an existing folder replaced together (a run's checkpoint, its history and plot):
    ``write`` fills a temporary folder inside ``folder``, then the files ``names`` are renamed into it in order,
    with Ctrl-C held back until the last one is in place."""
    tmp = Path(tempfile.mkdtemp(prefix=".tmp.", dir=folder))
    try:
        write(tmp)
        with _interrupt_held_back():
            for name in names:
                os.chmod(tmp / name, 0o644)   # mkdtemp's private mode must not stick to the folder's files
                os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
