"""Reductions: `reduce_*` over an `axes` tuple, `argmax`/`argmin` (i64) and the cumulative
`cumsum`/`cumprod` (`CUMULATIVE_OPS`).

`axes=()` reduces every axis unless `noop_with_empty_axes` (then the op is the identity), as in
ONNX opset 18; ONNX's axes input becomes the attribute when it is a constant, else the
`reduce_*_dynamic` variant takes it as an operand.

    %s = "ml.reduce_sum"(%x) {axes = [1], keepdims = false} : (tensor<4x8xf32>) -> tensor<4xf32>
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.dialects.ml._infer import as_tensor, norm_axis, reduce_shape, require_float
from mlir_lite.ir.opdef import FUSION_ANCHOR, REDUCTION, Bool, Int, Ints, define_op
from mlir_lite.ir.types import TensorType, Type, i1, i64

__all__ = ["REDUCE_OPS", "FLOAT_REDUCE_OPS", "BOOL_REDUCE_OPS", "CUMULATIVE_OPS"]

REDUCE_OPS = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
              "reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp",
              "reduce_sum_square", "reduce_any")
FLOAT_REDUCE_OPS = ("reduce_mean", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp")
BOOL_REDUCE_OPS = ("reduce_any",)  # i1 in, i1 out (tf.reduce_any, torch.any)
# cumulative op -> what it accumulates (ONNX CumSum / CumProd)
CUMULATIVE_OPS = {"cumsum": "sum", "cumprod": "product"}


def _operand_kind(name: str) -> str:
    return "float" if name in FLOAT_REDUCE_OPS else "bool" if name in BOOL_REDUCE_OPS else \
        "numeric+bool" if name in ("reduce_max", "reduce_min") else "numeric"


def _check_operand(x: TensorType, kind: str) -> None:
    if kind == "float":
        require_float(x)
    elif kind == "bool" and x.element != i1:
        raise TypeError(f"operand must be i1, got {x.element}")
    elif kind == "numeric" and x.element == i1:
        raise TypeError("operand must be numeric, got i1")


def _reduce_infer(kind: str):
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        x = as_tensor(types[0])
        _check_operand(x, kind)
        return [x.with_shape(reduce_shape(x.shape, attrs["axes"], attrs["keepdims"],
                                          attrs["noop_with_empty_axes"]))]
    return infer


for _n in REDUCE_OPS:
    define_op(f"ml.{_n}", operands=["x"],
              attrs={"axes": Ints(()), "keepdims": Bool(True),
                     "noop_with_empty_axes": Bool(False)},
              traits=REDUCTION | FUSION_ANCHOR, infer=_reduce_infer(_operand_kind(_n)),
              doc=f"ONNX {_n}: reduce `axes` (all when empty)." if _n not in BOOL_REDUCE_OPS
              else f"{_n}: logical or of i1 over `axes` (all when empty; false when empty).")


def _reduce_dynamic_infer(kind: str):
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        x, axes = as_tensor(types[0]), as_tensor(types[1], "axes")
        _check_operand(x, kind)
        if axes.element != i64 or (axes.shape is not None and len(axes.shape) != 1):
            raise TypeError(f"axes must be a 1-D i64 tensor, got {axes}")
        if x.shape is None or axes.shape is None or type(axes.shape[0]) is not int:
            return [TensorType(x.element, None)]
        n, r = axes.shape[0], len(x.shape)
        if n == 0:
            return [x.with_shape(reduce_shape(x.shape, (), attrs["keepdims"],
                                              attrs["noop_with_empty_axes"]))]
        if n > r:
            raise ValueError(f"{n} axes for a tensor of rank {r}")
        if attrs["keepdims"]:
            return [x.with_shape(tuple(1 if d == 1 else None for d in x.shape))]
        return [x.with_shape((None,) * (r - n))]
    return infer


for _n in REDUCE_OPS:
    define_op(f"ml.{_n}_dynamic", operands=["x", "axes"],
              attrs={"keepdims": Bool(True), "noop_with_empty_axes": Bool(False)},
              traits=REDUCTION, infer=_reduce_dynamic_infer(_operand_kind(_n)),
              doc=f"{_n} with the axes as a 1-D i64 operand known only at run time.")


def _arg_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    if x.shape is None:
        return [TensorType(i64, None)]
    rank = len(x.shape)
    axis = norm_axis(attrs["axis"], max(rank, 1))
    return [TensorType(i64, reduce_shape(x.shape, (axis,), attrs["keepdims"]))]


for _n in ("argmax", "argmin"):
    define_op(f"ml.{_n}", operands=["x"],
              attrs={"axis": Int(0), "keepdims": Bool(True), "select_last_index": Bool(False)},
              traits=REDUCTION | FUSION_ANCHOR, infer=_arg_infer,
              doc=f"Index (i64) of the {_n[3:]} along `axis`; ties pick the first index unless "
                  "select_last_index.")


def _cumulative_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    if x.element == i1:
        raise TypeError("operand must be numeric, got i1")
    if x.shape is not None:
        norm_axis(attrs["axis"], len(x.shape))
    return [x]


for _n, _what in CUMULATIVE_OPS.items():
    define_op(f"ml.{_n}", operands=["x"],
              attrs={"axis": Int(), "exclusive": Bool(False), "reverse": Bool(False)},
              traits=REDUCTION, infer=_cumulative_infer,
              doc=f"Cumulative {_what} along `axis` (ONNX Cum{_n[3:].capitalize()}, the axis "
                  "as an attribute); `exclusive` starts from the identity, `reverse` from the "
                  "end.")
