"""Channel dependencies found by running the model once under a torch function mode.

Every declared layer's channel dimensions get integer unit ids (dietgen.trim.modules). While the model runs on
real tensors, each torch call propagates ids from its inputs to its outputs, dimension by dimension, and unites
the ids of channels that must go together: the two sides of an addition (residual and skip sums), the halves
of a chunk (the two gates of a gated activation), a layer's input with its consumer's columns. Concatenation
concatenates id arrays, so concatenated channels keep their offsets. Anything the rules do not understand
*locks* the ids it touches (never trimmed), and so do the model's inputs and outputs (the interface): an
unknown construct costs compression, never correctness.

The ids live in a union-find; a class of ids is one unit that the trimmer keeps or removes as a whole.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from dietgen.errors import DietgenError
from dietgen.trim.modules import Declaration, Ids, kind_of, rnn_output_ids

Annotation = list   # per tensor dimension: Ids or None (not a channel dimension the trimmer can change)


class UnionFind:
    def __init__(self):
        self.parent: list[int] = []
        self.locked: set[int] = set()

    def new(self, n: int) -> Ids:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return np.arange(start, start + n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def roots(self, ids: Ids) -> Ids:
        return np.array([self.find(int(i)) for i in ids], dtype=np.int64)

    def union(self, a: Ids | None, b: Ids | None) -> None:
        """Unite channel i of ``a`` with channel i of ``b``; against a fixed (None) side, lock the other."""
        if a is None or b is None:
            self.lock(a if b is None else b)
            return
        if len(a) != len(b):
            self.lock(a)
            self.lock(b)
            return
        for i, j in zip(a.tolist(), b.tolist()):
            ri, rj = self.find(i), self.find(j)
            if ri != rj:
                self.parent[rj] = ri
                if rj in self.locked:
                    self.locked.add(ri)

    def lock(self, ids: Ids | None) -> None:
        if ids is not None:
            self.locked.update(self.find(int(i)) for i in ids)

    def is_locked(self, i: int) -> bool:
        return self.find(i) in self.locked


def _tensors(value: Any):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


def _dim(d: int, ndim: int) -> int:
    return d + ndim if d < 0 else d


# Calls that hand a tensor's values to Python: the trimmer cannot follow channels through them.
ESCAPES = {"item", "tolist", "numpy", "__array__", "__bool__", "__int__", "__float__", "__index__"}
METADATA = {"size", "dim", "__get__", "numel", "__len__", "is_floating_point", "is_complex", "element_size",
            "stride", "is_contiguous", "data_ptr", "get_device", "__format__", "__repr__", "requires_grad_",
            "__hash__", "shape", "is_leaf"}
POINTWISE = {"relu", "relu_", "tanh", "sigmoid", "exp", "log", "abs", "neg", "__neg__", "clamp", "clip",
             "clamp_min", "clamp_max", "sqrt", "rsqrt", "sin", "cos", "dropout", "gelu", "silu", "elu",
             "leaky_relu", "softplus", "log1p", "expm1", "sign", "contiguous", "clone", "float", "double", "to",
             "type_as", "detach", "square", "hardtanh", "mish", "tanhshrink", "logsigmoid", "erf", "reciprocal",
             "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "nan_to_num",
             "__abs__", "cpu", "cuda", "relu6", "selu", "hardsigmoid", "hardswish", "round", "floor", "ceil",
             "trunc", "frac", "type"}
BINARY = {"add", "sub", "mul", "div", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
          "__truediv__", "__rtruediv__", "add_", "sub_", "mul_", "div_", "__iadd__", "__isub__", "__imul__",
          "__itruediv__", "maximum", "minimum", "true_divide", "multiply", "subtract", "atan2", "rsub",
          "__pow__", "pow", "where", "lerp", "addcmul"}
REDUCTIONS = {"sum", "mean", "amax", "amin", "prod", "logsumexp", "norm", "std", "var", "max", "min",
                       "argmax", "argmin", "any", "all"}
ALONG_DIM = {"softmax", "log_softmax", "cumsum", "cumprod", "flip", "roll", "sort", "argsort"}


class Tracer(TorchFunctionMode):
    """Runs torch calls unchanged while carrying unit ids along channel dimensions."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.uf = UnionFind()
        self.dims: dict[str, dict[int, Ids]] = {}        # full parameter name -> {dim: ids}
        self.producers: list[tuple[str, Any]] = []        # (module name, Producer)
        self.rnn_outputs: dict[int, Ids] = {}             # id(first flat weight) -> output ids
        self.annotations: dict[int, tuple[Tensor, Annotation]] = {}
        self.poisoned: dict[int, tuple[Tensor, list[Ids]]] = {}   # tensors that lock these ids when read
        self.param_names: dict[int, str] = {}
        self.declarations: dict[str, Declaration] = {}
        for name, module in model.named_modules():
            kind = kind_of(module)
            decl = kind.declare(module, self.uf.new) if kind else None
            if decl is None:
                continue
            self.declarations[name] = decl
            prefix = f"{name}." if name else ""
            for local, dims in decl.dims.items():
                self.dims[prefix + local] = dims
                self.annotate(getattr(module, local), [dims.get(d) for d in range(getattr(module, local).ndim)])
            self.producers += [(name, p) for p in decl.producers]
            if isinstance(module, nn.RNNBase):
                self.rnn_outputs[id(module._flat_weights[0])] = rnn_output_ids(decl, module)
        for name, p in model.named_parameters():
            self.param_names[id(p)] = name
        for name, b in model.named_buffers():
            self.param_names[id(b)] = name
        self.params = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}
        self.used: set[int] = set()     # parameters some traced call read

    # -- annotations ---------------------------------------------------------------------------------------
    def annotate(self, t: Tensor, ann: Annotation) -> None:
        if any(a is not None for a in ann):
            self.annotations[id(t)] = (t, list(ann))    # the tensor is held so its id is not reused

    def ann(self, t: Any) -> Annotation:
        if not isinstance(t, Tensor):
            return []
        hit = self.annotations.get(id(t))
        return list(hit[1]) if hit and hit[0] is t else [None] * t.ndim

    def lock_all(self, value: Any) -> None:
        for t in _tensors(value):
            for ids in self.ann(t):
                self.uf.lock(ids)
            if id(t) in self.params:    # a parameter read by an unknown call: all of its channels stay
                for ids in self.dims.get(self.param_names.get(id(t), ""), {}).values():
                    self.uf.lock(ids)

    # -- the mode --------------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in ESCAPES and any(any(a is not None for a in self.ann(t)) for t in _tensors(args)):
            raise DietgenError(f"cannot trace {_where()}: Tensor.{name}() takes a trimmable channel's values out "
                               f"of torch; keep that computation in torch calls, or declare the model's groups "
                               f"with a trim_dependencies() method")
        for t in _tensors((args, kwargs)):
            if id(t) in self.params:
                self.used.add(id(t))
            hit = self.poisoned.get(id(t))
            if hit and hit[0] is t and name not in METADATA:
                for ids in hit[1]:
                    self.uf.lock(ids)
        result = func(*args, **kwargs)
        if name in METADATA or not any(True for _ in _tensors(result)):
            return result
        rule = RULES.get(name)
        try:
            handled = rule(self, name, args, kwargs, result) if rule else False
        except (IndexError, TypeError, ValueError):
            handled = False     # an argument form the rule does not know: the conservative path below
        if not handled:
            self.lock_all((args, kwargs))
        return result


