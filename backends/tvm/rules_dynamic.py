"""Lowering rules for ops whose output shape depends on run-time values: range, nonzero,
compress, constant_of_shape_dynamic and the shape-changing `*_dynamic` ops (reshape, squeeze,
unsqueeze, tile, slice, split, pad, resize).

A kernel's output shape comes from the op's result type (static dims, or symbols bound before
it runs), which the importer gets from the model's declared outputs or shape inference; where a
dim is unknown at compile time, build.py runs the op's shape function (shape_functions.py) in a
shape step first and binds it to a new symbol. The kernel reads the run-time parameters and
*checks* that they give exactly that shape (`ctx.add_check`: a mismatch is an ExecutionError
naming the op, never a wrong or out-of-bounds result).

nonzero and compress number the selected elements with an O(n^2) prefix count, and each output
element searches for its source (O(n * out)); fine for the index-sized tensors they get.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

from tvm import te, tirx

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axis, operand_groups
from mlir_lite.ir.types import TensorType

from .lower import BOUND_DIMS, LowerContext, dtype_of, load, lower
from .narrow_types import as_storage
from .resize import ResizeAxis, ResizeMode, policy_dim, policy_scale, resize, scaled_dim
from .rules_shape import _clamp, _typed_dim, _vars_in

__all__ = ["result_shape", "scalar_of", "entry", "unravel", "any_of", "i64", "slice_bounds",
           "slice_geometry", "slice_groups", "axis_mask", "static_len", "axis_table",
           "pad_groups", "pad_amounts",
           "resize_axes"]

Expr = Any


def i64(v: Any) -> Expr:
    return tirx.IntImm("int64", int(v)) if isinstance(v, int) else v.astype("int64")


def result_shape(op: Operation, inputs: Sequence[te.Tensor], i: int = 0) -> List[Expr]:
    """Result `i`'s dims as TVM expressions: those a shape step bound (lower.BOUND_DIMS), else
    its type's (symbols taken from `inputs` or bound before the kernel runs); NotImplementedError
    when a dim is not known at compile time."""
    bound = BOUND_DIMS.get().get(op.results[i])
    if bound is not None:
        return list(bound)
    t = op.results[i].type
    if not isinstance(t, TensorType) or t.shape is None:
        raise NotImplementedError(f"{op.name}: the result rank is not known at compile time")
    known = _vars_in([x.shape for x in inputs])
    out = []
    for k, d in enumerate(t.shape):
        e = _typed_dim(d, known)
        if e is None:
            raise NotImplementedError(
                f"{op.name}: dim {k} of the result ({d if d is not None else '?'}) is decided "
                "by run-time values; the compiled path needs it known at compile time (a "
                "static dim or a symbol of an input)")
        out.append(e)
    return out


def entry(t: te.Tensor, j: Any) -> Expr:
    """Entry `j` of a 0-d or 1-D integer tensor, as int64 (index clamped into range)."""
    if len(t.shape) == 0:
        return load(t, []).astype("int64")
    jj = i64(j) if isinstance(j, int) else j
    return t[(tirx.min(jj, t.shape[0] - i64(1)),)].astype("int64")


def scalar_of(ctx: LowerContext, t: te.Tensor, what: str) -> Expr:
    """The single value of `t` (0-d or one element), flagging any other size."""
    if len(t.shape) > 1:
        raise ValueError(f"{what} must be a scalar or 1-D")
    if len(t.shape) == 1:
        ctx.add_check(lambda: t.shape[0] != 1, [], f"{ctx.op.name}: {what} must hold one value")
    return entry(t, 0)


def any_of(conds: Sequence[Expr]) -> Expr:
    return tirx.any(*conds) if conds else tirx.const(False, "bool")


def _prod(dims: Sequence[Expr]) -> Expr:
    p: Expr = i64(1)
    for d in dims:
        p = p * i64(d)
    return p


def unravel(f: Expr, shape: Sequence[Expr]) -> tuple:
    """The index of flat (row-major) position `f` in `shape`."""
    idx: List[Expr] = []
    stride: Expr = i64(1)
    for k in range(len(shape) - 1, -1, -1):
        d = tirx.max(i64(shape[k]), i64(1))  # a 0-size dim has no element to index
        q = tirx.floordiv(f, stride)
        idx.insert(0, tirx.floormod(q, d) if k else q)
        stride = stride * d
    return tuple(idx)


def _ravel(o: Sequence[Expr], shape: Sequence[Expr]) -> Expr:
    f: Expr = i64(0)
    for v, d in zip(o, shape):
        f = f * i64(d) + i64(v)
    return f


def _copy_reshaped(ctx: LowerContext, x: te.Tensor, shape: List[Expr]) -> te.Tensor:
    """x's elements, in row-major order, in `shape` (checks that the sizes agree)."""
    ctx.add_check(lambda: _prod(shape) != _prod(x.shape), [],
                  f"{ctx.op.name}: the run-time shape does not hold the input's elements")
    xs = list(x.shape)
    return te.compute(shape, lambda *o: load(x, unravel(_ravel(o, shape), xs) if xs else []),
                      name=ctx.name("reshape"))


