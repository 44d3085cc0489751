"""`fold-constants`: evaluate pure ops whose operands are all constants, with the interpreter.

    %a = "ml.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %b = "ml.exp"(%a) : (tensor<2xf32>) -> tensor<2xf32>
    %c = "ml.add"(%x, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  ->
    %b = "ml.constant"() {value = dense<[2.718282, 7.389056]> : tensor<2xf32>} : ...
    %c = "ml.add"(%x, %b) : ...

The meaning of each op comes from the interpreter's rule table (`mlir_lite.ir.interpreter.rules`),
so folding agrees with execution by construction. Results with more than `max-elements`
elements in total are left unfolded, so huge constants are never materialised; an op whose
rule fails on its constant inputs is left for run time to report.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, List

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Operation
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
)

__all__ = ["FoldConstants", "FoldThroughInterpreter", "DEFAULT_MAX_ELEMENTS"]

DEFAULT_MAX_ELEMENTS = 1 << 20


def _rules() -> dict:
    try:
        import mlir_lite.ir.interpreter  # noqa: F401  (registers every rule)
    except ImportError:  # pragma: no cover - only while the interpreter is being written
        pass
    from mlir_lite.ir.interpreter.rules import RULES
    return RULES


class FoldThroughInterpreter(RewritePattern):
    """Replace a pure op with constant operands by constants computed by its interpreter rule."""

    roots = None
    benefit = 0

    def __init__(self, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        self.max_elements = max_elements
        self.rules = _rules()

    @property
    def name(self) -> str:
        return "fold-through-interpreter"

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> MatchResult:
        if not op.has_trait("Pure") or op.has_trait("ConstantLike") or op.regions:
            return Decline("not a pure region-free non-constant op")
        if not op.operands:
            return Decline("no operands")
        found = [constant_value(v) for v in op.operands]
        consts = [c for c in found if c is not None]
        if len(consts) != len(found):
            return Decline("some operand is not a constant")
        rule = self.rules.get(op.name)
        if rule is None:
            return Decline(f"no interpreter rule for {op.name}")
        total = 0
        for r in op.results:
            t = r.type
            if not isinstance(t, TensorType) or not t.is_static:
                return Decline("result type is not a static tensor")
            total += t.num_elements or 0
        if total > self.max_elements:
            return Decline(f"result has more than max-elements={self.max_elements} elements")
        try:
            out: Any = rule(op, *[c.array for c in consts])
        except Exception as e:  # the op fails at run time too; leave it there
            return Decline(f"rule raised {type(e).__name__}")
        outs: List[Any] = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(outs) != len(op.results):
            return Decline("rule returned a different number of results")
        attrs = []
        for r, v in zip(op.results, outs):
            rt = r.type
            assert isinstance(rt, TensorType)  # every result was checked above
            arr = np.asarray(v).astype(rt.element.np_dtype, copy=False)
            if tuple(arr.shape) != rt.dims:
                return Decline(f"rule result shape {arr.shape} differs from {rt}")
            attrs.append(DenseAttr(np.require(arr, requirements="C"), rt))  # 0-d stays 0-d
        rewriter.replace_op(op, [rewriter.materialize_constant(op, a) for a in attrs])
        return True


@register_pass
@dataclasses.dataclass(frozen=True)
class FoldConstants(Pass):
    """Constant-fold pure ops through the interpreter (and op FOLD hooks); erase what dies."""

    name = "fold-constants"
    summary = "evaluate pure ops on constant operands with the reference interpreter"

    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_iterations: int = 10
    debug: bool = False

    def run(self, module: Operation, ctx: PassContext) -> bool:
        dbg = PatternDebug()
        result = apply_patterns_greedily(module, [FoldThroughInterpreter(self.max_elements)],
                                         max_iterations=self.max_iterations, debug=dbg)
        ctx.stats[self.name] = dbg
        if self.debug:
            sys.stderr.write(f"// fold-constants report\n{dbg.report()}")
        return result.changed
