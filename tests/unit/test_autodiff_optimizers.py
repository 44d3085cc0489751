"""Optimizers as IR (SGD, Adam, Muon) against independent numpy implementations, one and
several steps; the gradients come from a closed form, not from the code under test.

Model: loss(W1, W2, b, x, y) = mean((x W1 W2 + b - y)^2), W1 (5, 3) (rows > cols), W2 (3, 4)
(rows < cols), b (4,) (not 2-D: Muon's Adam fallback).
"""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.errors import PassError
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import tensor
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.optimizers import SGD, Adam, Muon, build_train_step

from ._autodiff_util import make_module

SHAPES = [(5, 3), (3, 4), (4,)]


def _module():
    def body(b, w1, w2, bias, x, y):
        pred = b.op("ml.add", b.op("ml.matmul", b.op("ml.matmul", x, w1), w2), bias)
        d = b.op("ml.sub", pred, y)
        return b.op("ml.reduce_mean", b.op("ml.mul", d, d), keepdims=False)
    return make_module([tensor(s, "f64") for s in SHAPES] + [tensor(["N", 5], "f64"),
                                                             tensor(["N", 4], "f64")], body)


def _loss_and_grads(params, x, y):
    w1, w2, b = params
    h = x @ w1
    r = h @ w2 + b - y
    loss = np.mean(r * r)
    dr = 2 * r / r.size
    return loss, [x.T @ dr @ w2.T, h.T @ dr, dr.sum(0)]


def _np_sgd(params, grads, state, lr, momentum, nesterov, wd):
    new_p, new_s = [], []
    for i, (p, g) in enumerate(zip(params, grads)):
        g = g + wd * p
        if momentum:
            buf = momentum * state[i] + g
            new_s.append(buf)
            g = g + momentum * buf if nesterov else buf
        new_p.append(p - lr * g)
    return new_p, new_s


def _np_adam_dir(g, m, v, t, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return m, v, (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)


def _np_adam(params, grads, state, lr, b1, b2, eps, wd, decoupled):
    t = state[0] + 1
    new_p, new_s = [], [t]
    for i, (p, g) in enumerate(zip(params, grads)):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m, v, d = _np_adam_dir(g, state[1 + 2 * i], state[2 + 2 * i], t, b1, b2, eps)
        new_s += [m, v]
        new_p.append(p - lr * d)
    return new_p, new_s


def _np_newton_schulz(g, steps):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if g.shape[0] > g.shape[1] else x


def _np_muon(params, grads, state, lr, beta, nesterov, steps, wd, alr, ab1, ab2, aeps):
    t = state[0] + 1
    new_p, new_s, pos = [], [t], 1
    for p, g in zip(params, grads):
        if p.ndim == 2:
            m = beta * state[pos] + (1 - beta) * g
            pos += 1
            new_s.append(m)
            u = (1 - beta) * g + beta * m if nesterov else m
            u = _np_newton_schulz(u, steps) * max(1.0, p.shape[0] / p.shape[1]) ** 0.5
            step_lr = lr
        else:
            m, v, u = _np_adam_dir(g, state[pos], state[pos + 1], t, ab1, ab2, aeps)
            pos += 2
            new_s += [m, v]
            step_lr = alr
        new_p.append(p * (1 - step_lr * wd) - step_lr * u)
    return new_p, new_s


OPTIMIZERS = {
    "sgd": (SGD(lr=0.1), lambda p, g, s: _np_sgd(p, g, s, 0.1, 0.0, False, 0.0)),
    "sgd_wd": (SGD(lr=0.05, weight_decay=0.1),
               lambda p, g, s: _np_sgd(p, g, s, 0.05, 0.0, False, 0.1)),
    "sgd_momentum": (SGD(lr=0.05, momentum=0.9),
                     lambda p, g, s: _np_sgd(p, g, s, 0.05, 0.9, False, 0.0)),
    "sgd_nesterov": (SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
                     lambda p, g, s: _np_sgd(p, g, s, 0.05, 0.8, True, 0.01)),
    "adam": (Adam(lr=0.01), lambda p, g, s: _np_adam(p, g, s, 0.01, 0.9, 0.999, 1e-8, 0.0,
                                                     False)),
    "adam_l2": (Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
                lambda p, g, s: _np_adam(p, g, s, 0.01, 0.8, 0.99, 1e-6, 0.1, False)),
    "adamw": (Adam(lr=0.01, weight_decay=0.1, decoupled=True),
              lambda p, g, s: _np_adam(p, g, s, 0.01, 0.9, 0.999, 1e-8, 0.1, True)),
    "muon": (Muon(lr=0.02, adam_lr=0.01),
             lambda p, g, s: _np_muon(p, g, s, 0.02, 0.95, True, 5, 0.0, 0.01, 0.9, 0.95,
                                      1e-10)),
    "muon_plain": (Muon(lr=0.05, momentum=0.9, nesterov=False, ns_steps=3, weight_decay=0.1,
                        adam_lr=0.01, adam_betas=(0.8, 0.9), adam_eps=1e-8),
                   lambda p, g, s: _np_muon(p, g, s, 0.05, 0.9, False, 3, 0.1, 0.01, 0.8, 0.9,
                                            1e-8)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_train_steps_match_numpy(name):
    opt, ref = OPTIMIZERS[name]
    m = _module()
    step = build_train_step(m, "main", [0, 1, 2], opt)
    verify(m)
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s) * 0.5 for s in SHAPES]
    state = [np.zeros(t.shape) for t in opt.state_types([tensor(s, "f64") for s in SHAPES])]
    want_p, want_s = [p.copy() for p in params], [s.copy() for s in state]
    for _ in range(4):
        x, y = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
        outs = run(m, *params, *state, x, y, func=step.sym_name)
        loss, params, state = outs[0], outs[1:4], outs[4:]
        want_loss, grads = _loss_and_grads(want_p, x, y)
        want_p, want_s = ref(want_p, grads, want_s)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-10)
        for got, want in zip(params + state, want_p + want_s):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


