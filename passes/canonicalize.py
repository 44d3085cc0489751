"""`canonicalize`: algebraic simplifications, op folds and dead-code erasure, to a fixed point.

    %z = "ml.constant"() {value = dense<0.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %a = "ml.add"(%x, %z) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.neg"(%a) : (tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.neg"(%b) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%c) : (tensor<4xf32>) -> ()
  ->
    "func.return"(%x) : (tensor<4xf32>) -> ()

The patterns live in `CANONICALIZATION_PATTERNS`, a rule table keyed by op name; add one with
`@canonicalization("ml.op")`. A rewrite only fires when the replacement has exactly the type of
what it replaces (so `x + 0` is kept when the zero broadcasts `x` to a larger shape).

Float note: `x + 0.0 -> x` is applied to floats too (as XLA does); it differs from IEEE only in
the sign of a zero result when x is -0.0. `x * 0 -> 0` is applied to integers only (NaN, inf).
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Callable, Dict, List, Optional

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
    RewritePattern,
    apply_patterns_greedily,
    constant_value,
    pattern,
    producer,
)

__all__ = ["Canonicalize", "CANONICALIZATION_PATTERNS", "canonicalization",
           "canonicalization_patterns"]

CANONICALIZATION_PATTERNS: Dict[str, List[RewritePattern]] = {}


def canonicalization(*names: str, benefit: int = 1) -> Callable[[Callable], RewritePattern]:
    """Register `fn(op, rewriter)` as a canonicalization pattern of the named ops."""
    def deco(fn: Callable) -> RewritePattern:
        p = pattern(*names, benefit=benefit)(fn)
        for n in names:
            CANONICALIZATION_PATTERNS.setdefault(n, []).append(p)
        return p
    return deco


def canonicalization_patterns() -> List[RewritePattern]:
    """Every canonicalization pattern, each once."""
    seen: Dict[int, RewritePattern] = {}
    for ps in CANONICALIZATION_PATTERNS.values():
        for p in ps:
            seen.setdefault(id(p), p)
    return list(seen.values())


# -- helpers -------------------------------------------------------------------------------------
def _splat(v: Value) -> Optional[complex]:
    """The single value of a splat constant (as a Python number), else None."""
    c = constant_value(v)
    if c is None or not c.is_splat:
        return None
    return c.array.ravel()[0].item()


def _is_int(v: Value) -> bool:
    t = v.type
    return isinstance(t, TensorType) and t.element.is_int


def _forward(op: Operation, value: Value, rewriter: PatternRewriter, what: str) -> MatchResult:
    if value.type != op.results[0].type:
        return Decline(f"{what}: operand type {value.type} differs from result type "
                       f"{op.results[0].type} (broadcast or less precise)")
    rewriter.replace_op(op, [value])
    return True


# -- arithmetic identities -----------------------------------------------------------------------
@canonicalization("ml.add")
def add_zero(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x + 0 -> x, 0 + x -> x."""
    lhs, rhs = op.operands
    if _splat(rhs) == 0:
        return _forward(op, lhs, rewriter, "x + 0")
    if _splat(lhs) == 0:
        return _forward(op, rhs, rewriter, "0 + x")
    return Decline("no zero operand")


