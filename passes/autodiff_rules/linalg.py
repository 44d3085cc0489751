"""VJP rules of `matmul` (batched, broadcast, 1-D operands), `gemm` and two-operand `einsum`.

    matmul:  dA = g @ B^T (summed over A's broadcast batch dims),  dB = A^T @ g
"""
from __future__ import annotations

from typing import List, Sequence

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import operand_groups
from mlir_lite.ir.dialects.ml.linalg import parse_einsum

from .context import VJPContext
from .table import vjp

__all__: List[str] = []

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops have a single result, so it is never None.
Cots = Sequence[Value]


def _swap_last(ctx: VJPContext, v: Value) -> Value:
    r = ctx.rank(v)
    return ctx.transpose(v, list(range(r - 2)) + [r - 1, r - 2])


@vjp("ml.matmul")
def _matmul(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    a, b = op.operands
    ra, rb = ctx.rank(a), ctx.rank(b)
    # Promote 1-D operands (and the cotangent) as numpy does, then drop the added axes.
    a2 = ctx.emit("ml.unsqueeze", a, axes=(0,)) if ra == 1 else a
    b2 = ctx.emit("ml.unsqueeze", b, axes=(1,)) if rb == 1 else b
    g2 = g
    if ra == 1:
        g2 = ctx.emit("ml.unsqueeze", g2, axes=(ctx.rank(g2) - (0 if rb == 1 else 1),))
    if rb == 1:
        g2 = ctx.emit("ml.unsqueeze", g2, axes=(ctx.rank(g2),))
    out: list = [None, None]
    if ctx.wants(a):
        da = ctx.emit("ml.matmul", g2, _swap_last(ctx, b2))
        da = ctx.unbroadcast(da, a2)
        out[0] = ctx.emit("ml.squeeze", da, axes=(0,)) if ra == 1 else da
    if ctx.wants(b):
        db = ctx.emit("ml.matmul", _swap_last(ctx, a2), g2)
        db = ctx.unbroadcast(db, b2)
        out[1] = ctx.emit("ml.squeeze", db, axes=(1,)) if rb == 1 else db
    return out


@vjp("ml.gemm")
def _gemm(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    grp = operand_groups(list(op.operands), op.attributes, ("a", "b", "c?"))
    a, b, c = grp["a"], grp["b"], grp["c"]
    alpha, beta = op.attr("alpha"), op.attr("beta")
    ta, tb = op.attr("trans_a"), op.attr("trans_b")
    out: list = [None, None]
    if ctx.wants(a):
        if ta:  # dA = op(B) @ g^T
            out[0] = ctx.emit("ml.gemm", b, g, alpha=alpha, trans_a=tb, trans_b=True)
        else:  # dA = g @ op(B)^T
            out[0] = ctx.emit("ml.gemm", g, b, alpha=alpha, trans_b=not tb)
    if ctx.wants(b):
        if tb:  # dB = g^T @ op(A)
            out[1] = ctx.emit("ml.gemm", g, a, alpha=alpha, trans_a=True, trans_b=ta)
        else:  # dB = op(A)^T @ g
            out[1] = ctx.emit("ml.gemm", a, g, alpha=alpha, trans_a=not ta)
    if c is not None:
        out.append(ctx.unbroadcast(ctx.scale(g, beta), c) if ctx.wants(c) else None)
    return out


@vjp("ml.einsum")
def _einsum(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    """d(operand k) = einsum(g, other operands -> subscript of k), when every letter of operand
    k appears in the output or another operand and no operand repeats a letter."""
    g = cots[0]
    ins = list(op.operands)
    terms, out_term, _ = parse_einsum(op.attr("equation"), [ctx.rank(v) for v in ins])
    grads: list = []
    for k, v in enumerate(ins):
        if not ctx.wants(v):
            grads.append(None)
            continue
        others = [t for j, t in enumerate(terms) if j != k]
        term = terms[k]
        if len(set(term)) != len(term) or any(
                ch not in out_term and not any(ch in t for t in others) for ch in term):
            raise ctx.fail(f"equation {op.attr('equation')!r}: operand {k} repeats or sums a "
                           "subscript alone, which this rule does not differentiate")
        eq = ",".join([out_term] + others) + "->" + term
        vals = [g] + [x for j, x in enumerate(ins) if j != k]
        grads.append(ctx.unbroadcast(ctx.emit("ml.einsum", *vals, equation=eq), v))
    return grads
