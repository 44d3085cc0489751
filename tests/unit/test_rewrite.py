"""The rewrite engine: patterns, the rewriter's bookkeeping, the greedy driver, folds, debug."""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.opdef import ELEMENTWISE, define_op
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.rewrite import (
    Decline,
    PatternDebug,
    RewritePattern,
    apply_patterns_greedily,
    constant_value,
    pattern,
    producer,
)

CHAIN = """
module {
  func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    %a = "ml.neg"(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %b = "ml.neg"(%a) : (tensor<3xf32>) -> tensor<3xf32>
    %c = "ml.neg"(%b) : (tensor<3xf32>) -> tensor<3xf32>
    %d = "ml.neg"(%c) : (tensor<3xf32>) -> tensor<3xf32>
    %e = "ml.exp"(%d) : (tensor<3xf32>) -> tensor<3xf32>
    "func.return"(%e) : (tensor<3xf32>) -> ()
  }
}
"""


def _names(m) -> list:
    return [op.name for op in m.walk()][2:]  # without module and func


@pattern("ml.neg")
def double_neg(op, rewriter):
    inner = producer(op.operands[0], "ml.neg")
    if inner is None:
        return Decline("operand is not ml.neg")
    rewriter.replace_op(op, [inner.operands[0]])
    return True


def test_pattern_to_fixed_point_erases_dead_and_records_declines() -> None:
    m = parse_module(CHAIN)
    x = np.array([1.0, -2.0, 3.0], np.float32)
    dbg = PatternDebug()
    res = apply_patterns_greedily(m, [double_neg], debug=dbg)
    assert res.changed and res.converged and bool(res)
    assert _names(m) == ["ml.exp", "func.return"]
    verify(m)
    np.testing.assert_allclose(run(m, x)[0], np.exp(x), rtol=1e-6)
    stats = dbg.patterns["double_neg"]
    assert stats.matches == 2
    assert stats.declines["operand is not ml.neg"] >= 1
    assert dbg.dead_erased >= 2
    assert "double_neg: 2 match(es)" in dbg.report()
    again = apply_patterns_greedily(m, [double_neg])
    assert not again.changed and again.converged


def test_benefit_orders_patterns() -> None:
    tried = []

    @pattern("ml.exp", benefit=1)
    def low(op, rewriter):
        tried.append("low")
        return False

    @pattern("ml.exp", benefit=5)
    def high(op, rewriter):
        tried.append("high")
        return Decline("never")

    apply_patterns_greedily(parse_module(CHAIN), [low, high], max_iterations=1)
    assert tried == ["high", "low"]


def test_pattern_that_mutates_without_matching_is_an_error() -> None:
    @pattern("ml.exp")
    def liar(op, rewriter):
        rewriter.set_attribute(op, "tag", 1)
        return False

    with pytest.raises(RuntimeError, match="liar changed the IR"):
        apply_patterns_greedily(parse_module(CHAIN), [liar])


def test_replace_op_checks_types() -> None:
    m = parse_module("""
    module {
      func.func @main(%x: tensor<3xf32>, %y: tensor<2x3xf32>) -> tensor<2x3xf32> {
        %a = "ml.add"(%x, %y) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
        "func.return"(%a) : (tensor<2x3xf32>) -> ()
      }
    }""")

    @pattern("ml.add")
    def bad(op, rewriter):
        rewriter.replace_op(op, [op.operands[0]])
        return True

    with pytest.raises(TypeError, match="replacement has tensor<3xf32>"):
        apply_patterns_greedily(m, [bad])


