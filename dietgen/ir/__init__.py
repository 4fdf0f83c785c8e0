"""dietgen's layer IR: static-shape tensors and topologically ordered nodes."""
from dietgen.ir.graph import Graph, Node, Tensor, TensorKind, validate
from dietgen.ir.names import c_identifier, unique_c_names
from dietgen.ir.time import Time

__all__ = ["Graph", "Node", "Tensor", "TensorKind", "Time", "validate", "c_identifier", "unique_c_names"]
