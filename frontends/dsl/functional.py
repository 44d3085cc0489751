"""Eager ops as functions (PyTorch names and arguments); the Tensor methods call these.

    from mlir_lite.dsl import eager as F
    h = F.relu(F.linear(x, w1, b1))
    loss = F.cross_entropy(F.linear(h, w2, b2), labels)     # labels: int64 class indices

Each function runs one or a few `ml` ops through `eager.apply_op`; composite losses are built
from primitive ops, so backward only needs the primitives' VJPs. The functions of op_table.TABLE's
unary and binary rows (add, exp, softmax, reshape, ...) are generated at the end of this module,
which also gives the eager Tensor its methods and operators from the same table.
"""
from __future__ import annotations

import builtins
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from mlir_lite.errors import DslError

from . import op_table
from .dtypes import as_dtype
from .eager import Tensor, apply_op, as_eager
from .op_table import OpDef

# not an op of its own: `compare(op, a, b)` runs binary ml op `op` on broadcast operands
HELPERS = ["compare"]
# __all__ (HELPERS + the table's "torch" names) is set at the end, where the table fills this
# module

Dim = Union[None, int, Sequence[int]]


def _pair(a: Any, b: Any) -> Tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, as_eager(b, a)
    if isinstance(b, Tensor):
        return as_eager(a, b), b
    return as_eager(a), as_eager(b)


def _generated(d: OpDef, api: str) -> Callable[..., Tensor]:
    """The eager function of a generated `op_table` row. Plain unary / binary ops are direct
    closures (the eager hot path); rows with attribute parameters bind their signature."""
    op, binary = d.ops[0], d.kind == "binary"
    if d.kind == "reduction":
        def reduce(x: Any, dim: Dim = None, keepdim: bool = False) -> Tensor:
            return _reduce(op, x, dim, keepdim)
        reduce.__doc__ = f"`{api}(x, dim=None, keepdim=False)`: {op} over `dim` (all if None)."
        return reduce
    operands = op_table.operand_names(d, "torch")
    if not d.attrs and not d.fixed and operands in (("x",), ("a", "b")):
        if binary:
            def fn2(a: Any, b: Any) -> Tensor:
                return apply_op(op, list(_pair(a, b)))
            return fn2

        def fn1(x: Any) -> Tensor:
            return apply_op(op, [as_eager(x)])
        return fn1
    sig = op_table.signature(d, "torch", Tensor)

    def fn(*args: Any, **kwargs: Any) -> Tensor:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        v = bound.arguments
        ins = list(_pair(v[operands[0]], v[operands[1]])) if binary else \
            [as_eager(v[operands[0]])]
        return apply_op(op, ins, op_table.attr_values(d, v))
    fn.__signature__ = sig  # type: ignore[attr-defined]
    return fn


def compare(op: str, a: Any, b: Any) -> Tensor:
    return apply_op(op, list(_pair(a, b)))


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    y = compare("ml.matmul", x, IMPLS["permute"](weight, (1, 0)))
    return y if bias is None else compare("ml.add", y, bias)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    a, b = _pair(x, y)
    return apply_op("ml.where", [as_eager(condition), a, b])


def one_hot(indices: Any, num_classes: int, dtype: Any = "float32") -> Tensor:
    idx = as_eager(indices)
    vals = Tensor(np.array([0, 1]), dtype=dtype)
    return apply_op("ml.one_hot", [idx, vals], {"depth": int(num_classes), "axis": -1})


# -- losses ------------------------------------------------------------------------------------
def _neg(x: Tensor) -> Tensor:
    return apply_op("ml.neg", [x])