def _where() -> str:
    """The model source line being traced (the innermost frame outside torch and dietgen.trim)."""
    here = Path(__file__).parent
    torch_dir = Path(torch.__file__).parent
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if here not in path.parents and torch_dir not in path.parents:
            return f"{path.name}:{frame.lineno} ({frame.line})"
    return "the model"


# -- rules: return True when the call is fully understood ----------------------------------------------------
Rule = Callable[[Tracer, str, tuple, dict, Any], bool]
RULES: dict[str, Rule] = {}


def rule(*names: str):
    def wrap(fn: Rule) -> Rule:
        for n in names:
            RULES[n] = fn
        return fn
    return wrap


def _arg(args, kwargs, index, name, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


def _has_ids(tr: Tracer, value: Any) -> bool:
    return any(a is not None for t in _tensors(value) for a in tr.ann(t))


@rule(*POINTWISE)
def _pointwise(tr, name, args, kwargs, result) -> bool:
    if _has_ids(tr, (args[1:], kwargs)) or not isinstance(result, Tensor) or not isinstance(args[0], Tensor):
        return False
    if result.shape != args[0].shape:
        return False
    tr.annotate(result, tr.ann(args[0]))
    return True


def _broadcast(tr: Tracer, operands: list[tuple[tuple, Annotation]], shape: tuple) -> Annotation:
    """Elementwise over broadcast shapes, each operand a (shape, annotation): full-size channel dimensions are
    united; a fixed full-size side or a size-1 channel dimension broadcast against more locks the channels."""
    out: Annotation = []
    for k in range(len(shape)):
        sides = []
        for dims, ann in operands:
            j = len(dims) - len(shape) + k
            if j < 0:
                continue
            ids = ann[j]
            if dims[j] == shape[k]:
                sides.append(ids)
            else:
                tr.uf.lock(ids)
        annotated = [s for s in sides if s is not None]
        if annotated and len(annotated) < len(sides):
            for s in annotated:
                tr.uf.lock(s)
            out.append(None)
            continue
        for s in annotated[1:]:
            tr.uf.union(annotated[0], s)
        out.append(annotated[0] if annotated else None)
    return out


@rule(*BINARY)
def _binary(tr, name, args, kwargs, result) -> bool:
    if not isinstance(result, Tensor):
        return False
    operands = [(tuple(t.shape), tr.ann(t)) for t in _tensors((args, kwargs))]
    tr.annotate(result, _broadcast(tr, operands, tuple(result.shape)))
    return True


@rule("linear")
def _linear(tr, name, args, kwargs, result) -> bool:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    tr.uf.union(tr.ann(x)[-1], tr.ann(w)[1])
    tr.annotate(result, tr.ann(x)[:-1] + [tr.ann(w)[0]])
    return True


@rule("conv1d", "conv_transpose1d")
def _conv(tr, name, args, kwargs, result) -> bool:
    x, w = args[0], _arg(args, kwargs, 1, "weight")
    if _arg(args, kwargs, 6, "groups", 1) != 1 or x.ndim != 3:
        return False
    w_out, w_in = tr.ann(w)[:2] if name == "conv1d" else tr.ann(w)[1::-1]
    tr.uf.union(tr.ann(x)[1], w_in)
    tr.annotate(result, [tr.ann(x)[0], w_out, None])
    return True


@rule("embedding")
def _embedding(tr, name, args, kwargs, result) -> bool:
    index, w = args[0], _arg(args, kwargs, 1, "weight")
    tr.lock_all(index)
    tr.annotate(result, [None] * index.ndim + [tr.ann(w)[1]])
    return True


@rule("layer_norm")
def _layer_norm(tr, name, args, kwargs, result) -> bool:
    x, shape = args[0], _arg(args, kwargs, 1, "normalized_shape")
    w = _arg(args, kwargs, 2, "weight")
    if len(shape) != 1 or w is None:
        return False
    tr.uf.union(tr.ann(x)[-1], tr.ann(w)[0])
    tr.annotate(result, tr.ann(x))
    return True


@rule("batch_norm")
def _batch_norm(tr, name, args, kwargs, result) -> bool:
    x, mean = args[0], _arg(args, kwargs, 1, "running_mean")
    w = _arg(args, kwargs, 3, "weight")
    ref = w if w is not None else mean
    if ref is None:
        return False
    tr.uf.union(tr.ann(x)[1], tr.ann(ref)[0])
    tr.annotate(result, tr.ann(x))
    return True


@rule("gru", "lstm")
def _rnn(tr, name, args, kwargs, result) -> bool:
    weights = next(a for a in args if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor)
                   and a[0] is not args[1] and id(a[0]) in tr.rnn_outputs)
    x = args[0]
    tr.uf.union(tr.ann(x)[-1], tr.ann(weights[0])[1])
    output = result[0]
    tr.annotate(output, tr.ann(x)[:-1] + [tr.rnn_outputs[id(weights[0])]])
    # The final states stack every layer along one dimension: usable only where all layers are one width of
    # one id set, which trimming does not keep; the model reading them locks the recurrent units.
    hidden = [tr.dims[tr.param_names[id(w)]][1] for w in weights if tr.param_names[id(w)].split(".")[-1]
              .startswith("weight_hh")]
    for state in result[1:]:
        tr.poisoned[id(state)] = (state, hidden)
    return True


