"""Shared type-inference helpers of the `ml` dialect.

INFER functions take `(operand_types, attrs_with_defaults)` and return result types; they raise
`TypeError`/`ValueError` with a plain message, which `define_op` turns into an `InferenceError`.
Dims follow `mlir_lite.ir.types`: an `int` is static, a `str` a symbol, `None` unknown. A symbol
survives where a dim passes through unchanged; arithmetic on a non-static dim gives `None`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, overload

from mlir_lite.ir import dim_expr
from mlir_lite.ir.types import Dim, ElementType, TensorType, Type, broadcast_shapes, i1

__all__ = [
    "as_tensor", "same_as", "broadcast_infer", "norm_axis", "norm_axes", "reduce_shape",
    "window_out_dim", "spatial_params", "operand_groups", "require_float", "require_int",
    "require_element", "dims_equal_or_unknown", "dim_mul", "check_same_element",
]


def as_tensor(t: Type, what: str = "operand") -> TensorType:
    """`t` as a tensor type; a TypeError for anything else."""
    if not isinstance(t, TensorType):
        raise TypeError(f"{what} must be a tensor, got {t}")
    return t


def require_float(t: TensorType, what: str = "operand") -> None:
    if not t.element.is_float:
        raise TypeError(f"{what} must have a float element type, got {t.element}")


def require_int(t: TensorType, what: str = "operand", allow_bool: bool = False) -> None:
    if not (t.element.is_int or (allow_bool and t.element == i1)):
        raise TypeError(f"{what} must have an integer element type, got {t.element}")


def require_element(t: TensorType, element: ElementType, what: str = "operand") -> None:
    if t.element != element:
        raise TypeError(f"{what} must have element type {element}, got {t.element}")


def check_same_element(types: Sequence[TensorType]) -> ElementType:
    el = types[0].element
    for t in types[1:]:
        if t.element != el:
            raise TypeError(f"element types differ: {el} vs {t.element}")
    return el


def same_as(index: int = 0) -> Callable[[List[Type], Dict[str, Any]], List[Type]]:
    """INFER: the result has the type of operand `index`."""
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        return [as_tensor(types[index])]
    return infer


def broadcast_infer(types: Sequence[Type], element: Optional[ElementType] = None) -> TensorType:
    """Numpy broadcast of tensor operands of one element type; `element` overrides the result's."""
    ts = [as_tensor(t) for t in types]
    el = check_same_element(ts)
    return TensorType(element or el, broadcast_shapes(*(t.shape for t in ts)))


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    """`axis` in `[-rank, rank)` as a non-negative index; a ValueError otherwise."""
    if not -rank <= axis < rank:
        raise ValueError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def norm_axes(axes: Sequence[int], rank: int) -> Tuple[int, ...]:
    out = tuple(sorted(norm_axis(a, rank) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"axes {tuple(axes)} repeat an axis")
    return out


def reduce_shape(shape: Optional[tuple], axes: Sequence[int], keepdims: bool,
                 noop_with_empty_axes: bool = False) -> Optional[tuple]:
    """The shape after reducing `axes` (all when empty, unless `noop_with_empty_axes`)."""
    if shape is None:
        return None
    rank = len(shape)
    if not axes:
        if noop_with_empty_axes:
            return shape
        red = set(range(rank))
    else:
        red = set(norm_axes(axes, rank))
    if keepdims:
        return tuple(1 if i in red else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in red)


def dims_equal_or_unknown(a: Dim, b: Dim) -> bool:
    """False only when two static dims differ (symbols may stand for anything)."""
    return a == b or type(a) is not int or type(b) is not int


def dim_mul(a: Dim, b: Dim) -> Dim:
    return a * b if type(a) is int and type(b) is int else dim_expr.mul(a, b)


@overload
def window_out_dim(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                   dilation: int, ceil_mode: bool = False) -> int: ...
@overload
def window_out_dim(size: Dim, kernel: Dim, stride: int, pad_begin: int, pad_end: int,
                   dilation: int, ceil_mode: bool = False) -> Dim: ...
def window_out_dim(size: Dim, kernel: Dim, stride: int, pad_begin: int, pad_end: int,
                   dilation: int, ceil_mode: bool = False) -> Dim:
    """Output length of a sliding window (conv/pool); for a symbolic size an expression of it
    (`floor((H - 1)/2) + 1`), None when unknown.

    With `ceil_mode`, a last window that would start inside the end padding is dropped (ONNX,
    PyTorch). A symbolic size survives a window that preserves length (stride 1, "same" pads)."""
    if type(size) is not int or type(kernel) is not int:
        if type(size) is str and type(kernel) is int:
            if stride == 1 and pad_begin + pad_end == dilation * (kernel - 1):
                return size
            if not ceil_mode or stride == 1:
                span = dim_expr.add(size, pad_begin + pad_end - dilation * (kernel - 1) - 1)
                return dim_expr.add(dim_expr.floordiv(span, stride), 1)
        return None
    span = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(f"window of size {kernel} (dilation {dilation}) does not fit an input "
                         f"of size {size} with pads ({pad_begin}, {pad_end})")
    out = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def spatial_params(attrs: Dict[str, Any], n: int) -> Tuple[tuple, tuple, tuple]:
    """`(strides, pads, dilations)` of an n-d window op; empty attributes mean the defaults
    (ones, zeros, ones). Pads are `begin_1..begin_n, end_1..end_n` as in ONNX."""
    strides = tuple(attrs.get("strides") or (1,) * n)
    pads = tuple(attrs.get("pads") or (0,) * (2 * n))
    dilations = tuple(attrs.get("dilations") or (1,) * n)
    if len(strides) != n or len(dilations) != n or len(pads) != 2 * n:
        raise ValueError(f"strides {strides}, dilations {dilations} need {n} values and pads "
                         f"{pads} needs {2 * n} for {n} spatial dims")
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(p < 0 for p in pads):
        raise ValueError(f"strides/dilations must be >= 1 and pads >= 0, got {strides}, "
                         f"{dilations}, {pads}")
    return strides, pads, dilations


def operand_groups(items: Sequence[Any], attrs: Dict[str, Any],
                   specs: Sequence[str]) -> Dict[str, Any]:
    """Split flat operand types (or values) by the declared specs (`"bias?"`: optional); absent
    optional operands map to None. Uses `operandSegmentSizes` when present, else fills the
    optional operands from the front (as `define_op` does)."""
    seg = attrs.get("operandSegmentSizes")
    if seg is None:
        left = len(items)
        n_single = sum(1 for s in specs if not s.endswith("?"))
        spare = left - n_single
        if spare < 0:
            raise ValueError(f"expected at least {n_single} operands, got {left}")
        seg = []
        for s in specs:
            if s.endswith("?"):
                seg.append(1 if spare > 0 else 0)
                spare -= seg[-1]
            else:
                seg.append(1)
        if spare > 0:
            raise ValueError(f"expected at most {len(specs)} operands, got {len(items)}")
    if len(seg) != len(specs) or sum(seg) != len(items):
        raise ValueError(f"operandSegmentSizes {tuple(seg)} does not fit {len(items)} operands")
    out: Dict[str, Optional[Any]] = {}
    pos = 0
    for s, k in zip(specs, seg):
        if k not in (0, 1) or (k == 0 and not s.endswith("?")):
            raise ValueError(f"bad segment size {k} for operand {s!r}")
        out[s.rstrip("?")] = items[pos] if k else None
        pos += k
    return out