# -- range, nonzero, compress, constant_of_shape ---------------------------------------------------
@lower("ml.range")
def _range(ctx: LowerContext, op: Operation, start: te.Tensor, limit: te.Tensor,
           delta: te.Tensor) -> te.Tensor:
    (n,) = result_shape(op, [start, limit, delta])
    dt = ctx.result_dtype()
    s, lim, d = (load(t, [i64(0)] * len(t.shape)) for t in (start, limit, delta))
    ft = "float64"
    count = tirx.max(tirx.ceil((lim.astype(ft) - s.astype(ft)) / d.astype(ft)),
                     tirx.const(0.0, ft))
    ctx.add_check(lambda: tirx.any(d == tirx.const(0, dt), count != i64(n).astype(ft)), [],
                  f"{op.name}: delta is 0 or the range's length differs from the result type's")
    if dt.startswith("float"):
        return te.compute([n], lambda i: s + i.astype(dt) * d, name=ctx.name("range"))
    return te.compute([n], lambda i: (s.astype("int64") + i.astype("int64") * d.astype("int64")
                                      ).astype(dt), name=ctx.name("range"))


def _nonzero_of(v: Expr) -> Expr:
    return v if dtype_of(v) == "bool" else v != tirx.const(0, dtype_of(v))


def _positions(ctx: LowerContext, n_in: Expr, nz: Callable[[Expr], Expr], n_out: Expr,
               what: str) -> te.Tensor:
    """pos[j] = the position p < n_in of the j-th p with nz(p), for j < n_out; checks that
    exactly n_out positions qualify."""
    def before(p: Expr) -> Expr:
        q = te.reduce_axis((0, n_in), name="q")
        return te.sum(tirx.all(q < p, nz(q)).astype("int64"), axis=q)
    rank = te.compute([n_in], before, name=ctx.name("prefix"))
    def count_body(_: Expr) -> Expr:
        t = te.reduce_axis((0, n_in), name="t")
        return te.sum(nz(t).astype("int64"), axis=t)
    cnt = te.compute([1], count_body, name=ctx.name("count"))
    ctx.add_check(lambda: cnt[i64(0)] != i64(n_out), [],
                  f"{ctx.op.name}: the number of {what} differs from the result type's dim")

    def find(j: Expr) -> Expr:
        p = te.reduce_axis((0, n_in), name="p")
        hit = tirx.all(nz(p), rank[p] == j.astype("int64"))
        return te.max(tirx.Select(hit, p.astype("int64"), i64(0)), axis=p)
    return te.compute([n_out], find, name=ctx.name("position"))