@rule("matmul", "__matmul__", "mm", "bmm")
def _matmul(tr, name, args, kwargs, result) -> bool:
    a, b = args[0], args[1]
    if a.ndim < 2 or b.ndim < 2:
        return False
    tr.uf.union(tr.ann(a)[-1], tr.ann(b)[-2])
    batch = _broadcast(tr, [(tuple(t.shape[:-2]), tr.ann(t)[:-2]) for t in (a, b)], tuple(result.shape[:-2]))
    tr.annotate(result, batch + [tr.ann(a)[-2], tr.ann(b)[-1]])
    return True


def _reduced_dims(args, kwargs, ndim: int) -> list[int] | None:
    dim = _arg(args, kwargs, 1, "dim")
    if dim is None or isinstance(dim, (torch.dtype,)):
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    return [_dim(d, ndim) for d in dims]


@rule(*REDUCTIONS)
def _reduction(tr, name, args, kwargs, result) -> bool:
    x = args[0]
    dims = _reduced_dims(args, kwargs, x.ndim)
    if dims is None or not isinstance(x, Tensor):
        return False
    ann = tr.ann(x)
    for d in dims:
        tr.uf.lock(ann[d])    # a sum over channels would count removed units as zeros that change its value
    keep = _arg(args, kwargs, 2, "keepdim", False)
    out = [None if d in dims else a for d, a in enumerate(ann)] if keep else \
          [a for d, a in enumerate(ann) if d not in dims]
    for r in (result if isinstance(result, tuple) else (result,)):
        if isinstance(r, Tensor) and r.ndim == len(out):
            tr.annotate(r, out)
    return True


