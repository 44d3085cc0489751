"""The object model: exact use lists under every mutation, block lists, cloning, the verifier."""
from __future__ import annotations

import numpy as np
import pytest

import mlir_lite as ml
from mlir_lite.errors import InferenceError, VerifyError
from mlir_lite.ir.attributes import DenseAttr, NameLoc
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Operation, Region
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.verifier import verify

T = ml.types.tensor([2, "N"], "f32")


def _func(n_args: int = 2) -> tuple:
    m = ml.ModuleOp.empty()
    f = FuncOp.make("main", [T] * n_args, [T], [f"a{i}" for i in range(n_args)])
    m.append(f)
    return m, f, Builder.at_end(f.entry_block)


def _uses_are_exact(root: Operation) -> None:
    """Recompute every use from the operands and compare with the stored use lists."""
    expected: dict = {}
    values = set()
    for op in root.walk():
        for i, v in enumerate(op.operands):
            expected.setdefault(v, set()).add((op, i))
            values.add(v)
        values.update(op.results)
        for r in op.regions:
            for b in r.blocks:
                values.update(b.args)
    for v in values:
        assert {(u.owner, u.index) for u in v.uses} == expected.get(v, set())


def test_use_lists_follow_every_mutation() -> None:
    m, f, b = _func()
    x, y = f.args
    s = b.op("ml.add", x, x)  # one op using a value twice: two uses
    assert x.num_uses == 2 and s.owner.operands == (x, x)
    p = b.op("ml.mul", s, y)
    b.op("func.return", p)
    _uses_are_exact(m)
    s.owner.set_operand(1, y)
    assert x.num_uses == 1 and y.num_uses == 2
    _uses_are_exact(m)
    x.replace_all_uses_with(y)
    assert x.num_uses == 0 and y.num_uses == 3
    _uses_are_exact(m)
    neg = Builder.before(p.owner).op("ml.neg", s)
    s.replace_uses_where(neg, lambda op: op is p.owner)
    assert s.users == [neg.owner]
    _uses_are_exact(m)
    verify(m)


def test_erase_refuses_used_results_and_drops_operand_uses() -> None:
    m, f, b = _func()
    x, y = f.args
    a = b.op("ml.add", x, y)
    r = b.op("ml.relu", a)
    b.op("func.return", r)
    with pytest.raises(VerifyError, match="still used by ml.relu"):
        a.owner.erase()
    r.owner.result.replace_all_uses_with(a)
    r.owner.erase()
    assert a.num_uses == 1 and len(f.entry_block) == 2
    _uses_are_exact(m)
    verify(m)


def test_block_linked_list_insert_move_detach() -> None:
    m, f, b = _func()
    x, y = f.args
    ops = [b.op("ml.relu", x).owner for _ in range(4)]
    b.op("func.return", ops[-1].result)
    blk = f.entry_block
    assert list(blk.ops)[:4] == ops and len(blk) == 5
    ops[0].move_after(ops[2])
    assert list(blk.ops)[:4] == [ops[1], ops[2], ops[0], ops[3]]
    ops[3].move_before(ops[1])
    assert list(blk.ops)[:4] == [ops[3], ops[1], ops[2], ops[0]]
    assert blk.ops_reversed()[1:] == [ops[0], ops[2], ops[1], ops[3]]
    ops[1].detach()
    assert len(blk) == 4 and ops[1].parent is None
    with pytest.raises(ValueError, match="already in a block"):
        blk.append(ops[2])


def test_clone_remaps_nested_values() -> None:
    m, f, b = _func()
    x, y = f.args
    a = b.op("ml.add", x, y)
    b.op("func.return", a)
    g = f.clone()
    g.attributes["sym_name"] = "copy"
    m.append(g)
    verify(m)
    assert g.args[0] is not x and g.entry_block.first_op.operands[0] is g.args[0]
    _uses_are_exact(m)
    assert x.num_uses == 1


