"""VJP rules of elementwise ops: arithmetic with broadcasting, unary math, activations,
`where`, `clip`, `cast`, variadic `sum`/`mean`/`max`/`min`.

Every binary rule sums the cotangent back over the axes an operand was broadcast along.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import operand_groups

from .context import VJPContext
from .table import vjp

__all__: List[str] = []

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops have a single result, so it is never None.
Cots = Sequence[Value]


def _unb(ctx: VJPContext, g: Value, v: Value, op: Operation) -> Value:
    """`g` summed down to operand `v` of `op` (broadcast against the other operands)."""
    return ctx.unbroadcast(g, v, [o for o in op.operands if o is not v])


@vjp("ml.add")
def _add(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    (g,) = cots
    a, b = op.operands
    return [_unb(ctx, g, a, op) if ctx.wants(a) else None,
            _unb(ctx, g, b, op) if ctx.wants(b) else None]


@vjp("ml.sub")
def _sub(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    (g,) = cots
    a, b = op.operands
    return [_unb(ctx, g, a, op) if ctx.wants(a) else None,
            _unb(ctx, ctx.neg(g), b, op) if ctx.wants(b) else None]


@vjp("ml.mul")
def _mul(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    (g,) = cots
    a, b = op.operands
    return [_unb(ctx, ctx.mul(g, b), a, op) if ctx.wants(a) else None,
            _unb(ctx, ctx.mul(g, a), b, op) if ctx.wants(b) else None]


@vjp("ml.div")
def _div(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    (g,) = cots
    a, b = op.operands
    if not (ctx.wants(a) or ctx.wants(b)):
        return [None, None]
    ga = ctx.div(g, b)
    return [_unb(ctx, ga, a, op) if ctx.wants(a) else None,
            _unb(ctx, ctx.neg(ctx.mul(ga, op.result)), b, op) if ctx.wants(b) else None]


@vjp("ml.pow")
def _pow(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    (g,) = cots
    x, y = op.operands
    out: list = [None, None]
    if ctx.wants(x):
        yf = y if y.type.element == x.type.element else ctx.emit("ml.cast", y,
                                                                  to=x.type.element)
        ym1 = ctx.emit("ml.pow", x, ctx.sub(yf, ctx.scalar(1.0, yf)))
        out[0] = _unb(ctx, ctx.mul(g, ctx.mul(yf, ym1)), x, op)
    if ctx.wants(y):
        out[1] = _unb(ctx, ctx.mul(g, ctx.mul(op.result, ctx.emit("ml.log", x))), y, op)
    return out


def _unary(name: str):
    """Register `deriv(ctx, x, y) -> dy/dx`; the rule multiplies it by the cotangent."""
    def deco(deriv):
        @vjp(name)
        def rule(ctx: VJPContext, op: Operation, cots: Cots) -> list:
            (g,) = cots
            return [ctx.mul(g, deriv(ctx, op, op.operands[0], op.result))]
        return deriv
    return deco


@vjp("ml.neg")
def _neg(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.neg(cots[0])]


@vjp("ml.identity", "ml.dropout")
def _identity(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [cots[0]]


@vjp("ml.cast")
def _cast(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    x = op.operands[0]
    if not ctx.wants(x):
        return [None]
    return [ctx.emit("ml.cast", cots[0], to=x.type.element)]


_unary("ml.exp")(lambda ctx, op, x, y: y)
_unary("ml.log")(lambda ctx, op, x, y: ctx.emit("ml.reciprocal", x))
_unary("ml.sqrt")(lambda ctx, op, x, y: ctx.div(ctx.scalar(0.5, y), y))
_unary("ml.rsqrt")(lambda ctx, op, x, y: ctx.mul(ctx.scalar(-0.5, y), ctx.mul(y, ctx.mul(y, y))))
_unary("ml.reciprocal")(lambda ctx, op, x, y: ctx.neg(ctx.mul(y, y)))
_unary("ml.abs")(lambda ctx, op, x, y: ctx.emit("ml.sign", x))
_unary("ml.tanh")(lambda ctx, op, x, y: ctx.sub(ctx.scalar(1.0, y), ctx.mul(y, y)))
_unary("ml.sigmoid")(lambda ctx, op, x, y: ctx.mul(y, ctx.sub(ctx.scalar(1.0, y), y)))
_unary("ml.softplus")(lambda ctx, op, x, y: ctx.emit("ml.sigmoid", x))
_unary("ml.sin")(lambda ctx, op, x, y: ctx.emit("ml.cos", x))
_unary("ml.cos")(lambda ctx, op, x, y: ctx.neg(ctx.emit("ml.sin", x)))
_unary("ml.tan")(lambda ctx, op, x, y: ctx.add(ctx.scalar(1.0, y), ctx.mul(y, y)))
_unary("ml.sinh")(lambda ctx, op, x, y: ctx.emit("ml.cosh", x))
_unary("ml.log1p")(lambda ctx, op, x, y: ctx.emit("ml.reciprocal", ctx.add(ctx.scalar(1.0, x), x)))
_unary("ml.cosh")(lambda ctx, op, x, y: ctx.emit("ml.sinh", x))
_unary("ml.atan")(lambda ctx, op, x, y: ctx.emit("ml.reciprocal",
                                                  ctx.add(ctx.scalar(1.0, x), ctx.mul(x, x))))
_unary("ml.asin")(lambda ctx, op, x, y: ctx.emit("ml.rsqrt",
                                                  ctx.sub(ctx.scalar(1.0, x), ctx.mul(x, x))))
_unary("ml.acos")(lambda ctx, op, x, y: ctx.neg(ctx.emit(
    "ml.rsqrt", ctx.sub(ctx.scalar(1.0, x), ctx.mul(x, x)))))
_unary("ml.asinh")(lambda ctx, op, x, y: ctx.emit("ml.rsqrt",
                                                   ctx.add(ctx.mul(x, x), ctx.scalar(1.0, x))))
_unary("ml.acosh")(lambda ctx, op, x, y: ctx.emit("ml.rsqrt",
                                                   ctx.sub(ctx.mul(x, x), ctx.scalar(1.0, x))))
_unary("ml.atanh")(lambda ctx, op, x, y: ctx.emit("ml.reciprocal",
                                                   ctx.sub(ctx.scalar(1.0, x), ctx.mul(x, x))))
_unary("ml.erf")(lambda ctx, op, x, y: ctx.scale(
    ctx.emit("ml.exp", ctx.neg(ctx.mul(x, x))), 2.0 / math.sqrt(math.pi)))


@_unary("ml.softsign")
def _softsign(ctx: VJPContext, op: Operation, x: Value, y: Value) -> Value:
    d = ctx.add(ctx.scalar(1.0, x), ctx.emit("ml.abs", x))
    return ctx.emit("ml.reciprocal", ctx.mul(d, d))


def _positive(ctx: VJPContext, x: Value, strict: bool = True) -> Value:
    return ctx.emit("ml.greater" if strict else "ml.greater_equal", x, ctx.scalar(0.0, x))


@vjp("ml.relu")
def _relu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.select(_positive(ctx, op.operands[0]), cots[0])]


@vjp("ml.leaky_relu")
def _leaky_relu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    return [ctx.select(_positive(ctx, x, strict=False), g, ctx.scale(g, op.attr("alpha")))]


@vjp("ml.elu")
def _elu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    neg = ctx.mul(g, ctx.add(op.result, ctx.scalar(op.attr("alpha"), x)))
    return [ctx.select(_positive(ctx, x, strict=False), g, neg)]


@vjp("ml.selu")
def _selu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    a, s = op.attr("alpha"), op.attr("gamma")
    neg = ctx.mul(g, ctx.add(op.result, ctx.scalar(a * s, x)))
    return [ctx.select(_positive(ctx, x), ctx.scale(g, s), neg)]


@vjp("ml.celu")
def _celu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    a = op.attr("alpha")
    e = ctx.emit("ml.exp", ctx.div(x, ctx.scalar(a, x)))
    return [ctx.select(_positive(ctx, x, strict=False), g, ctx.mul(g, e))]


@vjp("ml.thresholded_relu")
def _thresholded_relu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    x = op.operands[0]
    return [ctx.select(ctx.emit("ml.greater", x, ctx.scalar(op.attr("alpha"), x)), cots[0])]


@vjp("ml.hard_sigmoid")
def _hard_sigmoid(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    y = op.result
    inside = ctx.emit("ml.logical_and", ctx.emit("ml.greater", y, ctx.scalar(0.0, y)),
                      ctx.emit("ml.less", y, ctx.scalar(1.0, y)))
    return [ctx.select(inside, ctx.scale(cots[0], op.attr("alpha")))]


@_unary("ml.hard_swish")
def _hard_swish(ctx: VJPContext, op: Operation, x: Value, y: Value) -> Value:
    # y = x * clip(x/6 + 1/2, 0, 1): slope x/3 + 1/2 inside (-3, 3), 1 above, 0 below
    inner = ctx.add(ctx.scale(x, 1.0 / 3.0), ctx.scalar(0.5, x))
    above = ctx.select(ctx.emit("ml.greater_equal", x, ctx.scalar(3.0, x)), ctx.scalar(1.0, x))
    return ctx.select(ctx.emit("ml.logical_and",
                               ctx.emit("ml.greater", x, ctx.scalar(-3.0, x)),
                               ctx.emit("ml.less", x, ctx.scalar(3.0, x))), inner, above)


@_unary("ml.mish")
def _mish(ctx: VJPContext, op: Operation, x: Value, y: Value) -> Value:
    t = ctx.emit("ml.tanh", ctx.emit("ml.softplus", x))
    dt = ctx.sub(ctx.scalar(1.0, x), ctx.mul(t, t))
    return ctx.add(t, ctx.mul(x, ctx.mul(dt, ctx.emit("ml.sigmoid", x))))


@_unary("ml.gelu")
def _gelu(ctx: VJPContext, op: Operation, x: Value, y: Value) -> Value:
    one = ctx.scalar(1.0, x)
    if op.attr("approximate") == "tanh":
        c, k = math.sqrt(2.0 / math.pi), 0.044715
        x2 = ctx.mul(x, x)
        u = ctx.scale(ctx.mul(x, ctx.add(one, ctx.scale(x2, k))), c)
        t = ctx.emit("ml.tanh", u)
        du = ctx.scale(ctx.add(one, ctx.scale(x2, 3.0 * k)), c)
        left = ctx.scale(ctx.add(one, t), 0.5)
        right = ctx.scale(ctx.mul(x, ctx.mul(ctx.sub(one, ctx.mul(t, t)), du)), 0.5)
        return ctx.add(left, right)
    cdf = ctx.scale(ctx.add(one, ctx.emit("ml.erf", ctx.scale(x, 1.0 / math.sqrt(2.0)))), 0.5)
    pdf = ctx.scale(ctx.emit("ml.exp", ctx.scale(ctx.mul(x, x), -0.5)),
                    1.0 / math.sqrt(2.0 * math.pi))
    return ctx.add(cdf, ctx.mul(x, pdf))


@vjp("ml.prelu")
def _prelu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    x, slope = op.operands
    neg = ctx.emit("ml.less", x, ctx.scalar(0.0, x))
    gx = ctx.select(neg, ctx.mul(g, slope), g) if ctx.wants(x) else None
    gs = _unb(ctx, ctx.select(neg, ctx.mul(g, x)), slope, op) if ctx.wants(slope) else None
    return [gx, gs]


@vjp("ml.where")
def _where(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    c, x, y = op.operands
    gx = _unb(ctx, ctx.select(c, g), x, op) if ctx.wants(x) else None
    gy = _unb(ctx, ctx.emit("ml.where", c, ctx.scalar(0.0, g), g), y, op) \
        if ctx.wants(y) else None
    return [None, gx, gy]


@vjp("ml.clip")
def _clip(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("x", "min?", "max?"))
    x, lo, hi = grp["x"], grp["min"], grp["max"]
    inside = None
    out: List[Optional[Value]] = []
    for bound, cmp_in in ((lo, "ml.greater_equal"), (hi, "ml.less_equal")):
        if bound is None:
            continue
        ok = ctx.emit(cmp_in, x, bound)
        inside = ok if inside is None else ctx.emit("ml.logical_and", inside, ok)
    gx = g if inside is None else ctx.select(inside, g)
    out.append(gx if ctx.wants(x) else None)
    for bound, cmp_out in ((lo, "ml.less"), (hi, "ml.greater")):
        if bound is None:
            continue
        if ctx.wants(bound):
            hit = ctx.select(ctx.emit(cmp_out, x, bound), g)
            out.append(_unb(ctx, hit, bound, op))
        else:
            out.append(None)
    return out


@vjp("ml.sum")
def _sum(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [_unb(ctx, cots[0], v, op) if ctx.wants(v) else None for v in op.operands]


@vjp("ml.mean")
def _mean(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = ctx.scale(cots[0], 1.0 / op.num_operands)
    return [_unb(ctx, g, v, op) if ctx.wants(v) else None for v in op.operands]


@vjp("ml.max", "ml.min")
def _max_min(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """The cotangent goes to the first operand that equals the result, elementwise."""
    g, y = cots[0], op.result
    taken = None
    out = []
    for v in op.operands:
        hit = ctx.emit("ml.equal", v, y)
        if taken is not None:
            hit = ctx.emit("ml.logical_and", hit, ctx.emit("ml.not", taken))
        taken = hit if taken is None else ctx.emit("ml.logical_or", taken, hit)
        out.append(_unb(ctx, ctx.select(hit, g), v, op) if ctx.wants(v) else None)
    return out