@rule(*ALONG_DIM)
def _along_dim(tr, name, args, kwargs, result) -> bool:
    x = args[0]
    dims = _arg(args, kwargs, 1, "dims" if name in ("flip", "roll") else "dim")
    if name == "roll":
        dims = _arg(args, kwargs, 2, "dims")
    if dims is None:
        return False
    ann = tr.ann(x)
    for d in [dims] if isinstance(dims, int) else dims:
        tr.uf.lock(ann[_dim(d, x.ndim)])
    for r in (result if isinstance(result, tuple) else (result,)):
        if isinstance(r, Tensor) and r.shape == x.shape:
            tr.annotate(r, ann)
    return True


@rule("transpose", "swapaxes", "swapdims")
def _transpose(tr, name, args, kwargs, result) -> bool:
    x = args[0]
    a, b = (_dim(d, x.ndim) for d in (_arg(args, kwargs, 1, "dim0"), _arg(args, kwargs, 2, "dim1")))
    ann = tr.ann(x)
    ann[a], ann[b] = ann[b], ann[a]
    tr.annotate(result, ann)
    return True


@rule("t")
def _t(tr, name, args, kwargs, result) -> bool:
    tr.annotate(result, tr.ann(args[0])[::-1])
    return True


@rule("permute")
def _permute(tr, name, args, kwargs, result) -> bool:
    x = args[0]
    order = args[1:] if len(args) > 2 or isinstance(_arg(args, kwargs, 1, "dims"), int) else \
        _arg(args, kwargs, 1, "dims")
    ann = tr.ann(x)
    tr.annotate(result, [ann[_dim(d, x.ndim)] for d in order])
    return True


