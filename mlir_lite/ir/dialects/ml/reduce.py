"""Reductions: `reduce_*` over an `axes` tuple, `argmax`/`argmin` (i64) and `cumsum`.

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

__all__ = ["REDUCE_OPS", "FLOAT_REDUCE_OPS"]

REDUCE_OPS = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
              "reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp",
              "reduce_sum_square")
FLOAT_REDUCE_OPS = ("reduce_mean", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp")


def _reduce_infer(float_only: bool, allow_bool: bool):
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        x = as_tensor(types[0])
        if float_only:
            require_float(x)
        if x.element == i1 and not allow_bool:
            raise TypeError("operand must be numeric, got i1")
        return [x.with_shape(reduce_shape(x.shape, attrs["axes"], attrs["keepdims"],
                                          attrs["noop_with_empty_axes"]))]
    return infer


for _n in REDUCE_OPS:
    define_op(f"ml.{_n}", operands=["x"],
              attrs={"axes": Ints(()), "keepdims": Bool(True),
                     "noop_with_empty_axes": Bool(False)},
              traits=REDUCTION | FUSION_ANCHOR, infer=_reduce_infer(_n in FLOAT_REDUCE_OPS,
                                               _n in ("reduce_max", "reduce_min")),
              doc=f"ONNX {_n}: reduce `axes` (all when empty).")


def _reduce_dynamic_infer(float_only: bool, allow_bool: bool):
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        x, axes = as_tensor(types[0]), as_tensor(types[1], "axes")
        if float_only:
            require_float(x)
        if x.element == i1 and not allow_bool:
            raise TypeError("operand must be numeric, got i1")
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
              traits=REDUCTION, infer=_reduce_dynamic_infer(_n in FLOAT_REDUCE_OPS,
                                                       _n in ("reduce_max", "reduce_min")),
              doc=f"ONNX {_n} with the axes as a 1-D i64 operand known only at run time.")


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


def _cumsum_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    if x.element == i1:
        raise TypeError("operand must be numeric, got i1")
    if x.shape is not None:
        norm_axis(attrs["axis"], len(x.shape))
    return [x]


define_op("ml.cumsum", operands=["x"],
          attrs={"axis": Int(), "exclusive": Bool(False), "reverse": Bool(False)},
          traits=REDUCTION, infer=_cumsum_infer,
          doc="Cumulative sum along `axis` (ONNX CumSum, the axis as an attribute).")
