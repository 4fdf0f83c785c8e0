"""dietgen's layer IR: static-shape tensors and topologically ordered nodes."""
from dietgen.ir.graph import Graph, Node, Tensor, TensorKind, validate
from dietgen.ir.names import c_identifier, unique_c_names

__all__ = ["Graph", "Node", "Tensor", "TensorKind", "validate", "c_identifier", "unique_c_names"]
