"""Lowering rules for the `*_dynamic` ops whose run-time parameter changes what is computed but
whose output shape the result type gives: trilu, cumsum/cumprod, one_hot, topk and the reductions.

As in `rules_dynamic.py`, a result dim must be known at compile time and the kernel checks that
the run-time parameter agrees with it. A reduction over run-time axes scans, for each output
element, every input element and keeps those whose non-reduced coordinates match (O(in * out));
models with constant axes get the static, scheduled reductions instead (the importer folds
them), so this path serves the graphs that compute their axes.
"""
from __future__ import annotations

from typing import Any, Callable, List

from tvm import te, tirx

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axis
from mlir_lite.ir.dialects.ml.reduce import CUMULATIVE_OPS, REDUCE_OPS

from .lower import LOWERING, LowerContext, dtype_of, load, lower
from .rules_dynamic import any_of, axis_mask, i64, result_shape, scalar_of
from .rules_index import cumulative_along
from .rules_quant import _OpView

__all__: List[str] = []

Expr = Any


@lower("ml.trilu_dynamic")
def _trilu_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, k: te.Tensor) -> te.Tensor:
    kv = scalar_of(ctx, k, "k")
    upper = bool(op.attr("upper"))
    zero = ctx.zero(dtype_of(x))

    def body(*o: Expr) -> Expr:
        r, c = i64(o[-2]), i64(o[-1])
        keep = (c - r >= kv) if upper else (c - r <= kv)
        return tirx.Select(keep, x[o], zero)
    return te.compute(x.shape, body, name=ctx.name("trilu"))


def _cumulative_dynamic(name: str) -> None:
    what = CUMULATIVE_OPS[name]

    @lower(f"ml.{name}_dynamic")
    def rule(ctx: LowerContext, op: Operation, x: te.Tensor, ax: te.Tensor) -> te.Tensor:
        rank = len(x.shape)
        a = scalar_of(ctx, ax, "axis")
        a = tirx.Select(a < i64(0), a + i64(rank), a)
        ctx.add_check(lambda: tirx.any(a < i64(0), a >= i64(rank)), [],
                      f"{op.name}: the axis is out of range for rank {rank}")
        excl, rev = bool(op.attr("exclusive")), bool(op.attr("reverse"))
        acc = "float32" if dtype_of(x) in ("float16", "bfloat16") else dtype_of(x)
        per_axis = [te.compute(x.shape, cumulative_along(x, axis, excl, rev, acc, what),
                               name=ctx.name(f"{name}_acc"))
                    for axis in range(rank)]

        def pick(*o: Expr) -> Expr:
            v = per_axis[0][o]
            for axis in range(1, rank):
                v = tirx.Select(a == i64(axis), per_axis[axis][o], v)
            return v.astype(dtype_of(x))
        return te.compute(x.shape, pick, name=ctx.name(name))


for _name in CUMULATIVE_OPS:
    _cumulative_dynamic(_name)


@lower("ml.one_hot_dynamic")
def _one_hot_dynamic(ctx: LowerContext, op: Operation, idx: te.Tensor, depth: te.Tensor,
                     vals: te.Tensor) -> te.Tensor:
    out = result_shape(op, [idx, depth, vals])
    axis = norm_axis(op.attr("axis"), len(idx.shape) + 1)
    d = load(depth, [i64(0)] * len(depth.shape))
    dv = tirx.floor(d).astype("int64") if dtype_of(d).startswith("float") else d.astype("int64")
    ctx.add_check(lambda: tirx.any(dv != i64(out[axis]), vals.shape[0] != 2), [],
                  f"{op.name}: the run-time depth differs from the result type's, or values "
                  "is not [off_value, on_value]")

    def body(*o: Expr) -> Expr:
        i = load(idx, list(o[:axis]) + list(o[axis + 1:]))
        i = tirx.floor(i).astype("int64") if dtype_of(i).startswith("float") else i.astype("int64")
        i = tirx.Select(i < i64(0), i + dv, i)
        return tirx.Select(i == i64(o[axis]), vals[i64(1)], vals[i64(0)])
    return te.compute(out, body, name=ctx.name("one_hot"))


