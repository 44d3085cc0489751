"""Interpreter rules for neural-network `ml` ops: conv, pooling, normalization, softmax.

Window ops loop over kernel offsets and are vectorised over everything else (a strided slice of
the padded input per offset), so they stay usable on real model sizes.
"""
from __future__ import annotations

import itertools
from typing import List, Sequence, Tuple

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import (
    norm_axis,
    operand_groups,
    spatial_params,
    window_out_dim,
)
from mlir_lite.ir.interpreter.ml_math import upcast
from mlir_lite.ir.interpreter.rules import rule

__all__ = ["pool_windows"]


def _offset_slices(off: Sequence[int], strides: Sequence[int], dil: Sequence[int],
                   out: Sequence[int]) -> Tuple[slice, ...]:
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(off, strides, dil, out))


@rule("ml.conv")
def _conv(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "w", "b?"))
    x, w = upcast(g["x"]), upcast(g["w"])
    n = x.ndim - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    groups = op.attr("group")
    nb, c = x.shape[:2]
    m, ks = w.shape[0], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[n + i]) for i in range(n)])
    out = [window_out_dim(x.shape[2 + i], ks[i], strides[i], pads[i], pads[n + i], dil[i])
           for i in range(n)]
    cg, mg, p = c // groups, m // groups, int(np.prod(out))
    xg = xp.reshape((nb, groups, cg) + xp.shape[2:])
    wg = w.reshape((groups, mg, cg) + tuple(ks))
    acc = np.zeros((nb, groups, p, mg), dtype=np.result_type(x, w))
    for off in itertools.product(*(range(k) for k in ks)):
        patch = xg[(slice(None),) * 3 + _offset_slices(off, strides, dil, out)]
        patch = patch.reshape(nb, groups, cg, p).transpose(0, 1, 3, 2)
        acc += patch @ wg[(slice(None),) * 3 + off].transpose(0, 2, 1)
    y = acc.transpose(0, 1, 3, 2).reshape((nb, m) + tuple(out))
    if g["b"] is not None:
        y = y + upcast(g["b"]).reshape((1, m) + (1,) * n)
    return y


