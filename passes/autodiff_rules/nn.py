"""VJP rules of neural-network ops: convolution, pooling, softmax family, normalizations.

    conv:  dx = conv(interleave(g), flip(w)^T)  (static sizes; else conv_transpose(g, w),
                output_padding restoring x's size)
           dw = conv(x^T, g^T) with strides and dilations swapped, per group
           db = reduce_sum(g, [0, 2, ...])
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import (
    norm_axis,
    operand_groups,
    spatial_params,
    window_out_dim,
)
from mlir_lite.ir.types import i64

from .context import VJPContext
from .table import vjp

__all__: List[str] = []

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops have a single result, so it is never None.
Cots = Sequence[Value]


def _spatial_axes(ctx: VJPContext, x: Value) -> tuple:
    return tuple(range(2, ctx.rank(x)))


def _static_spatial(ctx: VJPContext, v: Value, what: str) -> tuple:
    sp = ctx.shape(v)[2:]
    if not all(type(d) is int for d in sp):
        raise ctx.fail(f"the gradient needs static spatial dims, but {what} is {v.type}")
    return sp


# -- convolution ----------------------------------------------------------------------------
def _conv_input_grad_direct(ctx: VJPContext, op: Operation, g: Value, x: Value,
                            w: Value) -> Optional[Value]:
    """dx as a plain convolution (which has a tiled CPU schedule; the gather-form
    conv_transpose kernel was ~30x slower): g with stride-1 zeros interleaved, padded by
    (k-1)*d - pad, convolved with w flipped in space and with its channel roles swapped (per
    group). None when spatial sizes are not static or a pad exceeds (k-1)*d."""
    n = ctx.rank(x) - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    groups = op.attr("group")
    xs, gs, ws = ctx.shape(x)[2:], ctx.shape(g)[2:], ctx.shape(w)
    ks = ws[2:]
    if not all(type(d) is int for d in tuple(xs) + tuple(gs) + tuple(ws)):
        return None
    up = tuple((gs[i] - 1) * strides[i] + 1 for i in range(n))
    lo = tuple((ks[i] - 1) * dil[i] - pads[i] for i in range(n))
    hi = tuple(xs[i] - up[i] - lo[i] + (ks[i] - 1) * dil[i] for i in range(n))
    if min(lo + hi) < 0:
        return None
    sp = tuple(range(2, n + 2))
    if any(s > 1 for s in strides):  # g[.., o] at o * stride, zeros between
        v = ctx.emit("ml.unsqueeze", g, axes=tuple(3 + 2 * i for i in range(n)))
        v = ctx.emit("ml.pad", v, pads=(0,) * (2 * n + 2) + (0, 0) + sum(
            ((0, strides[i] - 1) for i in range(n)), ()))
        v = ctx.emit("ml.reshape", v, shape=(0, 0) + tuple(gs[i] * strides[i] for i in range(n)))
        g = ctx.emit("ml.slice", v, starts=(0,) * n, ends=up, axes=sp)
    wf = ctx.emit("ml.slice", w, starts=tuple(k - 1 for k in ks), ends=tuple(-k - 1 for k in ks),
                  axes=sp, steps=(-1,) * n)
    m, cg = ws[0], ws[1]
    if groups == 1:
        wf = ctx.transpose(wf, [1, 0] + list(sp))
    else:
        wf = ctx.emit("ml.reshape", wf, shape=(groups, m // groups, cg) + tuple(ks))
        wf = ctx.transpose(wf, [0, 2, 1] + [a + 1 for a in sp])
        wf = ctx.emit("ml.reshape", wf, shape=(groups * cg, m // groups) + tuple(ks))
    dx = ctx.emit("ml.conv", g, wf, pads=lo + hi, dilations=tuple(dil), group=groups)
    return ctx.refine(dx, x.type)


def _conv_input_grad(ctx: VJPContext, op: Operation, g: Value, x: Value, w: Value) -> Value:
    direct = _conv_input_grad_direct(ctx, op, g, x, w)
    if direct is not None:
        return direct
    n = ctx.rank(x) - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    ks = ctx.shape(w)[2:]
    xs, gs = ctx.shape(x)[2:], ctx.shape(g)[2:]
    opad, crop = [], False
    for i in range(n):
        if all(type(d) is int for d in (xs[i], gs[i], ks[i])):
            full = strides[i] * (gs[i] - 1) + (ks[i] - 1) * dil[i] + 1
            opad.append(xs[i] + pads[i] + pads[n + i] - full)
        else:  # size decided at run time: make it at least as large, then crop to x's size
            opad.append(strides[i] - 1)
            crop = crop or strides[i] > 1
    dx = ctx.emit("ml.conv_transpose", g, w, strides=tuple(strides), pads=tuple(pads),
                  dilations=tuple(dil), group=op.attr("group"), output_padding=tuple(opad))
    if crop:
        axes = list(range(2, n + 2))
        ends = ctx.emit("ml.slice", ctx.shape_of(x), starts=(2,), ends=(n + 2,))
        dx = ctx.emit("ml.slice_dynamic", dx, ctx.i64s([0] * n), ends, ctx.i64s(axes))
    return ctx.refine(dx, x.type)


def _conv_weight_grad(ctx: VJPContext, op: Operation, g: Value, x: Value, w: Value,
                      gt: Optional[Value] = None) -> Value:
    n = ctx.rank(x) - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    groups = op.attr("group")
    xs, ws = ctx.shape(x), ctx.shape(w)
    sp = list(range(2, n + 2))
    if groups == 1:
        xt = ctx.transpose(x, [1, 0] + sp)                      # (C, N, H...)
    else:
        c = xs[1]
        if type(c) is not int:
            raise ctx.fail("a grouped convolution's weight gradient needs a static channel dim")
        cg = c // groups
        split = _reshape(ctx, x, [(x, 0, 1), groups, cg] + [(x, a, 1) for a in sp])
        xt = ctx.transpose(split, [2, 1, 0] + [a + 1 for a in sp])  # (C/G, G, N, H...)
        xt = _reshape(ctx, xt, [cg, (x, 0, groups)] + [(x, a, 1) for a in sp])
    gt = gt if gt is not None else ctx.transpose(g, [1, 0] + sp)  # (M, N, o...)
    r = ctx.emit("ml.conv", xt, gt, strides=tuple(dil), pads=tuple(pads),
                 dilations=tuple(strides), group=groups)        # (C/G, M, k'...)
    dw = ctx.transpose(r, [1, 0] + sp)
    ks = ws[2:]
    if ctx.shape(dw)[2:] != tuple(ks):
        if not all(type(k) is int for k in ks):
            raise ctx.fail(f"the weight gradient needs a static kernel shape, got {w.type}")
        dw = ctx.emit("ml.slice", dw, starts=(0,) * n, ends=tuple(ks), axes=tuple(sp))
    return ctx.refine(dw, w.type)


def _reshape(ctx: VJPContext, v: Value, spec: Sequence[Any]) -> Value:
    """Reshape to `spec`: ints, or `(src, axis, factor)` for factor * dim `axis` of `src`."""
    dims: List[Any] = []
    for s in spec:
        if isinstance(s, tuple):
            src, axis, k = s
            d = ctx.shape(src)[axis]
            dims.append(d * k if type(d) is int else s)
        else:
            dims.append(s)
    unknown = [d for d in dims if type(d) is not int]
    if len(unknown) <= 1:
        return ctx.reshape(v, [d if type(d) is int else None for d in dims])
    parts: List[Any] = []
    for d in dims:
        if type(d) is int:
            parts.append(d)
        else:
            src, axis, k = d
            part = ctx.dim(src, axis)
            parts.append(part if k == 1 else ctx.mul(part, ctx.i64s([k])))
    return ctx.reshape(v, parts)


@vjp("ml.conv")
def _conv(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("x", "w", "b?"))
    x, w, b = grp["x"], grp["w"], grp["b"]
    sp = _spatial_axes(ctx, g)
    # dw reads g as (M, N, o...); db then sums that copy along contiguous rows
    gt = ctx.transpose(g, [1, 0] + list(sp)) if ctx.wants(w) else None
    out = [_conv_input_grad(ctx, op, g, x, w) if ctx.wants(x) else None,
           _conv_weight_grad(ctx, op, g, x, w, gt) if ctx.wants(w) else None]
    if b is not None and ctx.wants(b):
        out.append(ctx.emit("ml.reduce_sum", g, axes=(0,) + sp, keepdims=False) if gt is None
                   else ctx.emit("ml.reduce_sum", gt, axes=(1,) + sp, keepdims=False))
    elif b is not None:
        out.append(None)
    return out


@vjp("ml.conv_transpose")
def _conv_transpose(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """conv_transpose(., w) is the adjoint of conv(., w): dx = conv(g, w), and dw is conv's
    weight gradient with the roles of input and output swapped."""
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("x", "w", "b?"))
    x, w, b = grp["x"], grp["w"], grp["b"]
    n = ctx.rank(x) - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    out: list = [None, None]
    if ctx.wants(x):
        dx = ctx.emit("ml.conv", g, w, strides=tuple(strides), pads=tuple(pads),
                      dilations=tuple(dil), group=op.attr("group"))
        out[0] = ctx.refine(dx, x.type)
    if ctx.wants(w):
        out[1] = _conv_weight_grad(ctx, op, x, g, w)
    if b is not None:
        out.append(ctx.emit("ml.reduce_sum", g, axes=(0,) + _spatial_axes(ctx, g),
                            keepdims=False) if ctx.wants(b) else None)
    return out


# -- pooling --------------------------------------------------------------------------------
def _pool_geometry(ctx: VJPContext, op: Operation, x: Value, y: Value) -> tuple:
    ks = tuple(op.attr("kernel_shape"))
    n = len(ks)
    strides, pads, dil = spatial_params(op.attributes, n)
    xs = _static_spatial(ctx, x, "the pooled input")
    ys: tuple = tuple(window_out_dim(xs[i], ks[i], strides[i], pads[i], pads[n + i], dil[i],
                              op.attr("ceil_mode")) for i in range(n))
    extra = tuple(max(0, (ys[i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1
                      - (xs[i] + pads[i] + pads[n + i])) for i in range(n))
    return ks, strides, pads, dil, xs, ys, extra


@vjp("ml.max_pool")
def _max_pool(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """Route each cotangent to the first maximum of its window, without a scatter: the argmax
    over the window offsets picks one offset per window. When the windows tile the input
    (stride = kernel, no dilation) the input is viewed as (N, C, y0, k0, y1, k1, ...), where
    the mask `argmax == offset` and the cotangent broadcast, so dx is one compare and one
    select (reshapes are views). Otherwise each offset's masked cotangent is put back at its
    strided positions (a zero-interleaving reshape + pad) and the offsets are summed."""
    g, x, y = cots[0], op.operands[0], op.result
    ks, strides, pads, dil, xs, ys, extra = _pool_geometry(ctx, op, x, y)
    n = len(ks)
    el = x.type.element
    widths = (0, 0) + tuple(pads[:n]) + (0, 0) + tuple(pads[n + i] + extra[i] for i in range(n))
    xp = x if not any(widths) else ctx.emit(
        "ml.pad", x, ctx.const(np.finfo(el.np_dtype).min, el), pads=widths)
    padded = tuple(xs[i] + pads[i] + pads[n + i] + extra[i] for i in range(n))
    sp = tuple(range(2, n + 2))
    nk = int(np.prod(ks, dtype=np.int64))
    if all(strides[i] == ks[i] and dil[i] == 1 for i in range(n)):
        cover = tuple(ys[i] * ks[i] for i in range(n))
        v = xp if cover == padded else \
            ctx.emit("ml.slice", xp, starts=(0,) * n, ends=cover, axes=sp)
        v = ctx.emit("ml.reshape", v, shape=(0, 0) + sum(((ys[i], ks[i]) for i in range(n)), ()))
        perm = (0, 1) + tuple(2 + 2 * i for i in range(n)) + tuple(3 + 2 * i for i in range(n))
        stacked = ctx.emit("ml.reshape", ctx.transpose(v, perm), shape=(0, 0) + ys + (nk,))
        which = ctx.emit("ml.argmax", stacked, axis=n + 2, keepdims=False)   # (N, C, y...)
        split = (0, 0) + sum(((ys[i], 1) for i in range(n)), ())
        offs = np.arange(nk, dtype=np.int64).reshape(
            sum(((ks[i], 1) for i in range(n)), ())[:-1] if n > 1 else ks)  # (k0, 1, k1, ..)
        mask = ctx.emit("ml.equal", ctx.emit("ml.reshape", which, shape=split),
                        ctx.const(offs, which.type.element))    # (N, C, y0, k0, y1, k1, ..)
        routed = ctx.select(mask, ctx.emit("ml.reshape", g, shape=split))
        full = ctx.emit("ml.reshape", routed, shape=(0, 0) + cover)
        return [ctx.refine(_place(ctx, full, cover, (0,) * n, pads, xs), x.type)]
    views = []
    for off in np.ndindex(*ks):
        starts = tuple(o * d for o, d in zip(off, dil))
        ends = tuple(s + st * (o - 1) + 1 for s, st, o in zip(starts, strides, ys))
        v = ctx.emit("ml.slice", xp, starts=starts, ends=ends, axes=sp, steps=tuple(strides))
        views.append(ctx.emit("ml.unsqueeze", v, axes=(n + 2,)))
    stacked = views[0] if len(views) == 1 else ctx.emit("ml.concat", *views, axis=n + 2)
    which = ctx.emit("ml.argmax", stacked, axis=n + 2, keepdims=True)
    mask = ctx.emit("ml.equal", which, ctx.i64s(list(range(nk))))
    routed = ctx.select(mask, ctx.emit("ml.unsqueeze", g, axes=(n + 2,)))  # (N, C, y..., K)
    dx = None
    for j, off in enumerate(np.ndindex(*ks)):
        part = ctx.emit("ml.slice", routed, starts=(j,), ends=(j + 1,), axes=(n + 2,))
        part = ctx.emit("ml.squeeze", part, axes=(n + 2,))
        if any(s > 1 for s in strides):  # interleave stride-1 zeros after each element
            part = ctx.emit("ml.unsqueeze", part, axes=tuple(3 + 2 * i for i in range(n)))
            part = ctx.emit("ml.pad", part, pads=(0,) * (2 * n + 2) + (0, 0) + sum(
                ((0, strides[i] - 1) for i in range(n)), ()))
            part = ctx.emit("ml.reshape", part,
                            shape=(0, 0) + tuple(ys[i] * strides[i] for i in range(n)))
        size = tuple(ys[i] * strides[i] for i in range(n))
        start = tuple(o * d for o, d in zip(off, dil))
        placed = _place(ctx, part, size, start, pads, xs)
        dx = placed if dx is None else ctx.add(dx, placed)
    assert dx is not None  # a window has at least one offset
    return [ctx.refine(dx, x.type)]


def _place(ctx: VJPContext, v: Value, size: tuple, start: tuple, pads: Sequence[int],
           xs: tuple) -> Value:
    """The window [pads, pads + xs) of a zero canvas (the padded input) holding `v` (of
    spatial `size`) at `start`: crops with a slice, fills with a zero pad."""
    n = len(size)
    lo = [start[i] - pads[i] for i in range(n)]           # where v starts in the window
    crop_s = [max(0, -lo[i]) for i in range(n)]
    crop_e = [min(size[i], xs[i] - lo[i]) for i in range(n)]
    if crop_s != [0] * n or crop_e != list(size):
        v = ctx.emit("ml.slice", v, starts=tuple(crop_s), ends=tuple(crop_e),
                     axes=tuple(range(2, n + 2)))
    before = [max(0, lo[i]) for i in range(n)]
    after = [xs[i] - before[i] - (crop_e[i] - crop_s[i]) for i in range(n)]
    if any(before) or any(after):
        v = ctx.emit("ml.pad", v, pads=(0, 0) + tuple(before) + (0, 0) + tuple(after))
    return v


@vjp("ml.avg_pool")
def _avg_pool(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """Spread each cotangent / window count evenly over its window (a transposed convolution
    with a ones kernel, run per channel)."""
    from mlir_lite.ir.interpreter.ml_nn import pool_windows

    g, x, y = cots[0], op.operands[0], op.result
    ks, strides, pads, dil, xs, ys, extra = _pool_geometry(ctx, op, x, y)
    n = len(ks)
    _, count = pool_windows(op, np.zeros((1, 1) + xs), 0.0, op.attr("count_include_pad"))
    el = x.type.element
    gc = ctx.div(g, ctx.const(count, el))
    gc = ctx.emit("ml.reshape", gc, shape=(-1, 1) + ys)
    opad, end_pads = [], []
    for i in range(n):
        full = strides[i] * (ys[i] - 1) + (ks[i] - 1) * dil[i] + 1
        room = xs[i] + pads[i] + pads[n + i]
        opad.append(max(0, room - full))
        end_pads.append(pads[n + i] + max(0, full - room))
    ones = ctx.const(1.0, el, (1, 1) + ks)
    dx = ctx.emit("ml.conv_transpose", gc, ones, strides=tuple(strides),
                  pads=tuple(pads[:n]) + tuple(end_pads), dilations=tuple(dil),
                  output_padding=tuple(opad))
    return [ctx.reshape_like(dx, x)]


@vjp("ml.global_avg_pool")
def _global_avg_pool(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    x = op.operands[0]
    g = ctx.div(cots[0], ctx.count(x, _spatial_axes(ctx, x)))
    return [ctx.broadcast_like(g, x)]


@vjp("ml.global_max_pool")
def _global_max_pool(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    from .reduce import extremum_grad
    x = op.operands[0]
    return [extremum_grad(ctx, x, op.result, cots[0], _spatial_axes(ctx, x))]


# -- softmax family -------------------------------------------------------------------------
@vjp("ml.softmax")
def _softmax(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, y = cots[0], op.result
    axis = norm_axis(op.attr("axis"), ctx.rank(y))
    s = ctx.emit("ml.reduce_sum", ctx.mul(g, y), axes=(axis,), keepdims=True)
    return [ctx.mul(y, ctx.sub(g, s))]


@vjp("ml.log_softmax")
def _log_softmax(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, y = cots[0], op.result
    axis = norm_axis(op.attr("axis"), ctx.rank(y))
    s = ctx.emit("ml.reduce_sum", g, axes=(axis,), keepdims=True)
    return [ctx.sub(g, ctx.mul(ctx.emit("ml.exp", y), s))]


# -- normalizations -------------------------------------------------------------------------
def _normalized(ctx: VJPContext, x: Value, axes: tuple, eps: float) -> tuple:
    """(xhat, rstd) of x normalized over `axes` (keepdims)."""
    mu = ctx.emit("ml.reduce_mean", x, axes=axes, keepdims=True)
    xc = ctx.sub(x, mu)
    var = ctx.emit("ml.reduce_mean", ctx.mul(xc, xc), axes=axes, keepdims=True)
    rstd = ctx.emit("ml.rsqrt", ctx.add(var, ctx.scalar(eps, x)))
    return ctx.mul(xc, rstd), rstd


def _normalize_grad(ctx: VJPContext, gs: Value, xhat: Value, rstd: Value, axes: tuple) -> Value:
    """d/dx of xhat given gs = the cotangent of xhat."""
    m1 = ctx.emit("ml.reduce_mean", gs, axes=axes, keepdims=True)
    m2 = ctx.emit("ml.reduce_mean", ctx.mul(gs, xhat), axes=axes, keepdims=True)
    return ctx.mul(rstd, ctx.sub(ctx.sub(gs, m1), ctx.mul(xhat, m2)))


@vjp("ml.layer_norm")
def _layer_norm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("x", "scale", "bias?"))
    x, scale, bias = grp["x"], grp["scale"], grp["bias"]
    r = ctx.rank(x)
    axes = tuple(range(norm_axis(op.attr("axis"), r), r))
    xhat, rstd = _normalized(ctx, x, axes, op.attr("epsilon"))
    out = [_normalize_grad(ctx, ctx.mul(g, scale), xhat, rstd, axes) if ctx.wants(x) else None,
           ctx.unbroadcast(ctx.mul(g, xhat), scale) if ctx.wants(scale) else None]
    if bias is not None:
        out.append(ctx.unbroadcast(g, bias) if ctx.wants(bias) else None)
    return out


@vjp("ml.rms_norm")
def _rms_norm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    x, scale = op.operands
    r = ctx.rank(x)
    axes = tuple(range(norm_axis(op.attr("axis"), r), r))
    ms = ctx.emit("ml.reduce_mean", ctx.mul(x, x), axes=axes, keepdims=True)
    rr = ctx.emit("ml.rsqrt", ctx.add(ms, ctx.scalar(op.attr("epsilon"), x)))
    out: list = [None, None]
    if ctx.wants(x):
        gs = ctx.mul(g, scale)
        m = ctx.emit("ml.reduce_mean", ctx.mul(gs, x), axes=axes, keepdims=True)
        r3 = ctx.mul(rr, ctx.mul(rr, rr))
        out[0] = ctx.sub(ctx.mul(rr, gs), ctx.mul(x, ctx.mul(r3, m)))
    if ctx.wants(scale):
        out[1] = ctx.unbroadcast(ctx.mul(g, ctx.mul(x, rr)), scale)
    return out


def _per_channel(ctx: VJPContext, v: Value, rank: int) -> Value:
    return v if rank <= 2 else ctx.emit("ml.unsqueeze", v, axes=tuple(range(1, rank - 1)))


@vjp("ml.batch_norm")
def _batch_norm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """Inference batch norm: mean and var are inputs, so each output depends on one input."""
    g = cots[0]
    x, scale, bias, mean, var = op.operands
    r = ctx.rank(x)
    red = (0,) + tuple(range(2, r))
    rstd = ctx.emit("ml.rsqrt", ctx.add(var, ctx.scalar(op.attr("epsilon"), var)))
    xc = ctx.sub(x, _per_channel(ctx, mean, r))

    def total(v: Value) -> Value:
        return ctx.emit("ml.reduce_sum", v, axes=red, keepdims=False)

    out: list = [None] * 5
    if ctx.wants(x):
        out[0] = ctx.mul(g, _per_channel(ctx, ctx.mul(scale, rstd), r))
    if ctx.wants(scale):
        out[1] = ctx.mul(total(ctx.mul(g, xc)), rstd)
    if ctx.wants(bias):
        out[2] = total(g)
    if ctx.wants(mean):
        out[3] = ctx.neg(ctx.mul(total(g), ctx.mul(scale, rstd)))
    if ctx.wants(var):
        r3 = ctx.mul(rstd, ctx.mul(rstd, rstd))
        out[4] = ctx.mul(total(ctx.mul(g, xc)), ctx.scale(ctx.mul(scale, r3), -0.5))
    return out


@vjp("ml.instance_norm")
def _instance_norm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    x, scale, bias = op.operands
    r = ctx.rank(x)
    axes = tuple(range(2, r))
    xhat, rstd = _normalized(ctx, x, axes, op.attr("epsilon"))
    red = (0,) + axes

    def total(v: Value) -> Value:
        return ctx.emit("ml.reduce_sum", v, axes=red, keepdims=False)

    gs = ctx.mul(g, _per_channel(ctx, scale, r))
    return [_normalize_grad(ctx, gs, xhat, rstd, axes) if ctx.wants(x) else None,
            total(ctx.mul(g, xhat)) if ctx.wants(scale) else None,
            total(g) if ctx.wants(bias) else None]


@vjp("ml.group_norm")
def _group_norm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    x, scale, bias = op.operands
    r = ctx.rank(x)
    ng = op.attr("num_groups")
    xg = ctx.emit("ml.reshape", x, shape=(0, ng, -1))
    xhat_g, rstd = _normalized(ctx, xg, (2,), op.attr("epsilon"))
    xhat = ctx.reshape_like(xhat_g, x)
    red = (0,) + tuple(range(2, r))

    def total(v: Value) -> Value:
        return ctx.emit("ml.reduce_sum", v, axes=red, keepdims=False)

    out: list = [None,
                 total(ctx.mul(g, xhat)) if ctx.wants(scale) else None,
                 total(g) if ctx.wants(bias) else None]
    if ctx.wants(x):
        gs = ctx.emit("ml.reshape", ctx.mul(g, _per_channel(ctx, scale, r)), shape=(0, ng, -1))
        out[0] = ctx.reshape_like(_normalize_grad(ctx, gs, xhat_g, rstd, (2,)), x)
    return out


@vjp("ml.nll_loss")
def _nll_loss(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """d input[n, c, d...] = -[c == target] * weight[target] * (g, or g / sum of the weights for
    reduction=mean); targets equal to ignore_index get nothing."""
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("input", "target", "weight?"))
    x, t, w = grp["input"], grp["target"], grp["weight"]
    if w is not None and ctx.wants(w):
        raise ctx.fail("the gradient with respect to the class weights is not supported")
    c = ctx.shape(x)[1]
    if type(c) is not int:
        raise ctx.fail(f"the gradient needs a static class dim, got {x.type}")
    el = x.type.element
    if t.type.element != i64:
        t = ctx.emit("ml.cast", t, to=i64)
    ignore = op.attr("ignore_index")
    keep = None
    if ignore is not None:
        keep = ctx.emit("ml.not", ctx.emit("ml.equal", t, ctx.i64s(ignore)))
        t = ctx.emit("ml.where", keep, t, ctx.i64s(0))
    weight = ctx.emit("ml.gather", w, t, axis=0) if w is not None else None
    if keep is not None:
        kf = ctx.emit("ml.cast", keep, to=el)
        weight = kf if weight is None else ctx.mul(weight, kf)
    red = op.attr("reduction")
    coef = ctx.neg(g)
    if red == "mean":
        total = ctx.count(t, list(range(ctx.rank(t))), el) if weight is None else \
            ctx.emit("ml.reduce_sum", weight, keepdims=False)
        coef = ctx.div(coef, total)
    if weight is not None:
        coef = ctx.mul(coef, weight)
    hot = ctx.emit("ml.one_hot", t, ctx.const([0.0, 1.0], el), depth=c, axis=1)
    if ctx.rank(coef) == ctx.rank(t) and ctx.rank(t) > 0:
        coef = ctx.emit("ml.unsqueeze", coef, axes=(1,))
    return [ctx.refine(ctx.mul(hot, coef), x.type), None, None][:op.num_operands]