def test_builder_infers_broadcast_types_with_symbols() -> None:
    m, f, b = _func()
    c = b.op("ml.constant", value=DenseAttr(np.ones((1, 1), np.float32)))
    s = b.op("ml.add", f.args[0], c)
    assert s.type == ml.types.tensor([2, "N"], "f32")
    with pytest.raises(InferenceError, match="ml.add"):
        b.op("ml.add", f.args[0], b.op("ml.constant", value=DenseAttr(np.ones(3, np.int64))))


def test_verifier_rejects_use_before_definition() -> None:
    m, f, b = _func()
    x, y = f.args
    a = b.op("ml.add", x, y)
    r = b.op("ml.relu", a)
    b.op("func.return", r)
    r.owner.move_before(a.owner)
    with pytest.raises(VerifyError, match="does not dominate"):
        verify(m)


def test_verifier_rejects_values_from_another_function() -> None:
    m, f, b = _func()
    b.op("func.return", f.args[0])
    g = FuncOp.make("g", [T], [T])
    m.append(g)
    Builder.at_end(g.entry_block).op("func.return", f.args[0])
    with pytest.raises(VerifyError, match="does not dominate"):
        verify(m)


def test_verifier_rejects_contradicting_result_type_with_location() -> None:
    m, f, b = _func()
    op = Operation.create("ml.relu", [f.args[0]], [ml.types.tensor([3, "N"], "f32")],
                          loc=NameLoc("bad_relu"))
    f.entry_block.append(op)
    b.op("func.return", f.args[0])
    with pytest.raises(VerifyError, match=r'loc\("bad_relu"\).*result #0 has type'):
        verify(m)


def test_verifier_rejects_missing_terminator_and_wrong_return() -> None:
    m, f, b = _func()
    b.op("ml.relu", f.args[0])
    with pytest.raises(VerifyError, match="terminator|func.return"):
        verify(m)
    b.op("func.return", f.args[0], f.args[1])
    with pytest.raises(VerifyError, match="func.return returns"):
        verify(m)


def test_verifier_rejects_bad_attribute_kind_and_missing_attribute() -> None:
    m, f, b = _func()
    op = Operation.create("ml.constant", [], [T], {"value": 3})
    f.entry_block.append(op)
    b.op("func.return", f.args[0])
    with pytest.raises(VerifyError, match="attribute 'value' must be dense tensor"):
        verify(m)
    op.attributes.clear()
    with pytest.raises(VerifyError, match="requires attribute 'value'"):
        verify(m)


def test_verifier_detects_stale_use_lists() -> None:
    m, f, b = _func()
    a = b.op("ml.relu", f.args[0])
    b.op("func.return", a)
    a.owner._operands[0] = f.args[1]  # bypass the API: the use lists are now wrong
    with pytest.raises(VerifyError, match="use list|stale use"):
        verify(m)


def test_unregistered_ops_verify_structurally() -> None:
    m, f, b = _func()
    b.create("mydialect.thing", [f.args[0]], {"k": 1}, [T])
    b.op("func.return", f.args[0])
    verify(m)


def test_duplicate_symbols_are_rejected() -> None:
    m, f, b = _func()
    b.op("func.return", f.args[0])
    g = f.clone()
    m.append(g)
    with pytest.raises(VerifyError, match="@main is defined twice"):
        verify(m)


def test_regions_scope_their_values() -> None:
    m, f, b = _func()
    cond = b.op("ml.constant", value=DenseAttr(np.array(True)))
    if_op = b.create("scf.if", [cond], result_types=[T], regions=[Region([Block()]),
                                                                  Region([Block()])])
    inner = Builder.at_end(if_op.regions[0].blocks[0])
    r = inner.op("ml.relu", f.args[0])  # an outer value used inside: fine
    inner.op("scf.yield", r)
    Builder.at_end(if_op.regions[1].blocks[0]).op("scf.yield", f.args[1])
    b.op("func.return", if_op.results[0])
    verify(m)
    b2 = Builder.before(f.entry_block.last_op)
    b2.op("ml.neg", r)  # a value from inside the region used after it: invalid
    with pytest.raises(VerifyError, match="does not dominate"):
        verify(m)
