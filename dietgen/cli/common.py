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


def run_options(f):
    """--seed, --device and --set, shared by the commands that train."""
    f = click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
                     help="Override a preset's setting, or give a user model's factory an argument "
                          "(repeatable), e.g. --set hidden=32.")(f)
    f = click.option("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU; under torchrun, "
                                      "cuda means each process's own GPU, cuda:LOCAL_RANK).")(f)
    f = click.option("--seed", default=0, show_default=True, type=int)(f)
    return f


def stream_options(f):
    """--stream/--offline, --block and --time-axis, shared by the commands that compile a model."""
    f = click.option("--time-axis", "time_axes", multiple=True, metavar="NAME=AXIS",
                     help="The time axis of an input when it cannot be found from the model (repeatable); "
                          "NAME=none for an input read whole on every step. Implies --stream.")(f)
    f = click.option("--block", type=int, metavar="N",
                     help="Input frames per step when streaming (default: the model's natural block); offline, "
                          "the audio frames per step recorded in the header.")(f)
    f = click.option("--stream/--offline", "stream", default=None,
                     help="The step program (one block in, state carried between calls) or the offline window "
                          "(the whole signal per call). Default: streaming for models that declare a natural "
                          "block (the zoo's causal families), offline for the others.")(f)
    return f


def stream_option_value(stream: bool | None, block: int | None, time_axes: tuple[str, ...]):
    """The pipeline's ``stream`` argument from the CLI options."""
    from dietgen.passes.stream import StreamSpec
    if block is not None and block < 1:
        raise DietgenUsageError(f"--block {block}: a block holds at least one frame")
    axes = {}
    for item in time_axes:
        name, sep, value = item.partition("=")
        try:
            axes[name] = None if value.lower() == "none" else int(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise DietgenUsageError(f"--time-axis {item!r}: give NAME=AXIS (an integer, or none), e.g. x=2")
    if stream is False:
        if axes:
            raise DietgenUsageError("--time-axis streams the model; it cannot be combined with --offline")
        return False
    if stream or axes:
        return StreamSpec(block, axes)
    return None


def model_options(f):
    """MODEL and --shape, shared by every command that takes a model."""
    f = click.option("--shape", "shapes", multiple=True, metavar="NAME=DxDxD",
                     help="Static shape of an input (repeatable), e.g. x=1x1x16000: every dimension at least 1, "
                          "at most 2^22 (4194304) elements per input.")(f)
    f = click.argument("model")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="dietgen")
def cli():
    """dietgen: generative audio models as verified, malloc-free C for small boards.

    Pipeline: model -> ONNX -> layer IR -> passes -> memory plan -> C.
    """
