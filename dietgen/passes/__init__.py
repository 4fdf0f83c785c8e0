"""Graph -> Graph passes, in the order the pipeline runs them."""
from dietgen.passes.dce import eliminate_dead_code
from dietgen.passes.fold import fold_constants
from dietgen.passes.fuse import fold_affine, fuse_activations, matmul_to_dense
from dietgen.passes.memory import attach_scratch, liveness, plan_memory

PASSES = (
    fold_constants,       # whatever only depends on constants runs now, in numpy
    matmul_to_dense,      # Linear layers: constant-weight products become Dense (weight in flash)
    fold_affine,          # BatchNorm and per-channel scale/shift folded into Conv/ConvTranspose/Dense
    fuse_activations,     # activations applied by the producing kernel as it writes
    eliminate_dead_code,
    attach_scratch,       # private buffers kernels asked for
    liveness,             # lifetimes of arena buffers, view aliases
    plan_memory,          # one arena, greedy by size
)

__all__ = ["PASSES", "attach_scratch", "eliminate_dead_code", "fold_affine", "fold_constants",
           "fuse_activations", "liveness", "matmul_to_dense", "plan_memory"]
