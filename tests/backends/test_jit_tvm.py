"""@mlir_lite.jit compiling through the TVM backend: pieces compile once, a varying batch dim
becomes symbolic, and results match numpy."""
from __future__ import annotations

import numpy as np

import mlir_lite as ml


def test_jit_compiles_through_tvm_and_goes_symbolic() -> None:
    @ml.jit(executor="tvm")
    def step(x, w):  # noqa: ANN001, ANN202
        return (x @ w).relu().sum(), (x * 2.0).tanh()

    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3)).astype(np.float32)
    for n in (4, 6, 9, 5):
        x = rng.standard_normal((n, 8)).astype(np.float32)
        s, t = step(ml.tensor(x), ml.tensor(w))
        np.testing.assert_allclose(s.item(), np.maximum(x @ w, 0).sum(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(t.numpy(), np.tanh(2 * x), rtol=1e-5, atol=1e-6)
    text = step.explain()
    assert "2 compilation(s)" in text and "symbolic" in text
