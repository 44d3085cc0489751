"""Lowering rules for more indexing and layout ops: scatter_elements, scatter_nd, gather_nd,
one_hot, topk, cumsum/cumprod, trilu, depth_to_space and space_to_depth.

The scatters are linear-time `te.extern` kernels (scatter_ir.py: copy the data, then one loop
over the updates; for reduction "none" the last update of an element wins, as numpy and the
interpreter do); they are kind "scatter", which the generic CPU schedule handles. Everything
else is a plain `te.compute`, so the generic schedules apply. Index reads are clamped (the
scatters skip bad indices) and reported through error flags (`ctx.add_check`), as in
`rules_shape.py`. topk ranks each element with an O(n^2) count along the axis; cumsum/cumprod are an
O(n^2) masked sum/product along the axis.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, TypeAlias

from tvm import te, tirx
from tvm.ir.expr import Expr as PrimExpr

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._shape_infer import norm_axis
from mlir_lite.ir.dialects.ml.reduce import CUMULATIVE_OPS

from .lower import LowerContext, dtype_of, load, lower, same_dim
from .rules_shape import _bad_index, _checked_index
from .scatter_ir import scatter_elements_ir, scatter_nd_ir

__all__: List[str] = []

Expr: TypeAlias = PrimExpr  # tvm has no type information: Any to the checker


def _i64(v: int) -> Expr:
    return tirx.IntImm("int64", int(v))


def _wrap(i: Expr, d: Expr) -> Expr:
    """A possibly negative index made non-negative (no clamping: used for matching only)."""
    i = i.astype("int64")
    return tirx.Select(i < _i64(0), i + d, i)


def _check_reduction(red: str) -> None:
    if red not in ("none", "add", "mul", "max", "min"):
        raise NotImplementedError(f"scatter reduction {red!r}")


# Override: a scatter is declared a plain (injective-kind) op; its TVM kernel is a `te.extern`
# (copy, then a loop over the updates) that no tensor-expression schedule applies to: kind
# "scatter" names it (the generic CPU schedule handles it; kernel reports show the kind).
@lower("ml.scatter_elements", kind="scatter")
def _scatter_elements(ctx: LowerContext, op: Operation, data: te.Tensor, idx: te.Tensor,
                      upd: te.Tensor) -> te.Tensor:
    rank = len(data.shape)
    axis = norm_axis(op.attr("axis"), rank)
    red = op.attr("reduction")
    _check_reduction(red)
    d = data.shape[axis]
    ctx.add_check(lambda *j: _bad_index(idx[j], d), idx.shape,
                  f"{op.name}: an index is out of range for axis {axis}")
    for a in range(rank):
        if a != axis:
            ctx.add_check(lambda a=a: idx.shape[a] > data.shape[a], [],
                          f"{op.name}: indices dim {a} exceeds the data dim")
        if not same_dim(idx.shape[a], upd.shape[a]):
            ctx.add_check(lambda a=a: idx.shape[a] != upd.shape[a], [],
                          f"{op.name}: updates dim {a} differs from the indices dim")
    return scatter_elements_ir(data, idx, upd, axis, red, ctx.name("scatter_elements"))


@lower("ml.scatter_nd", kind="scatter")
def _scatter_nd(ctx: LowerContext, op: Operation, data: te.Tensor, idx: te.Tensor,
                upd: te.Tensor) -> te.Tensor:
    red = op.attr("reduction")
    _check_reduction(red)
    kdim = idx.shape[-1]
    if not isinstance(kdim, tirx.IntImm) or not 1 <= int(kdim) <= len(data.shape):
        raise NotImplementedError("scatter_nd needs a static last dim of indices in [1, rank]")
    k = int(kdim)
    rows = list(idx.shape[:-1])
    for j in range(k):
        dj = data.shape[j]
        ctx.add_check(lambda *r, j=j, dj=dj: _bad_index(idx[tuple(r) + (_i64(j),)], dj), rows,
                      f"{op.name}: an index is out of range for axis {j}")
    want = rows + list(data.shape[k:])
    for a, (w, u) in enumerate(zip(want, upd.shape)):
        if not same_dim(w, u):
            ctx.add_check(lambda w=w, u=u: w != u, [],
                          f"{op.name}: updates dim {a} differs from indices/data")
    return scatter_nd_ir(data, idx, upd, k, red, ctx.name("scatter_nd"))


@lower("ml.gather_nd")
def _gather_nd(ctx: LowerContext, op: Operation, data: te.Tensor, idx: te.Tensor) -> te.Tensor:
    b = op.attr("batch_dims")
    kdim = idx.shape[-1]
    if not isinstance(kdim, tirx.IntImm):
        raise NotImplementedError("gather_nd needs a static last dim of indices")
    k = int(kdim)
    ir = len(idx.shape)
    shape = list(idx.shape[:-1]) + list(data.shape[b + k:])
    for j in range(k):
        dj = data.shape[b + j]
        ctx.add_check(lambda *r, j=j, dj=dj: _bad_index(idx[tuple(r) + (_i64(j),)], dj),
                      list(idx.shape[:-1]),
                      f"{op.name}: an index is out of range for axis {b + j}")
    for i in range(b):
        ctx.add_check(lambda i=i: idx.shape[i] != data.shape[i], [],
                      f"{op.name}: batch dim {i} of indices differs from data's")

    def body(*o: Expr) -> Expr:
        r = tuple(o[:ir - 1])
        batch = [tirx.min(o[i], data.shape[i] - _i64(1)) for i in range(b)]
        cols = [_checked_index(idx[r + (_i64(j),)], data.shape[b + j]) for j in range(k)]
        return data[tuple(batch + cols) + tuple(o[ir - 1:])]
    return te.compute(shape, body, name=ctx.name("gather_nd"))


@lower("ml.one_hot")
def _one_hot(ctx: LowerContext, op: Operation, idx: te.Tensor, vals: te.Tensor) -> te.Tensor:
    depth = op.attr("depth")
    r = len(idx.shape) + 1
    axis = norm_axis(op.attr("axis"), r)
    shape = list(idx.shape)
    shape.insert(axis, _i64(depth))
    ctx.add_check(lambda: vals.shape[0] != 2, [],
                  f"{op.name}: values must hold [off_value, on_value]")

    def body(*o: Expr) -> Expr:
        i = load(idx, list(o[:axis]) + list(o[axis + 1:]))
        hot = _wrap(i, _i64(depth)) == o[axis].astype("int64")
        return tirx.Select(hot, vals[_i64(1)], vals[_i64(0)])
    return te.compute(shape, body, name=ctx.name("one_hot"))


@lower("ml.topk")
def _topk(ctx: LowerContext, op: Operation, x: te.Tensor) -> List[te.Tensor]:
    rank = len(x.shape)
    axis = norm_axis(op.attr("axis"), rank)
    k = op.attr("k")  # an int, or (from ml.topk_dynamic) a size bound at run time
    kk = _i64(k) if isinstance(k, int) else k
    n = x.shape[axis]
    largest = bool(op.attr("largest"))
    ctx.add_check(lambda: n < kk, [], f"{op.name}: k = {k} exceeds the axis {axis} dim")

    def put(o: Sequence[Expr], j: Expr) -> tuple:
        return tuple(o[:axis]) + (j,) + tuple(o[axis + 1:])

    def before(a: Expr, ia: Expr, b_: Expr, ib: Expr) -> Expr:
        """Whether (a at ia) sorts ahead of (b at ib): NaN counts as the largest value."""
        if dtype_of(a).startswith("float"):
            an, bn = tirx.isnan(a), tirx.isnan(b_)
            gt = tirx.Select(an, tirx.Not(bn), tirx.all(tirx.Not(bn), a > b_))
            lt = tirx.Select(bn, tirx.Not(an), tirx.all(tirx.Not(an), a < b_))
            eq = tirx.any(tirx.all(an, bn), tirx.all(tirx.Not(an), tirx.Not(bn), a == b_))
        else:
            gt, lt, eq = a > b_, a < b_, a == b_
        first = gt if largest else lt
        return tirx.any(first, tirx.all(eq, ia < ib))

    def rank_of(*o: Expr) -> Expr:
        j = te.reduce_axis((0, n), name="j")
        i = o[axis]
        return te.sum(before(x[put(o, j)], j, x[o], i).astype("int64"), axis=j)
    ranks = te.compute(x.shape, rank_of, name=ctx.name("topk_rank"))
    out_shape = list(x.shape)
    out_shape[axis] = kk

    def index_of(*o: Expr) -> Expr:
        j = te.reduce_axis((0, n), name="j")
        return te.sum(tirx.Select(ranks[put(o, j)] == o[axis].astype("int64"),
                                  j.astype("int64"), _i64(0)), axis=j)
    idx = te.compute(out_shape, index_of, name=ctx.name("topk_indices"))
    vals = te.compute(out_shape,
                      lambda *o: x[put(o, tirx.min(idx[o], n - _i64(1)))],
                      name=ctx.name("topk_values"))
    return [vals, idx]


_PRODUCT = te.comm_reducer(lambda a, b: a * b, lambda t: tirx.const(1, t), name="product")
# the accumulation of each cumulative op (CUMULATIVE_OPS) and its identity
_ACCUMULATE = {"sum": (te.sum, 0), "product": (_PRODUCT, 1)}


def cumulative_along(x: te.Tensor, axis: int, excl: bool, rev: bool, acc: str, what: str
                     ) -> Callable[..., Expr]:
    """The body of a cumulative `what` ("sum" or "product", CUMULATIVE_OPS) of `x` along
    `axis` in dtype `acc`: the accumulation over the axis of the elements up to each one, the
    others replaced by the identity (O(n) per element)."""
    reduce, identity = _ACCUMULATE[what]

    def body(*o: Expr) -> Expr:
        j = te.reduce_axis((0, x.shape[axis]), name="j")
        i = o[axis]
        if rev:
            keep = j > i if excl else j >= i
        else:
            keep = j < i if excl else j <= i
        v = x[tuple(o[:axis]) + (j,) + tuple(o[axis + 1:])].astype(acc)
        return reduce(tirx.Select(keep, v, tirx.const(identity, acc)), axis=j)
    return body


def _cumulative(name: str) -> None:
    what = CUMULATIVE_OPS[name]

    @lower(f"ml.{name}")
    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        rank = len(x.shape)
        axis = norm_axis(op.attr("axis"), rank)
        excl, rev = bool(op.attr("exclusive")), bool(op.attr("reverse"))
        dt = x.dtype
        acc = "float32" if dt in ("float16", "bfloat16") else dt
        s = te.compute(x.shape, cumulative_along(x, axis, excl, rev, acc, what),
                       name=ctx.name(f"{name}_acc"))
        if acc == dt:
            return s
        return te.compute(x.shape, lambda *o: s[o].astype(dt), name=ctx.name(name))


for _name in CUMULATIVE_OPS:
    _cumulative(_name)


@lower("ml.trilu")
def _trilu(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    k = op.attr("k")
    upper = bool(op.attr("upper"))
    zero = ctx.zero(x.dtype)

    def body(*o: Expr) -> Expr:
        r, c = o[-2].astype("int64"), o[-1].astype("int64")
        keep = (c - r >= _i64(k)) if upper else (c - r <= _i64(k))
        return tirx.Select(keep, x[o], zero)
    return te.compute(x.shape, body, name=ctx.name("trilu"))


@lower("ml.depth_to_space")
def _depth_to_space(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    b = op.attr("blocksize")
    n, c, h, w = x.shape
    bb = _i64(b)
    c2 = tirx.floordiv(c, _i64(b * b))
    dcr = op.attr("mode") == "DCR"

    def body(i: Expr, ch: Expr, y: Expr, xx: Expr) -> Expr:
        by, bx = tirx.floormod(y, bb), tirx.floormod(xx, bb)
        src = (by * bb + bx) * c2 + ch if dcr else ch * _i64(b * b) + by * bb + bx
        return x[i, src, tirx.floordiv(y, bb), tirx.floordiv(xx, bb)]
    return te.compute([n, c2, h * bb, w * bb], body, name=ctx.name("depth_to_space"))


@lower("ml.space_to_depth")
def _space_to_depth(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    b = op.attr("blocksize")
    n, c, h, w = x.shape
    bb = _i64(b)
    crd = op.attr("mode") == "CRD"

    def body(i: Expr, ch: Expr, y: Expr, xx: Expr) -> Expr:
        # DCR: ch = (by * b + bx) * C + c; CRD: ch = c * b * b + by * b + bx
        blk = tirx.floormod(ch, _i64(b * b)) if crd else tirx.floordiv(ch, c)
        src_c = tirx.floordiv(ch, _i64(b * b)) if crd else tirx.floormod(ch, c)
        by, bx = tirx.floordiv(blk, bb), tirx.floormod(blk, bb)
        return x[i, src_c, y * bb + by, xx * bb + bx]
    return te.compute([n, c * bb * bb, tirx.floordiv(h, bb), tirx.floordiv(w, bb)], body,
                      name=ctx.name("space_to_depth"))


def _slices(x: te.Tensor, axis: Optional[int]) -> tuple:
    """x as n entries of s elements each (`axis` None: x flattened, one element per entry):
    (n, s, elem(i, m)) with elem reading element m of entry i."""
    dims = list(x.shape)
    if axis is None:
        n: Expr = _i64(1)
        for d in dims:
            n = n * d

        def flat(i: Expr, m: Expr) -> Expr:
            idx, rest = [], i
            for d in reversed(dims):
                idx.append(tirx.floormod(rest, d))
                rest = tirx.floordiv(rest, d)
            return load(x, idx[::-1])
        return n, _i64(1), flat
    inner = dims[:axis] + dims[axis + 1:]
    s: Expr = _i64(1)
    for d in inner:
        s = s * d

    def elem(i: Expr, m: Expr) -> Expr:
        idx, rest = [], m
        for d in reversed(inner):
            idx.append(tirx.floormod(rest, d))
            rest = tirx.floordiv(rest, d)
        idx = idx[::-1]
        return x[tuple(idx[:axis]) + (i,) + tuple(idx[axis:])]
    return dims[axis], s, elem


def unique_first(x: te.Tensor, axis: Optional[int], name: Callable[[str], str]) -> tuple:
    """The entries of x (`_slices`) and, per entry, the index of the first equal one:
    (n, s, elem, first); an entry is distinct where first[i] == i. O(n^2 s)."""
    n, s, elem = _slices(x, axis)

    def differ(i: Expr, j: Expr) -> Expr:
        m = te.reduce_axis((0, s), name="m")
        return te.sum((elem(i, m) != elem(j, m)).astype("int64"), axis=m)
    diff = te.compute([n, n], differ, name=name("unique_diff"))

    def first_of(i: Expr) -> Expr:
        j = te.reduce_axis((0, n), name="j")
        return te.min(tirx.Select(diff[i, j] == _i64(0), j.astype("int64"),
                                  n.astype("int64")), axis=j)
    return n, s, elem, te.compute([n], first_of, name=name("unique_first"))


@lower("ml.unique")
def _unique(ctx: LowerContext, op: Operation, x: te.Tensor) -> List[te.Tensor]:
    from .rules_dynamic import result_shape
    axis = op.attr("axis")
    ax = None if axis is None else norm_axis(axis, len(x.shape))
    n, s, elem, first = unique_first(x, ax, ctx.name)
    (u,) = result_shape(op, [x], 1)
    distinct = te.compute([n], lambda i: first[i] == i.astype("int64"),
                          name=ctx.name("unique_distinct"))

    def less(j: Expr, i: Expr) -> Expr:
        """Whether entry j sorts before entry i (lexicographically over its elements)."""
        m = te.reduce_axis((0, s), name="m")
        return te.min(tirx.Select(elem(i, m) != elem(j, m), m.astype("int64"),
                                  s.astype("int64")), axis=m)
    if op.attr("sorted"):
        fd = te.compute([n, n], less, name=ctx.name("unique_first_diff"))

        def rank_of(i: Expr) -> Expr:
            j = te.reduce_axis((0, n), name="j")
            d = tirx.min(fd[j, i], s.astype("int64") - _i64(1))
            before = tirx.all(distinct[j], fd[j, i] < s.astype("int64"),
                              elem(j, d) < elem(i, d))
            return te.sum(before.astype("int64"), axis=j)
    else:
        def rank_of(i: Expr) -> Expr:
            j = te.reduce_axis((0, n), name="j")
            return te.sum(tirx.all(distinct[j], j < i).astype("int64"), axis=j)
    rank = te.compute([n], rank_of, name=ctx.name("unique_rank"))

    def count_body(_: Expr) -> Expr:
        j = te.reduce_axis((0, n), name="j")
        return te.sum(distinct[j].astype("int64"), axis=j)
    cnt = te.compute([1], count_body, name=ctx.name("unique_count"))
    ctx.add_check(lambda: cnt[_i64(0)] != u.astype("int64"), [],
                  f"{op.name}: the number of distinct entries differs from the result type's")

    def index_of(k: Expr) -> Expr:
        i = te.reduce_axis((0, n), name="i")
        hit = tirx.all(distinct[i], rank[i] == k.astype("int64"))
        return te.sum(tirx.Select(hit, i.astype("int64"), _i64(0)), axis=i)
    indices = te.compute([u], index_of, name=ctx.name("unique_indices"))
    inverse = te.compute([n], lambda i: rank[first[i]], name=ctx.name("unique_inverse"))

    def counts_of(k: Expr) -> Expr:
        i = te.reduce_axis((0, n), name="i")
        return te.sum((inverse[i] == k.astype("int64")).astype("int64"), axis=i)
    counts = te.compute([u], counts_of, name=ctx.name("unique_counts"))
    if ax is None:
        y = te.compute([u], lambda k: elem(tirx.min(indices[k], n - _i64(1)), _i64(0)),
                       name=ctx.name("unique_values"))
    else:
        shape = list(x.shape)
        shape[ax] = u

        def value(*o: Expr) -> Expr:
            src = list(o)
            src[ax] = tirx.min(indices[o[ax]], n - _i64(1))
            return x[tuple(src)]
        y = te.compute(shape, value, name=ctx.name("unique_values"))
    return [y, indices, inverse, counts]


def unique_shape(op: Operation, x: te.Tensor) -> List[List[Expr]]:
    """ml.unique's result dims (its shape function): the count of distinct entries for y's
    entry dim, indices and counts; the entry count for inverse_indices."""
    axis = op.attr("axis")
    ax = None if axis is None else norm_axis(axis, len(x.shape))
    n, _, _, first = unique_first(x, ax, lambda base: base)

    def count_body(_: Expr) -> Expr:
        j = te.reduce_axis((0, n), name="j")
        return te.sum((first[j] == j.astype("int64")).astype("int64"), axis=j)
    u = te.compute([1], count_body, name="unique_count")[_i64(0)]
    dims = [d.astype("int64") for d in x.shape]
    y = [u] if ax is None else dims[:ax] + [u] + dims[ax + 1:]
    return [y, [u], [n.astype("int64")], [u]]