def _reduce_loss(per_item: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return IMPLS["reduce_mean"](per_item)
    if reduction == "sum":
        return IMPLS["reduce_sum"](per_item)
    if reduction == "none":
        return per_item
    raise DslError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """-log_probs[i, target[i]] averaged (target: class indices)."""
    t = as_eager(target)
    if t.data.dtype.kind not in "iu":
        raise DslError(f"nll_loss: target must hold integer class indices, got {t.data.dtype}")
    onehot = one_hot(t, log_probs.shape[-1], dtype=log_probs.data.dtype)
    return _reduce_loss(_neg(IMPLS["reduce_sum"](compare("ml.mul", log_probs, onehot), -1)),
                        reduction)


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross entropy of `logits` (N, C) against class indices (N,) or class
    probabilities (N, C), averaged over the batch by default."""
    t = as_eager(target)
    logp = IMPLS["log_softmax"](logits, -1)
    if t.data.dtype.kind in "iu":
        return nll_loss(logp, t, reduction)
    t = as_eager(t.data.astype(logits.data.dtype))
    return _reduce_loss(_neg(IMPLS["reduce_sum"](compare("ml.mul", logp, t), -1)), reduction)


def mse_loss(x: Tensor, y: Any, reduction: str = "mean") -> Tensor:
    d = compare("ml.sub", x, y)
    return _reduce_loss(compare("ml.mul", d, d), reduction)


# -- convolution and pooling (NCHW) ------------------------------------------------------------
def _two(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
           stride: Union[int, Sequence[int]] = 1, padding: Union[int, Sequence[int]] = 0,
           dilation: Union[int, Sequence[int]] = 1, groups: int = 1) -> Tensor:
    """2-D convolution, x: (N, C, H, W), weight: (M, C/groups, kh, kw), bias: (M,)."""
    ph, pw = _two(padding)
    attrs = {"strides": _two(stride), "pads": (ph, pw, ph, pw), "dilations": _two(dilation),
             "group": int(groups)}
    ins = [x, weight] + ([bias] if bias is not None else [])
    return apply_op("ml.conv", ins, attrs)


def _pool_attrs(kernel_size: Any, stride: Any, padding: Any) -> dict:
    k = _two(kernel_size)
    s = k if stride is None else _two(stride)
    ph, pw = _two(padding)
    return {"kernel_shape": k, "strides": s, "pads": (ph, pw, ph, pw)}


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    return apply_op("ml.max_pool", [x], _pool_attrs(kernel_size, stride, padding))


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    attrs = _pool_attrs(kernel_size, stride, padding)
    attrs["count_include_pad"] = True
    return apply_op("ml.avg_pool", [x], attrs)


# -- shapes ------------------------------------------------------------------------------------
def flatten(x: Tensor, start_dim: int = 1) -> Tensor:
    """Collapse the dims from `start_dim` on into one."""
    start = start_dim + x.ndim if start_dim < 0 else start_dim
    return IMPLS["reshape"](x, tuple(x.shape[:start]) + (-1,))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    perm = list(range(x.ndim))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return IMPLS["permute"](x, perm)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    return apply_op("ml.concat", list(tensors), {"axis": int(dim)})


def cast(x: Tensor, dtype: Any) -> Tensor:
    el = as_dtype(dtype)
    if el.np_dtype == x.data.dtype:
        return x
    return apply_op("ml.cast", [x], {"to": el})


def getitem(x: Tensor, key: Any) -> Tensor:
    """Basic indexing (ints, slices, `...`, None); integer arrays index the first axis."""
    if isinstance(key, (Tensor, np.ndarray, list)):
        idx = as_eager(np.asarray(key.data if isinstance(key, Tensor) else key))
        return apply_op("ml.gather", [x, idx], {"axis": 0})
    if not isinstance(key, tuple):
        key = (key,)
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (x.ndim - n_real) + key[i + 1:]
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = out_axis = 0
    for k in key:
        if k is None:
            new.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, (int, np.integer)):
            s = int(k) + (x.shape[axis] if k < 0 else 0)
            starts.append(s)
            ends.append(s + 1)
            steps.append(1)
            axes.append(axis)
            drop.append(axis)
        elif isinstance(k, slice):
            s, e, st = k.indices(x.shape[axis])
            if (s, e, st) != (0, x.shape[axis], 1):
                starts.append(s)
                ends.append(e if e >= 0 else -(2 ** 62))
                steps.append(st)
                axes.append(axis)
            out_axis += 1
        else:
            raise DslError(f"unsupported index {k!r}")
        axis += 1
    y = x
    if axes:
        y = apply_op("ml.slice", [y], {"starts": tuple(starts), "ends": tuple(ends),
                                       "axes": tuple(axes), "steps": tuple(steps)})
    if drop:
        y = apply_op("ml.squeeze", [y], {"axes": tuple(drop)})
    if new:
        y = apply_op("ml.unsqueeze", [y], {"axes": tuple(new)})
    return y


# -- reductions --------------------------------------------------------------------------------
def _reduce(op: str, x: Tensor, dim: Dim, keepdim: bool) -> Tensor:
    attrs: dict = {"keepdims": bool(keepdim)}
    if dim is not None:
        attrs["axes"] = (int(dim),) if isinstance(dim, (int, np.integer)) else \
            tuple(int(d) for d in dim)
    return apply_op(op, [as_eager(x)], attrs)


def argmax(x: Tensor, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        x = IMPLS["reshape"](x, (-1,))
        dim = 0
    return apply_op("ml.argmax", [x], {"axis": int(dim), "keepdims": bool(keepdim)})


# -- the generated functions, and the eager Tensor's methods (op_table.TABLE: "torch", "tensor")
IMPLS: Dict[str, Callable[..., Tensor]] = op_table.populate("torch", globals(), _generated)
op_table.attach(Tensor, "tensor", dict(IMPLS), _generated)
__all__ = HELPERS + op_table.names("torch")


def __getattr__(name: str) -> Any:
    """For type checkers: the names `populate` defined above are this module's functions."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
