"""Graph -> Graph passes, in the order the pipeline runs them."""
from dietgen.passes.dce import eliminate_dead_code
from dietgen.passes.fold import fold_constants
from dietgen.passes.fuse import fold_affine, fuse_activations, matmul_to_dense
from dietgen.passes.memory import attach_scratch, liveness, plan_memory
from dietgen.passes.simplify import check_device_ops, merge_softplus_threshold
from dietgen.passes.stream import stream

PASSES = (
    fold_constants,       # whatever only depends on constants runs now, in numpy
    merge_softplus_threshold,  # torch's Where(x > 20, x, Softplus(x)) is just Softplus
    matmul_to_dense,      # Linear layers: constant-weight products become Dense (weight in flash)
    fold_affine,          # BatchNorm and per-channel scale/shift folded into Conv/ConvTranspose/Dense
    fuse_activations,     # activations applied by the producing kernel as it writes
    stream,               # on request: the step graph, one block in, state carried (ring buffers, RNN states)
    eliminate_dead_code,
    check_device_ops,     # what is left must run on the device: refuse the rest before generating code
    attach_scratch,       # private buffers kernels asked for
    liveness,             # lifetimes of arena buffers, view aliases
    plan_memory,          # one arena, greedy by size
)

__all__ = ["PASSES", "attach_scratch", "check_device_ops", "eliminate_dead_code", "merge_softplus_threshold", "fold_affine", "fold_constants",
           "fuse_activations", "liveness", "matmul_to_dense", "plan_memory", "stream"]
