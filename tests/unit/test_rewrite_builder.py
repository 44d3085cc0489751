"""The rewriter's builder, insertion and move API, and the walk driver."""
from __future__ import annotations

from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.rewrite import (
    Decline,
    PatternDebug,
    PatternRewriter,
    RewriteListener,
    apply_patterns_greedily,
    pattern,
    walk_and_apply_patterns,
)

TWO_NEGS = """
module {
  func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    %a = "ml.neg"(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %b = "ml.neg"(%a) : (tensor<3xf32>) -> tensor<3xf32>
    "func.return"(%b) : (tensor<3xf32>) -> ()
  }
}
"""


def _body(m):
    return [op for op in m.walk() if op.name == "func.func"][0].regions[0].blocks[0]


def _names(m) -> list:
    return [op.name for op in _body(m).ops]


@pattern("ml.neg")
def neg_to_sub(op, rewriter):
    """neg(x) -> x - (x + x), built with the rewriter's builder."""
    b = rewriter.builder_before(op)
    x = op.operands[0]
    rewriter.replace_op(op, [b.op("ml.sub", x, b.op("ml.add", x, x))])
    return True


class _Recorder(RewriteListener):
    def __init__(self) -> None:
        self.inserted: list = []

    def notify_op_inserted(self, op) -> None:
        self.inserted.append(op.name)


def test_builder_ops_go_in_through_the_rewriter() -> None:
    m = parse_module(TWO_NEGS)
    neg = next(op for op in _body(m).ops if op.name == "ml.neg")
    rec = _Recorder()
    rw = PatternRewriter(rec)
    b = rw.builder_before(neg)
    b.op("ml.exp", neg.operands[0])
    with b.at(_body(m)):  # moving the insertion point keeps going through the rewriter
        last = b.op("ml.exp", neg.operands[0])
    assert _body(m).last_op is last.owner
    rw.erase_op(last.owner)
    after = rw.builder_after(neg)
    after.op("ml.relu", neg.results[0])
    after.op("ml.tanh", neg.results[0])
    assert rec.inserted == ["ml.exp", "ml.exp", "ml.relu", "ml.tanh"] and rw.num_changes == 5
    assert _names(m)[:4] == ["ml.exp", "ml.neg", "ml.relu", "ml.tanh"]
    assert all(o.loc == neg.loc for o in list(_body(m).ops)[:4])


def test_greedy_driver_sees_builder_ops_and_moves() -> None:
    m = parse_module(TWO_NEGS)
    dbg = PatternDebug()
    apply_patterns_greedily(m, [neg_to_sub], fold=False, debug=dbg)
    assert _names(m) == ["ml.add", "ml.sub", "ml.add", "ml.sub", "func.return"]
    assert dbg.patterns["neg_to_sub"].matches == 2
    verify(m)
    body = _body(m)
    ops = list(body.ops)
    rw = PatternRewriter()
    rw.move_op_before(ops[2], ops[0])
    assert _names(m)[:2] == ["ml.add", "ml.add"]
    term = body.terminator
    rw.move_op_to_end(term, body)
    assert body.last_op is term and rw.num_changes == 2


def test_walk_driver_visits_once_in_order_and_skips_erased() -> None:
    m = parse_module(TWO_NEGS)
    seen = []

    @pattern("ml.neg")
    def fold_with_user(op, rewriter):  # at the first neg: neg(neg(x)) -> x, both erased
        seen.append(op)
        users = [u for u in op.results[0].users if u.name == "ml.neg"]
        if not users:
            return Decline("no ml.neg user")
        rewriter.replace_op(users[0], [op.operands[0]])
        rewriter.erase_op(op)
        return True

    dbg = PatternDebug()
    assert walk_and_apply_patterns(m, [fold_with_user], debug=dbg)
    assert len(seen) == 1 and dbg.patterns["fold_with_user"].matches == 1  # %b was erased
    assert _names(m) == ["func.return"]
    m2 = parse_module(TWO_NEGS)
    assert walk_and_apply_patterns(m2, [neg_to_sub])  # new ops are never revisited
    assert _names(m2) == ["ml.add", "ml.sub", "ml.add", "ml.sub", "func.return"]
