"""Lowering an `ml.fused` op to ONE tensor-expression graph, compiled as one PrimFunc.

    outs, ctx = lower_fused(fused_op, [te_x, te_w, te_b])

The region's block arguments are bound to the given tensors (the kernel's placeholders), every
op of the region is lowered with its ordinary rule (lower.py), and the yielded values are the
kernel's outputs. Intermediate stages stay in the graph: the CPU schedule inlines the injective
ones into their consumers and attaches the epilogue of a matmul/conv anchor to the anchor's
tile loop (schedules/fused.py). The returned context carries the kernel kind and schedule hints
of the group's anchor (the member declared `FusionAnchor`; the fuser puts at most one in a
group), else of its first member whose kind has a schedule of its own, else `injective`; and
the error checks of all member ops.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
from tvm import te, tirx

from mlir_lite.ir.core import Operation, Value

from .lower import KINDS, LOWERING, LowerContext, value_dtype
from .narrow_types import as_storage
from .schedules import CPU_SCHEDULES

__all__ = ["lower_fused"]


def _constant(op: Operation) -> te.Tensor:
    """A (small) constant cloned into the region, as a compute of its values."""
    arr = as_storage(op.attributes["value"].array)  # an 8/4/2-bit type: its bytes
    dtype = value_dtype(op.results[0])
    flat = arr.reshape(-1)
    if flat.size > 64:
        raise ValueError(f"a constant of {flat.size} elements inside a fused region")
    shape = [tirx.IntImm("int64", d) for d in arr.shape]
    strides = [int(np.prod(arr.shape[i + 1:])) for i in range(arr.ndim)]

    def body(*idx: tirx.PrimExpr) -> tirx.PrimExpr:
        val = LowerContext.const(flat[-1].item(), dtype)
        if flat.size == 1:
            return val
        lin = sum((i * s for i, s in zip(idx, strides)), tirx.const(0, "int64"))
        for k in range(flat.size - 2, -1, -1):
            val = tirx.Select(lin == k, LowerContext.const(flat[k].item(), dtype), val)
        return val
    return te.compute(shape, body, name="cst")


def _distinct_outputs(outs: List[te.Tensor], inputs: Sequence[te.Tensor]) -> List[te.Tensor]:
    """Each output its own computed tensor: a yielded input or a tensor yielded twice is copied."""
    seen: set = {id(t) for t in inputs}
    res = []
    for t in outs:
        if id(t) in seen:
            t = te.compute(t.shape, lambda *i, t=t: t[i], name="copy")
        seen.add(id(t))
        res.append(t)
    return res


def lower_fused(op: Operation, inputs: Sequence[te.Tensor]
                ) -> Tuple[List[te.Tensor], LowerContext]:
    """The output tensors of fused op `op` given one tensor per operand, and its context."""
    block = op.regions[0].blocks[0]
    env: Dict[Value, te.Tensor] = dict(zip(block.args, inputs))
    fused_ctx = LowerContext(op, kind="injective")
    anchored = False
    for inner in block.ops:
        if inner.name == "ml.yield":
            return _distinct_outputs([env[v] for v in inner.operands], inputs), fused_ctx
        if inner.name == "ml.constant":
            env[inner.results[0]] = _constant(inner)
            continue
        rule = LOWERING.get(inner.name)
        if rule is None:
            raise NotImplementedError(f"no TVM lowering for {inner.name} inside ml.fused")
        kind = KINDS[inner.name]
        ctx = LowerContext(inner, kind="injective" if kind == "view" else kind)
        outs = rule(ctx, inner, *[env[v] for v in inner.operands])
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        if len(outs) != len(inner.results):
            raise ValueError(f"the lowering of {inner.name} gave {len(outs)} tensors for "
                             f"{len(inner.results)} results")
        for r, t in zip(inner.results, outs):
            want = value_dtype(r)
            if t.dtype != want:
                raise TypeError(f"the lowering of {inner.name} gives {t.dtype}, the IR says "
                                f"{want}")
            env[r] = t
        fused_ctx.checks.extend(ctx.checks)
        if anchored:
            continue
        anchored = inner.has_trait("FusionAnchor")
        if anchored or (fused_ctx.kind == "injective" and ctx.kind != "injective"
                        and ctx.kind in CPU_SCHEDULES):
            fused_ctx.kind = ctx.kind
            fused_ctx.hints = dict(ctx.hints)
    raise ValueError("ml.fused: the region does not end with ml.yield")
