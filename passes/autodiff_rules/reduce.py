"""VJP rules of reductions: `reduce_*` (sum, mean, max, min, prod, l1, l2, sum_square,
log_sum, log_sum_exp) and `cumsum`.

The cotangent of a reduction is broadcast back over the reduced axes (re-inserted first when
`keepdims` is false). Ties of max/min share the cotangent equally, as JAX and PyTorch do.
"""
from __future__ import annotations

from typing import Optional, Sequence

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import norm_axes

from .context import VJPContext
from .table import vjp

__all__ = ["reduced_axes", "expand_reduced", "extremum_grad"]

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops have a single result, so it is never None.
Cots = Sequence[Value]


def reduced_axes(ctx: VJPContext, op: Operation) -> Optional[tuple]:
    """The axes `op` reduces (normalized), or None when it is the identity."""
    r = ctx.rank(op.operands[0])
    axes = op.attr("axes")
    if not axes:
        return None if op.attr("noop_with_empty_axes") else tuple(range(r))
    return tuple(norm_axes(axes, r))


def expand_reduced(ctx: VJPContext, v: Value, x: Value, axes: tuple, keepdims: bool) -> Value:
    """A reduced value (or its cotangent) broadcast back to the shape of `x`."""
    if not keepdims and axes:
        v = ctx.emit("ml.unsqueeze", v, axes=axes)
    return ctx.broadcast_like(v, x)


def extremum_grad(ctx: VJPContext, x: Value, y: Value, g: Value, axes: tuple,
                  keepdims: bool = True) -> Value:
    """Cotangent of a max/min reduction: split evenly between the positions that attain it."""
    yb = expand_reduced(ctx, y, x, axes, keepdims)
    hit = ctx.emit("ml.cast", ctx.emit("ml.equal", x, yb), to=ctx.element(x))
    n = ctx.emit("ml.reduce_sum", hit, axes=axes, keepdims=True)
    gb = g if keepdims or not axes else ctx.emit("ml.unsqueeze", g, axes=axes)
    return ctx.mul(hit, ctx.broadcast_like(ctx.div(gb, n), x))


def _reduction(name: str):
    """Register `local(ctx, x, y_broadcast) -> d y / d x` for a reduce op."""
    def deco(local):
        @vjp(name)
        def rule(ctx: VJPContext, op: Operation, cots: Cots) -> list:
            g, x, y = cots[0], op.operands[0], op.result
            axes = reduced_axes(ctx, op)
            if axes is None:
                return [g]
            keep = op.attr("keepdims")
            gb = expand_reduced(ctx, g, x, axes, keep)
            d = local(ctx, op, x, y, axes, keep)
            return [gb if d is None else ctx.mul(gb, d)]
        return local
    return deco


_reduction("ml.reduce_sum")(lambda ctx, op, x, y, axes, keep: None)
_reduction("ml.reduce_l1")(lambda ctx, op, x, y, axes, keep: ctx.emit("ml.sign", x))
_reduction("ml.reduce_sum_square")(lambda ctx, op, x, y, axes, keep: ctx.scale(x, 2.0))


@_reduction("ml.reduce_mean")
def _mean(ctx: VJPContext, op: Operation, x: Value, y: Value, axes: tuple, keep: bool) -> Value:
    return ctx.emit("ml.reciprocal", ctx.count(x, axes))


@_reduction("ml.reduce_l2")
def _l2(ctx: VJPContext, op: Operation, x: Value, y: Value, axes: tuple, keep: bool) -> Value:
    return ctx.div(x, expand_reduced(ctx, y, x, axes, keep))


@_reduction("ml.reduce_log_sum_exp")
def _lse(ctx: VJPContext, op: Operation, x: Value, y: Value, axes: tuple, keep: bool) -> Value:
    return ctx.emit("ml.exp", ctx.sub(x, expand_reduced(ctx, y, x, axes, keep)))


@_reduction("ml.reduce_log_sum")
def _log_sum(ctx: VJPContext, op: Operation, x: Value, y: Value, axes: tuple,
             keep: bool) -> Value:
    return ctx.emit("ml.exp", ctx.neg(expand_reduced(ctx, y, x, axes, keep)))


@_reduction("ml.reduce_prod")
def _prod(ctx: VJPContext, op: Operation, x: Value, y: Value, axes: tuple, keep: bool) -> Value:
    return ctx.div(expand_reduced(ctx, y, x, axes, keep), x)  # x must be non-zero


@vjp("ml.reduce_max", "ml.reduce_min")
def _extremum(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    axes = reduced_axes(ctx, op)
    if axes is None:
        return [cots[0]]
    return [extremum_grad(ctx, op.operands[0], op.result, cots[0], axes, op.attr("keepdims"))]


@vjp("ml.cumsum")
def _cumsum(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.emit("ml.cumsum", cots[0], axis=op.attr("axis"),
                     exclusive=op.attr("exclusive"), reverse=not op.attr("reverse"))]
