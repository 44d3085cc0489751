"""The `ml` dialect: tensor operators (starter set; the full CNN/RNN/Transformer/MoE set follows)."""
from __future__ import annotations

from typing import Any, Dict, List

from ..attributes import DenseAttr
from ..opdef import ELEMENTWISE, PURE, Dense, define_op
from ..types import TensorType, Type, broadcast_shapes

__all__ = ["ConstantOp"]


def _constant_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    v = attrs["value"]
    if not isinstance(v, DenseAttr):
        raise TypeError("value must be a dense attribute")
    return [v.type]


def _binary_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    a, b = types
    if a.element != b.element:
        raise TypeError(f"element types differ: {a.element} vs {b.element}")
    return [TensorType(a.element, broadcast_shapes(a.shape, b.shape))]


def _same(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [types[0]]


ConstantOp = define_op("ml.constant", attrs={"value": Dense()}, traits=PURE | {"ConstantLike"},
                       infer=_constant_infer, doc="A constant tensor.")
for _n in ("add", "sub", "mul", "div"):
    define_op(f"ml.{_n}", operands=["lhs", "rhs"], traits=ELEMENTWISE, infer=_binary_infer)
for _n in ("relu", "exp", "neg"):
    define_op(f"ml.{_n}", operands=["x"], traits=ELEMENTWISE, infer=_same)
