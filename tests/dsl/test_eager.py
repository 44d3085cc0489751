"""The imperative DSL: eager ops against numpy, backward against central finite differences
(float64), grad accumulation, no_grad, errors."""
from __future__ import annotations

import numpy as np
import pytest

import mlir_lite as ml
from mlir_lite.dsl import eager as F
from mlir_lite.errors import DslError


def fd_grad(f, arrays, i, eps=1e-6):
    """Central differences of scalar f(*arrays) wrt arrays[i]."""
    a = arrays[i]
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        hi = f(*arrays)
        a[idx] = old - eps
        lo = f(*arrays)
        a[idx] = old
        g[idx] = (hi - lo) / (2 * eps)
    return g


def check_grads(model, arrays, wrt, rtol=1e-5, atol=1e-7):
    def value(*arrs):
        with ml.no_grad():
            return model(*[F.tensor(a, dtype="float64") for a in arrs]).item()
    ts = [F.tensor(a, dtype="float64", requires_grad=i in wrt) for i, a in enumerate(arrays)]
    model(*ts).backward()
    for i in wrt:
        np.testing.assert_allclose(ts[i].grad.numpy(), fd_grad(value, arrays, i), rtol=rtol,
                                   atol=atol, err_msg=f"input {i}")


def test_front_door():
    assert ml.Tensor is F.Tensor and ml.no_grad is F.no_grad
    t = F.tensor([[1, 2], [3, 4]])
    assert isinstance(t, ml.Tensor) and t.numpy().dtype == np.int64
    assert F.tensor(np.zeros(2)).numpy().dtype == np.float32
    assert F.tensor([1.5]).item() == 1.5


def test_ops_against_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    x, y = F.tensor(a), F.tensor(b)
    e = np.exp(a - a.max(1, keepdims=True))
    cases = {
        "add": (x + y, a + b), "rsub": (2 - x, 2 - a), "mul": (x * y, a * b),
        "div": (x / 2, a / 2), "neg": (-x, -a), "pow": (x ** 2, a ** 2),
        "matmul": (x @ F.tensor(a.T), a @ a.T), "relu": (x.relu(), np.maximum(a, 0)),
        "sigmoid": (x.sigmoid(), 1 / (1 + np.exp(-a))), "tanh": (x.tanh(), np.tanh(a)),
        "softmax": (x.softmax(1), e / e.sum(1, keepdims=True)),
        "log_softmax": (x.log_softmax(), np.log(e / e.sum(1, keepdims=True))),
        "sum": (x.sum(), a.sum()), "sum1": (x.sum(1, keepdim=True), a.sum(1, keepdims=True)),
        "mean0": (x.mean(0), a.mean(0)), "max": (x.max(1), a.max(1)),
        "reshape": (x.reshape(2, 6), a.reshape(2, 6)), "T": (x.T, a.T),
        "flatten": (F.flatten(F.tensor(a.reshape(3, 2, 2))), a.reshape(3, 4)),
        "index": (x[1:, ::2], a[1:, ::2]), "row": (x[-1], a[-1]),
        "gather": (x[[2, 0]], a[[2, 0]]), "exp_log": (x.abs().log().exp(), np.abs(a)),
    }
    for k, (got, want) in cases.items():
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_array_equal(x.argmax(1).numpy(), a.argmax(1))
    np.testing.assert_array_equal((x > 0).numpy(), a > 0)
    labels = np.array([0, 3, 1])
    want_ce = -np.log(e / e.sum(1, keepdims=True))[np.arange(3), labels].mean()
    np.testing.assert_allclose(F.cross_entropy(x, labels).item(), want_ce, rtol=1e-5)


def test_conv_and_pool_against_numpy():
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    ws = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bs = rng.standard_normal(3).astype(np.float32)
    got = F.conv2d(F.tensor(xs), F.tensor(ws), F.tensor(bs), padding=1).numpy()
    pad = np.pad(xs, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 3, 5, 5), np.float32)
    for i in range(5):
        for j in range(5):
            want[:, :, i, j] = np.einsum("nchw,mchw->nm", pad[:, :, i:i + 3, j:j + 3], ws) + bs
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    pooled = F.max_pool2d(F.tensor(want[:, :, :4, :4]), 2).numpy()
    np.testing.assert_allclose(pooled, want[:, :, :4, :4].reshape(2, 3, 2, 2, 2, 2).max((3, 5)))


def test_backward_mlp_matches_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5))
    w1, b1 = rng.standard_normal((6, 5)), rng.standard_normal(6)
    w2, b2 = rng.standard_normal((3, 6)), rng.standard_normal(3)
    labels = np.array([0, 2, 1, 2])

    def model(x, w1, b1, w2, b2):
        h = F.tanh(F.linear(x, w1, b1)) * F.sigmoid(F.linear(x, w1, b1))
        return F.cross_entropy(F.linear(h, w2, b2), labels) + (w2 * w2).mean()

    check_grads(model, [x, w1, b1, w2, b2], wrt=(0, 1, 2, 3, 4))


def test_backward_cnn_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 6, 6))
    cw, cb = rng.standard_normal((2, 1, 3, 3)), rng.standard_normal(2)
    fw = rng.standard_normal((3, 18))
    labels = np.array([1, 2])

    def model(x, cw, cb, fw):
        h = F.max_pool2d(F.relu(F.conv2d(x, cw, cb, padding=1)), 2)   # (2, 2, 3, 3)
        return F.cross_entropy(F.linear(F.flatten(h), fw), labels)

    check_grads(model, [x, cw, cb, fw], wrt=(0, 1, 2, 3))


def test_grad_accumulates_and_broadcast_reduces():
    w = F.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = F.tensor(np.ones((4, 3)))
    (x * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4, 4, 4])
    (w * w).sum().backward()                     # accumulates: + 2w
    np.testing.assert_allclose(w.grad.numpy(), [6, 8, 10])
    w.zero_grad()
    assert w.grad is None
    y = w * 3.0
    (y + y).sum().backward()                     # a value used twice
    np.testing.assert_allclose(w.grad.numpy(), [6, 6, 6])


def test_no_grad_and_inplace_updates():
    w = F.tensor([1.0, -2.0], requires_grad=True)
    with ml.no_grad():
        y = (w * 2).relu()
    assert not y.requires_grad
    with pytest.raises(DslError, match="does not require grad"):
        y.sum().backward()
    with pytest.raises(DslError, match="in-place"):
        w -= 1.0
    loss = (w * w).sum()
    loss.backward()
    with ml.no_grad():
        w -= 0.25 * w.grad
    np.testing.assert_allclose(w.numpy(), [0.5, -1.0])
    assert w.requires_grad and w.is_leaf

    @ml.no_grad()
    def f(t):
        return t * 2
    assert not f(w).requires_grad


def test_errors_are_readable():
    with pytest.raises(DslError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        F.tensor(np.ones((3, 4))) @ F.tensor(np.ones((5, 2)))
    with pytest.raises(DslError, match="one-element"):
        (F.tensor([1.0, 2.0], requires_grad=True) * 1.0).backward()
    with pytest.raises(DslError, match="only float"):
        F.tensor([1, 2], requires_grad=True)
