"""VJP rules of indexing ops: gathers scatter-add their cotangent back, scatters gather it.

    gather(data, idx, axis=0):   d data = scatter_nd(zeros, idx[..., None], g, reduction=add)
    gather_elements:             d data = scatter_elements(zeros, idx, g, reduction=add)
    topk values:                 d x    = scatter_elements(zeros, indices, g, reduction=add)
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import norm_axis

from .context import VJPContext
from .table import vjp

__all__: List[str] = []

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops (all but ml.split / ml.topk) have a single result, so it is never None.
Cots = Sequence[Value]


@vjp("ml.gather")
def _gather(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    data, idx = op.operands
    r = ctx.rank(data)
    axis = norm_axis(op.attr("axis"), r)
    ri = ctx.rank(idx)
    loc = ctx.emit("ml.unsqueeze", idx, axes=(ri,))
    if axis == 0:
        out = ctx.emit("ml.scatter_nd", ctx.zeros_like(data), loc, g, reduction="add")
        return [ctx.refine(out, data.type), None]
    # Bring the gathered axis (and the index dims of g) to the front, scatter, move back.
    perm_d = [axis] + [a for a in range(r) if a != axis]
    perm_g = list(range(axis, axis + ri)) + list(range(axis)) + \
        list(range(axis + ri, ri + r - 1))
    gt = ctx.transpose(g, perm_g)
    zt = ctx.zeros_like(ctx.transpose(data, perm_d))
    out = ctx.emit("ml.scatter_nd", zt, loc, gt, reduction="add")
    inv = [0] * r
    for i, p in enumerate(perm_d):
        inv[p] = i
    return [ctx.refine(ctx.transpose(out, inv), data.type), None]


@vjp("ml.gather_elements")
def _gather_elements(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    data, idx = op.operands
    out = ctx.emit("ml.scatter_elements", ctx.zeros_like(data), idx, cots[0],
                   axis=op.attr("axis"), reduction="add")
    return [out, None]


@vjp("ml.gather_nd")
def _gather_nd(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    if op.attr("batch_dims"):
        raise ctx.fail("gather_nd with batch_dims > 0 is not differentiated")
    data, idx = op.operands
    out = ctx.emit("ml.scatter_nd", ctx.zeros_like(data), idx, cots[0], reduction="add")
    return [out, None]


def _scatter_rule(gather_name: str, axis_attr: bool):
    def rule(ctx: VJPContext, op: Operation, cots: Cots) -> list:
        g = cots[0]
        data, idx, upd = op.operands
        red = op.attr("reduction")
        if red not in ("none", "add"):
            raise ctx.fail(f"reduction {red!r} is not differentiated (only 'none' and 'add')")
        attrs = {"axis": op.attr("axis")} if axis_attr else {}
        gd = None
        if ctx.wants(data):
            gd = g if red == "add" else ctx.emit(op.name, g, idx, ctx.zeros_like(upd),
                                                 reduction="none", **attrs)
        gu = ctx.emit(gather_name, g, idx, **attrs) if ctx.wants(upd) else None
        return [gd, None, ctx.refine(gu, upd.type) if gu is not None else None]
    return rule


vjp("ml.scatter_elements")(_scatter_rule("ml.gather_elements", True))
vjp("ml.scatter_nd")(_scatter_rule("ml.gather_nd", False))


@vjp("ml.topk")
def _topk(ctx: VJPContext, op: Operation, cots: Sequence[Optional[Value]]) -> list:
    g = cots[0]
    x = op.operands[0]
    if g is None:
        return [None]
    out = ctx.emit("ml.scatter_elements", ctx.zeros_like(x), op.results[1], g,
                   axis=op.attr("axis"), reduction="add")
    return [out]


@vjp("ml.trilu")
def _trilu(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.emit("ml.trilu", cots[0], upper=op.attr("upper"), k=op.attr("k"))]


@vjp("ml.reverse_sequence")
def _reverse_sequence(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.emit("ml.reverse_sequence", cots[0], op.operands[1],
                     batch_axis=op.attr("batch_axis"), time_axis=op.attr("time_axis")), None]
