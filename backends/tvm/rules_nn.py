"""Lowering rules for neural-network `ml` ops: convolution, pooling, normalization, softmax.

Layouts are NCHW (N-d), except `ml.conv_nchwc` (channel-blocked, dialects/ml/layout.py). A
convolution is a `pad` stage (only when pads are nonzero), a `conv` stage whose loops are
`(n, m, out_spatial..., rc, k_spatial...)` and, with a bias, an epilogue; the conv schedule
finds the stages by these names. Pooling reads padding through a guarded
`if_then_else`, so nothing outside the input is ever read.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, List, Sequence, TypeAlias

from tvm import te, tirx
from tvm.ir.expr import Expr as PrimExpr

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axis, operand_groups, spatial_params

from .fast_exp import fast_exp
from .lower import LowerContext, broadcast_index, dtype_of, lower
from .rules_math import MAX, reduce_compute

__all__: List[str] = []

Expr: TypeAlias = PrimExpr  # tvm has no type information: Any to the checker


def _i64(v: int) -> Expr:
    return tirx.IntImm("int64", int(v))


def _out_dim(size: Expr, k: Expr, s: int, pb: int, pe: int, d: int, ceil: bool = False) -> Expr:
    span = size + _i64(pb + pe) - _i64(d) * (k - _i64(1)) - _i64(1)
    if not ceil:
        return tirx.floordiv(span, _i64(s)) + _i64(1)
    out = tirx.floordiv(span + _i64(s - 1), _i64(s)) + _i64(1)
    # ONNX/PyTorch: drop a last window that would start inside the end padding
    return tirx.Select((out - _i64(1)) * _i64(s) >= size + _i64(pb), out - _i64(1), out)


def _lowest(dtype: str) -> Expr:
    if dtype.startswith(("float", "bfloat")):
        return tirx.const(float("-inf"), dtype)
    return tirx.min_value(dtype)


def _zero_pad(x: te.Tensor, pads: Sequence[int], nsp: int) -> te.Tensor:
    """`x` (`[N, C, spatial..., inner...]`) zero-padded on its `nsp` spatial dims by `pads`
    (begins, then ends): the stage `pad`, or `x` itself when nothing is padded."""
    if not any(pads):
        return x
    rest = list(x.shape[2 + nsp:])
    pshape = [x.shape[0], x.shape[1]] + [x.shape[2 + i] + _i64(pads[i] + pads[nsp + i])
                                         for i in range(nsp)] + rest

    def pad_body(*idx: Expr) -> Expr:
        sp = [idx[2 + i] - _i64(pads[i]) for i in range(nsp)]
        inb = tirx.all(*[tirx.all(v >= _i64(0), v < x.shape[2 + i]) for i, v in enumerate(sp)])
        return tirx.if_then_else(inb, x[(idx[0], idx[1]) + tuple(sp) + tuple(idx[2 + nsp:])],
                                 tirx.const(0, dtype_of(x)))
    return te.compute(pshape, pad_body, name="pad")


@lower("ml.conv")
def _conv(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "w", "b?"))
    x, w, b = g["x"], g["w"], g["b"]
    nsp = len(x.shape) - 2
    strides, pads, dil = spatial_params(op.attributes, nsp)
    groups = op.attr("group")
    m, cg = w.shape[0], w.shape[1]
    mg = tirx.floordiv(m, _i64(groups))
    ks = list(w.shape[2:])
    src = _zero_pad(x, pads, nsp)
    out_sp = [_out_dim(x.shape[2 + i], ks[i], strides[i], pads[i], pads[nsp + i], dil[i])
              for i in range(nsp)]
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, ks[i]), name=f"rk{i}") for i in range(nsp)]

    def conv_body(n: Expr, f: Expr, *o: Expr) -> Expr:
        c = (f // mg) * cg + rc if groups > 1 else rc
        sp = tuple(o[i] * _i64(strides[i]) + rk[i] * _i64(dil[i]) for i in range(nsp))
        return te.sum(src[(n, c) + sp] * w[(f, rc) + tuple(rk)], axis=[rc] + rk)
    out = te.compute([x.shape[0], m] + out_sp, conv_body, name="conv")
    ctx.hints.update(strides=tuple(strides), dilations=tuple(dil), groups=groups, padded=any(pads))
    if b is None:
        return out
    return te.compute(out.shape, lambda n, f, *o: out[(n, f) + o] + b[f], name="bias")


@lower("ml.conv_nchwc")
def _conv_nchwc(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    """The blocked conv (dialects/ml/layout.py) as a `conv` stage with loops `(n, mo, oh, ow,
    mi, [rco, rci | rc], kh, kw)`. `w` is either OIHW or, packed at compile time (prepack.py),
    `[M/out_block, KH, KW, C, out_block]`: then every read of it is a whole vector."""
    g = operand_groups(xs, op.attributes, ("x", "w", "b?"))
    x, w, b = g["x"], g["w"], g["b"]
    strides, pads, dil = spatial_params(op.attributes, 2)
    ib, ob = op.attr("in_block"), op.attr("out_block")
    packed = len(w.shape) == 5
    c, ks = (w.shape[3], w.shape[1:3]) if packed else (w.shape[1], w.shape[2:])
    m = w.shape[0] * _i64(ob) if packed else w.shape[0]
    src = _zero_pad(x, pads, 2)
    out_sp = [_out_dim(x.shape[2 + i], ks[i], strides[i], pads[i], pads[2 + i], dil[i])
              for i in range(2)]
    rk = [te.reduce_axis((0, ks[i]), name=f"rk{i}") for i in range(2)]
    if ib:
        red = [te.reduce_axis((0, tirx.floordiv(c, _i64(ib))), name="rco"),
               te.reduce_axis((0, _i64(ib)), name="rci")]
    else:
        red = [te.reduce_axis((0, c), name="rc")]

    def weight(mo: Expr, mi: Expr, ci: Expr) -> Expr:
        if packed:
            return w[mo, rk[0], rk[1], ci, mi]
        return w[mo * _i64(ob) + mi, ci, rk[0], rk[1]]

    def conv_body(n: Expr, mo: Expr, oy: Expr, ox: Expr, mi: Expr) -> Expr:
        y = oy * _i64(strides[0]) + rk[0] * _i64(dil[0])
        xx = ox * _i64(strides[1]) + rk[1] * _i64(dil[1])
        if ib:
            return te.sum(src[n, red[0], y, xx, red[1]]
                          * weight(mo, mi, red[0] * _i64(ib) + red[1]), axis=red + rk)
        return te.sum(src[n, red[0], y, xx] * weight(mo, mi, red[0]), axis=red + rk)
    out = te.compute([x.shape[0], tirx.floordiv(m, _i64(ob))] + out_sp + [_i64(ob)], conv_body,
                     name="conv")
    ctx.hints.update(strides=tuple(strides), dilations=tuple(dil), groups=1, padded=any(pads),
                     blocked=True, in_block=ib)
    if b is None:
        return out
    return te.compute(out.shape, lambda n, mo, y, xx, mi: out[n, mo, y, xx, mi]
                      + b[mo * _i64(ob) + mi], name="bias")


def _pool_params(op: Operation, x: te.Tensor) -> tuple:
    ks = op.attr("kernel_shape")
    n = len(ks)
    strides, pads, dil = spatial_params(op.attributes, n)
    out = [_out_dim(x.shape[2 + i], _i64(ks[i]), strides[i], pads[i], pads[n + i], dil[i],
                    op.attr("ceil_mode")) for i in range(n)]
    return ks, strides, pads, dil, out


def _window(x: te.Tensor, o: Sequence[Expr], rk: Sequence[Any], strides: Sequence[int],
            pads: Sequence[int], dil: Sequence[int]) -> tuple:
    sp = [o[i] * _i64(strides[i]) + rk[i] * _i64(dil[i]) - _i64(pads[i]) for i in range(len(rk))]
    inb = tirx.all(*[tirx.all(v >= _i64(0), v < x.shape[2 + i]) for i, v in enumerate(sp)])
    return sp, inb


@lower("ml.max_pool")
def _max_pool(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    ks, strides, pads, dil, out = _pool_params(op, x)
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(ks)]

    def body(nn: Expr, c: Expr, *o: Expr) -> Expr:
        sp, inb = _window(x, o, rk, strides, pads, dil)
        low = _lowest(dtype_of(x))
        return MAX(tirx.if_then_else(inb, x[(nn, c) + tuple(sp)], low), axis=rk)
    return te.compute([x.shape[0], x.shape[1]] + out, body, name="pool")


@lower("ml.max_pool_indices")
def _max_pool_indices(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    ks, strides, pads, dil, out = _pool_params(op, x)
    n = len(ks)
    low = _lowest(dtype_of(x))
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(ks)]

    def mbody(nn: Expr, c: Expr, *o: Expr) -> Expr:
        sp, inb = _window(x, o, rk, strides, pads, dil)
        return MAX(tirx.if_then_else(inb, x[(nn, c) + tuple(sp)], low), axis=rk)
    m = te.compute([x.shape[0], x.shape[1]] + out, mbody, name="pool")
    dims = list(x.shape[2:])
    rj = [te.reduce_axis((0, k), name=f"rj{i}") for i, k in enumerate(ks)]
    big = tirx.IntImm("int64", (1 << 63) - 1)

    def ibody(nn: Expr, c: Expr, *o: Expr) -> Expr:
        sp, inb = _window(x, o, rj, strides, pads, dil)
        flat: Any = _i64(0)
        for i in range(n):  # row-major: the smallest index among the maxima is the first
            flat = flat * dims[i] + sp[i]
        hit = tirx.all(inb, x[(nn, c) + tuple(sp)] == m[(nn, c) + o])
        return te.min(tirx.Select(hit, flat, big), axis=rj)
    first = te.compute(m.shape, ibody, name="pool_first")
    col_major = bool(op.attr("storage_order"))

    def index(nn: Expr, c: Expr, *o: Expr) -> Expr:
        r = first[(nn, c) + o]
        size: Any = _i64(1)
        for d in dims:
            size = size * d
        if col_major:  # the same position, the first spatial dim fastest
            coords, rest = [], r
            for d in reversed(dims):
                coords.append(tirx.floormod(rest, d))
                rest = tirx.floordiv(rest, d)
            col: Any = _i64(0)
            for crd, d in zip(coords, reversed(dims)):  # Horner, the last dim first
                col = col * d + crd
            r = col
        return (nn * x.shape[1] + c) * size + r
    return te.compute(m.shape, index, name="pool_indices")


def _valid_count(o: Expr, k: int, s: int, d: int, lo: Expr, hi: Expr) -> Expr:
    """How many of the positions o*s - pad + t*d (t in [0, k)) lie in [lo, hi)."""
    start = o * _i64(s)
    # t >= ceil((lo - start) / d) and t < ceil((hi - start) / d)
    tmin = tirx.max(_i64(0), tirx.floordiv(lo - start + _i64(d - 1), _i64(d)))
    tmax = tirx.min(_i64(k), tirx.floordiv(hi - start + _i64(d - 1), _i64(d)))
    return tirx.max(tmax - tmin, _i64(0))


@lower("ml.avg_pool")
def _avg_pool(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    ks, strides, pads, dil, out = _pool_params(op, x)
    n = len(ks)
    incl = op.attr("count_include_pad")
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(ks)]

    def sbody(nn: Expr, c: Expr, *o: Expr) -> Expr:
        sp, inb = _window(x, o, rk, strides, pads, dil)
        zero = tirx.const(0, dtype_of(x))
        return te.sum(tirx.if_then_else(inb, x[(nn, c) + tuple(sp)], zero),
                      axis=rk)
    s = te.compute([x.shape[0], x.shape[1]] + out, sbody, name="pool")

    def avg(nn: Expr, c: Expr, *o: Expr) -> Expr:
        cnt: Any = _i64(1)
        for i in range(n):
            # positions are relative to the padded input: [pads_b, pads_b + size) is the data
            lo = _i64(0) if incl else _i64(pads[i])
            hi = (x.shape[2 + i] + _i64(pads[i] + pads[n + i]) if incl
                  else x.shape[2 + i] + _i64(pads[i]))
            cnt = cnt * _valid_count(o[i], ks[i], strides[i], dil[i], lo, hi)
        return s[(nn, c) + o] / tirx.max(cnt, _i64(1)).astype(dtype_of(x))
    return te.compute(s.shape, avg, name="avg")


def _global_pool(combine: str) -> Callable[..., te.Tensor]:
    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        axes = list(range(2, len(x.shape)))
        r = reduce_compute(ctx, x, axes, True, combine)
        if combine == "max":
            return r
        cnt: Any = _i64(1)
        for a in axes:
            cnt = cnt * x.shape[a]
        return ctx.elementwise([r], lambda v: v / cnt.astype(dtype_of(v)), name="mean")
    return rule


lower("ml.global_avg_pool")(_global_pool("sum"))
lower("ml.global_max_pool")(_global_pool("max"))


# -- normalization -----------------------------------------------------------------------------
@lower("ml.batch_norm")
def _batch_norm(ctx: LowerContext, op: Operation, x: te.Tensor, scale: te.Tensor,
                bias: te.Tensor, mean: te.Tensor, var: te.Tensor) -> te.Tensor:
    eps = tirx.const(float(op.attr("epsilon")), dtype_of(x))

    def body(*idx: Expr) -> Expr:
        c = idx[1]
        return ((x[idx] - mean[c]) / tirx.sqrt(var[c] + eps)) * scale[c] + bias[c]
    return te.compute(x.shape, body, name="batch_norm")


def _moments(ctx: LowerContext, x: te.Tensor, axes: Sequence[int], count: Expr) -> tuple:
    """(mean, var) over `axes` (kept as size-1 dims), two-pass for accuracy."""
    s = reduce_compute(ctx, x, axes, True, "sum", name="sum")
    mean = ctx.elementwise([s], lambda v: v / count.astype(dtype_of(v)), name="mean")
    sq = reduce_compute(ctx, ctx.elementwise([x, mean], lambda v, mv: (v - mv) * (v - mv),
                                             name="dev2"), axes, True, "sum", name="sqsum")
    var = ctx.elementwise([sq], lambda v: v / count.astype(dtype_of(v)), name="var")
    return mean, var


def _count(x: te.Tensor, axes: Sequence[int]) -> Expr:
    n: Any = _i64(1)
    for a in axes:
        n = n * x.shape[a]
    return n


@lower("ml.layer_norm")
def _layer_norm(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "scale", "bias?"))
    x = g["x"]
    axis = norm_axis(op.attr("axis"), len(x.shape))
    axes = list(range(axis, len(x.shape)))
    mean, var = _moments(ctx, x, axes, _count(x, axes))
    eps = tirx.const(float(op.attr("epsilon")), dtype_of(x))
    ins = [x, mean, var, g["scale"]] + ([g["bias"]] if g["bias"] is not None else [])

    def fn(v: Expr, mv: Expr, vv: Expr, sc: Expr, bi: Any = None) -> Expr:
        y = (v - mv) / tirx.sqrt(vv + eps) * sc
        return y if bi is None else y + bi
    return ctx.elementwise(ins, fn, name="layer_norm")


@lower("ml.rms_norm")
def _rms_norm(ctx: LowerContext, op: Operation, x: te.Tensor, scale: te.Tensor) -> te.Tensor:
    axis = norm_axis(op.attr("axis"), len(x.shape))
    axes = list(range(axis, len(x.shape)))
    sq = reduce_compute(ctx, x, axes, True, "sum", pre=lambda v: v * v, name="sqsum")
    cnt = _count(x, axes)
    eps = tirx.const(float(op.attr("epsilon")), dtype_of(x))
    return ctx.elementwise([x, sq, scale], lambda v, s, sc:
                           v / tirx.sqrt(s / cnt.astype(dtype_of(v)) + eps) * sc, name="rms_norm")


@lower("ml.instance_norm")
def _instance_norm(ctx: LowerContext, op: Operation, x: te.Tensor, scale: te.Tensor,
                   bias: te.Tensor) -> te.Tensor:
    axes = list(range(2, len(x.shape)))
    mean, var = _moments(ctx, x, axes, _count(x, axes))
    eps = tirx.const(float(op.attr("epsilon")), dtype_of(x))
    rank = len(x.shape)

    def body(*idx: Expr) -> Expr:
        st = broadcast_index(mean.shape, idx, rank)
        return (x[idx] - mean[st]) / tirx.sqrt(var[st] + eps) * scale[idx[1]] + bias[idx[1]]
    return te.compute(x.shape, body, name="instance_norm")


@lower("ml.group_norm")
def _group_norm(ctx: LowerContext, op: Operation, x: te.Tensor, scale: te.Tensor,
                bias: te.Tensor) -> te.Tensor:
    ng = op.attr("num_groups")
    rank = len(x.shape)
    cpg = tirx.floordiv(x.shape[1], _i64(ng))
    xg = te.compute([x.shape[0], _i64(ng), cpg] + list(x.shape[2:]),
                    lambda n, gi, ci, *sp: x[(n, gi * cpg + ci) + sp], name="grouped")
    axes = list(range(2, rank + 1))
    mean, var = _moments(ctx, xg, axes, _count(xg, axes))
    eps = tirx.const(float(op.attr("epsilon")), dtype_of(x))
    zeros = (tirx.const(0, "int64"),) * (rank - 1)

    def body(*idx: Expr) -> Expr:
        st = (idx[0], tirx.floordiv(idx[1], cpg)) + zeros
        return (x[idx] - mean[st]) / tirx.sqrt(var[st] + eps) * scale[idx[1]] + bias[idx[1]]
    return te.compute(x.shape, body, name="group_norm")


def _softmax_rule(log: bool) -> Callable[..., te.Tensor]:
    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        axis = norm_axis(op.attr("axis"), len(x.shape))
        m = reduce_compute(ctx, x, [axis], True, "max", name="max")
        # the vectorised polynomial exp (fast_exp.py), not one libm call per element
        e = ctx.elementwise([x, m], lambda v, mv: fast_exp(v - mv), name="exp")
        s = reduce_compute(ctx, e, [axis], True, "sum", name="sum")
        if log:
            return ctx.elementwise([x, m, s], lambda v, mv, sv: v - mv - tirx.log(sv),
                                   name="log_softmax")
        # one division per row (LLVM hoists 1/s out of the row loop), a product per element
        return ctx.elementwise([e, s], lambda ev, sv: ev * (tirx.const(1.0, dtype_of(sv)) / sv),
                               name="softmax")
    return rule


lower("ml.softmax")(_softmax_rule(False))
lower("ml.log_softmax")(_softmax_rule(True))



# Override: declared Conv (the fuser anchors a conv_epilogue on it), but its gather-form compute
# (a guarded, strided read of the input) is not the direct convolution the conv schedules tile:
# it is scheduled as a generic reduction.
@lower("ml.conv_transpose", kind="reduction")
def _conv_transpose(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    """Gather form: each output reads the inputs whose strided window covers it, so it is a
    plain reduction over (in-channel of its group, kernel offsets) with a divisibility guard."""
    g = operand_groups(xs, op.attributes, ("x", "w", "b?"))
    x, w, b = g["x"], g["w"], g["b"]
    nsp = len(x.shape) - 2
    strides, pads, dil = spatial_params(op.attributes, nsp)
    opad = tuple(op.attr("output_padding") or (0,) * nsp)
    groups = op.attr("group")
    cg = tirx.floordiv(x.shape[1], _i64(groups))
    mg = w.shape[1]
    ks = list(w.shape[2:])
    out_sp = [_i64(strides[i]) * (x.shape[2 + i] - _i64(1)) + _i64(opad[i])
              + (ks[i] - _i64(1)) * _i64(dil[i]) + _i64(1 - pads[i] - pads[nsp + i])
              for i in range(nsp)]
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, ks[i]), name=f"rk{i}") for i in range(nsp)]
    zero = tirx.const(0, dtype_of(x))

    def body(n: Expr, f: Expr, *o: Expr) -> Expr:
        c = tirx.floordiv(f, mg) * cg + rc if groups > 1 else rc
        m = tirx.floormod(f, mg) if groups > 1 else f
        t = [o[i] + _i64(pads[i]) - rk[i] * _i64(dil[i]) for i in range(nsp)]
        q = [tirx.floordiv(t[i], _i64(strides[i])) for i in range(nsp)]
        ok = tirx.all(*[tirx.all(t[i] >= _i64(0), tirx.floormod(t[i], _i64(strides[i])) == 0,
                                 q[i] < x.shape[2 + i]) for i in range(nsp)])
        qc = [tirx.max(tirx.min(q[i], x.shape[2 + i] - _i64(1)), _i64(0)) for i in range(nsp)]
        v = tirx.if_then_else(ok, x[(n, c) + tuple(qc)], zero)
        return te.sum(v * w[(c, m) + tuple(rk)], axis=[rc] + rk)
    out = te.compute([x.shape[0], mg * _i64(groups)] + out_sp, body, name="conv_transpose")
    if b is None:
        return out
    return te.compute(out.shape, lambda n, f, *o: out[(n, f) + o] + b[f], name="bias")


def _let(value: Expr, fn: Callable[[Expr], Expr], name: str = "v") -> Expr:
    """fn(v) with v bound to `value` once (a Let): the expression uses it many times."""
    v = tirx.Var(name, dtype_of(value))
    return tirx.Let(v, value, fn(v))


def _grid_reflect(x: Expr, lo: Expr, hi: Expr) -> Expr:
    """Reflect `x` at the borders [lo, hi] until it lies within (as the interpreter)."""
    return _let(x, lambda v: _reflect_var(v, lo, hi), "r")


def _reflect_var(x: Expr, lo: Expr, hi: Expr) -> Expr:
    rng = hi - lo
    dt = dtype_of(rng)
    safe = tirx.Select(rng > tirx.const(0, dt), rng, tirx.const(1, dt))
    dx = tirx.Select(x < lo, lo - x, x - hi)
    k = tirx.trunc(dx / safe)
    r = dx - k * safe
    even = k - tirx.floor(k / tirx.const(2, dt)) * tirx.const(2, dt) == \
        tirx.const(0, dt)
    below = tirx.Select(even, lo + r, hi - r)
    above = tirx.Select(even, hi - r, lo + r)
    inside = tirx.Select(x < lo, below, tirx.Select(x > hi, above, x))
    return tirx.Select(rng > tirx.const(0, dt), inside, lo)


def _cubic_weights(t: Expr) -> List[Expr]:
    def c(v: float) -> Expr:
        return tirx.const(v, dtype_of(t))
    a = -0.75
    x0, x1, x2, x3 = t + c(1), t, c(1) - t, c(2) - t
    return [((c(a) * x0 - c(5 * a)) * x0 + c(8 * a)) * x0 - c(4 * a),
            ((c(a + 2)) * x1 - c(a + 3)) * x1 * x1 + c(1),
            ((c(a + 2)) * x2 - c(a + 3)) * x2 * x2 + c(1),
            ((c(a) * x3 - c(5 * a)) * x3 + c(8 * a)) * x3 - c(4 * a)]


@lower("ml.grid_sample")
def _grid_sample(ctx: LowerContext, op: Operation, x: te.Tensor, grid: te.Tensor) -> te.Tensor:
    dt = dtype_of(x)
    acc = "float32" if dt in ("float16", "bfloat16") else dt
    dims = list(x.shape[2:])
    nd = len(dims)
    mode, pad, align = op.attr("mode"), op.attr("padding_mode"), bool(op.attr("align_corners"))

    def f(v: float) -> Expr:
        return tirx.const(v, acc)

    def bounds(size: Expr) -> tuple:
        s = size.astype(acc)
        return (f(0.0), s - f(1.0)) if align else (f(-0.5), s - f(0.5))

    def position(n: Expr, o: Sequence[Expr], d: int) -> Expr:
        """Where output `o` samples along spatial dim d, in pixels (padding applied)."""
        size = dims[d]
        v = grid[(n,) + tuple(o) + (_i64(nd - 1 - d),)].astype(acc)
        s = size.astype(acc)
        p = (v + f(1)) / f(2) * (s - f(1)) if align else ((v + f(1)) * s - f(1)) / f(2)
        lo, hi = bounds(size)
        if mode == "nearest":
            p = tirx.nearbyint(p)
        if mode == "cubic":
            pass  # padding applies to each of its taps only (as onnxruntime and PyTorch)
        elif pad == "border":
            p = _let(p, lambda q: tirx.Select(tirx.any(q < lo, q > hi),
                                              tirx.min(tirx.max(q, f(0)), s - f(1)), q), "q")
        elif pad == "reflection":
            p = _grid_reflect(p, lo, hi)
        return p

    def body(n: Expr, c: Expr, *o: Expr) -> Expr:
        ps = [tirx.Var(f"p{d}", acc) for d in range(nd)]  # each bound once, below
        total = sample(n, c, ps)
        for d in reversed(range(nd)):
            total = tirx.Let(ps[d], position(n, o, d), total)
        return total.astype(dt)

    def sample(n: Expr, c: Expr, ps: Sequence[Expr]) -> Expr:
        taps = []
        for p in ps:
            if mode == "nearest":
                taps.append([(tirx.trunc(p), f(1))])
            elif mode == "linear":
                fl = tirx.floor(p)
                taps.append([(fl, f(1) - (p - fl)), (fl + f(1), p - fl)])
            else:
                fl = tirx.floor(p)
                cw = _cubic_weights(p - fl)
                taps.append([(fl + f(k - 1), cw[k]) for k in range(4)])
        total: Expr = f(0)
        for combo in itertools.product(*taps):
            w: Expr = f(1)
            ok: List[Expr] = []
            idx = []
            for d, (i, wk) in enumerate(combo):
                size = dims[d]
                w = w * wk
                if pad == "zeros":
                    ok += [i >= f(0), i < size.astype(acc)]
                elif pad == "border":
                    i = tirx.min(tirx.max(i, f(0)), size.astype(acc) - f(1))
                else:
                    lo, hi = bounds(size)
                    i = tirx.trunc(_grid_reflect(i, lo, hi))
                ii = i.astype("int64")
                idx.append(tirx.min(tirx.max(ii, _i64(0)), size - _i64(1)))
            v = x[(n, c) + tuple(idx)].astype(acc)
            term = w * (tirx.Select(tirx.all(*ok), v, f(0)) if ok else v)
            total = total + term
        return total
    return te.compute([x.shape[0], x.shape[1]] + list(grid.shape[1:-1]), body,
                      name=ctx.name("grid_sample"))
