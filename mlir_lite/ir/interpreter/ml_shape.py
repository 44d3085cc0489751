"""Interpreter rules for the shape and data-movement ops of `ml` (see dialects/ml/shape.py).

Each rule follows ONNX semantics in numpy. Values that the IR only knows at run time (dynamic
shapes, slice bounds) are checked here and rejected with ExecutionError naming the op.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.dialects.ml._shape_infer import norm_axes, norm_axis, slice_len
from mlir_lite.ir.dialects.ml.shape import (
    pad_widths,
    reshape_target,
    resize_output,
    shape_range,
    split_sizes,
)
from mlir_lite.ir.interpreter.rules import rule

__all__: List[str] = []


def _fail(op: Any, msg: str) -> ExecutionError:
    return ExecutionError(f"{op.name}: {msg}", op.loc)


def _ints(op: Any, arr: np.ndarray, what: str) -> tuple:
    a = np.asarray(arr)
    if a.ndim > 1:
        raise _fail(op, f"{what} must be 1-D, got shape {a.shape}")
    return tuple(int(v) for v in a.reshape(-1))


def _reshape(op: Any, x: np.ndarray, shape: tuple) -> np.ndarray:
    try:
        target = reshape_target(tuple(x.shape), shape, op.attr("allowzero"))
        return x.reshape(target)
    except ValueError as e:
        raise _fail(op, f"cannot reshape {tuple(x.shape)} to {shape}: {e}") from None


@rule("ml.reshape")
def _reshape_rule(op: Any, x: np.ndarray) -> np.ndarray:
    return _reshape(op, x, tuple(op.attr("shape")))


@rule("ml.reshape_dynamic")
def _reshape_dynamic_rule(op: Any, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return _reshape(op, x, _ints(op, shape, "shape"))


@rule("ml.transpose")
def _transpose(op: Any, x: np.ndarray) -> np.ndarray:
    return np.transpose(x, op.attr("perm"))


@rule("ml.squeeze")
def _squeeze(op: Any, x: np.ndarray) -> np.ndarray:
    axes = op.attr("axes")
    if axes is None:
        return np.squeeze(x)
    ax = norm_axes(axes, x.ndim)
    for a in ax:
        if x.shape[a] != 1:
            raise _fail(op, f"cannot squeeze axis {a} of size {x.shape[a]}")
    return np.squeeze(x, axis=tuple(ax))


@rule("ml.unsqueeze")
def _unsqueeze(op: Any, x: np.ndarray) -> np.ndarray:
    r = x.ndim + len(op.attr("axes"))
    return np.expand_dims(x, tuple(norm_axes(op.attr("axes"), r)))


@rule("ml.flatten")
def _flatten(op: Any, x: np.ndarray) -> np.ndarray:
    axis = op.attr("axis")
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@rule("ml.concat")
def _concat(op: Any, *xs: np.ndarray) -> np.ndarray:
    try:
        return np.concatenate(xs, axis=op.attr("axis"))
    except ValueError as e:
        raise _fail(op, str(e)) from None


@rule("ml.split")
def _split(op: Any, x: np.ndarray) -> List[np.ndarray]:
    axis = norm_axis(op.attr("axis"), x.ndim)
    try:
        sizes = split_sizes(x.shape[axis], op.attr("split"), op.attr("num_outputs"))
    except ValueError as e:
        raise _fail(op, str(e)) from None
    return np.split(x, np.cumsum(sizes)[:-1].tolist(), axis=axis)


def _slice(op: Any, x: np.ndarray, starts: Sequence[int], ends: Sequence[int],
           axes: Optional[Sequence[int]], steps: Optional[Sequence[int]]) -> np.ndarray:
    if axes is None:
        axes = range(len(starts))
    if steps is None:
        steps = [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _fail(op, "starts, ends, axes and steps must have equal lengths")
    try:
        ax = norm_axes(axes, x.ndim)
    except ValueError as e:
        raise _fail(op, str(e)) from None
    index: List[Any] = [slice(None)] * x.ndim
    for a, s, en, st in zip(ax, starts, ends, steps):
        if st == 0:
            raise _fail(op, f"step 0 on axis {a}")
        s, en, _ = slice_len(x.shape[a], s, en, st)
        index[a] = slice(s, None if en < 0 else en, st)
    return x[tuple(index)]


@rule("ml.slice")
def _slice_rule(op: Any, x: np.ndarray) -> np.ndarray:
    return _slice(op, x, op.attr("starts"), op.attr("ends"), op.attr("axes"), op.attr("steps"))


@rule("ml.slice_dynamic")
def _slice_dynamic_rule(op: Any, x: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        *rest: np.ndarray) -> np.ndarray:
    groups = op.operand_groups()
    it = iter(rest)
    axes = _ints(op, next(it), "axes") if groups["axes"] else None
    steps = _ints(op, next(it), "steps") if groups["steps"] else None
    return _slice(op, x, _ints(op, starts, "starts"), _ints(op, ends, "ends"), axes, steps)


@rule("ml.pad")
def _pad(op: Any, x: np.ndarray, value: Optional[np.ndarray] = None) -> np.ndarray:
    widths = pad_widths(x.ndim, op.attr("pads"), op.attr("axes"))
    crop = tuple(slice(-b if b < 0 else 0, x.shape[i] + e if e < 0 else None)
                 for i, (b, e) in enumerate(widths))
    if any(b < 0 or e < 0 for b, e in widths):
        x = x[crop]
    pos = [(max(b, 0), max(e, 0)) for b, e in widths]
    mode = op.attr("mode")
    if mode == "constant":
        cv = 0 if value is None else np.asarray(value).reshape(-1)[0]
        return np.pad(x, pos, mode="constant", constant_values=cv)
    if any(p > 0 for w in pos for p in w) and any(
            x.shape[i] == 0 for i, w in enumerate(pos) if w != (0, 0)):
        raise _fail(op, f"mode {mode!r} cannot pad an empty axis")
    return np.pad(x, pos, mode=mode)


def _expand(op: Any, x: np.ndarray, shape: tuple) -> np.ndarray:
    try:
        return np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)).copy()
    except ValueError:
        raise _fail(op, f"cannot broadcast {tuple(x.shape)} with {shape}") from None


@rule("ml.expand")
def _expand_rule(op: Any, x: np.ndarray) -> np.ndarray:
    return _expand(op, x, tuple(op.attr("shape")))


@rule("ml.expand_dynamic")
def _expand_dynamic_rule(op: Any, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    s = _ints(op, shape, "shape")
    if any(d < 0 for d in s):
        raise _fail(op, f"shape {s} has negative dims")
    return _expand(op, x, s)


@rule("ml.tile")
def _tile(op: Any, x: np.ndarray) -> np.ndarray:
    return np.tile(x, op.attr("repeats"))


@rule("ml.shape")
def _shape(op: Any, x: np.ndarray) -> np.ndarray:
    s, e = shape_range(x.ndim, op.attr("start"), op.attr("end"))
    return np.array(x.shape[s:e], dtype=np.int64)


@rule("ml.size")
def _size(op: Any, x: np.ndarray) -> np.ndarray:
    return np.array(x.size, dtype=np.int64)


@rule("ml.range")
def _range(op: Any, start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    s, lim, d = (np.asarray(v).reshape(-1)[0] for v in (start, limit, delta))
    if d == 0:
        raise _fail(op, "delta is 0")
    n = max(int(np.ceil((float(lim) - float(s)) / float(d))), 0)
    dtype = np.asarray(start).dtype
    return (s + np.arange(n, dtype=dtype) * d).astype(dtype)


def _cos_fill(op: Any) -> np.ndarray:
    v = op.attr("value")
    return np.zeros((), np.float32) if v is None else v.array.reshape(-1)[0]


@rule("ml.constant_of_shape")
def _constant_of_shape(op: Any) -> np.ndarray:
    fill = _cos_fill(op)
    return np.full(op.attr("shape"), fill, dtype=np.asarray(fill).dtype)


@rule("ml.constant_of_shape_dynamic")
def _constant_of_shape_dynamic(op: Any, shape: np.ndarray) -> np.ndarray:
    s = _ints(op, shape, "shape")
    if any(d < 0 for d in s):
        raise _fail(op, f"shape {s} has negative dims")
    fill = _cos_fill(op)
    return np.full(s, fill, dtype=np.asarray(fill).dtype)


@rule("ml.depth_to_space")
def _depth_to_space(op: Any, x: np.ndarray) -> np.ndarray:
    b = op.attr("blocksize")
    n, c, h, w = x.shape
    c2 = c // (b * b)
    if op.attr("mode") == "DCR":
        t = x.reshape(n, b, b, c2, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c2, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c2, h * b, w * b)


@rule("ml.space_to_depth")
def _space_to_depth(op: Any, x: np.ndarray) -> np.ndarray:
    b = op.attr("blocksize")
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b)
    # DCR: channel = (by * b + bx) * C + c; CRD: channel = c * b * b + by * b + bx
    t = t.transpose(0, 1, 3, 5, 2, 4) if op.attr("mode") == "CRD" else t.transpose(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


@rule("ml.eye_like")
def _eye_like(op: Any, x: np.ndarray) -> np.ndarray:
    el = op.attr("dtype")
    dtype = x.dtype if el is None else el.np_dtype
    return np.eye(x.shape[0], x.shape[1], k=op.attr("k"), dtype=dtype)


# -- resize -----------------------------------------------------------------------------------

def _source_coords(mode: str, y: np.ndarray, scale: float, w_in: int, w_out: int,
                   roi: Optional[tuple]) -> np.ndarray:
    """Output pixel indices -> input coordinates (ONNX coordinate_transformation_mode)."""
    w_scaled = scale * w_in  # ONNX's length_resized before rounding
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = (w_in / 2) * (1 - w_out / w_scaled)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if w_scaled != 1 else np.full_like(y, -0.5)
    if mode == "align_corners":
        return y * (w_in - 1) / (w_scaled - 1) if w_scaled != 1 else np.zeros_like(y)
    if mode == "asymmetric":
        return y / scale
    assert roi is not None  # tf_crop_and_resize; the verifier requires roi
    lo, hi = roi
    if w_scaled == 1:
        return np.full_like(y, (hi - lo) * (w_in - 1) / 2 + lo * (w_in - 1))
    return y * (hi - lo) * (w_in - 1) / (w_scaled - 1) + lo * (w_in - 1)


def _cubic_weight(d: np.ndarray, a: float) -> np.ndarray:
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _antialias_taps(mode: str, p: np.ndarray, ratio: np.ndarray, scale: float,
                    a: float) -> tuple:
    """Taps and weights of antialiased linear / cubic resize, as ONNX's reference: when
    downsampling, the filter is stretched by 1 / scale (so more input pixels contribute) and
    its weights divided by their sum."""
    s = min(scale, 1.0)
    start = int(math.floor(-(1.0 if mode == "linear" else 2.0) / s) + 1)
    offs = np.arange(start, 2 - start)
    args = (offs[None, :] - ratio[:, None]) * s
    if mode == "linear":
        w = np.clip(1 - np.abs(args), 0, 1)
    else:
        d = np.abs(args)
        d2 = d * d
        d3 = d * d2
        w = np.where(d <= 1, (a + 2) * d3 - (a + 3) * d2 + 1,
                     np.where(d < 2, a * d3 - 5 * a * d2 + 8 * a * d - 4 * a, 0.0))
    return p[:, None] + offs[None, :], w / w.sum(axis=1, keepdims=True)


def _resize_axis(op: Any, x: np.ndarray, axis: int, scale: float, w_out: int,
                 roi: Optional[tuple]) -> np.ndarray:
    w_in = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = w_out
    if w_out == 0:
        return np.empty(shape, x.dtype)
    ctm = op.attr("coordinate_transformation_mode")
    src = _source_coords(ctm, np.arange(w_out, dtype=np.float64), scale, w_in, w_out, roi)
    # The "left" pixel p and the ratio in (0, 1]: an exact integer coordinate counts as ratio 1
    # from the pixel before it, as in ONNX's reference.
    fl = np.floor(src)
    exact = src == fl
    p = np.where(exact, fl - 1, fl).astype(np.int64)
    ratio = np.where(exact, 1.0, src - fl)
    mode = op.attr("mode")
    if mode == "nearest":
        nm = op.attr("nearest_mode")
        if nm == "round_prefer_floor":
            right = ratio > 0.5
        elif nm == "round_prefer_ceil":
            right = ratio >= 0.5
        elif nm == "floor":
            right = exact
        else:
            right = np.ones_like(exact)
        taps = (p + right)[:, None]
        weights = np.ones((w_out, 1))
    elif op.attr("antialias"):
        taps, weights = _antialias_taps(mode, p, ratio, scale, op.attr("cubic_coeff_a"))
    elif mode == "linear":
        taps = p[:, None] + np.arange(2)[None, :]
        weights = np.stack([1 - ratio, ratio], axis=1)
    else:
        taps = p[:, None] + np.arange(-1, 3)[None, :]
        weights = _cubic_weight(taps - src[:, None], op.attr("cubic_coeff_a"))
    if op.attr("exclude_outside") and (mode == "cubic" or op.attr("antialias")):
        weights = np.where((taps < 0) | (taps >= w_in), 0.0, weights)
        total = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(total == 0, 1.0, total)
    taps = np.clip(taps, 0, w_in - 1)
    gathered = np.take(x, taps, axis=axis)  # axis -> (w_out, n_taps)
    wshape = (1,) * axis + weights.shape + (1,) * (x.ndim - axis - 1)
    out = (gathered * weights.reshape(wshape)).sum(axis=axis + 1)
    if ctm == "tf_crop_and_resize":
        outside = (src < 0) | (src > w_in - 1)
        mshape = (1,) * axis + (w_out,) + (1,) * (x.ndim - axis - 1)
        out = np.where(outside.reshape(mshape), op.attr("extrapolation_value"), out)
    return out


@rule("ml.resize")
def _resize(op: Any, x: np.ndarray) -> np.ndarray:
    attrs = {k: op.attr(k) for k in op.ATTRS}
    axes, scales, out_shape = resize_output(tuple(x.shape), attrs)
    if scales is None:
        scales = [out_shape[a] / x.shape[a] if x.shape[a] else 1.0 for a in axes]
    roi = op.attr("roi")
    y = x.astype(np.float64)
    for i, (axis, scale) in enumerate(zip(axes, scales)):
        axis_roi = None if roi is None else (roi[i], roi[len(axes) + i])
        if (math.isclose(scale, 1.0) and out_shape[axis] == x.shape[axis]
                and (axis_roi is None or axis_roi == (0.0, 1.0))):
            continue
        y = _resize_axis(op, y, axis, scale, out_shape[axis], axis_roi)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        return np.clip(np.round(y), info.min, info.max).astype(x.dtype)
    return y.astype(x.dtype)
