"""`fold-batchnorm`: fold inference batch_norm into the conv/gemm/matmul before it.

    %c = "ml.conv"(%x, %w, %b) {...} : (...) -> tensor<1x8x6x6xf32>
    %y = "ml.batch_norm"(%c, %s, %beta, %mu, %var) {epsilon = 1e-5} : (...) -> tensor<1x8x6x6xf32>
  ->
    %y = "ml.conv"(%x, %w', %b') {...} : (...) -> tensor<1x8x6x6xf32>

with k = s / sqrt(var + eps), w' = w * k (per output channel), b' = (b - mu) * k + beta. For
`ml.gemm` (output [M, N], channel = N) the columns of op(B) are scaled and C becomes
k * (beta_gemm * C - mu) + beta with beta_gemm = 1; for a rank-2 `ml.matmul` the columns of the
weight are scaled and an `ml.add` of the folded bias follows. Only when the weights and every
batch_norm parameter are constants and the batch_norm is the only user of the conv/gemm/matmul.
Folding happens in float64 and is stored in the weights' type.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Optional

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.types import TensorType

from .manager import Pass, PassContext
from .registry import register_pass
from .rewrite import (
    Decline,
    MatchResult,
    PatternDebug,
    PatternRewriter,
    apply_patterns_greedily,
    constant_value,
    pattern,
    producer,
)

__all__ = ["FoldBatchNorm", "fold_batchnorm_pattern"]


def _const(v: Optional[Value]) -> Optional[np.ndarray]:
    if v is None:
        return None
    c = constant_value(v)
    return None if c is None else np.asarray(c.array, dtype=np.float64)


def _attr(arr: np.ndarray, like: TensorType) -> DenseAttr:
    t = TensorType(like.element, tuple(arr.shape))
    return DenseAttr(np.ascontiguousarray(arr.astype(like.element.np_dtype)), t)


@pattern("ml.batch_norm", name="fold-batchnorm")
def fold_batchnorm_pattern(bn: Operation, rewriter: PatternRewriter) -> MatchResult:
    """batch_norm(conv|gemm|matmul(x, W const ...)) with constant parameters -> one op."""
    src = producer(bn.operand(0))
    if src is None or src.name not in ("ml.conv", "ml.gemm", "ml.matmul"):
        return Decline("input is not produced by ml.conv, ml.gemm or ml.matmul")
    if src.results[0].num_uses != 1:
        return Decline(f"the {src.name} result has other users")
    found = [_const(v) for v in bn.operands[1:5]]
    params = [p for p in found if p is not None]
    if len(params) != len(found):
        return Decline("a batch_norm parameter is not a constant")
    scale, beta, mean, var = params
    w_val = src.operand(1)
    w = _const(w_val)
    if w is None:
        return Decline(f"the {src.name} weight is not a constant")
    wt = w_val.type
    if not isinstance(wt, TensorType) or not wt.element.is_float:
        return Decline("the weight is not a float tensor")
    k = scale / np.sqrt(var + float(bn.attr("epsilon")))
    out_t = src.results[0].type
    if src.name == "ml.conv":
        if w.ndim < 3 or k.shape != (w.shape[0],):
            return Decline("batch_norm channels do not match the conv's output channels")
        b_val = src.b  # type: ignore[attr-defined]
        b = np.zeros(w.shape[0]) if b_val is None else _const(b_val)
        if b is None:
            return Decline("the conv bias is not a constant")
        w2 = w * k.reshape((-1,) + (1,) * (w.ndim - 1))
        b2 = (b - mean) * k + beta
        x = src.operand(0)
        wc = rewriter.materialize_constant(bn, _attr(w2, wt))
        bc = rewriter.materialize_constant(bn, _attr(b2, wt))
        attrs = {n: v for n, v in src.attributes.items() if n != "operandSegmentSizes"}
        rewriter.replace_op_with(bn, "ml.conv", [x, wc, bc], attrs, [out_t])
        return True
    if not (isinstance(out_t, TensorType) and out_t.rank == 2):
        return Decline(f"the {src.name} output is not rank 2, so its channel axis is not the "
                       "weight's output features")
    n = out_t.dims[1]
    if src.name == "ml.gemm":
        trans_b = bool(src.attr("trans_b"))
        n_w = w.shape[0] if trans_b else w.shape[1]
        if k.shape != (n_w,):
            return Decline("batch_norm channels do not match the gemm's output features")
        w2 = w * (k[:, None] if trans_b else k[None, :])
        c_val = src.c  # type: ignore[attr-defined]
        c: Any = 0.0 if c_val is None else _const(c_val)
        if c is None:
            return Decline("the gemm's C is not a constant")
        c2 = k * (float(src.attr("beta")) * c - mean) + beta
        wc = rewriter.materialize_constant(bn, _attr(w2, wt))
        cc = rewriter.materialize_constant(bn, _attr(np.asarray(c2), wt))
        attrs = {a: v for a, v in src.attributes.items() if a != "operandSegmentSizes"}
        attrs["beta"] = 1.0
        rewriter.replace_op_with(bn, "ml.gemm", [src.operand(0), wc, cc], attrs, [out_t])
        return True
    if w.ndim != 2 or k.shape != (w.shape[1],) or (type(n) is int and n != w.shape[1]):
        return Decline("batch_norm channels do not match the matmul's output features")
    wc = rewriter.materialize_constant(bn, _attr(w * k[None, :], wt))
    mm = rewriter.create_before(bn, "ml.matmul", [src.operand(0), wc], {}, [out_t])
    bc = rewriter.materialize_constant(bn, _attr(beta - mean * k, wt))
    rewriter.replace_op_with(bn, "ml.add", [mm.results[0], bc], {}, [out_t])
    return True


@register_pass
@dataclasses.dataclass(frozen=True)
class FoldBatchNorm(Pass):
    """Fold inference batch_norm into a preceding conv/gemm/matmul with constant weights."""

    name = "fold-batchnorm"
    summary = "fold inference batch_norm into the preceding conv, gemm or rank-2 matmul"

    debug: bool = False

    def run(self, module: Operation, ctx: PassContext) -> bool:
        dbg = PatternDebug()
        result = apply_patterns_greedily(module, [fold_batchnorm_pattern], fold=False,
                                         debug=dbg)
        ctx.stats[self.name] = dbg
        if self.debug:
            sys.stderr.write(f"// fold-batchnorm report\n{dbg.report()}")
        return result.changed
