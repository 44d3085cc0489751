"""Interpreter rules for the quantization ops (dialects/ml/quant.py), ONNX semantics."""
from __future__ import annotations

from typing import Any, Optional

import ml_dtypes
import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.dialects.ml._infer import operand_groups
from mlir_lite.ir.interpreter.ml_dynamic import AttrView
from mlir_lite.ir.interpreter.ml_math import upcast
from mlir_lite.ir.interpreter.ml_nn import _conv
from mlir_lite.ir.interpreter.rules import rule

__all__ = ["broadcast_param"]


def broadcast_param(op: Any, p: np.ndarray, x_shape: tuple) -> np.ndarray:
    """A scale or zero point shaped to broadcast against x: scalars as they are, 1-D along
    `axis`, blocked ones repeated `block_size` times along `axis`."""
    p = np.asarray(p)
    rank = len(x_shape)
    axis = op.attr("axis")
    axis = axis + rank if axis < 0 else axis
    block = op.attr("block_size")
    if p.ndim == 0 or p.size == 1 and block == 0:
        return p.reshape(())
    if not 0 <= axis < rank:
        raise ExecutionError(f"{op.name}: axis {op.attr('axis')} is out of range for rank "
                             f"{rank}", op.loc)
    if block == 0:
        if p.ndim != 1 or p.shape[0] != x_shape[axis]:
            raise ExecutionError(f"{op.name}: a per-axis parameter of shape {p.shape} does not "
                                 f"fit axis {axis} of shape {x_shape}", op.loc)
        return p.reshape((1,) * axis + (-1,) + (1,) * (rank - axis - 1))
    want = tuple(-(-d // block) if i == axis else d for i, d in enumerate(x_shape))
    if p.shape != want:
        raise ExecutionError(f"{op.name}: a blocked parameter of shape {p.shape} must be {want} "
                             f"for x of shape {x_shape} and block_size {block}", op.loc)
    return np.repeat(p, block, axis=axis)[tuple(slice(0, d) for d in x_shape)]


def _int_range(dtype: np.dtype) -> Optional[tuple]:
    try:
        info = ml_dtypes.iinfo(dtype)
    except (TypeError, ValueError):
        return None
    return int(info.min), int(info.max)


@rule("ml.quantize_linear")
def _quantize(op: Any, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "scale", "zero_point?"))
    x = np.asarray(g["x"])
    scale = broadcast_param(op, g["scale"], x.shape)
    to = op.attr("to").np_dtype
    y = upcast(x).astype(upcast(scale).dtype) / upcast(scale)
    zp = None if g["zero_point"] is None else broadcast_param(op, g["zero_point"], x.shape)
    rng = _int_range(to)
    if rng is not None:
        q = np.rint(y).astype(np.int64)
        if zp is not None:
            q = q + zp.astype(np.int64)
        return np.clip(q, rng[0], rng[1]).astype(to)
    if to == np.dtype(ml_dtypes.float4_e2m1fn):
        if zp is not None:
            y = y + upcast(zp)
        return y.astype(to)
    if op.attr("saturate"):
        m = float(ml_dtypes.finfo(to).max)
        y = np.clip(y, -m, m)
    return y.astype(to)


@rule("ml.dequantize_linear")
def _dequantize(op: Any, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "scale", "zero_point?"))
    x = np.asarray(g["x"])
    scale = broadcast_param(op, g["scale"], x.shape)
    xf = upcast(x).astype(np.float64) if _int_range(x.dtype) is None else x.astype(np.int64)
    if g["zero_point"] is not None:
        zp = broadcast_param(op, g["zero_point"], x.shape)
        xf = xf - (zp.astype(np.int64) if _int_range(zp.dtype) is not None
                   else upcast(zp).astype(np.float64))
    s = upcast(scale)
    return (xf.astype(s.dtype) * s).astype(np.asarray(g["scale"]).dtype)


def _centered(x: np.ndarray, zp: Optional[np.ndarray], shape: tuple) -> np.ndarray:
    v = np.asarray(x).astype(np.int32)
    if zp is not None:
        v = v - np.asarray(zp).astype(np.int32).reshape(shape)
    return v


@rule("ml.matmul_integer")
def _matmul_integer(op: Any, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("a", "b", "a_zero_point?", "b_zero_point?"))
    a, b = np.asarray(g["a"]), np.asarray(g["b"])
    azp, bzp = g["a_zero_point"], g["b_zero_point"]
    a_shape = (-1, 1) if azp is not None and np.asarray(azp).size > 1 else ()
    b_shape = (-1,) if bzp is not None and np.asarray(bzp).size > 1 else ()
    return np.matmul(_centered(a, azp, a_shape), _centered(b, bzp, b_shape))


@rule("ml.conv_integer")
def _conv_integer(op: Any, *vals: np.ndarray) -> np.ndarray:
    g = operand_groups(vals, op.attributes, ("x", "w", "x_zero_point?", "w_zero_point?"))
    x, w = np.asarray(g["x"]), np.asarray(g["w"])
    wzp = g["w_zero_point"]
    w_shape = ((-1,) + (1,) * (w.ndim - 1)) if wzp is not None and np.asarray(wzp).size > 1 else ()
    xc = _centered(x, g["x_zero_point"], ()).astype(np.int64)
    wc = _centered(w, wzp, w_shape).astype(np.int64)
    return _conv(AttrView(op, "ml.conv"), xc, wc).astype(np.int32)
