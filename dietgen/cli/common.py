"""The click group and what every command shares. Commands only parse, call the Python API and print."""
from __future__ import annotations

import json
import sys

import click

from dietgen import __version__
from dietgen.errors import DietgenUsageError

MODEL_HELP = "MODEL is an .onnx file, a dietgen checkpoint (.json + .safetensors), or package.module:factory."


def shapes_option_value(values: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    from dietgen.frontend.onnx_model import parse_shape
    return dict(parse_shape(v) for v in values)


def progress_bar(items, label):
    """A progress bar on stderr around ``items``: the ``progress`` callback of the long-running API calls."""
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


def parse_overrides(values: tuple[str, ...]) -> dict:
    """--set NAME=VALUE options as a dict; VALUE is JSON when it parses as JSON (numbers, lists), else text."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DietgenUsageError(f"--set {item!r}: give NAME=VALUE, e.g. --set hidden=32")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def crop_samples(seconds: float | None) -> int | None:
    """--crop seconds as the training API takes it: samples, a whole number of frames (at least one)."""
    from dietgen.models.base import HOP, SAMPLE_RATE
    return None if seconds is None else max(1, round(seconds * SAMPLE_RATE / HOP)) * HOP


def run_options(f):
    """--seed, --device and --set, shared by the commands that train."""
    f = click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
                     help="Override a preset's setting (repeatable), e.g. --set hidden=32.")(f)
    f = click.option("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU).")(f)
    f = click.option("--seed", default=0, show_default=True, type=int)(f)
    return f


def model_options(f):
    """MODEL and --shape, shared by every command that takes a model."""
    f = click.option("--shape", "shapes", multiple=True, metavar="NAME=DxDxD",
                     help="Static shape of an input (repeatable), e.g. x=1x1x16000.")(f)
    f = click.argument("model")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dietgen")
def cli():
    """dietgen: generative audio models as verified, malloc-free C for small boards.

    Pipeline: model -> ONNX -> layer IR -> passes -> memory plan -> C.
    """
