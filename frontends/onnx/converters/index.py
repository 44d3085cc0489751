"""Index-consuming ops: Gather*, Scatter*, OneHot, TopK, Trilu, NonZero, ReverseSequence."""
from __future__ import annotations

from typing import List

from mlir_lite.ir.core import Value

from ..context import NodeContext
from ..registry import converter
from ._util import as_i64


@converter("Gather", since=1)
def _gather(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.gather", ctx.input(0), ctx.input(1), axis=ctx.attr("axis", 0, "int"))]


@converter("GatherElements", since=11)
def _gather_elements(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.gather_elements", ctx.input(0), ctx.input(1),
                   axis=ctx.attr("axis", 0, "int"))]


@converter("GatherND", since=11)
def _gather_nd(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.gather_nd", ctx.input(0), ctx.input(1),
                   batch_dims=ctx.attr("batch_dims", 0, "int"))]


@converter("ScatterND", since=11)
def _scatter_nd(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.scatter_nd", ctx.input(0), ctx.input(1), ctx.input(2),
                   reduction=ctx.attr("reduction", "none", "string"))]


@converter("ScatterElements", "Scatter", since=9)
def _scatter_elements(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.scatter_elements", ctx.input(0), ctx.input(1), ctx.input(2),
                   axis=ctx.attr("axis", 0, "int"),
                   reduction=ctx.attr("reduction", "none", "string"))]


@converter("OneHot", since=9)
def _one_hot(ctx: NodeContext) -> List[Value]:
    depth = ctx.const_scalar(1)
    if depth is None:
        return [ctx.op("ml.one_hot_dynamic", ctx.input(0), ctx.input(1), ctx.input(2),
                       axis=ctx.attr("axis", -1, "int"))]
    return [ctx.op("ml.one_hot", ctx.input(0), ctx.input(2), depth=int(depth),
                   axis=ctx.attr("axis", -1, "int"))]


@converter("TopK", since=1)
def _topk1(ctx: NodeContext) -> List[Value]:
    return list(ctx.op("ml.topk", ctx.input(0), k=ctx.attr("k", kind="int"),
                       axis=ctx.attr("axis", -1, "int")))


@converter("TopK", since=10)
def _topk10(ctx: NodeContext) -> List[Value]:
    attrs = dict(axis=ctx.attr("axis", -1, "int"))
    if ctx.opset >= 11:
        attrs.update(largest=ctx.attr("largest", 1, "int"), sorted=ctx.attr("sorted", 1, "int"))
    k = ctx.const_scalar(1)
    if k is not None:
        return list(ctx.op("ml.topk", ctx.input(0), k=int(k), **attrs))
    return list(ctx.op("ml.topk_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)), **attrs))


@converter("Trilu", since=14)
def _trilu(ctx: NodeContext) -> List[Value]:
    k = 0
    if ctx.has_input(1):
        kc = ctx.const_scalar(1)
        if kc is None:
            return [ctx.op("ml.trilu_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)),
                           upper=ctx.attr("upper", 1, "int"))]
        k = int(kc)
    return [ctx.op("ml.trilu", ctx.input(0), upper=ctx.attr("upper", 1, "int"), k=int(k))]


@converter("NonZero", since=9)
def _nonzero(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.nonzero", ctx.input(0))]


@converter("ReverseSequence", since=10)
def _reverse_sequence(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.reverse_sequence", ctx.input(0), ctx.input(1),
                   batch_axis=ctx.attr("batch_axis", 1, "int"),
                   time_axis=ctx.attr("time_axis", 0, "int"))]


@converter("Unique", since=11)
def _unique(ctx: NodeContext) -> List[Value]:
    axis = ctx.attr("axis", None, "int")
    op = ctx.create("ml.unique", [ctx.input(0)],
                    {"axis": axis, "sorted": bool(ctx.attr("sorted", 1, "int"))})
    return list(op.results)
