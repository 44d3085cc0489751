"""Whole-model gradients and optimizer steps against PyTorch autograd / torch.optim (float64).

PyTorch is a test-only extra: every test here is skipped when `import torch` fails.
"""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.ir.interpreter import run
from mlir_lite.passes.autodiff import build_grad
from mlir_lite.passes.optimizers import SGD, Adam, build_train_step

from ._autodiff_models import cnn, init_params, layer_norm_params, mlp, transformer_block

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test-only comparison)")
F = torch.nn.functional


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


def _torch_mlp(p, x, y):
    w1, b1, w2, b2 = p
    h = torch.relu(x @ w1 + b1)
    return F.cross_entropy(h @ w2 + b2, y)


def _torch_cnn(p, x, y):
    k1, c1, k2, c2, w, bw = p
    h = F.max_pool2d(torch.relu(F.conv2d(x, k1, c1, padding=1)), 2, 2)
    h = torch.relu(F.conv2d(h, k2, c2, stride=2, padding=1))
    h = h.mean(dim=(2, 3))
    return F.cross_entropy(h @ w.T + bw, y)


def _torch_block(p, x, target, heads=2):
    g1, be1, wqkv, wo, g2, be2, w1, bb1, w2, bb2 = p
    bsz, seq, d = x.shape
    hd = d // heads
    h = F.layer_norm(x, (d,), g1, be1)
    q, k, v = (h @ wqkv).split(d, dim=2)
    q, k, v = (t.reshape(bsz, seq, heads, hd).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / np.sqrt(hd)
    s = s.masked_fill(torch.triu(torch.ones(seq, seq, dtype=torch.bool), 1), -1e9)
    a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(bsz, seq, d)
    x = x + a @ wo
    h = F.gelu(F.layer_norm(x, (d,), g2, be2) @ w1 + bb1)
    x = x + h @ w2 + bb2
    return ((x - target) ** 2).mean()


def _compare(module, shapes, params, data, torch_fn, torch_data):
    g = build_grad(module, "main", list(range(len(shapes))))
    outs = run(module, *params, *data, func=g.sym_name)
    tp = [_t(p) for p in params]
    loss = torch_fn(tp, *torch_data)
    loss.backward()
    np.testing.assert_allclose(outs[0], loss.item(), rtol=1e-12)
    for got, want in zip(outs[1:], tp):
        np.testing.assert_allclose(got, want.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_mlp_matches_torch():
    m, shapes = mlp(batch=8)
    rng = np.random.default_rng(0)
    params = init_params(shapes, rng)
    x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    _compare(m, shapes, params, [x, y], _torch_mlp,
             [torch.tensor(x), torch.tensor(y)])


def test_cnn_matches_torch():
    m, shapes = cnn(batch=3)
    rng = np.random.default_rng(1)
    params = init_params(shapes, rng)
    x, y = rng.standard_normal((3, 1, 8, 8)), rng.integers(0, 4, 3)
    _compare(m, shapes, params, [x, y], _torch_cnn, [torch.tensor(x), torch.tensor(y)])


def test_transformer_block_matches_torch():
    m, shapes = transformer_block()
    rng = np.random.default_rng(2)
    params = init_params(shapes, rng)
    layer_norm_params(shapes, params)
    x, t = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    _compare(m, shapes, params, [x, t], _torch_block, [torch.tensor(x), torch.tensor(t)])


@pytest.mark.parametrize("name", ["sgd_nesterov", "adam", "adamw"])
def test_train_step_matches_torch_optim(name):
    opt, make = {
        "sgd_nesterov": (SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                         lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                                    weight_decay=0.01)),
        "adam": (Adam(lr=0.01, weight_decay=0.05),
                 lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.05)),
        "adamw": (Adam(lr=0.01, weight_decay=0.05, decoupled=True),
                  lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05)),
    }[name]
    m, shapes = mlp(batch=8)
    step = build_train_step(m, "main", list(range(len(shapes))), opt)
    rng = np.random.default_rng(3)
    params = init_params(shapes, rng)
    tp = [_t(p) for p in params]
    topt = make(tp)
    from mlir_lite.ir.types import tensor
    state = [np.zeros(t.shape) for t in opt.state_types([tensor(s, "f64") for s in shapes])]
    for _ in range(3):
        x, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
        outs = run(m, *params, *state, x, y, func=step.sym_name)
        params, state = outs[1:1 + len(shapes)], outs[1 + len(shapes):]
        topt.zero_grad()
        loss = _torch_mlp(tp, torch.tensor(x), torch.tensor(y))
        loss.backward()
        topt.step()
        np.testing.assert_allclose(outs[0], loss.item(), rtol=1e-10)
        for got, want in zip(params, tp):
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-8, atol=1e-12)