@lower("ml.topk_dynamic")
def _topk_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, k: te.Tensor) -> Any:
    out = result_shape(op, [x, k])
    axis = norm_axis(op.attr("axis"), len(x.shape))
    kd = out[axis]  # static, or a symbol (bound from k by the shape step)
    kv = scalar_of(ctx, k, "k")
    ctx.add_check(lambda: kv != kd, [], f"{op.name}: the run-time k differs from the result "
                                        "type's")
    attrs = {n: op.attr(n) for n in ("axis", "largest", "sorted")}
    kk = int(kd) if isinstance(kd, tirx.IntImm) else kd
    return LOWERING["ml.topk"](ctx, _OpView(op, {**attrs, "k": kk}), x)


# -- reductions over run-time axes -----------------------------------------------------------------
_SUM_LIKE = {"reduce_sum": (None, None), "reduce_mean": (None, None),
             "reduce_l1": (tirx.abs, None), "reduce_l2": (lambda v: v * v, tirx.sqrt),
             "reduce_log_sum": (None, tirx.log), "reduce_sum_square": (lambda v: v * v, None)}
_PROD = te.comm_reducer(lambda p, q: p * q, lambda t: tirx.const(1, t), name="prod")


def _extreme(dt: str, high: bool) -> Expr:
    if dt.startswith(("float", "bfloat")):
        return tirx.const(float("inf") if high else float("-inf"), dt)
    if dt == "bool":
        return tirx.const(high, "bool")
    return tirx.max_value(dt) if high else tirx.min_value(dt)


