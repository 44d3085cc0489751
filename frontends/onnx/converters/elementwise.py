"""Elementwise ONNX ops: arithmetic, comparisons, logic, unary math, activations, Clip, Where,
Cast, Constant, Identity, Dropout."""
from __future__ import annotations

from typing import List

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Value
from mlir_lite.ir.types import ElementType, TensorType

from ..context import NodeContext
from ..dtypes import element_of
from ..registry import Unsupported, converter
from ._util import bool_attr, full_like, scalar_const

BINARY = {"Add": "ml.add", "Sub": "ml.sub", "Mul": "ml.mul", "Div": "ml.div",
          "And": "ml.logical_and", "Or": "ml.logical_or", "Xor": "ml.logical_xor",
          "Equal": "ml.equal", "Less": "ml.less", "Greater": "ml.greater",
          "LessOrEqual": "ml.less_equal", "GreaterOrEqual": "ml.greater_equal",
          "BitwiseAnd": "ml.bitwise_and", "BitwiseOr": "ml.bitwise_or",
          "BitwiseXor": "ml.bitwise_xor"}
UNARY = {"Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Sin": "sin",
         "Cos": "cos", "Tan": "tan", "Asin": "asin", "Acos": "acos", "Atan": "atan",
         "Sinh": "sinh", "Cosh": "cosh", "Tanh": "tanh", "Asinh": "asinh", "Acosh": "acosh",
         "Atanh": "atanh", "Sigmoid": "sigmoid", "Erf": "erf", "Floor": "floor", "Ceil": "ceil",
         "Round": "round", "Softplus": "softplus", "Softsign": "softsign",
         "HardSwish": "hard_swish", "Mish": "mish", "Neg": "neg", "Abs": "abs", "Sign": "sign",
         "Relu": "relu", "Not": "not", "BitwiseNot": "not", "IsNaN": "isnan"}
# op -> (ml op, {onnx attr: (ml attr, default)})
ACTIVATIONS = {
    "LeakyRelu": ("leaky_relu", {"alpha": 0.01}), "Elu": ("elu", {"alpha": 1.0}),
    "Celu": ("celu", {"alpha": 1.0}),
    "Selu": ("selu", {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}),
    "HardSigmoid": ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}),
    "ThresholdedRelu": ("thresholded_relu", {"alpha": 1.0}),
}
SINCE = {"BitwiseAnd": 18, "BitwiseOr": 18, "BitwiseXor": 18, "BitwiseNot": 18,
         "LessOrEqual": 12, "GreaterOrEqual": 12, "HardSwish": 14, "Mish": 18, "Celu": 12,
         "IsNaN": 9, "Sinh": 9, "Cosh": 9, "Asinh": 9, "Acosh": 9, "Atanh": 9, "Erf": 9,
         "Round": 11, "ThresholdedRelu": 10, "Sign": 9}


def _binary(ml: str):
    def conv(ctx: NodeContext) -> List[Value]:
        return [ctx.op(ml, ctx.input(0), ctx.input(1))]
    return conv


def _unary(ml: str):
    def conv(ctx: NodeContext) -> List[Value]:
        return [ctx.op(f"ml.{ml}", ctx.input(0))]
    return conv


def _activation(ml: str, params: dict):
    def conv(ctx: NodeContext) -> List[Value]:
        attrs = {k: ctx.attr(k, v, "float") for k, v in params.items()}
        return [ctx.op(f"ml.{ml}", ctx.input(0), **attrs)]
    return conv


for _op, _ml in BINARY.items():
    converter(_op, since=SINCE.get(_op, 7))(_binary(_ml))
for _op, _ml in UNARY.items():
    converter(_op, since=SINCE.get(_op, 1))(_unary(_ml))
for _op, (_ml, _params) in ACTIVATIONS.items():
    converter(_op, since=SINCE.get(_op, 1))(_activation(_ml, _params))


