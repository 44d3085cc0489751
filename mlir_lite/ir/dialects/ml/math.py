"""Elementwise `ml` ops: constants, binary arithmetic with numpy broadcasting, comparisons,
variadic sum/mean/max/min, unary math and activations, `where`, `clip`, `prelu` and `cast`.

Semantics follow ONNX (latest opset); flags that ONNX spells as ints are `bool` attributes here.

    %z = "ml.add"(%x, %y) : (tensor<4x1xf32>, tensor<3xf32>) -> tensor<4x3xf32>
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    broadcast_infer,
    operand_groups,
    require_element,
    require_float,
    require_int,
)
from mlir_lite.ir.opdef import (
    ALIAS,
    ELEMENTWISE,
    PURE,
    Bool,
    Dense,
    Float,
    Str,
    TypeAttr,
    define_op,
)
from mlir_lite.ir.types import ElementType, TensorType, Type, broadcast_shapes, i1

__all__ = ["ConstantOp", "BINARY_OPS", "COMPARE_OPS", "LOGICAL_OPS", "BITWISE_OPS",
           "VARIADIC_OPS", "UNARY_FLOAT_OPS", "UNARY_NUMERIC_OPS", "ACTIVATION_ATTRS"]


def _constant_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    v = attrs["value"]
    if not isinstance(v, DenseAttr):
        raise TypeError("value must be a dense attribute")
    return [v.type]


def _numeric(t: TensorType) -> TensorType:
    if t.element == i1:
        raise TypeError("operands must be numeric, got i1 (use the logical_* ops)")
    return t


def _numeric_binary(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [_numeric(broadcast_infer(types))]


def _pow_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x, y = as_tensor(types[0]), as_tensor(types[1])
    if x.element == i1 or y.element == i1:
        raise TypeError("pow does not take i1 operands")
    return [TensorType(x.element, broadcast_shapes(x.shape, y.shape))]


def _mod_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [_numeric(broadcast_infer(types))]


def _int_binary(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = broadcast_infer(types)
    require_int(t, "operands", allow_bool=True)
    return [t]


def _shift_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = broadcast_infer(types)
    require_int(t, "operands")
    if attrs["direction"] not in ("LEFT", "RIGHT"):
        raise ValueError(f"direction must be 'LEFT' or 'RIGHT', got {attrs['direction']!r}")
    return [t]


def _logical_binary(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = broadcast_infer(types)
    require_element(t, i1, "operands")
    return [t]


def _compare_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [broadcast_infer(types, element=i1)]


def _variadic_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    if not types:
        raise ValueError("needs at least one operand")
    return [_numeric(broadcast_infer(types))]


def _mean_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = as_tensor(_variadic_infer(types, attrs)[0])
    require_float(t, "operands")
    return [t]


ConstantOp = define_op("ml.constant", attrs={"value": Dense()}, traits=PURE | {"ConstantLike"},
                       infer=_constant_infer, doc="A constant tensor.")

BINARY_OPS = ("add", "sub", "mul", "div")
for _n in BINARY_OPS:
    define_op(f"ml.{_n}", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_numeric_binary,
              doc=f"Elementwise {_n} with numpy broadcasting (integer div truncates, as ONNX).")
define_op("ml.pow", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_pow_infer,
          doc="lhs ** rhs, broadcast; the result has lhs's element type.")
define_op("ml.mod", operands=["lhs", "rhs"], attrs={"fmod": Bool(False)}, traits=ELEMENTWISE,
          infer=_mod_infer,
          doc="Remainder: the sign of the divisor (fmod=false: numpy's mod, floats too, as ONNX "
              "Mod with fmod=0 from opset 28) or of the dividend (fmod=true: C's fmod).")
define_op("ml.bit_shift", operands=["lhs", "rhs"], attrs={"direction": Str()},
          traits=ELEMENTWISE, infer=_shift_infer, doc="Shift 'LEFT' or 'RIGHT' (ONNX BitShift).")
BITWISE_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor")
for _n in BITWISE_OPS:
    define_op(f"ml.{_n}", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_int_binary,
              doc=f"Elementwise {_n} of integers.")
LOGICAL_OPS = ("logical_and", "logical_or", "logical_xor")
for _n in LOGICAL_OPS:
    define_op(f"ml.{_n}", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_logical_binary,
              doc=f"Elementwise {_n} of i1 tensors.")
COMPARE_OPS = ("equal", "less", "less_equal", "greater", "greater_equal")
for _n in COMPARE_OPS:
    define_op(f"ml.{_n}", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_compare_infer,
              doc=f"Elementwise comparison ({_n}) giving i1.")
VARIADIC_OPS = ("sum", "mean", "max", "min")
for _n in VARIADIC_OPS:
    define_op(f"ml.{_n}", operands=["inputs*"], traits=ELEMENTWISE,
              infer=_mean_infer if _n == "mean" else _variadic_infer,
              doc=f"Elementwise {_n} of one or more broadcast operands (ONNX {_n.capitalize()}).")


# -- unary -----------------------------------------------------------------------------------
def _unary_float(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = as_tensor(types[0])
    require_float(t)
    return [t]


def _unary_numeric(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = as_tensor(types[0])
    if t.element == i1:
        raise TypeError("operand must be numeric, got i1")
    return [t]


def _unary_any(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [as_tensor(types[0])]


def _not_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = as_tensor(types[0])
    if t.element != i1 and not t.element.is_int:
        raise TypeError(f"operand must be i1 or an integer, got {t.element}")
    return [t]


def _is_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    t = as_tensor(types[0])
    require_float(t)
    return [t.with_element(i1)]


def _gelu_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    if attrs["approximate"] not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {attrs['approximate']!r}")
    return _unary_float(types, attrs)


UNARY_FLOAT_OPS = ("exp", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "tan",
                   "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
                   "sigmoid", "erf", "floor", "ceil", "round", "softplus", "softsign",
                   "hard_swish", "mish")
UNARY_NUMERIC_OPS = ("neg", "abs", "sign", "relu")
for _n in UNARY_FLOAT_OPS:
    define_op(f"ml.{_n}", operands=["x"], traits=ELEMENTWISE, infer=_unary_float,
              doc=f"Elementwise {_n} (ONNX semantics; round is half-to-even).")
for _n in UNARY_NUMERIC_OPS:
    define_op(f"ml.{_n}", operands=["x"], traits=ELEMENTWISE, infer=_unary_numeric,
              doc=f"Elementwise {_n}.")
define_op("ml.identity", operands=["x"], traits=ELEMENTWISE | ALIAS, infer=_unary_any,
          doc="The operand itself.")
define_op("ml.not", operands=["x"], traits=ELEMENTWISE, infer=_not_infer,
          doc="Logical not of i1, bitwise not of integers.")
define_op("ml.isnan", operands=["x"], traits=ELEMENTWISE, infer=_is_infer, doc="x != x, as i1.")
define_op("ml.isinf", operands=["x"], traits=ELEMENTWISE, infer=_is_infer,
          attrs={"detect_negative": Bool(True), "detect_positive": Bool(True)},
          doc="Whether x is infinite (of the selected signs), as i1.")
define_op("ml.gelu", operands=["x"], traits=ELEMENTWISE, infer=_gelu_infer,
          attrs={"approximate": Str("none")}, doc="GELU, exact (erf) or the tanh approximation.")

# Activations with float parameters; defaults are ONNX's.
ACTIVATION_ATTRS: Dict[str, Dict[str, float]] = {
    "leaky_relu": {"alpha": 0.01},
    "elu": {"alpha": 1.0},
    "celu": {"alpha": 1.0},
    "selu": {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
    "hard_sigmoid": {"alpha": 0.2, "beta": 0.5},
    "thresholded_relu": {"alpha": 1.0},
}
for _n, _params in ACTIVATION_ATTRS.items():
    define_op(f"ml.{_n}", operands=["x"], traits=ELEMENTWISE, infer=_unary_float,
              attrs={k: Float(v) for k, v in _params.items()},
              doc=f"The {_n} activation (ONNX semantics).")


def _prelu_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x, slope = as_tensor(types[0]), as_tensor(types[1])
    t = broadcast_infer([x, slope])
    if t.shape is not None and x.shape is not None and len(t.shape) != len(x.shape):
        raise ValueError(f"slope {slope} must broadcast to x {x}")
    return [x]


define_op("ml.prelu", operands=["x", "slope"], traits=ELEMENTWISE, infer=_prelu_infer,
          doc="x if x >= 0 else slope * x; slope broadcasts to x (unidirectionally).")


def _clip_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("x", "min?", "max?"))
    x = as_tensor(g["x"])
    for k in ("min", "max"):
        b = g[k]
        if b is not None:
            b = as_tensor(b, k)
            if b.element != x.element:
                raise TypeError(f"{k} has element type {b.element}, x has {x.element}")
            if b.shape is not None and len(b.shape) != 0:
                raise ValueError(f"{k} must be a scalar tensor, got {b}")
    return [x]


define_op("ml.clip", operands=["x", "min?", "max?"], traits=ELEMENTWISE, infer=_clip_infer,
          doc="Clamp x to [min, max]; absent bounds do not clamp (bounds are scalar tensors).")


def _where_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    c, x, y = (as_tensor(t) for t in types)
    require_element(c, i1, "condition")
    if x.element != y.element:
        raise TypeError(f"branches have different element types {x.element} and {y.element}")
    return [TensorType(x.element, broadcast_shapes(c.shape, x.shape, y.shape))]


define_op("ml.where", operands=["condition", "x", "y"], traits=ELEMENTWISE, infer=_where_infer,
          doc="x where condition else y, all three broadcast.")


def _cast_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    to = attrs["to"]
    if not isinstance(to, ElementType):
        raise TypeError(f"'to' must be an element type, got {to}")
    return [as_tensor(types[0]).with_element(to)]


define_op("ml.cast", operands=["x"], attrs={"to": TypeAttr(), "saturate": Bool(True)},
          traits=ELEMENTWISE, infer=_cast_infer,
          doc="Convert to element type `to` (floats to ints truncate). To 8- and 4-bit floats, "
              "out-of-range values clamp to the largest finite value when `saturate`, else "
              "become inf or NaN (ONNX Cast).")


def _bitcast_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    to = attrs["to"]
    if not isinstance(to, ElementType):
        raise TypeError(f"'to' must be an element type, got {to}")
    wx = 8 if x.element == i1 else x.element.bitwidth
    wt = 8 if to == i1 else to.bitwidth
    if wx != wt or wx < 8:
        raise ValueError(f"bitcast needs equal widths of 8 bits or more, got {x.element} and {to}")
    return [x.with_element(to)]


define_op("ml.bitcast", operands=["x"], attrs={"to": TypeAttr()}, traits=ELEMENTWISE,
          infer=_bitcast_infer, doc="Reinterpret the bits as element type `to` (same width; i1 "
                                    "is one byte).")
