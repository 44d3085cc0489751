"""Reductions: Reduce* (axes inputs that are not constants use the `_dynamic` ops), ArgMax/ArgMin,
CumSum and CumProd."""
from __future__ import annotations

from typing import List

from mlir_lite.ir.core import Value

from ..context import NodeContext
from ..registry import converter
from ._util import as_i64, bool_attr

REDUCE = {"ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
          "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1",
          "ReduceL2": "reduce_l2", "ReduceLogSum": "reduce_log_sum",
          "ReduceLogSumExp": "reduce_log_sum_exp", "ReduceSumSquare": "reduce_sum_square"}


def _reduce(ml: str, axes_input: bool):
    def conv(ctx: NodeContext) -> List[Value]:
        noop = False
        if axes_input:
            noop = bool_attr(ctx, "noop_with_empty_axes")
            if ctx.has_input(1):
                axes = ctx.const_ints(1)
                if axes is None:
                    return [ctx.op(f"ml.{ml}_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)),
                                   keepdims=bool_attr(ctx, "keepdims", 1),
                                   noop_with_empty_axes=noop)]
            else:
                axes = ()
        else:
            axes = tuple(ctx.attr("axes", (), "ints"))
        return [ctx.op(f"ml.{ml}", ctx.input(0), axes=axes,
                       keepdims=bool_attr(ctx, "keepdims", 1), noop_with_empty_axes=noop)]
    return conv


for _op, _ml in REDUCE.items():
    converter(_op, since=1)(_reduce(_ml, False))
    converter(_op, since=13 if _op == "ReduceSum" else 18)(_reduce(_ml, True))


@converter("ArgMax", "ArgMin", since=1)
def _arg(ctx: NodeContext) -> List[Value]:
    return [ctx.op(f"ml.{ctx.node.op_type.lower()}", ctx.input(0),
                   axis=ctx.attr("axis", 0, "int"), keepdims=bool_attr(ctx, "keepdims", 1),
                   select_last_index=bool_attr(ctx, "select_last_index"))]


@converter("CumSum", since=11)
@converter("CumProd", since=26)
def _cumulative(ctx: NodeContext) -> List[Value]:
    ml = f"ml.{ctx.node.op_type.lower()}"
    axis = ctx.const_scalar(1)
    if axis is None:
        return [ctx.op(f"{ml}_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)),
                       exclusive=bool_attr(ctx, "exclusive"), reverse=bool_attr(ctx, "reverse"))]
    return [ctx.op(ml, ctx.input(0), axis=int(axis),
                   exclusive=bool_attr(ctx, "exclusive"), reverse=bool_attr(ctx, "reverse"))]