def test_training_reduces_the_loss():
    m = _module()
    step = build_train_step(m, "main", [0, 1, 2], Adam(lr=0.05))
    rng = np.random.default_rng(1)
    true = [rng.standard_normal(s) for s in SHAPES]
    x = rng.standard_normal((32, 5))
    y = x @ true[0] @ true[1] + true[2]
    params = [rng.standard_normal(s) * 0.1 for s in SHAPES]
    state = [np.zeros(()), *[np.zeros(s) for s in SHAPES for _ in range(2)]]
    first = None
    for _ in range(60):
        outs = run(m, *params, *state, x, y, func=step.sym_name)
        first = first if first is not None else float(outs[0])
        params, state = outs[1:4], outs[4:]
    assert float(outs[0]) < 0.1 * first


def test_newton_schulz_orthogonalizes():
    """The quintic iteration drives singular values into roughly [0.7, 1.2] (its design)."""
    from mlir_lite.passes.autodiff_rules import VJPContext
    from mlir_lite.passes.optimizers import newton_schulz
    m = make_module([tensor([6, 4], "f64")], lambda b, g: newton_schulz(
        VJPContext(b, set(), None, None), g, 5))
    g = np.random.default_rng(2).standard_normal((6, 4))
    (x,) = run(m, g)
    s = np.linalg.svd(x, compute_uv=False)
    assert s.min() > 0.6 and s.max() < 1.25
    u, _, vt = np.linalg.svd(g, full_matrices=False)
    assert np.abs(x - u @ vt).max() < 0.35


def test_state_order_and_data_inputs():
    m = _module()
    step = build_train_step(m, "main", [1, 0], SGD(lr=0.1, momentum=0.5), name="step")
    ins = [a.type.shape for a in step.args]
    assert ins == [(3, 4), (5, 3), (3, 4), (5, 3), (4,), ("N", 5), ("N", 4)]
    outs = [t.shape for t in step.function_type.results]
    assert outs == [(), (3, 4), (5, 3), (3, 4), (5, 3)]
    with pytest.raises(PassError, match="not a float parameter"):
        build_train_step(m, "main", [7], SGD(lr=0.1))
