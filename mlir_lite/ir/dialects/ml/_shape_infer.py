"""Dim arithmetic shared by the shape and indexing ops of the `ml` dialect.

A dim is an `int` (static), a `str` (a symbol) or `None` (unknown). These helpers keep a symbol
where the arithmetic leaves it unchanged (`N * 1`, `N + 0`) and give `None` where the result
cannot be computed statically. Invalid inputs raise ValueError / TypeError, which op
declarations turn into InferenceError naming the op.
"""
from __future__ import annotations

from typing import Any, List, Sequence, overload

from mlir_lite.ir import dim_expr
from mlir_lite.ir.types import Dim, ElementType, TensorType, Type

__all__ = [
    "INT_MAX", "tensor_of", "norm_axis", "norm_axes", "dim_mul", "dim_add", "dim_product",
    "merge_dims", "slice_len", "check_int_tensor",
]

# ONNX writes "to the end" as INT64_MAX (and older exporters as INT32_MAX).
INT_MAX = 2**31 - 1


def tensor_of(t: Type, what: str = "operand") -> TensorType:
    if not isinstance(t, TensorType):
        raise TypeError(f"{what} must be a tensor, got {t}")
    return t


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    """`axis` in [-rank, rank) as a non-negative int."""
    if not -rank <= axis < rank:
        raise ValueError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def norm_axes(axes: Sequence[int], rank: int, what: str = "axes") -> List[int]:
    """Normalise axes; duplicates are an error."""
    out = [norm_axis(a, rank, what[:-1] if what.endswith("s") else what) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{what} {tuple(axes)} repeat an axis")
    return out


def dim_mul(a: Dim, b: Dim) -> Dim:
    if a == 0 or b == 0:
        return 0
    if type(a) is int and type(b) is int:
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    return dim_expr.mul(a, b)  # a symbolic product (12*N), or None with an unknown factor


def dim_add(a: Dim, b: Dim) -> Dim:
    if type(a) is int and type(b) is int:
        return a + b
    if a == 0:
        return b
    if b == 0:
        return a
    return dim_expr.add(a, b)


@overload
def dim_product(dims: Sequence[int]) -> int: ...
@overload
def dim_product(dims: Sequence[Dim]) -> Dim: ...
def dim_product(dims: Sequence[Dim]) -> Dim:
    """The product of dims: static when all are, a symbol when it is the only non-1 factor."""
    out: Dim = 1
    for d in dims:
        if d == 0:
            return 0
    for d in dims:
        out = dim_mul(out, d)
    return out


def merge_dims(a: Dim, b: Dim, what: str = "dims") -> Dim:
    """Two dims that must be equal at run time: the most precise of them."""
    if type(a) is int and type(b) is int:
        if a != b:
            raise ValueError(f"{what} differ: {a} vs {b}")
        return a
    if type(a) is int:
        return a
    if type(b) is int:
        return b
    return a if a is not None else b


def slice_len(d: int, start: int, end: int, step: int) -> tuple:
    """ONNX Slice on a static dim: (clamped start, clamped end, length)."""
    if start < 0:
        start += d
    if end < 0:
        end += d
    if step > 0:
        start = min(max(start, 0), d)
        end = min(max(end, 0), d)
        n = max(0, (end - start + step - 1) // step)
    else:
        start = min(max(start, 0), d - 1)
        end = min(max(end, -1), d - 1)
        n = max(0, (start - end + (-step) - 1) // (-step))
    return start, end, n


def check_int_tensor(t: Any, what: str) -> TensorType:
    t = tensor_of(t, what)
    if not (isinstance(t.element, ElementType) and t.element.is_int):
        raise TypeError(f"{what} must have an integer element type, got {t}")
    return t
