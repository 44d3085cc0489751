"""Quantization ops of the `ml` dialect (ONNX semantics).

`quantize_linear` / `dequantize_linear` map between real values and integers (or 8/4-bit
floats) with a scale and zero point that are per tensor (scalars), per axis (1-D along `axis`)
or per block (`block_size` entries along `axis` share one). `matmul_integer` and
`conv_integer` multiply integers after subtracting zero points and accumulate in i32; the
frontend builds QLinearMatMul / QLinearConv from them.

    %q = "ml.quantize_linear"(%x, %s, %zp) {axis = 1} : (tensor<2x4xf32>, tensor<f32>, tensor<ui8>)
         -> tensor<2x4xui8>
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    dims_equal_or_unknown,
    operand_groups,
    spatial_params,
    window_out_dim,
)
from mlir_lite.ir.dialects.ml.linalg import _matmul_infer
from mlir_lite.ir.opdef import CONV, GEMM, PURE, Bool, Int, Ints, TypeAttr, define_op
from mlir_lite.ir.types import ElementType, TensorType, Type, i32

__all__ = ["QUANT_OPS"]

QUANT_OPS = ("quantize_linear", "dequantize_linear", "matmul_integer", "conv_integer")
Attrs = Dict[str, Any]


def _check_params(x: TensorType, scale: TensorType, zp: Optional[TensorType], a: Attrs) -> None:
    if a["block_size"] < 0:
        raise ValueError(f"block_size must be >= 0, got {a['block_size']}")
    for what, t in (("scale", scale), ("zero_point", zp)):
        if t is None or t.shape is None or x.shape is None:
            continue
        if len(t.shape) == 0 or (len(t.shape) == 1 and t.shape[0] == 1):
            continue
        if a["block_size"] == 0:
            if len(t.shape) != 1:
                raise ValueError(f"{what} {t} must be a scalar or 1-D (per axis) without "
                                 "block_size")
            ax = a["axis"] + len(x.shape) if a["axis"] < 0 else a["axis"]
            if not 0 <= ax < len(x.shape) or not dims_equal_or_unknown(t.shape[0], x.shape[ax]):
                raise ValueError(f"{what} {t} does not fit axis {a['axis']} of {x}")
        elif len(t.shape) != len(x.shape):
            raise ValueError(f"blocked {what} {t} must have the rank of x {x}")


def _quantize_infer(types: List[Type], a: Attrs) -> List[Type]:
    g = operand_groups(types, a, ("x", "scale", "zero_point?"))
    x, scale = as_tensor(g["x"], "x"), as_tensor(g["scale"], "scale")
    zp = None if g["zero_point"] is None else as_tensor(g["zero_point"], "zero_point")
    to = a["to"]
    if not isinstance(to, ElementType):
        raise TypeError(f"'to' must be an element type, got {to}")
    if zp is not None and zp.element != to:
        raise TypeError(f"zero_point has element type {zp.element} but the result is {to}")
    if not x.element.is_float or not scale.element.is_float:
        raise TypeError(f"x and scale must be floats, got {x.element} and {scale.element}")
    _check_params(x, scale, zp, a)
    return [x.with_element(to)]


def _dequantize_infer(types: List[Type], a: Attrs) -> List[Type]:
    g = operand_groups(types, a, ("x", "scale", "zero_point?"))
    x, scale = as_tensor(g["x"], "x"), as_tensor(g["scale"], "scale")
    zp = None if g["zero_point"] is None else as_tensor(g["zero_point"], "zero_point")
    if zp is not None and zp.element != x.element:
        raise TypeError(f"zero_point has element type {zp.element} but x has {x.element}")
    if not scale.element.is_float:
        raise TypeError(f"scale must be a float, got {scale.element}")
    _check_params(x, scale, zp, a)
    return [x.with_element(scale.element)]


_QATTRS = {"axis": Int(1), "block_size": Int(0)}
define_op("ml.quantize_linear", operands=["x", "scale", "zero_point?"],
          attrs={**_QATTRS, "to": TypeAttr(), "saturate": Bool(True)}, traits=PURE,
          infer=_quantize_infer,
          doc="y = saturate(round_half_even(x / scale) + zero_point) in `to` (integers), or "
              "x / scale cast to an 8/4-bit float (saturating when `saturate`).")
define_op("ml.dequantize_linear", operands=["x", "scale", "zero_point?"], attrs=dict(_QATTRS),
          traits=PURE, infer=_dequantize_infer,
          doc="y = (x - zero_point) * scale, in scale's element type.")


def _int_operand(t: Type, what: str) -> TensorType:
    v = as_tensor(t, what)
    if not v.element.is_int or v.element.bitwidth > 8:
        raise TypeError(f"{what} must be an 8-bit integer tensor, got {v}")
    return v


def _matmul_integer_infer(types: List[Type], a: Attrs) -> List[Type]:
    g = operand_groups(types, a, ("a", "b", "a_zero_point?", "b_zero_point?"))
    x, y = _int_operand(g["a"], "a"), _int_operand(g["b"], "b")
    for k, src in (("a_zero_point", x), ("b_zero_point", y)):
        if g[k] is not None and as_tensor(g[k], k).element != src.element:
            raise TypeError(f"{k} must have element type {src.element}")
    return _matmul_infer([x.with_element(i32), y.with_element(i32)], {})


# the integer matmul/conv are gemm/conv kernels that the fuser does not anchor (no FUSION_ANCHOR)
define_op("ml.matmul_integer", operands=["a", "b", "a_zero_point?", "b_zero_point?"],
          traits=GEMM, infer=_matmul_integer_infer,
          doc="(a - a_zero_point) @ (b - b_zero_point) in i32; a's zero point is a scalar or "
              "one per row, b's a scalar or one per column (ONNX MatMulInteger).")


def _conv_integer_infer(types: List[Type], a: Attrs) -> List[Type]:
    g = operand_groups(types, a, ("x", "w", "x_zero_point?", "w_zero_point?"))
    x, w = _int_operand(g["x"], "x"), _int_operand(g["w"], "w")
    if x.shape is None or w.shape is None:
        return [TensorType(i32, None)]
    n = len(x.shape) - 2
    if n < 1 or len(w.shape) != n + 2:
        raise ValueError(f"x {x} and w {w} must be (N, C, ...) and (M, C/group, k...)")
    strides, pads, dil = spatial_params(a, n)
    sp = tuple(window_out_dim(x.shape[2 + i], w.shape[2 + i], strides[i], pads[i], pads[n + i],
                              dil[i]) for i in range(n))
    return [TensorType(i32, (x.shape[0], w.shape[0]) + sp)]


define_op("ml.conv_integer", operands=["x", "w", "x_zero_point?", "w_zero_point?"],
          attrs={"strides": Ints(()), "pads": Ints(()), "dilations": Ints(()), "group": Int(1)},
          traits=CONV, infer=_conv_integer_infer,
          doc="ml.conv of (x - x_zero_point) and (w - w_zero_point) accumulated in i32; w's zero "
              "point is a scalar or one per output channel (ONNX ConvInteger).")