@lower("ml.nonzero")
def _nonzero(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    r, n = result_shape(op, [x])
    xs = list(x.shape)
    if not xs:
        raise NotImplementedError("nonzero of a 0-d tensor")

    def nz_at(idx: Sequence[Expr]) -> Expr:
        return _nonzero_of(x[tuple(idx)])

    def before(*o: Expr) -> Expr:
        q = [te.reduce_axis((0, d), name=f"q{k}") for k, d in enumerate(xs)]
        return te.sum(tirx.all(_ravel(q, xs) < _ravel(o, xs), nz_at(q)).astype("int64"), axis=q)
    rank = te.compute(xs, before, name=ctx.name("prefix"))

    def count_body(_: Expr) -> Expr:
        t = [te.reduce_axis((0, d), name=f"t{k}") for k, d in enumerate(xs)]
        return te.sum(nz_at(t).astype("int64"), axis=t)
    cnt = te.compute([1], count_body, name=ctx.name("count"))
    ctx.add_check(lambda: cnt[i64(0)] != i64(n), [],
                  f"{op.name}: the number of non-zero entries differs from the result type's dim")

    # coordinates come straight from reduce axes over x (no division of a gathered index)
    def body(d: Expr, j: Expr) -> Expr:
        p = [te.reduce_axis((0, dim), name=f"p{k}") for k, dim in enumerate(xs)]
        coord: Expr = i64(0)
        for k, pk in enumerate(p):
            coord = tirx.Select(i64(d) == i64(k), i64(pk), coord)
        hit = tirx.all(nz_at(p), rank[tuple(p)] == i64(j))
        return te.sum(tirx.Select(hit, coord, i64(0)), axis=p)
    return te.compute([r, n], body, name=ctx.name("nonzero"))


@lower("ml.compress")
def _compress(ctx: LowerContext, op: Operation, x: te.Tensor, cond: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x, cond])
    axis = op.attr("axis")
    xs = list(x.shape)
    if axis is None:
        xs = [_prod(xs)]
        src = te.compute(xs, lambda f: load(x, unravel(f, list(x.shape)) if x.shape else []),
                         name=ctx.name("flat"))
        ax = 0
    else:
        src, ax = x, norm_axis(axis, len(xs))
    d, nc = xs[ax], cond.shape[0] if cond.shape else i64(1)
    ctx.add_check(lambda j: tirx.all(j >= d, _nonzero_of(load(cond, [j] if cond.shape else []))),
                  [nc], f"{op.name}: the condition selects an index out of range for axis {ax}")
    pos = _positions(ctx, tirx.min(i64(d), i64(nc)),
                     lambda p: _nonzero_of(load(cond, [p] if cond.shape else [])), out[ax],
                     "selected slices")
    return te.compute(out, lambda *o: src[tuple(pos[o[ax]] if a == ax else o[a]
                                                for a in range(len(out)))],
                      name=ctx.name("compress"))


@lower("ml.constant_of_shape_dynamic")
def _constant_of_shape_dynamic(ctx: LowerContext, op: Operation, s: te.Tensor) -> te.Tensor:
    out = result_shape(op, [s])
    v = op.attr("value")
    c = ctx.const(0 if v is None else as_storage(v.array).reshape(-1)[0].item(),
                  ctx.result_dtype())
    if len(s.shape) != 1 or not isinstance(s.shape[0], tirx.IntImm) or \
            int(s.shape[0]) != len(out):
        raise NotImplementedError(f"{op.name}: the shape operand must be 1-D of length "
                                  f"{len(out)}")
    ctx.add_check(lambda: any_of([entry(s, k) != i64(d) for k, d in enumerate(out)]), [],
                  f"{op.name}: the run-time shape differs from the result type's")
    return te.compute(out, lambda *o: c, name=ctx.name("fill"))


# -- reshape, squeeze, unsqueeze, tile ---------------------------------------------------------
@lower("ml.reshape_dynamic")
def _reshape_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, s: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x, s])
    allowzero = bool(op.attr("allowzero"))
    xs = list(x.shape)

    def bad() -> Expr:
        conds = []
        for k, d in enumerate(out):
            v = entry(s, k)
            ok = tirx.any(v == i64(d), v == i64(-1))
            if not allowzero and k < len(xs):
                ok = tirx.any(ok, tirx.all(v == i64(0), i64(xs[k]) == i64(d)))
            conds.append(tirx.Not(ok))
        return any_of(conds)
    if len(s.shape) != 1 or not isinstance(s.shape[0], tirx.IntImm) or \
            int(s.shape[0]) != len(out):
        raise NotImplementedError(f"{op.name}: the shape operand must be 1-D of length "
                                  f"{len(out)}")
    ctx.add_check(bad, [], f"{op.name}: the run-time shape differs from the result type's")
    return _copy_reshaped(ctx, x, out)


