"""A plain `pip install .` into a fresh virtual environment still finds templates/, firmware/ and boards/."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from golden_models import tiny_conv_dense

pytestmark = pytest.mark.slow


def test_installed_package_carries_its_data(tmp_path, root):
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    # Build and install from a copy of the source, so nothing can be found through the checkout.
    src = tmp_path / "src"
    for sub in ("dietgen", "templates", "firmware", "boards"):
        shutil.copytree(root / sub, src / sub, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                    "--disable-pip-version-check", str(src)], check=True)
    shutil.rmtree(src)

    # Dependencies come from this environment's site-packages; dietgen itself only from the new one.
    site = sysconfig.get_paths()["purelib"]
    work = tmp_path / "work"
    work.mkdir()
    import onnx
    onnx.save(tiny_conv_dense(), work / "tiny.onnx")
    env = {**os.environ, "PYTHONPATH": site}
    code = ("import dietgen.resources as r, dietgen; "
            "print(r.templates(), r.firmware(), r.resource('boards'), dietgen.__file__, sep='\\n')")
    out = subprocess.run([str(py), "-c", code], cwd=work, env=env, check=True, capture_output=True, text=True)
    paths = out.stdout.split()
    assert all(str(env_dir) in p for p in paths), out.stdout
    assert all(Path(p).exists() for p in paths)
    subprocess.run([str(env_dir / "bin" / "dietgen"), "export", "tiny.onnx", "-o", "lib"], cwd=work, env=env,
                   check=True, capture_output=True)
    assert (work / "lib" / "tiny.c").exists() and (work / "lib" / "dietgen" / "conv.c").exists()
