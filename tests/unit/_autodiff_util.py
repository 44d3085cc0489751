"""Helpers for autodiff tests: build a one-function module, and `check_grads`, which compares
the VJP that `build_vjp` generates with central finite differences (float64).

The check is JAX's: for a random cotangent u and a random direction v of the wrt parameters,
<u, J v> computed as (<u, f(x + eps v)> - <u, f(x - eps v)>) / (2 eps) must match
sum_i <vjp_i(u), v_i>. Each wrt parameter is also checked alone, so an error in one gradient
cannot hide behind another.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

from mlir_lite.ir.builder import Builder
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import TensorType, tensor
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.autodiff import build_vjp


def f64(*shape) -> TensorType:
    return tensor(list(shape), "f64")


def make_module(arg_types: Sequence[TensorType], body: Callable, name: str = "main") -> ModuleOp:
    """A module with `@name(args) -> body(b, *args)` (a value or a tuple of values)."""
    m = ModuleOp.empty()
    probe = FuncOp.make(name, list(arg_types), [])
    b = Builder.at_end(probe.entry_block)
    outs = body(b, *probe.args)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    b.op("func.return", *outs)
    probe.update_type()
    m.append(probe)
    verify(m)
    return m


def random_like(rng: np.random.Generator, arr: np.ndarray) -> np.ndarray:
    return rng.standard_normal(np.shape(arr)).astype(np.asarray(arr).dtype)


def check_grads(module: ModuleOp, inputs: Sequence[np.ndarray], wrt: Optional[Sequence[int]] = None,
                *, seed: int = 0, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8,
                func: str = "main") -> List[np.ndarray]:
    """Check the generated VJP of `func` against central differences; returns the gradients."""
    f = module[func]
    if wrt is None:
        wrt = [i for i, a in enumerate(f.args) if a.type.element.is_float]
    g = build_vjp(module, func, wrt, name=f"{func}_vjp_check")
    verify(module)
    rng = np.random.default_rng(seed)
    inputs = [np.asarray(x) for x in inputs]
    outs = run(module, *inputs, func=func)
    cots = [random_like(rng, o) if o.dtype.kind == "f" else np.zeros_like(o) for o in outs]
    res = run(module, *inputs, *cots, func=g.sym_name)
    n_out = len(outs)
    for o, r in zip(outs, res[:n_out]):
        np.testing.assert_allclose(r, o, rtol=1e-12, atol=1e-12)
    grads = res[n_out:]
    for i, gr in zip(wrt, grads):
        assert gr.shape == inputs[i].shape, (gr.shape, inputs[i].shape)

    def pairing(xs: Sequence[np.ndarray]) -> float:
        ys = run(module, *xs, func=func)
        return sum(float(np.sum(c * y)) for c, y in zip(cots, ys) if y.dtype.kind == "f")

    def directional(dirs: dict) -> float:
        plus = [x + eps * dirs[i] if i in dirs else x for i, x in enumerate(inputs)]
        minus = [x - eps * dirs[i] if i in dirs else x for i, x in enumerate(inputs)]
        return (pairing(plus) - pairing(minus)) / (2 * eps)

    groups = [list(wrt)] + ([[i] for i in wrt] if len(wrt) > 1 else [])
    for group in groups:
        dirs = {i: random_like(rng, inputs[i]) for i in group}
        want = directional(dirs)
        got = sum(float(np.sum(grads[list(wrt).index(i)] * dirs[i])) for i in group)
        scale = max(abs(want), abs(got), 1.0)
        assert abs(got - want) <= rtol * scale + atol, \
            f"wrt {group}: VJP gives {got!r}, finite differences {want!r}"
    return grads
