"""Interpreter rules for elementwise, linear-algebra and reduction `ml` ops (numpy).

f16/bf16 operands are computed in f32; the engine casts every result back to the op's declared
element type, so rules may let numpy promote.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Optional, Tuple

import ml_dtypes
import numpy as np

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axes, norm_axis, operand_groups
from mlir_lite.ir.dialects.ml.linalg import parse_einsum
from mlir_lite.ir.dialects.ml.math import ACTIVATION_ATTRS
from mlir_lite.ir.interpreter.rules import rule

__all__ = ["upcast", "erf", "sigmoid", "softplus", "reduce_axes"]

_NARROW_FLOATS = {np.dtype(t) for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz,
                                         ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz,
                                         ml_dtypes.float4_e2m1fn)}
_LOW_FLOATS = (np.dtype(np.float16), np.dtype("bfloat16"), *_NARROW_FLOATS)


def upcast(x: np.ndarray) -> np.ndarray:
    """f16/bf16/f8/f4 arrays as f32 (numpy's kernels for them are slow or missing); others as
    is."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype in _LOW_FLOATS else x


_erf64 = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    return np.asarray(_erf64(x.astype(np.float64))).astype(np.float64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    return np.exp(-np.logaddexp(np.zeros((), x.dtype), -x))


def softplus(x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    return np.logaddexp(np.zeros((), x.dtype), x)


@rule("ml.constant")
def _constant(op: Operation) -> np.ndarray:
    return op.attributes["value"].array


# -- binary --------------------------------------------------------------------------------------
def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero (C, ONNX), not numpy's floor."""
    q = np.floor_divide(a, b)
    r = a - q * b
    return q + ((r != 0) & ((a < 0) != (b < 0))).astype(q.dtype)


@rule("ml.div")
def _div(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = upcast(a), upcast(b)
    if a.dtype.kind in "iu":
        return _int_div(a, b)
    return np.divide(a, b)


def _binary(fn: Any) -> Any:
    return lambda op, a, b: fn(upcast(a), upcast(b))


for _name, _fn in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                   ("bitwise_xor", np.bitwise_xor), ("logical_and", np.logical_and),
                   ("logical_or", np.logical_or), ("logical_xor", np.logical_xor),
                   ("equal", np.equal), ("less", np.less), ("less_equal", np.less_equal),
                   ("greater", np.greater), ("greater_equal", np.greater_equal)):
    rule(f"ml.{_name}")(_binary(_fn))


@rule("ml.pow")
def _pow(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = upcast(a), upcast(b)
    if a.dtype.kind in "iu" and b.dtype.kind == "f":
        return np.power(a.astype(np.float64), b)
    if a.dtype.kind == "f" and b.dtype.kind in "iu":
        return np.power(a, b.astype(a.dtype))
    return np.power(a, b)


@rule("ml.mod")
def _mod(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = upcast(a), upcast(b)
    return np.fmod(a, b) if op.attr("fmod") else np.mod(a, b)


@rule("ml.bit_shift")
def _bit_shift(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    b = b.astype(a.dtype)
    return np.left_shift(a, b) if op.attr("direction") == "LEFT" else np.right_shift(a, b)


def _variadic(fn: Any) -> Any:
    return lambda op, *xs: functools.reduce(fn, [upcast(x) for x in xs])


rule("ml.sum")(_variadic(np.add))
rule("ml.max")(_variadic(np.maximum))
rule("ml.min")(_variadic(np.minimum))


@rule("ml.mean")
def _mean(op: Operation, *xs: np.ndarray) -> np.ndarray:
    return functools.reduce(np.add, [upcast(x) for x in xs]) / len(xs)


# -- unary ---------------------------------------------------------------------------------------
def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    c = np.asarray(math.sqrt(2.0 / math.pi), x.dtype)
    return 0.5 * x * (1.0 + np.tanh(c * (x + np.asarray(0.044715, x.dtype) * x ** 3)))


_UNARY = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "reciprocal": lambda x: 1 / x, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "sigmoid": sigmoid, "erf": erf, "floor": np.floor, "ceil": np.ceil, "round": np.round,
    "softplus": softplus, "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "mish": lambda x: x * np.tanh(softplus(x)),
    "neg": np.negative, "abs": np.abs, "sign": np.sign,
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "identity": lambda x: x, "isnan": np.isnan,
}


def _unary(fn: Any) -> Any:
    return lambda op, x: fn(upcast(x))


for _name, _unary_fn in _UNARY.items():
    rule(f"ml.{_name}")(_unary(_unary_fn))


@rule("ml.not")
def _not(op: Operation, x: np.ndarray) -> np.ndarray:
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)


@rule("ml.isinf")
def _isinf(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    neg, pos = op.attr("detect_negative"), op.attr("detect_positive")
    return np.isinf(x) & (((x < 0) & neg) | ((x > 0) & pos))


@rule("ml.gelu")
def _gelu(op: Operation, x: np.ndarray) -> np.ndarray:
    x = upcast(x)
    if op.attr("approximate") == "tanh":
        return _gelu_tanh(x)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _activation(name: str, x: np.ndarray, a: float, b: float) -> np.ndarray:
    zero = np.zeros((), x.dtype)
    if name == "leaky_relu":
        return np.where(x >= 0, x, a * x)
    if name == "elu":
        return np.where(x >= 0, x, a * np.expm1(np.minimum(x, zero)))
    if name == "celu":
        return np.maximum(zero, x) + np.minimum(zero, a * np.expm1(np.minimum(x, zero) / a))
    if name == "selu":
        return b * np.where(x > 0, x, a * np.expm1(np.minimum(x, zero)))
    if name == "hard_sigmoid":
        return np.clip(a * x + b, 0, 1)
    if name == "thresholded_relu":
        return np.where(x > a, x, zero)
    raise KeyError(name)


def _param_activation(name: str) -> Any:
    keys = list(ACTIVATION_ATTRS[name])

    def fn(op: Operation, x: np.ndarray) -> np.ndarray:
        x = upcast(x)
        vals = [op.attr(k) for k in keys] + [0.0]
        return _activation(name, x, vals[0], vals[1])
    return fn


for _name in ACTIVATION_ATTRS:
    rule(f"ml.{_name}")(_param_activation(_name))


@rule("ml.prelu")
def _prelu(op: Operation, x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    x, slope = upcast(x), upcast(slope)
    return np.where(x < 0, slope * x, x)


@rule("ml.clip")
def _clip(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "min?", "max?"))
    y = upcast(g["x"])
    if g["min"] is not None:
        y = np.maximum(y, upcast(g["min"]))
    if g["max"] is not None:
        y = np.minimum(y, upcast(g["max"]))
    return y


@rule("ml.where")
def _where(op: Operation, c: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(c, x, y)


@rule("ml.cast")
def _cast(op: Operation, x: np.ndarray) -> np.ndarray:
    to = op.attr("to").np_dtype
    if to.kind in "iu" and (x.dtype.kind == "f" or x.dtype in _LOW_FLOATS):
        x = np.trunc(upcast(x))
    if to in _NARROW_FLOATS:
        if x.dtype.kind != "f":
            x = upcast(x).astype(np.float32)
        if op.attr("saturate"):
            m = float(ml_dtypes.finfo(to).max)
            x = np.clip(x, -m, m)  # inf clamps too; NaN stays NaN
    elif x.dtype in _NARROW_FLOATS and to.kind not in "f":
        x = x.astype(np.float32)
    return x.astype(to)


# -- linear algebra -------------------------------------------------------------------------------
@rule("ml.matmul")
def _matmul(op: Operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(upcast(a), upcast(b))


@rule("ml.gemm")
def _gemm(op: Operation, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("a", "b", "c?"))
    a, b = upcast(g["a"]), upcast(g["b"])
    if op.attr("trans_a"):
        a = a.T
    if op.attr("trans_b"):
        b = b.T
    y = np.asarray(op.attr("alpha"), a.dtype) * (a @ b)
    if g["c"] is not None:
        y = y + np.asarray(op.attr("beta"), a.dtype) * upcast(g["c"])
    return y


@rule("ml.det")
def _det(op: Operation, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.det(upcast(x)), dtype=upcast(x).dtype)


@rule("ml.einsum")
def _einsum(op: Operation, *xs: np.ndarray) -> np.ndarray:
    terms, out, _ = parse_einsum(op.attr("equation"), [x.ndim for x in xs])
    return np.einsum(",".join(terms) + "->" + out, *[upcast(x) for x in xs])


# -- reductions -----------------------------------------------------------------------------------
def reduce_axes(op: Operation, rank: int) -> Optional[Tuple[int, ...]]:
    """The axes an `ml.reduce_*` op reduces: a tuple, `None` for all, `()` for none."""
    axes = op.attr("axes")
    if not axes:
        return () if op.attr("noop_with_empty_axes") else None
    return norm_axes(axes, rank)


def _identity_of(dtype: np.dtype, high: bool) -> Any:
    """The identity of max (high=False) or min (high=True) for `dtype`: what an empty
    reduction gives (ONNX: -inf / +inf, the integer limits, False / True)."""
    if dtype.kind == "b":
        return high
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.max if high else info.min
    return np.inf if high else -np.inf


def _extreme(fn: Any, high: bool) -> Any:
    def apply(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
        if x.size == 0:
            return fn(x, axis=axis, keepdims=keepdims, initial=_identity_of(x.dtype, high))
        return fn(x, axis=axis, keepdims=keepdims)
    return apply


def _log_sum_exp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    m = _extreme(np.max, False)(x, axis, True)
    m = np.where(np.isfinite(m), m, np.zeros((), x.dtype))
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


_REDUCE = {
    "reduce_sum": lambda x, ax, k: np.sum(x, axis=ax, keepdims=k),
    "reduce_mean": lambda x, ax, k: np.mean(x, axis=ax, keepdims=k),
    "reduce_max": _extreme(np.max, False),
    "reduce_min": _extreme(np.min, True),
    "reduce_prod": lambda x, ax, k: np.prod(x, axis=ax, keepdims=k),
    "reduce_l1": lambda x, ax, k: np.sum(np.abs(x), axis=ax, keepdims=k),
    "reduce_l2": lambda x, ax, k: np.sqrt(np.sum(x * x, axis=ax, keepdims=k)),
    "reduce_log_sum": lambda x, ax, k: np.log(np.sum(x, axis=ax, keepdims=k)),
    "reduce_log_sum_exp": _log_sum_exp,
    "reduce_sum_square": lambda x, ax, k: np.sum(x * x, axis=ax, keepdims=k),
    "reduce_any": lambda x, ax, k: np.any(x, axis=ax, keepdims=k),
}


def _reduce(fn: Any) -> Any:
    def apply(op: Operation, x: np.ndarray) -> np.ndarray:
        x = upcast(x)
        axes = reduce_axes(op, x.ndim)
        if axes == ():
            return x
        if axes is None:
            axes = tuple(range(x.ndim))
        return fn(x, axes, op.attr("keepdims"))
    return apply


def _reduce_dynamic(fn: Any) -> Any:
    def apply(op: Operation, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
        x = upcast(x)
        ax = tuple(int(a) for a in np.asarray(axes).ravel())
        if not ax:
            if op.attr("noop_with_empty_axes"):
                return x
            ax = tuple(range(x.ndim))
        return fn(x, norm_axes(ax, x.ndim), op.attr("keepdims"))
    return apply


for _name, _fn in _REDUCE.items():
    rule(f"ml.{_name}")(_reduce(_fn))
    rule(f"ml.{_name}_dynamic")(_reduce_dynamic(_fn))


def _arg(fn: Any) -> Any:
    def apply(op: Operation, x: np.ndarray) -> np.ndarray:
        x = upcast(x)
        axis = norm_axis(op.attr("axis"), x.ndim)
        if op.attr("select_last_index"):
            idx = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
        else:
            idx = fn(x, axis=axis)
        return np.expand_dims(idx, axis) if op.attr("keepdims") else idx
    return apply


rule("ml.argmax")(_arg(np.argmax))
rule("ml.argmin")(_arg(np.argmin))


def _cumulative(fn: Any, identity: int) -> Any:
    def apply(op: Operation, x: np.ndarray) -> np.ndarray:
        x = upcast(x)
        axis = norm_axis(op.attr("axis"), x.ndim)
        if op.attr("reverse"):
            x = np.flip(x, axis)
        y = fn(x, axis=axis, dtype=x.dtype)
        if op.attr("exclusive"):
            shifted = np.full_like(y, identity)
            dst, src = [slice(None)] * x.ndim, [slice(None)] * x.ndim
            dst[axis], src[axis] = slice(1, None), slice(0, -1)
            shifted[tuple(dst)] = y[tuple(src)]
            y = shifted
        return np.flip(y, axis) if op.attr("reverse") else y
    return apply


rule("ml.cumsum")(_cumulative(np.cumsum, 0))
rule("ml.cumprod")(_cumulative(np.cumprod, 1))


@rule("ml.bitcast")
def _bitcast(op: Operation, x: np.ndarray) -> np.ndarray:
    to = op.attr("to").np_dtype
    y = np.ascontiguousarray(x).reshape(-1).view(to).reshape(np.shape(x))
    if to == np.bool_:
        y = y != 0  # any non-zero byte is true
    return y