@converter("Pow", since=7)
def _pow(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.pow", ctx.input(0), ctx.input(1))]


@converter("Mod", since=10)
def _mod(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.mod", ctx.input(0), ctx.input(1), fmod=bool_attr(ctx, "fmod"))]


@converter("BitShift", since=11)
def _bitshift(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.bit_shift", ctx.input(0), ctx.input(1),
                   direction=ctx.attr("direction", kind="string"))]


@converter("Sum", "Mean", "Max", "Min", since=6)
def _variadic(ctx: NodeContext) -> List[Value]:
    ins = [ctx.input(i) for i in range(ctx.num_inputs)]
    return [ctx.op(f"ml.{ctx.node.op_type.lower()}", *ins)]


@converter("IsInf", since=10)
def _isinf(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.isinf", ctx.input(0),
                   detect_negative=bool_attr(ctx, "detect_negative", 1),
                   detect_positive=bool_attr(ctx, "detect_positive", 1))]


@converter("Gelu", since=20)
def _gelu(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.gelu", ctx.input(0), approximate=ctx.attr("approximate", "none",
                                                                   "string"))]


@converter("PRelu", since=7)
def _prelu(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.prelu", ctx.input(0), ctx.input(1))]


@converter("Shrink", since=9)
def _shrink(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    lambd, bias = ctx.attr("lambd", 0.5, "float"), ctx.attr("bias", 0.0, "float")
    lo, hi = scalar_const(ctx, -lambd, x), scalar_const(ctx, lambd, x)
    b = scalar_const(ctx, bias, x)
    zero = scalar_const(ctx, 0, x)
    below = ctx.op("ml.where", ctx.op("ml.less", x, lo), ctx.op("ml.add", x, b), zero)
    return [ctx.op("ml.where", ctx.op("ml.greater", x, hi), ctx.op("ml.sub", x, b), below)]


@converter("Swish", since=24)
def _swish(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    ax = ctx.op("ml.mul", x, scalar_const(ctx, ctx.attr("alpha", 1.0, "float"), x))
    return [ctx.op("ml.mul", x, ctx.op("ml.sigmoid", ax))]


@converter("Clip", since=6)
def _clip6(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    lo = scalar_const(ctx, ctx.attr("min", -3.4028234663852886e38, "float"), x)
    hi = scalar_const(ctx, ctx.attr("max", 3.4028234663852886e38, "float"), x)
    return [ctx.op("ml.clip", x, lo, hi)]


@converter("Clip", since=11)
def _clip11(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    ops = [x]
    seg = [1, 0, 0]
    for k in (1, 2):
        if ctx.has_input(k):
            v = ctx.input(k)
            if isinstance(v.type, TensorType) and v.type.shape not in (None, ()):
                v = ctx.op("ml.reshape", v, shape=())
            ops.append(v)
            seg[k] = 1
    return [ctx.op("ml.clip", *ops, operandSegmentSizes=tuple(seg))]


@converter("Where", since=9)
def _where(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.where", ctx.input(0), ctx.input(1), ctx.input(2))]


def _cast_to(ctx: NodeContext, to: ElementType) -> List[Value]:
    if ctx.type(0).element == to:
        return [ctx.op("ml.identity", ctx.input(0))]
    if ctx.opset >= 19 and not ctx.attr("saturate", 1, "int"):
        return [ctx.op("ml.cast", ctx.input(0), to=to, saturate=False)]
    return [ctx.cast(ctx.input(0), to)]


@converter("Cast", since=6)
def _cast(ctx: NodeContext) -> List[Value]:
    if ctx.attr("round_mode", "up", "string") != "up":
        raise Unsupported(f"Cast with round_mode {ctx.attr('round_mode', kind='string')!r}")
    return _cast_to(ctx, element_of(ctx.attr("to", kind="int")))


@converter("CastLike", since=15)
def _cast_like(ctx: NodeContext) -> List[Value]:
    return _cast_to(ctx, ctx.type(1).element)


@converter("Identity", since=1)
def _identity(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.identity", ctx.input(0))]


@converter("Constant", since=1)
def _constant(ctx: NodeContext) -> List[Value]:
    attrs = [a.name for a in ctx.node.attribute]
    if len(attrs) != 1:
        raise ctx.error(f"Constant needs exactly one value attribute, got {attrs or 'none'}")
    name = attrs[0]
    if name == "value":
        t = ctx.node.attribute[0].t
        element_of(t.data_type)
        arr = ctx.attr("value", kind="tensor")
    elif name == "value_float":
        arr = np.array(ctx.attr(name, kind="float"), np.float32)
    elif name == "value_floats":
        arr = np.array(ctx.attr(name, kind="floats"), np.float32)
    elif name == "value_int":
        arr = np.array(ctx.attr(name, kind="int"), np.int64)
    elif name == "value_ints":
        arr = np.array(ctx.attr(name, kind="ints"), np.int64)
    elif name == "sparse_value":
        from ..importer import _densify
        arr = _densify(ctx.node.attribute[0].sparse_tensor, f"{ctx.where}: attribute "
                                                            "'sparse_value'")
    else:
        raise Unsupported(f"Constant with attribute {name!r} (strings) is not supported")
    return [ctx.op("ml.constant", value=DenseAttr(arr))]


def _mask(ctx: NodeContext, x: Value) -> Value:
    return full_like(ctx, x, True, np.bool_)


@converter("Dropout", since=7)
def _dropout7(ctx: NodeContext) -> List[Value]:
    ctx.ignore("seed")  # inference: dropout is the identity
    x = ctx.input(0)
    y = ctx.op("ml.dropout", x, ratio=ctx.attr("ratio", 0.5, "float"))
    if not ctx.has_output(1):
        return [y, None]
    # before opset 10 the mask has x's element type (all ones at inference)
    mask = (full_like(ctx, x, 1, ctx.type(0).element.np_dtype) if ctx.opset < 10
            else _mask(ctx, x))
    return [y, mask]


@converter("Dropout", since=12)
def _dropout12(ctx: NodeContext) -> List[Value]:
    ctx.ignore("seed")  # inference: dropout is the identity
    x = ctx.input(0)
    if ctx.has_input(2):
        train = ctx.const_scalar(2)
        if train is None or bool(train):
            raise Unsupported("Dropout in training mode (training_mode not a constant false)")
    ratio = 0.5
    if ctx.has_input(1):
        r = ctx.const_scalar(1)
        if r is None:
            raise Unsupported("Dropout with a non-constant ratio")
        ratio = float(r)
    y = ctx.op("ml.dropout", x, ratio=ratio)
    return [y, _mask(ctx, x) if ctx.has_output(1) else None]


# -- opset 6: explicit `broadcast` / `axis` attributes -------------------------------------------
def _legacy_rhs(ctx: NodeContext, x: Value, y: Value) -> Value:
    """Align `y` to `x` at `axis` (ONNX <= 6 broadcasting) by appending unit dims."""
    if not ctx.attr("broadcast", 0, "int") or not ctx.has_attr("axis"):
        return y
    rx, ry = ctx.rank(0), ctx.rank(1)
    if rx is None or ry is None:
        raise Unsupported("opset-6 broadcasting with an axis on inputs of unknown rank")
    axis = ctx.attr("axis", kind="int")
    axis = axis + rx if axis < 0 else axis
    trailing = rx - axis - ry
    if trailing < 0:
        raise ctx.error(f"axis {axis} does not fit ranks {rx} and {ry}", attribute="axis")
    if trailing == 0:
        return y
    return ctx.op("ml.unsqueeze", y, axes=tuple(range(ry, ry + trailing)))


def _legacy_binary(ml: str):
    def conv(ctx: NodeContext) -> List[Value]:
        x = ctx.input(0)
        return [ctx.op(ml, x, _legacy_rhs(ctx, x, ctx.input(1)))]
    return conv


for _op in ("Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater"):
    converter(_op, since=1)(_legacy_binary(BINARY.get(_op, "ml.pow")))


@converter("PRelu", since=6)
def _prelu6(ctx: NodeContext) -> List[Value]:
    x, slope = ctx.input(0), ctx.input(1)
    rx, rs = ctx.rank(0), ctx.rank(1)
    shp = ctx.type(1).shape
    if rx is not None and rx >= 3 and rs == 1 and shp is not None and shp[0] != 1:
        slope = ctx.op("ml.unsqueeze", slope, axes=tuple(range(1, rx - 1)))
    return [ctx.op("ml.prelu", x, slope)]


@converter("BitCast", since=26)
def _bitcast(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.bitcast", ctx.input(0), to=element_of(ctx.attr("to", kind="int")))]