def axis_mask(axes: te.Tensor, rank: int) -> Callable[[int], Expr]:
    """p -> whether some entry of `axes` (negative ones count from the end of `rank`) is p."""
    n = int(axes.shape[0]) if axes.shape else 1

    def hit(p: int) -> Expr:
        return any_of([tirx.any(entry(axes, j) == i64(p), entry(axes, j) == i64(p - rank))
                       for j in range(n)])
    return hit


def static_len(t: te.Tensor, what: str) -> int:
    if len(t.shape) == 0:
        return 1
    if len(t.shape) != 1 or not isinstance(t.shape[0], tirx.IntImm):
        raise NotImplementedError(f"{what} must be 1-D of static length")
    return int(t.shape[0])


def _check_inserted(ctx: LowerContext, big: List[Expr], small: List[Expr],
                    hit: Callable[[int], Expr], n_axes: int) -> None:
    """`big` is `small` with size-1 dims at the positions `hit` marks (n_axes of them)."""
    if len(big) - len(small) != n_axes:
        raise NotImplementedError(f"{ctx.op.name}: {n_axes} axes cannot turn rank {len(small)} "
                                  f"into rank {len(big)}")

    def bad() -> Expr:
        conds = []
        for p in range(len(big)):
            before = sum((hit(q).astype("int64") for q in range(p)), i64(0))
            k = i64(p) - before  # the position in `small` of a kept dim
            dim: Expr = i64(-1)
            for q, d in enumerate(small):
                dim = tirx.Select(k == i64(q), i64(d), dim)
            conds.append(tirx.Select(hit(p), i64(big[p]) != i64(1), dim != i64(big[p])))
        return any_of(conds)
    ctx.add_check(bad, [], f"{ctx.op.name}: the run-time axes do not give the result type's shape")


@lower("ml.unsqueeze_dynamic")
def _unsqueeze_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor,
                       axes: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x, axes])
    n = static_len(axes, "axes")
    _check_inserted(ctx, out, list(x.shape), axis_mask(axes, len(out)), n)
    return _copy_reshaped(ctx, x, out)


@lower("ml.squeeze_dynamic")
def _squeeze_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor,
                     axes: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x, axes])
    n = static_len(axes, "axes")
    _check_inserted(ctx, list(x.shape), out, axis_mask(axes, len(x.shape)), n)
    return _copy_reshaped(ctx, x, out)


@lower("ml.tile_dynamic")
def _tile_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, reps: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x, reps])
    r = len(x.shape)
    if static_len(reps, "repeats") != r:
        raise NotImplementedError(f"{op.name}: repeats must have {r} entries")
    ctx.add_check(lambda: any_of([entry(reps, k) * i64(x.shape[k]) != i64(out[k])
                                  for k in range(r)]), [],
                  f"{op.name}: the run-time repeats do not give the result type's shape")
    return te.compute(out, lambda *o: x[tuple(tirx.floormod(o[k], x.shape[k])
                                              for k in range(r))], name=ctx.name("tile"))


# -- slice, split, pad ---------------------------------------------------------------------------
def _per_axis(vals: Optional[te.Tensor], axes: Optional[te.Tensor], rank: int,
              n: int, default: Expr) -> List[Expr]:
    """For each axis of a rank-`rank` tensor, the entry of `vals` that `axes` assigns to it (or
    `default`); without `axes`, entry k belongs to axis k."""
    res = []
    for a in range(rank):
        v = default
        for j in range(n):
            here = (i64(j) == i64(a)) if axes is None else \
                tirx.any(entry(axes, j) == i64(a), entry(axes, j) == i64(a - rank))
            if vals is not None:
                v = tirx.Select(here, entry(vals, j), v)
            elif axes is not None or j == a:
                v = tirx.Select(here, i64(1), v)
        res.append(v)
    return res