@rule("unsqueeze")
def _unsqueeze(tr, name, args, kwargs, result) -> bool:
    ann = tr.ann(args[0])
    ann.insert(_dim(_arg(args, kwargs, 1, "dim"), result.ndim), None)
    tr.annotate(result, ann)
    return True


@rule("view", "reshape", "squeeze", "flatten", "unflatten", "view_as", "reshape_as")
def _reshape(tr, name, args, kwargs, result) -> bool:
    """A dimension kept whole (alone in a run of input and output dimensions with equal products; size-1
    dimensions aside) keeps its ids; merged or split channel dimensions lock."""
    x = args[0]
    ann = tr.ann(x)
    out: Annotation = [None] * result.ndim
    src = [(k, n) for k, n in enumerate(x.shape) if n != 1]
    dst = [(k, n) for k, n in enumerate(result.shape) if n != 1]
    for k, n in enumerate(x.shape):
        if n == 1:
            tr.uf.lock(ann[k])
    i = j = 0
    while i < len(src) and j < len(dst):
        i0, j0 = i, j
        pi, pj = src[i][1], dst[j][1]
        i, j = i + 1, j + 1
        while pi != pj and (i < len(src) or j < len(dst)):
            if pi < pj and i < len(src):
                pi, i = pi * src[i][1], i + 1
            elif j < len(dst):
                pj, j = pj * dst[j][1], j + 1
            else:
                break
        if i - i0 == 1 and j - j0 == 1:
            out[dst[j0][0]] = ann[src[i0][0]]
        else:
            for k in range(i0, i):
                tr.uf.lock(ann[src[k][0]])
    for k in range(i, len(src)):
        tr.uf.lock(ann[src[k][0]])
    tr.annotate(result, out)
    return True


@rule("expand", "expand_as", "broadcast_to", "repeat")
def _expand(tr, name, args, kwargs, result) -> bool:
    x = args[0]
    ann = tr.ann(x)
    lead = result.ndim - x.ndim
    out = [None] * lead + ann
    for k, ids in enumerate(ann):
        if result.shape[lead + k] != x.shape[k]:
            tr.uf.lock(ids)
            out[lead + k] = None
    tr.annotate(result, out)
    return True


@rule("repeat_interleave")
def _repeat_interleave(tr, name, args, kwargs, result) -> bool:
    x, dim = args[0], _arg(args, kwargs, 2, "dim")
    if dim is None or not isinstance(x, Tensor):
        return False
    ann = tr.ann(x)
    tr.uf.lock(ann[_dim(dim, x.ndim)])
    ann[_dim(dim, x.ndim)] = None
    tr.annotate(result, ann)
    return True


@rule("chunk", "split", "unbind", "tensor_split")
def _split(tr, name, args, kwargs, result) -> bool:
    """Equal chunks of a channel dimension pair up channel by channel (the halves of a gated activation): the
    chunk sizes are computed from the trimmed width, so each pair must be kept or removed together."""
    x = args[0]
    dim = _dim(_arg(args, kwargs, 2, "dim", 0), x.ndim)
    ann = tr.ann(x)
    ids = ann[dim]
    if name == "unbind":
        tr.uf.lock(ids)
        for r in result:
            tr.annotate(r, ann[:dim] + ann[dim + 1:])
        return True
    sizes = [r.shape[dim] for r in result]
    if ids is not None and (name != "chunk" or len(set(sizes)) != 1 or x.shape[dim] % len(result)):
        tr.uf.lock(ids)
        ids = None
    offset = 0
    for r, n in zip(result, sizes):
        part = None if ids is None else ids[offset:offset + n]
        if part is not None and offset:
            tr.uf.union(ids[:n], part)
        tr.annotate(r, ann[:dim] + [part] + ann[dim + 1:])
        offset += n
    return True


