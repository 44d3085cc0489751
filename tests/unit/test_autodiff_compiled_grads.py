"""Gradient formulations chosen for speed, checked against PyTorch autograd through the
interpreter and the compiled TVM path: the max-pool VJP (argmax mask, no scatter), including
ties (relu'd inputs: many all-zero windows, where both route to the FIRST maximum), and the
convolution input gradient as a direct convolution (strided, dilated, grouped).

PyTorch is a test-only extra: the torch comparisons are skipped when `import torch` fails.
"""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import tensor
from mlir_lite.passes.autodiff import build_vjp

from ._autodiff_util import make_module

CASES = [
    dict(kernel_shape=(2, 2), strides=(2, 2)),                       # tiles: the reshape path
    dict(kernel_shape=(2, 2), strides=(2, 2), pads=(1, 1, 1, 1)),    # tiles with padding
    dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),    # overlapping windows
]


def _tied_input(seed: int, shape: tuple) -> np.ndarray:
    # relu of rounded values: many exact ties (zeros and repeated values) inside windows
    rng = np.random.default_rng(seed)
    return np.maximum(np.round(rng.standard_normal(shape) * 2), 0.0).astype(np.float32)


def _torch_dx(x: np.ndarray, g: np.ndarray, attrs: dict) -> np.ndarray:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    pads = attrs.get("pads", (0, 0, 0, 0))
    xt = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.max_pool2d(xt, attrs["kernel_shape"], attrs["strides"],
                                       padding=pads[:2])
    y.backward(torch.tensor(g))
    return xt.grad.numpy()


def _module(shape: tuple, attrs: dict):
    m = make_module([tensor(list(shape), "f32")], lambda b, x: b.op("ml.max_pool", x, **attrs))
    build_vjp(m, "main", [0])
    return m