@canonicalization("ml.sub")
def sub_zero(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x - 0 -> x."""
    if _splat(op.operands[1]) == 0:
        return _forward(op, op.operands[0], rewriter, "x - 0")
    return Decline("rhs is not zero")


@canonicalization("ml.mul")
def mul_one(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x * 1 -> x, 1 * x -> x."""
    lhs, rhs = op.operands
    if _splat(rhs) == 1:
        return _forward(op, lhs, rewriter, "x * 1")
    if _splat(lhs) == 1:
        return _forward(op, rhs, rewriter, "1 * x")
    return Decline("no one operand")


@canonicalization("ml.mul")
def mul_zero(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x * 0 -> 0 for integers (floats keep it: NaN * 0 is NaN)."""
    rt = op.results[0].type
    if not _is_int(op.results[0]):
        return Decline("not an integer multiply")
    if _splat(op.operands[0]) != 0 and _splat(op.operands[1]) != 0:
        return Decline("no zero operand")
    if not (isinstance(rt, TensorType) and rt.is_static):
        return Decline("result shape is not static")
    zero = DenseAttr(np.zeros(rt.dims, dtype=rt.element.np_dtype), rt)
    rewriter.replace_op(op, [rewriter.materialize_constant(op, zero)])
    return True


@canonicalization("ml.pow")
def pow_small_integer(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x ** 2 -> x * x, x ** 3 -> x * x * x for floats (a GELU's cube): exact to within the
    rounding of one product, vectorisable, and no libm pow per element."""
    x = op.operands[0]
    e = _splat(op.operands[1])
    if e not in (2, 3) or _is_int(x):
        return Decline("exponent is not a constant 2 or 3 on floats")
    if x.type != op.results[0].type:
        return Decline("the exponent broadcasts x to another shape")
    sq = rewriter.create_before(op, "ml.mul", [x, x], result_types=[x.type]).results[0]
    if e == 2:
        rewriter.replace_op(op, [sq])
    else:
        rewriter.replace_op_with(op, "ml.mul", [sq, x], {})
    return True


@canonicalization("ml.div")
def div_one(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """x / 1 -> x."""
    if _splat(op.operands[1]) == 1:
        return _forward(op, op.operands[0], rewriter, "x / 1")
    return Decline("rhs is not one")


@canonicalization("ml.neg")
def double_neg(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """neg(neg(x)) -> x."""
    inner = producer(op.operands[0], "ml.neg")
    if inner is None:
        return Decline("operand is not ml.neg")
    return _forward(op, inner.operands[0], rewriter, "neg(neg(x))")


# -- no-op conversions ---------------------------------------------------------------------------
@canonicalization("ml.cast", "ml.identity")
def noop_cast(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """cast(x) to x's own type -> x; identity(x) -> x."""
    return _forward(op, op.operands[0], rewriter, op.name)


def _perm(op: Operation) -> Optional[tuple]:
    perm = op.attr("perm")
    if perm is not None:
        return tuple(perm)
    t = op.operands[0].type
    if isinstance(t, TensorType) and t.shape is not None:
        return tuple(range(len(t.shape) - 1, -1, -1))
    return None


@canonicalization("ml.transpose")
def identity_transpose(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """transpose(x, perm=[0, 1, ..]) -> x."""
    perm = _perm(op)
    if perm is None or perm != tuple(range(len(perm))):
        return Decline("perm is not the identity (or the rank is unknown)")
    return _forward(op, op.operands[0], rewriter, "identity transpose")


@canonicalization("ml.transpose")
def merge_transposes(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """transpose(transpose(x, p1), p2) -> transpose(x, p1[p2]) (or x when that is identity)."""
    inner = producer(op.operands[0], "ml.transpose")
    if inner is None:
        return Decline("operand is not ml.transpose")
    p1, p2 = _perm(inner), _perm(op)
    if p1 is None or p2 is None or len(p1) != len(p2):
        return Decline("unknown rank")
    q = tuple(p1[j] for j in p2)
    x = inner.operands[0]
    if q == tuple(range(len(q))):
        return _forward(op, x, rewriter, "transpose pair cancels")
    rewriter.replace_op_with(op, "ml.transpose", [x], {"perm": q})
    return True


@canonicalization("ml.reshape")
def noop_reshape(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """reshape(x) to x's own shape -> x (every dim known: static or symbolic)."""
    x = op.operands[0]
    t = x.type
    if not isinstance(t, TensorType) or t.shape is None or None in t.shape:
        return Decline("input shape has unknown dims")
    return _forward(op, x, rewriter, "reshape to the same shape")


@canonicalization("ml.reshape")
def merge_reshapes(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """reshape(reshape(x, s1), s2) -> reshape(x, s2) (when s2 copies no input dim with 0)."""
    inner = producer(op.operands[0], "ml.reshape")
    if inner is None:
        return Decline("operand is not ml.reshape")
    shape = tuple(op.attr("shape"))
    if 0 in shape and not op.attr("allowzero"):
        rt = op.results[0].type
        if not (isinstance(rt, TensorType) and rt.is_static):
            return Decline("outer shape copies input dims (0) and the result is not static")
        shape = rt.dims
    attrs = {"shape": shape}
    if op.attr("allowzero"):
        attrs["allowzero"] = op.attr("allowzero")
    rewriter.replace_op_with(op, "ml.reshape", [inner.operands[0]], attrs)
    return True


# -- control flow ---------------------------------------------------------------------------------
@canonicalization("scf.if")
def constant_if(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """scf.if on a constant condition -> the chosen region, inlined."""
    c = constant_value(op.operands[0])
    if c is None:
        return Decline("condition is not a constant")
    region = op.regions[0] if bool(c.array.ravel()[0]) else op.regions[1]
    if len(region.blocks) != 1:
        return Decline("chosen region does not have exactly one block")
    term = rewriter.inline_block_before(region.blocks[0], op)
    values = list(term.operands) if term is not None else []
    if term is not None:
        rewriter.erase_op(term)
    rewriter.replace_op(op, values)
    return True


@register_pass
@dataclasses.dataclass(frozen=True)
class Canonicalize(Pass):
    """Apply the canonicalization patterns and op folds greedily; erase dead pure ops."""

    name = "canonicalize"
    summary = "algebraic simplification, folding and dead-op erasure to a fixed point"

    max_iterations: int = 10
    fold: bool = True
    debug: bool = False

    def run(self, module: Operation, ctx: PassContext) -> bool:
        dbg = PatternDebug()
        result = apply_patterns_greedily(module, canonicalization_patterns(),
                                         max_iterations=self.max_iterations, fold=self.fold,
                                         debug=dbg)
        ctx.stats[self.name] = dbg
        if self.debug:
            sys.stderr.write(f"// canonicalize pattern report\n{dbg.report()}")
        return result.changed