def _reduce_dynamic(name: str) -> Callable[..., te.Tensor]:
    if name not in _SUM_LIKE and name not in ("reduce_max", "reduce_min", "reduce_prod",
                                              "reduce_log_sum_exp", "reduce_any"):
        raise NotImplementedError(f"no TVM lowering of ml.{name}_dynamic (add it to _SUM_LIKE)")

    def rule(ctx: LowerContext, op: Operation, x: te.Tensor, axes: te.Tensor) -> te.Tensor:
        r = len(x.shape)
        if len(axes.shape) != 1 or not isinstance(axes.shape[0], tirx.IntImm):
            raise NotImplementedError(f"{op.name}: axes must be 1-D of static length")
        n = int(axes.shape[0])
        keep = bool(op.attr("keepdims"))
        if n == 0:  # no axes: the static rule (all axes, or none with noop_with_empty_axes)
            attrs = {"axes": (), "keepdims": keep,
                     "noop_with_empty_axes": op.attr("noop_with_empty_axes")}
            return LOWERING[f"ml.{name}"](ctx, _OpView(op, attrs), x)
        out = result_shape(op, [x, axes])
        marked = axis_mask(axes, r)
        red = [marked(a) for a in range(r)]
        nred = sum((v.astype("int64") for v in red), i64(0))
        slot: List[Expr] = []  # the output position of each kept axis
        for a in range(r):
            slot.append(i64(a) if keep else
                        i64(a) - sum((red[q].astype("int64") for q in range(a)), i64(0)))

        def shape_bad() -> Expr:
            conds = [nred != i64(n)]  # every entry in range and no duplicate
            if keep:
                conds += [tirx.Select(red[a], i64(1), i64(x.shape[a])) != i64(out[a])
                          for a in range(r)]
            else:
                if len(out) != r - n:
                    return tirx.const(True, "bool")
                for a in range(r):
                    dim: Expr = i64(-1)
                    for p, d in enumerate(out):
                        dim = tirx.Select(slot[a] == i64(p), i64(d), dim)
                    conds.append(tirx.all(tirx.Not(red[a]), dim != i64(x.shape[a])))
            return any_of(conds)
        ctx.add_check(shape_bad, [], f"{op.name}: the run-time axes are out of range, repeated, "
                                     f"or do not give the result type's shape")

        def coord(o: tuple, a: int) -> Expr:
            if keep:
                return i64(o[a])
            v: Expr = i64(0)
            for p in range(len(o)):
                v = tirx.Select(slot[a] == i64(p), i64(o[p]), v)
            return v

        def masked(reducer: Callable[..., Expr], val: Callable[[Expr], Expr], ident: Expr,
                   stage: str, src: te.Tensor = x) -> te.Tensor:
            if reducer is te.max or reducer is te.min:  # start from `ident` (-inf, not the
                pick = tirx.max if reducer is te.max else tirx.min  # lowest float): empty sets
                reducer = te.comm_reducer(lambda p, q: pick(p, q), lambda t: ident)

            def body(*o: Expr) -> Expr:
                rk = [te.reduce_axis((0, src.shape[a]), name=f"r{a}") for a in range(r)]
                hit = tirx.all(*[tirx.any(red[a], i64(rk[a]) == coord(o, a)) for a in range(r)])
                return reducer(tirx.Select(hit, val(src[tuple(rk)]), ident), axis=rk)
            return te.compute(out, body, name=ctx.name(stage))
        dt = dtype_of(x)
        if name == "reduce_any":  # as int8 (no bool identity), from 0: empty -> false
            m = masked(te.max, lambda v: v.astype("int8"), tirx.const(0, "int8"), "reduce")
            return te.compute(out, lambda *o: m[o] != tirx.const(0, "int8"),
                              name=ctx.name("to_bool"))
        if name in ("reduce_max", "reduce_min"):
            hi = name == "reduce_min"
            if dt == "bool":  # TVM's max/min reducers have no bool identity: reduce as int8
                m = masked(te.min if hi else te.max, lambda v: v.astype("int8"),
                           tirx.const(int(hi), "int8"), "reduce")
                return te.compute(out, lambda *o: m[o] != tirx.const(0, "int8"),
                                  name=ctx.name("to_bool"))
            return masked(te.min if hi else te.max, lambda v: v, _extreme(dt, hi), "reduce")
        if name == "reduce_prod":
            return masked(_PROD, lambda v: v, tirx.const(1, dt), "reduce")
        if name == "reduce_log_sum_exp":
            m = masked(te.max, lambda v: v, _extreme(dt, False), "max")

            def shifted(o: tuple) -> Expr:
                mv = m[o]
                return tirx.Select(tirx.isfinite(mv), mv, tirx.const(0, dt))

            def body(*o: Expr) -> Expr:
                rk = [te.reduce_axis((0, x.shape[a]), name=f"r{a}") for a in range(r)]
                hit = tirx.all(*[tirx.any(red[a], i64(rk[a]) == coord(o, a)) for a in range(r)])
                return te.sum(tirx.Select(hit, tirx.exp(x[tuple(rk)] - shifted(o)),
                                          tirx.const(0, dt)), axis=rk)
            s = te.compute(out, body, name=ctx.name("sum_exp"))
            return te.compute(out, lambda *o: tirx.log(s[o]) + shifted(o), name=ctx.name("lse"))
        pre, post = _SUM_LIKE[name]
        s = masked(te.sum, pre or (lambda v: v), tirx.const(0, dt), "reduce")
        if name == "reduce_mean":
            cnt: Expr = i64(1)
            for a in range(r):
                cnt = cnt * tirx.Select(red[a], i64(x.shape[a]), i64(1))
            return te.compute(out, lambda *o: s[o] / cnt.astype(dt), name=ctx.name("mean"))
        if post is None:
            return s
        return te.compute(out, lambda *o: post(s[o]), name=ctx.name("post"))
    return rule


for _n in REDUCE_OPS:  # their reduce_*_dynamic variants
    lower(f"ml.{_n}_dynamic")(_reduce_dynamic(_n))