def slice_bounds(x: te.Tensor, g: dict) -> List[List[Expr]]:
    """Per axis of `x`: whether the run-time axes slice it (1/0), its start, end and step, from
    the starts/ends/axes/steps operands (`g`, by name) before clamping."""
    r = len(x.shape)
    n = static_len(g["starts"], "starts")
    big = i64(2 ** 62)
    return [_per_axis(None, g["axes"], r, n, i64(0)),
            _per_axis(g["starts"], g["axes"], r, n, i64(0)),
            _per_axis(g["ends"], g["axes"], r, n, big),
            _per_axis(g["steps"], g["axes"], r, n, i64(1)) if g["steps"] is not None else
            [i64(1)] * r]


def slice_geometry(x: te.Tensor, bounds: Sequence[Sequence[Expr]]) -> tuple:
    """Per axis of `x`, the first index, step and length that `bounds` (slice_bounds) select,
    clamped as ONNX Slice says."""
    marked, starts, ends, steps = bounds
    big = i64(2 ** 62)
    first, strides, lens = [], [], []
    for a in range(len(x.shape)):
        d = i64(x.shape[a])
        s, e, st = _clamp(starts[a], -big, big), _clamp(ends[a], -big, big), steps[a]
        s = tirx.Select(s < i64(0), s + d, s)
        e = tirx.Select(e < i64(0), e + d, e)
        pos = st > i64(0)
        s = tirx.Select(pos, _clamp(s, i64(0), d), _clamp(s, i64(0), d - i64(1)))
        e = tirx.Select(pos, _clamp(e, i64(0), d), _clamp(e, i64(-1), d - i64(1)))
        safe = tirx.Select(st == i64(0), i64(1), st)
        ln = tirx.Select(pos, tirx.floordiv(e - s + safe - i64(1), safe),
                         tirx.floordiv(s - e - safe - i64(1), -safe))
        lens.append(tirx.Select(marked[a] == i64(0), d, tirx.max(ln, i64(0))))
        first.append(tirx.Select(marked[a] == i64(0), i64(0), s))
        strides.append(tirx.Select(marked[a] == i64(0), i64(1), safe))
    return first, strides, lens


def axis_table(ctx: LowerContext, rows: Sequence[Sequence[Expr]], name: str) -> te.Tensor:
    """A small int64 stage `t[k, a] = rows[k][a]` (per-axis run-time parameters), computed
    once per call and kept as a stage of its own (schedule hint "tables"): read by every
    element, inlined it would repeat its expressions there (10+ s to compile a slice)."""
    r = len(rows[0]) if rows else 0

    def body(k: Expr, a: Expr) -> Expr:
        v: Expr = i64(0)
        for kk in range(len(rows) - 1, -1, -1):
            for aa in range(r - 1, -1, -1):
                v = tirx.Select(tirx.all(k == kk, a == aa), i64(rows[kk][aa]), v)
        return v
    stage = ctx.name(name)
    ctx.hints.setdefault("tables", ())
    ctx.hints["tables"] += (stage,)
    return te.compute((len(rows), max(r, 1)), body, name=stage)


def slice_groups(op: Operation, x: te.Tensor, xs: Sequence[te.Tensor]) -> dict:
    return operand_groups((x,) + tuple(xs), op.attributes,
                          ("x", "starts", "ends", "axes?", "steps?"))