def test_class_pattern_and_create_before() -> None:
    class ExpToTwoOps(RewritePattern):
        roots = ("ml.exp",)

        def match_and_rewrite(self, op, rewriter):
            # exp(x) -> exp(x/2) * exp(x/2), marking the half so it is not rewritten again.
            if "half" in op.attributes:
                return Decline("already split")
            t = op.results[0].type
            two = rewriter.materialize_constant(op, DenseAttr(np.full(t.shape, 2, np.float32)))
            half = rewriter.create_before(op, "ml.div", [op.operands[0], two])
            e = rewriter.create_before(op, "ml.exp", [half.results[0]], {})
            rewriter.set_attribute(e, "half", True)
            rewriter.replace_op_with(op, "ml.mul", [e.results[0], e.results[0]])
            return True

    m = parse_module(CHAIN)
    x = np.array([0.5, -1.0, 2.0], np.float32)
    expected = run(m, x)[0]
    dbg = PatternDebug()
    apply_patterns_greedily(m, [ExpToTwoOps()], debug=dbg)
    assert dbg.patterns["ExpToTwoOps"].matches == 1
    # the new exp declines in the sweep that rewrote and again in the confirming sweep
    assert dbg.patterns["ExpToTwoOps"].declines["already split"] == 2
    verify(m)
    np.testing.assert_allclose(run(m, x)[0], expected, rtol=1e-5)


def test_ping_pong_patterns_do_not_converge() -> None:
    @pattern("ml.exp")
    def flip(op, rewriter):
        with rewriter.modify_op_in_place(op):
            op.attributes["flag"] = not op.attributes.get("flag", False)
        return True

    res = apply_patterns_greedily(parse_module(CHAIN), [flip], max_iterations=3)
    assert res.changed and not res.converged


_FOLD_CALLS = []


def _twice_fold(op, consts):
    _FOLD_CALLS.append(consts)
    if consts[0] is not None:
        return [DenseAttr(consts[0].array * 2)]
    return None


if "testrw.twice" not in OP_REGISTRY:
    define_op("testrw.twice", operands=["x"], traits=ELEMENTWISE,
              infer=lambda types, attrs: [types[0]], fold=_twice_fold)
    define_op("testrw.keep", operands=["x"], traits=ELEMENTWISE,
              infer=lambda types, attrs: [types[0]],
              fold=lambda op, consts: [op.operands[0]] if consts[0] is None else None)


def test_fold_hook_contract() -> None:
    m = parse_module("""
    module {
      func.func @main(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
        %c = "ml.constant"() {value = dense<[1.0, 2.5]> : tensor<2xf32>} : () -> tensor<2xf32>
        %a = "testrw.twice"(%c) : (tensor<2xf32>) -> tensor<2xf32>
        %b = "testrw.twice"(%x) : (tensor<2xf32>) -> tensor<2xf32>
        %k = "testrw.keep"(%b) : (tensor<2xf32>) -> tensor<2xf32>
        "func.return"(%a, %k) : (tensor<2xf32>, tensor<2xf32>) -> ()
      }
    }""")
    dbg = PatternDebug()
    _FOLD_CALLS.clear()
    apply_patterns_greedily(m, [], debug=dbg)
    verify(m)
    ret = m["main"].return_op
    folded = constant_value(ret.operands[0])
    assert folded is not None
    np.testing.assert_array_equal(folded.array, np.array([2.0, 5.0], np.float32))
    # testrw.keep folded to its operand (a Value), so the return now uses %b directly.
    assert ret.operands[1].op.name == "testrw.twice"
    assert dbg.folds["testrw.twice"] == 1 and dbg.folds["testrw.keep"] == 1
    assert any(c == [None] for c in _FOLD_CALLS)  # non-constant operands are passed as None
    res = apply_patterns_greedily(m, [], fold=False)
    assert not res.changed


def test_fold_rejects_values_of_another_type() -> None:
    m = parse_module("""
    module {
      func.func @main() -> tensor<?xf32> {
        %c = "ml.constant"() {value = dense<[1.0, 2.5]> : tensor<2xf32>} : () -> tensor<2xf32>
        %a = "testrw.twice"(%c) : (tensor<2xf32>) -> tensor<?xf32>
        "func.return"(%a) : (tensor<?xf32>) -> ()
      }
    }""")
    dbg = PatternDebug()
    res = apply_patterns_greedily(m, [], debug=dbg)
    assert not res.changed
    assert any("tensor<?xf32>" in r for r in dbg.fold_rejections)


def test_erase_dead_can_be_turned_off() -> None:
    m = parse_module(CHAIN)
    apply_patterns_greedily(m, [double_neg], erase_dead=False)
    # the two replaced negs are erased by replace_op; the two now-dead inner ones stay
    assert _names(m).count("ml.neg") == 2
    assert m["main"].return_op.operands[0].op.operands[0] is m["main"].args[0]