@rule("cat", "concat", "concatenate")
def _cat(tr, name, args, kwargs, result) -> bool:
    """Along a channel dimension the ids concatenate, so each part keeps its offset; a part without ids (an
    input, a constant) takes locked ones, so its consumer's columns for it stay."""
    parts = [t for t in _arg(args, kwargs, 0, "tensors") if t.numel() or t.ndim == result.ndim]
    dim = _dim(_arg(args, kwargs, 1, "dim", 0), result.ndim)

    def without_dim(values):
        return tuple(values[:dim]) + tuple(values[dim + 1:])

    out = list(_broadcast(tr, [(without_dim(p.shape), without_dim(tr.ann(p))) for p in parts],
                          without_dim(result.shape)))
    along = [tr.ann(p)[dim] for p in parts]
    if all(ids is None for ids in along):     # not a channel dimension (time, batch)
        out.insert(dim, None)
    else:
        for i, p in enumerate(parts):
            if along[i] is None:
                along[i] = tr.uf.new(p.shape[dim])
                tr.uf.lock(along[i])
        out.insert(dim, np.concatenate(along))
    tr.annotate(result, out)
    return True


@rule("stack")
def _stack(tr, name, args, kwargs, result) -> bool:
    parts = list(_arg(args, kwargs, 0, "tensors"))
    dim = _dim(_arg(args, kwargs, 1, "dim", 0), result.ndim)
    out = _broadcast(tr, [(tuple(p.shape), tr.ann(p)) for p in parts], tuple(parts[0].shape))
    out.insert(dim, None)
    tr.annotate(result, out)
    return True


@rule("pad")
def _pad(tr, name, args, kwargs, result) -> bool:
    x, pad = args[0], _arg(args, kwargs, 1, "pad")
    ann = tr.ann(x)
    for k in range(len(pad) // 2):
        d = x.ndim - 1 - k
        if pad[2 * k] or pad[2 * k + 1]:
            tr.uf.lock(ann[d])
            ann[d] = None
    tr.annotate(result, ann)
    return True


@rule("__getitem__")
def _getitem(tr, name, args, kwargs, result) -> bool:
    """Basic indexing: full slices keep a channel dimension; anything that picks channels by position (their
    positions change when channels are removed) locks it."""
    x, index = args[0], args[1]
    index = index if isinstance(index, tuple) else (index,)
    if sum(isinstance(i, Tensor) for i in index) > 1 or any(isinstance(i, (list, bool)) for i in index):
        return False
    if any(i is Ellipsis for i in index):
        e = index.index(Ellipsis)
        used = sum(1 for i in index if i is not None and i is not Ellipsis)
        index = index[:e] + (slice(None),) * (x.ndim - used) + index[e + 1:]
    ann, out, d = tr.ann(x), [], 0
    for i in index:
        if i is None:
            out.append(None)
            continue
        ids = ann[d]
        if isinstance(i, slice) and i == slice(None):
            out.append(ids)
        elif isinstance(i, slice):
            tr.uf.lock(ids)
            out.append(None)
        elif isinstance(i, Tensor):
            tr.uf.lock(ids)
            out.extend([None] * i.ndim)
        else:
            tr.uf.lock(ids)
        d += 1
    out.extend(ann[d:])
    if len(out) != result.ndim:
        return False
    tr.annotate(result, out)
    return True
