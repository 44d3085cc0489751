"""The VJP rule table: one reverse-mode rule per op, found by op name.

    @vjp("ml.mul")
    def _mul(ctx, op, cots):
        (g,) = cots
        a, b = op.operands
        return [ctx.unbroadcast(ctx.emit("ml.mul", g, b), a),
                ctx.unbroadcast(ctx.emit("ml.mul", g, a), b)]

A rule takes the `VJPContext` (builder helpers, `ctx.wants(value)`), the forward op and one
cotangent per result (None where a result has none: it is zero), emits the backward ops, and
returns one cotangent per operand (None for operands that get none: integer indices, operands
that `ctx.wants` says need none). Rules for ops with regions also add cotangents of the values
their regions capture with `ctx.accumulate`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

__all__ = ["VJP_RULES", "VjpRule", "vjp", "no_gradient", "NON_DIFFERENTIABLE"]

# (ctx, op, cotangents): the cotangents are Optional[Value]s; a rule of single-result ops may
# take them as Values (it only runs when there is one)
VjpRule = Callable[[Any, Any, Sequence[Any]], List[Optional[Any]]]
VJP_RULES: Dict[str, VjpRule] = {}

# Float-valued ops whose derivative is zero almost everywhere (or that are not differentiable):
# gradients stop at them instead of raising.
NON_DIFFERENTIABLE = ("ml.sign", "ml.floor", "ml.ceil", "ml.round", "ml.hardmax", "ml.isnan",
                      "ml.isinf", "ml.eye_like", "ml.shape", "ml.size", "ml.argmax",
                      "ml.argmin", "ml.nonzero", "ml.reduce_any", "ml.reduce_any_dynamic")


def vjp(*names: str) -> Callable[[VjpRule], VjpRule]:
    """Register `fn(ctx, op, cotangents) -> operand cotangents` as the VJP of the named ops."""
    def deco(fn: VjpRule) -> VjpRule:
        for n in names:
            if n in VJP_RULES:
                raise ValueError(f"VJP rule for {n} is registered twice")
            VJP_RULES[n] = fn
        return fn
    return deco


def no_gradient(ctx: Any, op: Any, cots: Sequence[Optional[Any]]) -> List[Optional[Any]]:
    """The rule of ops whose operands get no gradient."""
    return [None] * op.num_operands


for _n in NON_DIFFERENTIABLE:
    vjp(_n)(no_gradient)