@lower("ml.slice_dynamic")
def _slice_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, *xs: te.Tensor) -> te.Tensor:
    out = result_shape(op, [x] + list(xs))
    r = len(x.shape)
    # two small stages (raw bounds per axis, then clamped ones) keep each expression short
    raw = axis_table(ctx, slice_bounds(x, slice_groups(op, x, xs)), "slice_bounds")
    first, steps, lens = slice_geometry(x, [[raw[k, a] for a in range(r)] for k in range(4)])
    ctx.add_check(lambda: any_of([lens[a] != i64(out[a]) for a in range(r)] +
                                 [raw[3, a] == i64(0) for a in range(r)]), [],
                  f"{op.name}: a step is 0 or the run-time slice differs from the result type")
    geo = axis_table(ctx, [first, steps], "slice_params")
    return te.compute(out, lambda *o: x[tuple(_clamp(geo[0, a] + i64(o[a]) * geo[1, a], i64(0),
                                                     i64(x.shape[a]) - i64(1))
                                              for a in range(r))], name=ctx.name("slice"))


@lower("ml.split_dynamic")
def _split_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor,
                   split: te.Tensor) -> List[te.Tensor]:
    k = op.attr("num_outputs")
    axis = norm_axis(op.attr("axis"), len(x.shape))
    outs = [result_shape(op, [x, split], i) for i in range(k)]
    if static_len(split, "split") != k:
        raise NotImplementedError(f"{op.name}: split must have {k} entries")
    ctx.add_check(lambda: any_of([entry(split, i) != i64(outs[i][axis]) for i in range(k)] +
                                 [sum((i64(o[axis]) for o in outs), i64(0))
                                  != i64(x.shape[axis])]), [],
                  f"{op.name}: the run-time sizes differ from the result types' or do not add "
                  "up to the axis")
    def piece(off: Expr) -> Callable[..., Expr]:
        return lambda *o: x[tuple(_clamp(i64(o[a]) + off, i64(0), i64(x.shape[a]) - i64(1))
                                  if a == axis else o[a] for a in range(len(o)))]
    res = []
    off: Expr = i64(0)
    for i in range(k):
        res.append(te.compute(outs[i], piece(off), name=ctx.name("split")))
        off = off + i64(outs[i][axis])
    return res


def pad_groups(op: Operation, x: te.Tensor, xs: Sequence[te.Tensor]) -> dict:
    return operand_groups((x,) + tuple(xs), op.attributes,
                          ("x", "pads", "constant_value?", "axes?"))


def pad_amounts(x: te.Tensor, g: dict, ends_name: str) -> tuple:
    """Per axis of `x`, the padding before and after it that the run-time pads (and axes)
    operands (`g`, by name) give; the ends are a stage of their own, `ends_name`."""
    r = len(x.shape)
    pads, axes = g["pads"], g["axes"]
    n = static_len(axes, "axes") if axes is not None else r
    if static_len(pads, "pads") != 2 * n:
        raise NotImplementedError(f"pads must have {2 * n} entries")
    ends = te.compute([i64(n)], lambda j: entry(pads, j + i64(n)), name=ends_name)
    return _per_axis(pads, axes, r, n, i64(0)), _per_axis(ends, axes, r, n, i64(0))


@lower("ml.pad_dynamic")
def _pad_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, *xs: te.Tensor) -> te.Tensor:
    g = pad_groups(op, x, xs)
    out = result_shape(op, [x] + list(xs))
    r = len(x.shape)
    mode = op.attr("mode")
    begin, end = pad_amounts(x, g, ctx.name("pad_ends"))
    ctx.add_check(lambda: any_of([i64(x.shape[a]) + begin[a] + end[a] != i64(out[a])
                                  for a in range(r)]), [],
                  f"{op.name}: the run-time pads do not give the result type's shape")
    cv = g["constant_value"]
    fill = load(cv, [i64(0)] * len(cv.shape)) if cv is not None else ctx.zero(dtype_of(x))
    table = axis_table(ctx, [begin], "pad_begin")

    def body(*o: Expr) -> Expr:
        src = [i64(o[a]) - table[0, a] for a in range(r)]
        idx = []
        for a, v in enumerate(src):
            d = i64(x.shape[a])
            if mode in ("constant", "edge"):
                idx.append(_clamp(v, i64(0), d - i64(1)))
            elif mode == "wrap":
                idx.append(tirx.floormod(v, d))
            else:
                per = tirx.max(i64(2) * (d - i64(1)), i64(1))
                m = tirx.floormod(v, per)
                idx.append(tirx.Select(m < d, m, per - m))
        if mode != "constant":
            return x[tuple(idx)]
        inb = tirx.all(*[tirx.all(v >= i64(0), v < i64(x.shape[a])) for a, v in enumerate(src)])
        return tirx.if_then_else(inb, x[tuple(idx)], fill)
    return te.compute(out, body, name=ctx.name("pad"))


