"""Element types under the names the DSLs use (`tf.float32`, `torch`-like strings, numpy dtypes).

The dtypes *are* mlir-lite element types (`tf.float32 is mlir_lite.f32`); `as_dtype` accepts
any spelling and `default_dtype` picks one for Python data (floats -> f32, as both TF and
PyTorch do; ints -> i64 (i32 for TF constants is not worth the surprise); bools -> i1).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mlir_lite.ir.types import (
    ElementType,
    bf16,
    element_type,
    element_type_from_numpy,
    f16,
    f32,
    f64,
    i1,
    i8,
    i16,
    i32,
    i64,
    u8,
)

__all__ = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "bool_", "as_dtype", "default_dtype", "to_numpy_dtype"]

float16, bfloat16, float32, float64 = f16, bf16, f32, f64
int8, int16, int32, int64, uint8 = i8, i16, i32, i64, u8
bool_ = i1

_ALIASES = {"float": f32, "float16": f16, "half": f16, "bfloat16": bf16, "float32": f32,
            "float64": f64, "double": f64, "int": i64, "int8": i8, "int16": i16, "int32": i32,
            "int64": i64, "long": i64, "uint8": u8, "bool": i1}


def as_dtype(d: Any) -> ElementType:
    """An element type from an ElementType, a name (`"float32"`, `"f32"`), a numpy dtype or a
    Python type (`float`, `int`, `bool`)."""
    if isinstance(d, ElementType):
        return d
    if d is float:
        return f32
    if d is int:
        return i64
    if d is bool:
        return i1
    if isinstance(d, str):
        if d in _ALIASES:
            return _ALIASES[d]
        try:
            return element_type(d)
        except KeyError:
            pass
    try:
        return element_type_from_numpy(np.dtype(d))
    except TypeError:
        raise TypeError(f"{d!r} is not a dtype (use e.g. float32, 'float32' or np.float32)") \
            from None


def default_dtype(data: Any) -> ElementType:
    """The element type that Python/numpy `data` gets when no dtype is given."""
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.ndarray):
        return f32
    if arr.dtype.kind == "f" and isinstance(data, np.ndarray):
        return element_type_from_numpy(arr.dtype)
    if arr.dtype.kind == "f":
        return f32
    if arr.dtype.kind == "b":
        return i1
    if arr.dtype.kind in "iu":
        return element_type_from_numpy(arr.dtype) if isinstance(data, np.ndarray) else i64
    return element_type_from_numpy(arr.dtype)


def to_numpy_dtype(d: Any) -> np.dtype:
    return as_dtype(d).np_dtype
