"""The click group and what every command shares. Commands only parse, call the Python API and print."""
from __future__ import annotations

import click

from dietgen import __version__

MODEL_HELP = "MODEL is an .onnx file, a dietgen checkpoint (.json + .safetensors), or package.module:factory."


def shapes_option_value(values: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    from dietgen.frontend.onnx_model import parse_shape
    return dict(parse_shape(v) for v in values)


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
