"""Shape functions: how a data-dependent op's result dims follow from its run-time operands.

    @shape_function("ml.range")
    def _range(op, start, limit, delta):
        return [[max(ceil((limit - start) / delta), 0)]]      # one list of dims per result

When a result dim of such an op is not known at compile time (`?`, or a symbol nothing bound
yet: ONNX's `unk__N`), build.py compiles the op's shape function into a small kernel of its own
that writes the dims to an int64 buffer, and the plan binds them as new symbols before the op's
kernel runs (`BindStep`, as TVM Relax's `match_cast` after a shape computation): the op and
every kernel after it are compiled for those symbols, and buffers sized by them are allocated
when their kernel runs. The op's own kernel still checks its run-time parameters against the
dims it was given, so a shape function that disagreed with the kernel would be reported, never
computed with.

A function takes the op (for its attributes) and one `te.Tensor` per operand, and returns, for
each result, one int64 expression per dim over those tensors' entries; it may build stages of its
own (a count is a reduction) and read them.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence

from tvm import te, tirx

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axis, operand_groups
from mlir_lite.ir.dialects.ml.reduce import REDUCE_OPS

from .lower import dtype_of, load
from .resize import policy_dim, policy_scale, scaled_dim
from .rules_dynamic import (
    _prod,
    axis_mask,
    entry,
    i64,
    pad_amounts,
    pad_groups,
    slice_bounds,
    slice_geometry,
    slice_groups,
    static_len,
)
from .rules_index import unique_shape

__all__ = ["SHAPE_FUNCTIONS", "shape_function"]

Expr = Any
ShapeFunction = Callable[..., List[List[Expr]]]

SHAPE_FUNCTIONS: Dict[str, ShapeFunction] = {}


def shape_function(*names: str) -> Callable[[ShapeFunction], ShapeFunction]:
    """Register `fn(op, *tensors) -> [[dim, ...] per result]` as the shape function of `names`."""
    def deco(fn: ShapeFunction) -> ShapeFunction:
        for n in names:
            if n in SHAPE_FUNCTIONS:
                raise ValueError(f"shape function for {n} is registered twice")
            SHAPE_FUNCTIONS[n] = fn
        return fn
    return deco


def _dims(x: te.Tensor) -> List[Expr]:
    return [i64(d) for d in x.shape]


def _scalar(t: te.Tensor) -> Expr:
    return load(t, [i64(0)] * len(t.shape))


def _count(nz: Callable[[Sequence[Expr]], Expr], extents: Sequence[Expr], name: str) -> Expr:
    """How many indices of `extents` satisfy `nz` (a reduction stage of its own)."""
    def body(_: Expr) -> Expr:
        axes = [te.reduce_axis((0, d), name=f"c{k}") for k, d in enumerate(extents)]
        return te.sum(nz(axes).astype("int64"), axis=axes)
    return te.compute([1], body, name=name)[i64(0)]


def _truthy(v: Expr) -> Expr:
    return v if dtype_of(v) == "bool" else v != tirx.const(0, dtype_of(v))


@shape_function("ml.range")
def _range(op: Operation, start: te.Tensor, limit: te.Tensor, delta: te.Tensor) -> list:
    ft = "float64"
    s, lim, d = (_scalar(t).astype(ft) for t in (start, limit, delta))
    safe = tirx.Select(d == tirx.const(0.0, ft), tirx.const(1.0, ft), d)  # 0: the kernel flags it
    n = tirx.max(tirx.ceil((lim - s) / safe), tirx.const(0.0, ft))
    return [[n.astype("int64")]]


@shape_function("ml.nonzero")
def _nonzero(op: Operation, x: te.Tensor) -> list:
    return [[i64(len(x.shape)),
             _count(lambda idx: _truthy(x[tuple(idx)]), list(x.shape), "nonzero_count")]]


@shape_function("ml.compress")
def _compress(op: Operation, x: te.Tensor, cond: te.Tensor) -> list:
    nc = cond.shape[0] if cond.shape else i64(1)
    xs = _dims(x)
    axis = op.attr("axis")
    ax = None if axis is None else norm_axis(axis, len(xs))
    d = _prod(xs) if ax is None else xs[ax]
    n = _count(lambda idx: tirx.all(idx[0] < d, _truthy(load(cond, idx if cond.shape else []))),
               [nc], "selected")
    return [[n] if ax is None else [n if a == ax else xs[a] for a in range(len(xs))]]


@shape_function("ml.constant_of_shape_dynamic")
def _constant_of_shape(op: Operation, s: te.Tensor) -> list:
    return [[entry(s, k) for k in range(static_len(s, "shape"))]]


@shape_function("ml.reshape_dynamic")
def _reshape(op: Operation, x: te.Tensor, s: te.Tensor) -> list:
    xs = _dims(x)
    allowzero = bool(op.attr("allowzero"))
    vals = []
    for k in range(static_len(s, "shape")):
        v = entry(s, k)
        if not allowzero and k < len(xs):
            v = tirx.Select(v == i64(0), xs[k], v)
        vals.append(v)
    known = _prod([tirx.Select(v == i64(-1), i64(1), v) for v in vals])
    total = _prod(xs)
    return [[tirx.Select(v == i64(-1), tirx.floordiv(total, tirx.max(known, i64(1))), v)
             for v in vals]]


def _kept_position(hit: Callable[[int], Expr], p: int) -> Expr:
    """How many of the positions before `p` are not marked by `hit`."""
    return sum((tirx.Not(hit(q)).astype("int64") for q in range(p)), i64(0))


@shape_function("ml.unsqueeze_dynamic")
def _unsqueeze(op: Operation, x: te.Tensor, axes: te.Tensor) -> list:
    xs = _dims(x)
    rank = len(xs) + static_len(axes, "axes")
    hit = axis_mask(axes, rank)
    out = []
    for p in range(rank):
        k = _kept_position(hit, p)
        dim: Expr = i64(1)
        for q, d in enumerate(xs):
            dim = tirx.Select(k == i64(q), d, dim)
        out.append(tirx.Select(hit(p), i64(1), dim))
    return [out]


@shape_function("ml.squeeze_dynamic")
def _squeeze(op: Operation, x: te.Tensor, axes: te.Tensor) -> list:
    xs = _dims(x)
    return [_squeeze_marked(xs, axis_mask(axes, len(xs)), len(xs) - static_len(axes, "axes"))]


@shape_function("ml.tile_dynamic")
def _tile(op: Operation, x: te.Tensor, reps: te.Tensor) -> list:
    return [[entry(reps, k) * d for k, d in enumerate(_dims(x))]]


@shape_function("ml.slice_dynamic")
def _slice(op: Operation, x: te.Tensor, *xs: te.Tensor) -> list:
    _, _, lens = slice_geometry(x, slice_bounds(x, slice_groups(op, x, xs)))
    return [lens]


@shape_function("ml.split_dynamic")
def _split(op: Operation, x: te.Tensor, split: te.Tensor) -> list:
    xs = _dims(x)
    axis = norm_axis(op.attr("axis"), len(xs))
    return [[entry(split, i) if a == axis else xs[a] for a in range(len(xs))]
            for i in range(op.attr("num_outputs"))]


@shape_function("ml.pad_dynamic")
def _pad(op: Operation, x: te.Tensor, *xs: te.Tensor) -> list:
    begin, end = pad_amounts(x, pad_groups(op, x, xs), "pad_ends")
    return [[d + b + e for d, b, e in zip(_dims(x), begin, end)]]


@shape_function("ml.resize_dynamic")
def _resize(op: Operation, x: te.Tensor, *xs: te.Tensor) -> list:
    """floor(d * scale) per resized axis, or the sizes; under keep_aspect_ratio_policy
    not_larger / not_smaller, round_half_up(d * s) with s the min / max of sizes / dims (the
    output sizes ONNX specifies)."""
    g = operand_groups((x,) + xs, op.attributes, ("x", "roi?", "scales?", "sizes?"))
    dims = _dims(x)
    r = len(dims)
    axes = list(range(r)) if op.attr("axes") is None else [norm_axis(a, r)
                                                            for a in op.attr("axes")]
    out = list(dims)
    policy = op.attr("keep_aspect_ratio_policy")
    if g["scales"] is not None:
        for k, a in enumerate(axes):
            out[a] = scaled_dim(dims[a], load(g["scales"], [i64(k)]))
    elif g["sizes"] is not None and policy == "stretch":
        for k, a in enumerate(axes):
            out[a] = entry(g["sizes"], k)
    elif g["sizes"] is not None:
        scale = policy_scale([entry(g["sizes"], k) for k in range(len(axes))],
                             [dims[a] for a in axes], policy)
        for a in axes:
            out[a] = policy_dim(dims[a], scale)
    return [out]


@shape_function("ml.expand_dynamic")
def _expand(op: Operation, x: te.Tensor, s: te.Tensor) -> list:
    xs = _dims(x)
    n = static_len(s, "shape")
    r = max(n, len(xs))
    out = []
    for i in range(r):
        sv = entry(s, i - (r - n)) if i >= r - n else i64(1)
        xd = xs[i - (r - len(xs))] if i >= r - len(xs) else i64(1)
        out.append(tirx.Select(sv == i64(1), xd, sv))
    return [out]


@shape_function("ml.one_hot_dynamic")
def _one_hot(op: Operation, idx: te.Tensor, depth: te.Tensor, vals: te.Tensor) -> list:
    dims = _dims(idx)
    axis = norm_axis(op.attr("axis"), len(dims) + 1)
    d = _scalar(depth)
    dv = tirx.floor(d).astype("int64") if dtype_of(d).startswith("float") else d.astype("int64")
    return [dims[:axis] + [dv] + dims[axis:]]


@shape_function("ml.topk_dynamic")
def _topk(op: Operation, x: te.Tensor, k: te.Tensor) -> list:
    dims = _dims(x)
    axis = norm_axis(op.attr("axis"), len(dims))
    out = dims[:axis] + [entry(k, 0)] + dims[axis + 1:]
    return [out, list(out)]


def _reduce(op: Operation, x: te.Tensor, axes: te.Tensor) -> list:
    dims = _dims(x)
    r = len(dims)
    n = static_len(axes, "axes")
    keep = bool(op.attr("keepdims"))
    if n == 0:  # no axes: every axis, or none with noop_with_empty_axes
        return [dims if op.attr("noop_with_empty_axes") else [i64(1)] * r if keep else []]
    red = axis_mask(axes, r)
    if keep:
        return [[tirx.Select(red(a), i64(1), dims[a]) for a in range(r)]]
    return [_squeeze_marked(dims, red, r - n)]


def _squeeze_marked(dims: List[Expr], hit: Callable[[int], Expr], rank: int) -> List[Expr]:
    """`dims` without the positions `hit` marks (`rank` of them are left)."""
    out = []
    for q in range(rank):
        dim: Expr = i64(1)
        for p in range(len(dims) - 1, -1, -1):
            dim = tirx.Select(tirx.all(tirx.Not(hit(p)), _kept_position(hit, p) == i64(q)),
                              dims[p], dim)
        out.append(dim)
    return out


for _n in REDUCE_OPS:
    shape_function(f"ml.{_n}_dynamic")(_reduce)


shape_function("ml.unique")(unique_shape)
