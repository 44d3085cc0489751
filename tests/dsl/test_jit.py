"""`mlir_lite.jit`: traced and cached under guards, symbolic dims, piecewise compilation at
data-dependent Python control flow, `mlir_lite.cond` as scf.if, the recompile limit, explain().
Expected values are numpy written here."""
from __future__ import annotations

import numpy as np
import pytest

import mlir_lite
from mlir_lite.dsl import eager as F

rng = np.random.default_rng(0)


def T(*shape):
    return F.tensor(rng.standard_normal(shape))


def test_compiles_once_and_replays():
    @mlir_lite.jit
    def f(x, w, scale):
        return (x @ w).relu() * scale
    x, w = T(4, 3), T(3, 2)
    for _k in range(3):
        r = f(x, w, 2.0)
        np.testing.assert_allclose(r.data, np.maximum(x.data @ w.data, 0) * 2, rtol=1e-5)
    assert f.compiles == 1 and f.entries and sum(e.calls for es in f.entries.values()
                                                 for e in es) == 2
    f(x, w, 3.0)                    # a Python scalar is guarded by value
    assert f.compiles == 2
    f(x.to("float64"), w.to("float64"), 3.0)  # dtypes are guarded
    assert f.compiles == 3


def test_dim_becomes_symbolic_after_distinct_sizes():
    @mlir_lite.jit(dynamic_after=2)
    def f(x, w):
        return (x @ w).tanh().sum(1)
    w = T(5, 3)
    for n in (2, 3, 4, 7, 9, 3):
        x = T(n, 5)
        np.testing.assert_allclose(f(x, w).data, np.tanh(x.data @ w.data).sum(1), rtol=1e-5)
    assert f.compiles == 2           # static for 2, then symbolic from 3 on
    text = f.explain()
    assert "symbolic s0" in text and "shape (s0, 5)" in text
    f(T(1, 5), w)                    # size 1 is specialised
    assert f.compiles == 3


def test_size_baked_into_the_program_stays_static():
    @mlir_lite.jit
    def f(x):
        return x.reshape(x.shape[0] * 2, 2)
    for n in (2, 3, 4):
        x = T(n, 4)
        np.testing.assert_allclose(f(x).data, x.data.reshape(n * 2, 2))
    assert "kept static" in f.explain()


def test_data_dependent_branch_is_piecewise():
    @mlir_lite.jit
    def f(x):
        h = x * 2.0
        if h.sum() > 0:              # the split
            return h.exp()
        return h - 1.0
    pos, neg = F.tensor(np.ones(3)), F.tensor(-np.ones(3))
    np.testing.assert_allclose(f(pos).data, np.exp(2 * np.ones(3)), rtol=1e-6)
    np.testing.assert_allclose(f(neg).data, -3 * np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(f(pos).data, np.exp(2 * np.ones(3)), rtol=1e-6)
    np.testing.assert_allclose(f(neg).data, -3 * np.ones(3), rtol=1e-6)
    assert f.compiles == 2            # the first trace, then the other continuation
    text = f.explain()
    assert "split on bool() at test_jit.py:" in text
    assert "bool() == True" in text and "bool() == False" in text
    entry = next(iter(f.entries.values()))[0]
    assert entry.root.kind == "bool" and set(entry.root.next) == {True, False}


def test_item_split_and_static_dynamic_static():
    @mlir_lite.jit
    def f(x):
        k = int((x.sum() > 0).to("int64").item()) + 1    # dynamic decision in Python
        y = x
        for _ in range(k):
            y = y * 3.0
        return y
    x = F.tensor([1.0, 2.0])
    np.testing.assert_allclose(f(x).data, x.data * 9)
    np.testing.assert_allclose(f(-x).data, -x.data * 3)
    np.testing.assert_allclose(f(x).data, x.data * 9)
    assert "item()" in f.explain()


def test_cond_becomes_scf_if_without_split():
    @mlir_lite.jit
    def g(x, y, z):
        return mlir_lite.cond(x.sum() < y.sum(), lambda: x + z, lambda: y * y)
    for _ in range(5):
        x, y, z = T(3), T(3), T(3)
        want = x.data + z.data if x.data.sum() < y.data.sum() else y.data ** 2
        np.testing.assert_allclose(g(x, y, z).data, want, rtol=1e-6)
    assert g.compiles == 1
    entry = next(iter(g.entries.values()))[0]
    assert entry.root.kind is None
    assert any(o.name == "scf.if" for o in entry.root.func.walk())
    # eagerly, mlir_lite.cond is plain Python
    assert mlir_lite.cond(F.tensor(True), lambda: 1, lambda: 2) == 1


def test_recompile_limit_warns_and_falls_back():
    @mlir_lite.jit(recompile_limit=2)
    def f(x, k):
        return x * k
    x = T(2)
    f(x, 1)
    f(x, 2)
    with pytest.warns(RuntimeWarning, match="recompile limit"):
        r = f(x, 3)
    np.testing.assert_allclose(r.data, x.data * 3, rtol=1e-6)
    np.testing.assert_allclose(f(x, 4).data, x.data * 4, rtol=1e-6)
    assert f.compiles == 2 and "EAGER" in f.explain()


def test_captured_weights_are_read_each_call():
    w = F.tensor(np.ones((2, 2)))

    @mlir_lite.jit
    def f(x):
        return x @ w
    x = F.tensor(np.eye(2))
    np.testing.assert_allclose(f(x).data, np.ones((2, 2)))
    w.data = w.data * 5             # an update rebinds .data, as the optimizers do
    np.testing.assert_allclose(f(x).data, 5 * np.ones((2, 2)))
    assert f.compiles == 1


def test_grad_mode_runs_eagerly():
    @mlir_lite.jit
    def f(x):
        return (x * x).sum()
    x = F.tensor([1.0, 2.0], requires_grad=True)
    f(x).backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
    assert f.compiles == 0