@rule("ml.conv_nchwc")
def _conv_nchwc(op: Operation, x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> np.ndarray:
    """The NCHW convolution of the unblocked input, blocked (dialects/ml/layout.py)."""
    ib, ob = op.attr("in_block"), op.attr("out_block")
    if ib:
        n, cb, hh, ww, _ = x.shape
        x = x.transpose(0, 1, 4, 2, 3).reshape(n, cb * ib, hh, ww)
    y = _conv(op, x, w, *b)
    n, m, oh, ow = y.shape
    return np.ascontiguousarray(y.reshape(n, m // ob, ob, oh, ow).transpose(0, 1, 3, 4, 2))


@rule("ml.conv_transpose")
def _conv_transpose(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "w", "b?"))
    x, w = upcast(g["x"]), upcast(g["w"])
    n = x.ndim - 2
    strides, pads, dil = spatial_params(op.attributes, n)
    opad = op.attr("output_padding") or (0,) * n
    groups = op.attr("group")
    nb, c = x.shape[:2]
    ins = x.shape[2:]
    ks = w.shape[2:]
    cg, mg = c // groups, w.shape[1]
    full = [(ins[i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1 + opad[i] for i in range(n)]
    y = np.zeros((nb, groups, mg) + tuple(full), dtype=np.result_type(x, w))
    p = int(np.prod(ins))
    xg = x.reshape(nb, groups, cg, p).transpose(0, 1, 3, 2)
    wg = w.reshape((groups, cg, mg) + tuple(ks))
    for off in itertools.product(*(range(k) for k in ks)):
        contrib = xg @ wg[(slice(None),) * 3 + off]  # (nb, groups, p, mg)
        contrib = contrib.transpose(0, 1, 3, 2).reshape((nb, groups, mg) + tuple(ins))
        y[(slice(None),) * 3 + _offset_slices(off, strides, dil, ins)] += contrib
    crop = tuple(slice(pads[i], full[i] - pads[n + i]) for i in range(n))
    y = y[(slice(None),) * 3 + crop].reshape((nb, groups * mg) + tuple(
        full[i] - pads[i] - pads[n + i] for i in range(n)))
    if g["b"] is not None:
        y = y + upcast(g["b"]).reshape((1, -1) + (1,) * n)
    return y


def pool_windows(op: Operation, x: np.ndarray, fill: float,
                 count_pad: bool = False) -> Tuple[List[np.ndarray], np.ndarray]:
    """The strided views of `x` (padded with `fill`) for each kernel offset of a pool op, and
    the number of elements each output averages over (padding counted when `count_pad`, never
    the extra end padding that ceil_mode needs)."""
    ks = op.attr("kernel_shape")
    n = len(ks)
    strides, pads, dil = spatial_params(op.attributes, n)
    ceil = op.attr("ceil_mode")
    sp = x.shape[2:]
    out = [window_out_dim(sp[i], ks[i], strides[i], pads[i], pads[n + i], dil[i], ceil)
           for i in range(n)]
    extra = [max(0, (out[i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1
                 - (sp[i] + pads[i] + pads[n + i])) for i in range(n)]
    widths = [(pads[i], pads[n + i] + extra[i]) for i in range(n)]
    xp = np.pad(x, [(0, 0), (0, 0)] + widths, constant_values=fill)
    mask = np.pad(np.ones(sp, np.float64), [(pads[i], pads[n + i]) for i in range(n)],
                  constant_values=1.0 if count_pad else 0.0)
    mask = np.pad(mask, [(0, e) for e in extra])
    views, count = [], np.zeros(out, np.float64)
    for off in itertools.product(*(range(k) for k in ks)):
        sl = _offset_slices(off, strides, dil, out)
        views.append(xp[(slice(None), slice(None)) + sl])
        count += mask[sl]
    return views, count


def _lowest(dtype: np.dtype) -> float:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


@rule("ml.max_pool")
def _max_pool(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    views, _ = pool_windows(op, x, _lowest(x.dtype))
    return np.maximum.reduce(views) if len(views) > 1 else views[0].copy()


@rule("ml.max_pool_indices")
def _max_pool_indices(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    sp = x.shape[2:]
    flat = np.arange(int(np.prod(sp)), dtype=np.int64).reshape(sp)
    if op.attr("storage_order"):
        flat = np.arange(flat.size, dtype=np.int64).reshape(sp[::-1]).T
    nc = np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape(x.shape[:2] + (1,) * len(sp))
    where = np.broadcast_to(nc * flat.size + flat, x.shape)
    views, _ = pool_windows(op, x, _lowest(x.dtype))
    places, _ = pool_windows(op, where, -1)
    v, i = np.stack(views), np.stack(places)
    best = np.where(i >= 0, v, _lowest(x.dtype)).max(axis=0)
    first = np.argmax((i >= 0) & (v == best), axis=0)  # the first maximum in window order
    return np.take_along_axis(i, first[None], axis=0)[0]


@rule("ml.avg_pool")
def _avg_pool(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    views, count = pool_windows(op, x, 0.0, op.attr("count_include_pad"))
    return (np.add.reduce(views) / count).astype(x.dtype)


@rule("ml.lp_pool")
def _lp_pool(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    p = op.attr("p")
    views, _ = pool_windows(op, x, 0.0)
    return np.add.reduce([np.abs(v) ** p for v in views]) ** (1.0 / p)


def _spatial(x: np.ndarray) -> Tuple[int, ...]:
    return tuple(range(2, x.ndim))


rule("ml.global_avg_pool")(lambda op, x: np.mean(upcast(x), axis=_spatial(x), keepdims=True))
rule("ml.global_max_pool")(lambda op, x: np.max(upcast(x), axis=_spatial(x), keepdims=True))


@rule("ml.global_lp_pool")
def _global_lp_pool(op: Operation, x: np.ndarray) -> np.ndarray:
    x, p = upcast(x), op.attr("p")
    return np.sum(np.abs(x) ** p, axis=_spatial(x), keepdims=True) ** (1.0 / p)


# -- normalization ---------------------------------------------------------------------------
def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return upcast(v).reshape((1, -1) + (1,) * (ndim - 2))


def _normalize(x: np.ndarray, axes: Tuple[int, ...], eps: float) -> np.ndarray:
    mean = np.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = np.mean(d * d, axis=axes, keepdims=True)
    return d / np.sqrt(var + np.asarray(eps, x.dtype))


@rule("ml.batch_norm")
def _batch_norm(op: Operation, x: np.ndarray, scale: np.ndarray, bias: np.ndarray,
                mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    x = upcast(x)
    k = x.ndim
    eps = np.asarray(op.attr("epsilon"), x.dtype)
    return ((x - _per_channel(mean, k)) / np.sqrt(_per_channel(var, k) + eps)
            * _per_channel(scale, k) + _per_channel(bias, k))


@rule("ml.instance_norm")
def _instance_norm(op: Operation, x: np.ndarray, scale: np.ndarray,
                   bias: np.ndarray) -> np.ndarray:
    x = upcast(x)
    y = _normalize(x, _spatial(x), op.attr("epsilon"))
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@rule("ml.group_norm")
def _group_norm(op: Operation, x: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    x = upcast(x)
    ng = op.attr("num_groups")
    xg = x.reshape((x.shape[0], ng, -1))
    y = _normalize(xg, (2,), op.attr("epsilon")).reshape(x.shape)
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@rule("ml.layer_norm")
def _layer_norm(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "scale", "bias?"))
    x = upcast(g["x"])
    axis = norm_axis(op.attr("axis"), x.ndim)
    y = _normalize(x, tuple(range(axis, x.ndim)), op.attr("epsilon")) * upcast(g["scale"])
    return y + upcast(g["bias"]) if g["bias"] is not None else y


@rule("ml.rms_norm")
def _rms_norm(op: Operation, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    x = upcast(x)
    axis = norm_axis(op.attr("axis"), x.ndim)
    ms = np.mean(x * x, axis=tuple(range(axis, x.ndim)), keepdims=True)
    return x / np.sqrt(ms + np.asarray(op.attr("epsilon"), x.dtype)) * upcast(scale)


@rule("ml.lrn")
def _lrn(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    size = op.attr("size")
    c = x.shape[1]
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.pad(x * x, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
    acc = np.zeros_like(x)
    for k in range(size):
        acc += sq[:, k:k + c]
    dt = x.dtype
    base = (np.asarray(op.attr("bias"), dt) + np.asarray(op.attr("alpha") / size, dt) * acc)
    return x / base ** np.asarray(op.attr("beta"), dt)


@rule("ml.softmax")
def _softmax(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    axis = norm_axis(op.attr("axis"), x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@rule("ml.log_softmax")
def _log_softmax(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    axis = norm_axis(op.attr("axis"), x.ndim)
    d = x - np.max(x, axis=axis, keepdims=True)
    return d - np.log(np.sum(np.exp(d), axis=axis, keepdims=True))


@rule("ml.hardmax")
def _hardmax(op: Operation, x: np.ndarray) -> np.ndarray:
    axis = norm_axis(op.attr("axis"), x.ndim)
    idx = np.expand_dims(np.argmax(upcast(x), axis=axis), axis)
    y = np.zeros(x.shape, x.dtype)
    np.put_along_axis(y, idx, 1, axis=axis)
    return y


rule("ml.dropout")(lambda op, x: x)


@rule("ml.nll_loss")
def _nll_loss(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("input", "target", "weight?"))
    x, target = upcast(g["input"]), np.asarray(g["target"]).astype(np.int64)
    n, c = x.shape[:2]
    ignore = op.attr("ignore_index")
    keep = np.ones(target.shape, bool) if ignore is None else target != ignore
    bad = keep & ((target < 0) | (target >= c))
    if np.any(bad):
        raise ExecutionError(f"ml.nll_loss: target {int(target[bad][0])} is out of range for "
                             f"{c} classes", op.loc)
    safe = np.where(keep, target, 0)
    picked = np.take_along_axis(x.reshape(n, c, -1), safe.reshape(n, 1, -1), axis=1)
    loss = np.where(keep, -picked.reshape(target.shape), 0).astype(x.dtype)
    if g["weight"] is not None:
        w = np.where(keep, upcast(g["weight"])[safe], 0).astype(x.dtype)
    else:
        w = keep.astype(x.dtype)
    loss = loss * w
    red = op.attr("reduction")
    if red == "sum":
        return np.sum(loss)
    if red == "mean":
        return np.sum(loss) / np.sum(w)
    return loss


def grid_reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect `x` at the borders [lo, hi] until it lies within (ONNX GridSample)."""
    rng = hi - lo
    if rng <= 0:
        return np.full_like(x, lo)
    dx = np.where(x < lo, lo - x, x - hi)
    k = np.trunc(dx / rng)
    r = dx - k * rng
    even = np.mod(k, 2) == 0
    below = np.where(even, lo + r, hi - r)
    above = np.where(even, hi - r, lo + r)
    return np.where(x < lo, below, np.where(x > hi, above, x))


def _cubic_weights(t: np.ndarray) -> List[np.ndarray]:
    a = -0.75
    x = [t + 1, t, 1 - t, 2 - t]
    return [((a * x[0] - 5 * a) * x[0] + 8 * a) * x[0] - 4 * a,
            ((a + 2) * x[1] - (a + 3)) * x[1] * x[1] + 1,
            ((a + 2) * x[2] - (a + 3)) * x[2] * x[2] + 1,
            ((a * x[3] - 5 * a) * x[3] + 8 * a) * x[3] - 4 * a]


@rule("ml.grid_sample")
def _grid_sample(op: Operation, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    dt = upcast(x).dtype
    xv, g = x.astype(np.float64), grid.astype(np.float64)
    dims = x.shape[2:]
    nd = len(dims)
    mode, pad, align = op.attr("mode"), op.attr("padding_mode"), op.attr("align_corners")
    taps: List[Tuple[List[np.ndarray], List[np.ndarray]]] = []  # per dim: indices, weights
    for d, size in enumerate(dims):
        v = g[..., nd - 1 - d]
        c = (v + 1) / 2 * (size - 1) if align else ((v + 1) * size - 1) / 2
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if mode == "nearest":
            c = np.rint(c)
        if mode == "cubic":
            pass  # padding applies to each of its taps only (as onnxruntime and PyTorch)
        elif pad == "border":
            c = np.where((c < lo) | (c > hi), np.clip(c, 0, size - 1), c)
        elif pad == "reflection":
            c = grid_reflect(c, lo, hi)
        if mode == "nearest":
            taps.append(([np.trunc(c)], [np.ones_like(c)]))
        elif mode == "linear":
            f = np.floor(c)
            taps.append(([f, f + 1], [1 - (c - f), c - f]))
        else:
            f = np.floor(c)
            taps.append(([f - 1, f, f + 1, f + 2], _cubic_weights(c - f)))
    out = np.zeros((x.shape[0],) + g.shape[1:-1] + (x.shape[1],))
    nidx = np.arange(x.shape[0]).reshape((-1,) + (1,) * (g.ndim - 2))
    for combo in itertools.product(*(range(len(t[0])) for t in taps)):
        w = np.ones(g.shape[:-1])
        ok = np.ones(g.shape[:-1], bool)
        idx = []
        for d, k in enumerate(combo):
            i, size = taps[d][0][k], dims[d]
            w = w * taps[d][1][k]
            if pad == "zeros":
                ok &= (i >= 0) & (i < size)
            elif pad == "border":
                i = np.clip(i, 0, size - 1)
            else:
                lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
                i = np.trunc(grid_reflect(i, lo, hi))
            idx.append(np.clip(i, 0, size - 1).astype(np.int64))
        vals = np.moveaxis(xv, 1, -1)[(nidx,) + tuple(idx)]  # (N, out..., C)
        out += np.where(ok, w, 0.0)[..., None] * vals
    return np.moveaxis(out, -1, 1).astype(dt)
