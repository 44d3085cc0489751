"""The reference interpreter: functions and calls, scf.if/for/while (scan outputs, nesting),
cf.switch/merge with dead-tensor propagation, input checks, result dtypes and error messages.
Expected values are written out in numpy in each test."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlir_lite import FuncOp, ModuleOp
from mlir_lite.errors import ExecutionError
from mlir_lite.ir.attributes import DenseAttr, NameLoc, SymbolRef
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Operation, Region
from mlir_lite.ir.interpreter import DEAD, Interpreter, run
from mlir_lite.ir.types import TensorType, f32, i1, i32, i64, tensor

SCALAR_I64 = TensorType(i64, ())
SCALAR_I1 = TensorType(i1, ())


def _module(*funcs: Operation) -> ModuleOp:
    m = ModuleOp.empty()
    for f in funcs:
        m.append(f)
    return m


def _const(b: Builder, value) -> object:
    return b.op("ml.constant", value=DenseAttr(np.asarray(value)))


def _region(arg_types=()) -> Region:
    return Region([Block(list(arg_types))])


def test_call_and_return_multiple_results():
    t = tensor([3])
    dbl = FuncOp.make("double", [t], [t, t])
    b = Builder.at_end(dbl.entry_block)
    s = b.op("ml.add", dbl.args[0], dbl.args[0])
    b.op("func.return", s, dbl.args[0])
    main = FuncOp.make("main", [t], [t])
    b = Builder.at_end(main.entry_block)
    call = b.create("func.call", [main.args[0]], {"callee": SymbolRef("double")},
                    result_types=[t, t])
    b.op("func.return", b.op("ml.mul", *call.results))
    x = np.array([1.0, 2.0, -3.0], np.float32)
    out = run(_module(dbl, main), x)
    np.testing.assert_array_equal(out[0], 2 * x * x)
    assert out[0].dtype == np.float32
    empty = FuncOp.make("f", [], [])
    Builder.at_end(empty.entry_block).op("func.return")
    assert run(_module(empty), func="f") == []


def _if_module(then_fn, else_fn):
    t = tensor([2])
    f = FuncOp.make("main", [SCALAR_I1, t], [t])
    b = Builder.at_end(f.entry_block)
    op = b.create("scf.if", [f.args[0]], result_types=[t], regions=[_region(), _region()])
    with b.at(op.regions[0].block):
        b.op("scf.yield", then_fn(b, f.args[1]))
    with b.at(op.regions[1].block):
        b.op("scf.yield", else_fn(b, f.args[1]))
    b.op("func.return", op.results[0])
    op.verify_op()
    return _module(f)


@pytest.mark.parametrize("cond", [True, False])
def test_scf_if_runs_the_selected_region(cond):
    m = _if_module(lambda b, x: b.op("ml.exp", x), lambda b, x: b.op("ml.neg", x))
    x = np.array([0.5, -1.0], np.float32)
    want = np.exp(x) if cond else -x
    np.testing.assert_allclose(run(m, np.array(cond), x)[0], want, rtol=1e-6)


def _for_module(with_if: bool, n_scan: int = 1):
    """acc = x; for i in [lb, ub): acc = acc + x*i (or, with_if, acc - x when i is odd);
    scans acc after each step."""
    t = tensor([3])
    f = FuncOp.make("main", [SCALAR_I64, SCALAR_I64, t], [t] + [tensor([None, 3])] * n_scan)
    b = Builder.at_end(f.entry_block)
    lb, ub, x = f.args
    step = _const(b, np.int64(1))
    loop = b.create("scf.for", [lb, ub, step, x], {"num_scan_outputs": n_scan},
                    result_types=[t] + [tensor([None, 3])] * n_scan,
                    regions=[_region([SCALAR_I64, t])])
    body = loop.regions[0].block
    iv, acc = body.args
    with b.at(body):
        xi = b.op("ml.mul", x, b.op("ml.cast", iv, to=f32))
        if with_if:
            odd = b.op("ml.equal", b.op("ml.mod", iv, _const(b, np.int64(2))),
                       _const(b, np.int64(1)))
            inner = b.create("scf.if", [odd], result_types=[t], regions=[_region(), _region()])
            with b.at(inner.regions[0].block):
                b.op("scf.yield", b.op("ml.sub", acc, x))
            with b.at(inner.regions[1].block):
                b.op("scf.yield", b.op("ml.add", acc, xi))
            nxt = inner.results[0]
        else:
            nxt = b.op("ml.add", acc, xi)
        b.op("scf.yield", nxt, *([nxt] * n_scan))
    b.op("func.return", *loop.results)
    loop.verify_op()
    return _module(f)


def _for_oracle(lb, ub, x, with_if):
    acc, scans = x.copy(), []
    for i in range(lb, ub):
        acc = (acc - x) if (with_if and i % 2 == 1) else acc + x * np.float32(i)
        scans.append(acc.copy())
    return acc, (np.stack(scans) if scans else np.zeros((0, 3), np.float32))


@pytest.mark.parametrize("with_if", [False, True])
@pytest.mark.parametrize("lb,ub", [(0, 5), (2, 3), (4, 4)])
def test_scf_for_with_scan_outputs_and_nested_if(with_if, lb, ub):
    m = _for_module(with_if)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    acc, scans = run(m, np.int64(lb), np.int64(ub), x)
    want_acc, want_scans = _for_oracle(lb, ub, x, with_if)
    np.testing.assert_allclose(acc, want_acc, rtol=1e-6)
    assert scans.shape == want_scans.shape and scans.dtype == np.float32
    np.testing.assert_allclose(scans, want_scans, rtol=1e-6)


def test_scf_while_counts_and_scans():
    """i = 0; s = 1; while i < n: s = s * 2; i = i + 1; scan s."""
    scan_t = tensor([None], "i64")
    f = FuncOp.make("main", [SCALAR_I64], [SCALAR_I64, SCALAR_I64, scan_t])
    b = Builder.at_end(f.entry_block)
    n = f.args[0]
    zero, one = _const(b, np.int64(0)), _const(b, np.int64(1))
    loop = b.create("scf.while", [zero, one], {"num_scan_outputs": 1},
                    result_types=[SCALAR_I64, SCALAR_I64, scan_t],
                    regions=[_region([SCALAR_I64] * 2), _region([SCALAR_I64] * 2)])
    before, after = loop.regions[0].block, loop.regions[1].block
    with b.at(before):
        b.op("scf.condition", b.op("ml.less", before.args[0], n), *before.args)
    with b.at(after):
        i2 = b.op("ml.add", after.args[0], _const(b, np.int64(1)))
        s2 = b.op("ml.mul", after.args[1], _const(b, np.int64(2)))
        b.op("scf.yield", i2, s2, s2)
    b.op("func.return", *loop.results)
    loop.verify_op()
    i, s, scan = run(_module(f), np.int64(4))
    assert int(i) == 4 and int(s) == 16
    np.testing.assert_array_equal(scan, [2, 4, 8, 16])
    i, s, scan = run(_module(f.clone()), np.int64(0))
    assert int(s) == 1 and scan.shape == (0,) and scan.dtype == np.int64


def _switch_module(return_dead: bool = False):
    """false branch: neg(x); true branch: relu(x); merged."""
    t = tensor([4])
    f = FuncOp.make("main", [t, SCALAR_I1], [t, TensorType(i32, ())])
    b = Builder.at_end(f.entry_block)
    xf, xt = b.op("cf.switch", f.args[0], f.args[1])
    nf = b.op("ml.neg", xf)
    rt = b.op("ml.exp", b.op("ml.relu", xt))
    out, idx = b.op("cf.merge", nf, rt)
    b.op("func.return", rt if return_dead else out, idx)
    return _module(f)


@pytest.mark.parametrize("pred", [True, False])
def test_switch_merge_propagates_dead_tensors(pred):
    x = np.array([1.0, -2.0, 3.0, -0.5], np.float32)
    out, idx = run(_switch_module(), x, np.array(pred))
    np.testing.assert_allclose(out, np.exp(np.maximum(x, 0)) if pred else -x, rtol=1e-6)
    assert idx.dtype == np.int32 and int(idx) == (1 if pred else 0)


def test_returning_a_dead_value_is_an_error():
    x = np.ones(4, np.float32)
    np.testing.assert_array_equal(run(_switch_module(True), x, np.array(True))[0], np.exp(x))
    with pytest.raises(ExecutionError, match="dead value as result #0"):
        run(_switch_module(True), x, np.array(False))


def test_dead_values_seen_inside_the_engine():
    m = _switch_module()
    seen = {}

    class Spy(Interpreter):
        def eval_op(self, op, env):
            outs = super().eval_op(op, env)
            seen.setdefault(op.name, []).append(outs)
            return outs

    Spy(m).run("main", np.ones(4, np.float32), np.array(True))
    assert seen["ml.neg"][0][0] is DEAD
    assert seen["ml.exp"][0][0] is not DEAD


def _simple(arg_types, result_type, name="ml.add", loc=NameLoc("node7")):
    f = FuncOp.make("main", arg_types, [result_type])
    b = Builder.at_end(f.entry_block)
    v = b.op(name, *f.args, loc=loc)
    b.op("func.return", v)
    return _module(f)


def test_inputs_are_checked_against_the_signature():
    m = _simple([tensor(["N", 3]), tensor(["N", 3])], tensor(["N", 3]))
    a = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(run(m, a, a)[0], 2 * a)
    with pytest.raises(ExecutionError, match="dtype float64"):
        run(m, a.astype(np.float64), a)
    with pytest.raises(ExecutionError, match="shape"):
        run(m, np.ones((2, 4), np.float32), a)
    with pytest.raises(ExecutionError, match="symbolic dim 'N'"):
        run(m, a, np.ones((5, 3), np.float32))
    with pytest.raises(ExecutionError, match="takes 2 inputs"):
        run(m, a)
    out = run(m, [[1, 2, 3]], [[1, 1, 1]])[0]  # python lists take the declared dtype
    assert out.dtype == np.float32


def test_missing_rule_and_failing_rule_name_the_op_and_location():
    t = tensor([3])
    f = FuncOp.make("main", [t], [t])
    b = Builder.at_end(f.entry_block)
    v = b.op("mystery.op", f.args[0], result_types=[t], loc=NameLoc("weird_node"))
    b.op("func.return", v)
    with pytest.raises(ExecutionError, match=r'loc\("weird_node"\).*no rule for mystery.op'):
        run(_module(f), np.ones(3, np.float32))
    m = _simple([tensor([2, None]), tensor([None, 3])], tensor([2, 3]), "ml.matmul")
    with pytest.raises(ExecutionError, match=r'loc\("node7"\): ml.matmul failed'):
        run(m, np.ones((2, 4), np.float32), np.ones((5, 3), np.float32))


def test_results_take_the_declared_dtype_and_shape_is_checked():
    f = FuncOp.make("main", [tensor([2, 3], "i32")], [tensor([2], "i32")])
    b = Builder.at_end(f.entry_block)
    b.op("func.return", b.op("ml.reduce_sum", f.args[0], axes=(1,), keepdims=False))
    out = run(f, np.arange(6, dtype=np.int32).reshape(2, 3))[0]  # numpy sums int32 as int64
    assert out.dtype == np.int32 and out.tolist() == [3, 12]
    t3 = tensor([3])
    f = FuncOp.make("main", [t3, t3], [tensor([5])])
    b = Builder.at_end(f.entry_block)
    b.op("func.return", b.op("ml.add", *f.args, result_types=[tensor([5])]))
    with pytest.raises(ExecutionError, match="has shape"):
        run(_module(f), np.ones(3, np.float32), np.ones(3, np.float32))


def test_invalid_math_does_not_warn():
    m = _simple([tensor([3])], tensor([3]), "ml.log")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = run(m, np.array([-1.0, 0.0, 1.0], np.float32))[0]
    assert np.isnan(out[0]) and np.isneginf(out[1]) and out[2] == 0


def test_unknown_function_name_is_reported():
    m = _simple([tensor([3])], tensor([3]), "ml.relu")
    with pytest.raises(ExecutionError, match="no function @nope"):
        run(m, np.ones(3, np.float32), func="nope")


# (that every ml op has an interpreter rule is checked in test_op_traits.py, with the other
# rule tables)