@pytest.mark.parametrize("case", range(len(CASES)))
def test_max_pool_grad_ties_match_torch(case):
    attrs = CASES[case]
    shape = (2, 3, 8, 7)
    x = _tied_input(case, shape)
    m = _module(shape, attrs)
    assert not any(op.name.startswith("ml.scatter") for op in m.walk())
    y = run(m, x)[0]
    g = np.random.default_rng(10 + case).standard_normal(y.shape).astype(np.float32)
    (dx,) = run(m, x, g, func="main_vjp")[1:]
    np.testing.assert_allclose(dx, _torch_dx(x, g, attrs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", [0, 2])
def test_max_pool_grad_compiled_matches_torch(case):
    pytest.importorskip("tvm", reason="TVM is not installed")
    from mlir_lite.backends.tvm import compile_function
    attrs = CASES[case]
    shape = (2, 4, 12, 10)
    x = _tied_input(20 + case, shape)
    m = _module(shape, attrs)
    y = run(m, x)[0]
    g = np.random.default_rng(30 + case).standard_normal(y.shape).astype(np.float32)
    got = compile_function(m, "main_vjp")(x, g)
    np.testing.assert_allclose(got[0], y, rtol=0, atol=0)
    np.testing.assert_allclose(got[1], _torch_dx(x, g, attrs), rtol=1e-6, atol=1e-6)


def test_train_step_has_no_scatter_and_unit_transposes_are_views():
    # conv (1 input channel) -> relu -> 2x2 max pool: the weight gradient transposes x
    # (N, 1, H, W) -> (1, N, H, W), which only moves a size-1 dim: a reshape, not a transpose
    from mlir_lite.passes.optimizers import SGD, build_train_step

    def body(b, w, x):
        h = b.op("ml.relu", b.op("ml.conv", x, w, pads=(1, 1, 1, 1)))
        p = b.op("ml.max_pool", h, kernel_shape=(2, 2), strides=(2, 2))
        return b.op("ml.reduce_sum", p, keepdims=False)
    m = make_module([tensor([2, 1, 3, 3], "f32"), tensor([4, 1, 6, 6], "f32")], body,
                    name="loss")
    step = build_train_step(m, "loss", [0], SGD(lr=0.1))
    names = [op.name for op in step.walk()]
    assert not any(n.startswith("ml.scatter") for n in names)
    perms = [tuple(op.attr("perm")) for op in step.walk() if op.name == "ml.transpose"]
    assert (1, 0, 2, 3) in perms          # g (N, M, ..) -> (M, N, ..) still moves real data
    x_t = [op for op in step.walk() if op.name == "ml.transpose"
           and op.operands[0].type.shape == (4, 1, 6, 6)]
    assert not x_t


CONV_CASES = [
    dict(pads=(1, 1, 1, 1)),
    dict(strides=(2, 2), pads=(1, 1, 1, 1), group=2),
    dict(strides=(2, 1), dilations=(2, 1), pads=(2, 0, 1, 1)),
    dict(pads=(3, 3, 3, 3)),                          # pad > (k-1)*d: the conv_transpose form
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_grads_compiled_match_torch(case):
    pytest.importorskip("tvm", reason="TVM is not installed")
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from mlir_lite.backends.tvm import compile_function
    attrs = CONV_CASES[case]
    grp = attrs.get("group", 1)
    xs, ws = (3, 4, 9, 8), (6, 4 // grp, 3, 3)
    m = make_module([tensor(list(xs), "f32"), tensor(list(ws), "f32")],
                    lambda b, x, w: b.op("ml.conv", x, w, **attrs))
    build_vjp(m, "main", [0, 1])
    names = {op.name for op in m["main_vjp"].walk()}
    assert ("ml.conv_transpose" in names) == (case == 3)
    rng = np.random.default_rng(case)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    p = attrs.get("pads", (0, 0, 0, 0))
    xp = torch.nn.functional.pad(xt, (p[1], p[3], p[0], p[2]))
    yt = torch.nn.functional.conv2d(xp, wt, stride=attrs.get("strides", 1),
                                    dilation=attrs.get("dilations", 1), groups=grp)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.tensor(g))
    got = compile_function(m, "main_vjp")(x, w, g)
    np.testing.assert_allclose(got[0], yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[2], wt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_relu_then_max_pool_commutes_before_differentiation():
    # max_pool(relu(z)) is differentiated as relu(max_pool(z)) (the relu mask on the pooled
    # tensor); the returned forward value is still the pooled relu, the gradient torch's
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    attrs = dict(kernel_shape=(2, 2), strides=(2, 2))
    m = make_module([tensor([2, 3, 6, 8], "f32")],
                    lambda b, z: b.op("ml.max_pool", b.op("ml.relu", z), **attrs))
    vjp = build_vjp(m, "main", [0])
    order = [op.name for op in vjp.walk() if op.name in ("ml.relu", "ml.max_pool")]
    assert order[:2] == ["ml.max_pool", "ml.relu"]
    z = _tied_input(5, (2, 3, 6, 8)) - 1.0  # many negative and tied windows
    g = np.random.default_rng(6).standard_normal((2, 3, 3, 4)).astype(np.float32)
    y, dz = run(m, z, g, func="main_vjp")
    want_y = np.maximum(z, 0).reshape(2, 3, 3, 2, 4, 2).max(axis=(3, 5))  # numpy oracle
    np.testing.assert_array_equal(y, want_y)
    zt = torch.tensor(z, requires_grad=True)
    torch.nn.functional.max_pool2d(torch.relu(zt), 2, 2).backward(torch.tensor(g))
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-6, atol=1e-6)


def _cnn_loss_module():
    # conv 1->4 3x3 pad 1, relu, 2x2 max pool, flatten, dense -> cross entropy (batch 8)
    def body(b, w1, b1, w2, x, y):
        h = b.op("ml.max_pool", b.op("ml.relu", b.op("ml.conv", x, w1, b1, pads=(1, 1, 1, 1))),
                 kernel_shape=(2, 2), strides=(2, 2))
        logits = b.op("ml.matmul", b.op("ml.flatten", h, axis=1), w2)
        lp = b.op("ml.log_softmax", logits, axis=-1)
        s = b.op("ml.reduce_sum", b.op("ml.mul", y, lp), axes=(1,), keepdims=False)
        return b.op("ml.neg", b.op("ml.reduce_mean", s, keepdims=False))
    shapes = [(4, 1, 3, 3), (4,), (4 * 5 * 5, 3), (8, 1, 10, 10), (8, 3)]
    return make_module([tensor(list(s), "f32") for s in shapes], body, name="loss"), shapes


def test_train_step_through_o2_pipeline_matches_interpreter():
    # the O2 pipeline folds the loss seed (a rank-0 constant) and fuses the backward ops
    pytest.importorskip("tvm", reason="TVM is not installed")
    from mlir_lite.backends.tvm import compile_function
    from mlir_lite.driver import pipeline_for
    from mlir_lite.passes.optimizers import SGD, build_train_step
    from mlir_lite.passes.registry import run_pipeline
    ref, shapes = _cnn_loss_module()
    build_train_step(ref, "loss", [0, 1, 2], SGD(lr=0.1))
    m, _ = _cnn_loss_module()
    build_train_step(m, "loss", [0, 1, 2], SGD(lr=0.1))
    run_pipeline(m, pipeline_for(opt_level=2))
    assert any(op.name == "ml.fused" for op in m.walk())
    rng = np.random.default_rng(3)
    args = [rng.standard_normal(s).astype(np.float32) for s in shapes[:4]]
    args.append(np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)])
    want = run(ref, *args, func="loss_train_step")
    got = compile_function(m, "loss_train_step")(*args)
    for a, b_ in zip(got, want):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-5)
