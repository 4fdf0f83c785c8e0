"""Models in: PyTorch modules, ONNX files and dietgen checkpoints, out: a checked ONNX model and an IR graph."""
from dietgen.frontend.importer import import_onnx
from dietgen.frontend.onnx_model import OPSET, normalise, parse_shape, read_onnx
from dietgen.frontend.sources import LoadedModel, load_model

__all__ = ["OPSET", "LoadedModel", "import_onnx", "load_model", "normalise", "parse_shape", "read_onnx"]
