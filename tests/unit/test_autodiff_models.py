"""Whole-model gradients (an MLP, a small CNN with softmax cross-entropy, a Transformer block)
against central finite differences, float64."""
from __future__ import annotations

import numpy as np

from mlir_lite.ir.interpreter import run
from mlir_lite.passes.autodiff import build_grad

from ._autodiff_models import cnn, init_params, layer_norm_params, mlp, transformer_block
from ._autodiff_util import check_grads


def test_mlp_cross_entropy():
    m, shapes = mlp()
    rng = np.random.default_rng(0)
    params = init_params(shapes, rng)
    x, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    check_grads(m, params + [x, y], wrt=range(len(shapes)))


def test_cnn_cross_entropy():
    m, shapes = cnn()
    rng = np.random.default_rng(1)
    params = init_params(shapes, rng)
    x, y = rng.standard_normal((2, 1, 8, 8)), rng.integers(0, 4, 2)
    check_grads(m, params + [x, y], wrt=range(len(shapes)))


def test_transformer_block():
    m, shapes = transformer_block()
    rng = np.random.default_rng(2)
    params = init_params(shapes, rng)
    layer_norm_params(shapes, params)
    x, t = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    check_grads(m, params + [x, t], wrt=range(len(shapes)))


def test_tf_style_softmax_cross_entropy_matches_the_closed_form():
    """loss = mean(-sum(y_ * log(softmax(x W)), 1)) (the TF1 MNIST example): dW = x^T (p - y_)/N,
    an independent closed form."""
    from mlir_lite.ir.types import tensor

    from ._autodiff_util import make_module

    def body(b, w, x, y_):
        p = b.op("ml.softmax", b.op("ml.matmul", x, w), axis=1)
        ce = b.op("ml.neg", b.op("ml.reduce_sum", b.op("ml.mul", y_, b.op("ml.log", p)),
                                 axes=(1,), keepdims=False))
        return b.op("ml.reduce_mean", ce, keepdims=False)
    m = make_module([tensor([6, 3], "f64"), tensor(["N", 6], "f64"), tensor(["N", 3], "f64")],
                    body)
    build_grad(m, "main", [0])
    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((6, 3)), rng.standard_normal((10, 6))
    y_ = np.eye(3)[rng.integers(0, 3, 10)]
    loss, dw = run(m, w, x, y_, func="main_grad")
    z = x @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(loss, -np.mean(np.sum(y_ * np.log(p), 1)), rtol=1e-12)
    np.testing.assert_allclose(dw, x.T @ (p - y_) / 10, rtol=1e-10, atol=1e-12)


def test_f32_models_with_a_symbolic_batch_match_f64_static_ones():
    """The DSL's setting: f32, a symbolic batch dim; gradients agree with the f64 static-batch
    models (which the finite-difference tests check) to f32 precision."""
    from mlir_lite.ir.verifier import verify
    rng = np.random.default_rng(4)
    for make, xshape, classes in ((mlp, (5,), 3), (cnn, (1, 8, 8), 4)):
        sym, shapes = make("f32", batch="N")
        ref, _ = make("f64", batch=3)
        build_grad(sym, "main", list(range(len(shapes))))
        build_grad(ref, "main", list(range(len(shapes))))
        verify(sym)
        params = init_params(shapes, rng)
        x, y = rng.standard_normal((3,) + xshape), rng.integers(0, classes, 3)
        got = run(sym, *[p.astype(np.float32) for p in params], x.astype(np.float32), y,
                  func="main_grad")
        want = run(ref, *params, x, y, func="main_grad")
        for g, w in zip(got, want):
            assert g.dtype == np.float32 and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)