# -- resize with run-time scales or sizes -------------------------------------------------------
def resize_axes(op: Operation, x: te.Tensor, xs: Sequence[te.Tensor], out: Sequence[Expr]
                ) -> Tuple[List[int], List[ResizeAxis], List[Tuple[Expr, Expr]]]:
    """The resized axes of `ml.resize_dynamic` (attribute `axes`, else all), each with its
    run-time scale (read from `scales`, or sizes / input dims, or the one scale of a
    keep_aspect_ratio_policy) and roi, for output dims `out`; and the (want, got) pairs the
    kernel checks: the output dims its parameters give against `out`."""
    g = operand_groups((x,) + tuple(xs), op.attributes, ("x", "roi?", "scales?", "sizes?"))
    r = len(x.shape)
    axes = list(range(r)) if op.attr("axes") is None else [norm_axis(a, r) for a in
                                                            op.attr("axes")]
    n = len(axes)
    scales, sizes, roi = g["scales"], g["sizes"], g["roi"]
    param = scales if scales is not None else sizes
    if param is None or static_len(param, "scales/sizes") != n:
        raise NotImplementedError("resize needs one scale or size per resized axis")
    dims = [i64(x.shape[a]) for a in axes]
    policy = op.attr("keep_aspect_ratio_policy")
    pairs: List[Tuple[Expr, Expr]] = []
    if scales is not None:
        scale = [load(scales, [i64(k)]).astype("float64") for k in range(n)]
        pairs = [(scaled_dim(d, s), i64(out[a])) for d, s, a in zip(dims, scale, axes)]
        pairs += [(tirx.Select(s <= tirx.const(0.0, "float64"), i64(-1), i64(0)), i64(0))
                  for s in scale]
    elif policy == "stretch":
        scale = [i64(out[a]).astype("float64") / d.astype("float64") for d, a in zip(dims, axes)]
        pairs = [(entry(sizes, k), i64(out[a])) for k, a in enumerate(axes)]
    else:
        one = policy_scale([entry(sizes, k) for k in range(n)], dims, policy)
        scale = [one] * n
        pairs = [(policy_dim(d, one), i64(out[a])) for d, a in zip(dims, axes)]
    pairs += [(i64(out[a]), i64(x.shape[a])) for a in range(r) if a not in axes]
    rois: List[Optional[Tuple[Expr, Expr]]] = [None] * n
    if op.attr("coordinate_transformation_mode") == "tf_crop_and_resize":
        if roi is None or static_len(roi, "roi") != 2 * n:
            raise NotImplementedError(f"tf_crop_and_resize needs an roi of {2 * n} entries")
        rois = [(load(roi, [i64(k)]), load(roi, [i64(n + k)])) for k in range(n)]
    plan = [ResizeAxis(a, dims[k], i64(out[a]), scale[k], rois[k]) for k, a in enumerate(axes)]
    return axes, plan, pairs


@lower("ml.resize_dynamic")
def _resize_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, *xs: te.Tensor) -> te.Tensor:
    """Resize (every mode, backends/tvm/resize.py) with the roi, scales or sizes read at run
    time; the output dims come from the result type (or a shape step), and the kernel checks
    that the run-time parameters give them."""
    m = ResizeMode.of(op)
    out = result_shape(op, [x] + list(xs))
    _, plan, pairs = resize_axes(op, x, xs, out)
    ctx.add_check(lambda: any_of([want != got for want, got in pairs]), [],
                  f"{op.name}: the run-time scales/sizes do not give the result type's shape")
    return resize(ctx, x, out, plan, m)
