"""The vectorised float32 exp (fast_exp.py) and constant matmul B packed at compile time
(prepack.py, schedules/matmul.py): compiled ONNX models against numpy written here (float64).

Tolerances: exp relative error <= 3e-7 over the normal range (about 2 ulp; measured 8.5e-8),
subnormal results within 2 of the smallest subnormal, special values exact; softmax rtol 1e-5
atol 1e-6; matmul rtol 1e-4 atol 1e-4 (float32 accumulation over K <= 300)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from mlir_lite.driver import compile
from mlir_lite.frontends.onnx import import_onnx
from mlir_lite.ir.interpreter import run

F32 = np.float32


def _model(nodes: list, inputs: Dict[str, Sequence], outputs: Dict[str, int],
           inits: Dict[str, np.ndarray] = None) -> onnx.ModelProto:
    """`outputs`: name -> rank."""
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info(n, T.FLOAT, list(s))
                                  for n, s in inputs.items()],
                     [h.make_tensor_value_info(o, T.FLOAT, [f"{o}_{i}" for i in range(r)])
                      for o, r in outputs.items()],
                     [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def _compile(model: onnx.ModelProto):
    fn = compile(model, opt_level=2).executable
    return fn


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(F32)


# -- exp ----------------------------------------------------------------------------------------
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e-8, 88.72283,
                    88.7228394, 88.72284, 89.0, 100.0, -87.33654, -87.4, -103.0, -103.97,
                    -104.0, -200.0, 1.0, -1.0, 0.5 * np.log(2), -0.5 * np.log(2)], F32)


def test_exp_dense_sweep_and_special_values() -> None:
    sweep = np.linspace(-110, 95, 2_000_003, dtype=F32)
    near0 = np.random.default_rng(0).uniform(-1, 1, 200_001).astype(F32)
    x = np.concatenate([sweep, near0, SPECIAL])
    fn = _compile(_model([h.make_node("Exp", ["x"], ["y"])], {"x": x.shape}, {"y": 1}))
    assert "@expf" not in fn.source("ll")  # no libm call per element
    y = fn(x)[0]
    ref = np.exp(x.astype(np.float64))
    tiny, big = np.finfo(F32).tiny, float(np.finfo(F32).max)
    normal = (ref >= tiny) & (ref <= big)
    rel = np.abs(y[normal] - ref[normal]) / ref[normal]
    assert rel.max() <= 3e-7, (rel.max(), x[normal][rel.argmax()])
    sub = (ref > 0) & (ref < tiny)
    assert np.abs(y[sub] - ref[sub]).max() <= 2 * 1.4013e-45
    assert np.all(y[ref > big] == np.inf) and np.all(y[ref == 0] == 0)
    got = dict(zip(SPECIAL.tolist(), y[-len(SPECIAL):].tolist()))
    assert got[0.0] == 1.0 and got[float("inf")] == np.inf and got[float("-inf")] == 0.0
    assert got[89.0] == np.inf and got[-104.0] == 0.0 and got[-200.0] == 0.0
    assert np.isnan(y[-len(SPECIAL):][np.isnan(SPECIAL)]).all()


# -- softmax ------------------------------------------------------------------------------------
def _softmax64(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((3, 7, 1000), -1), ((5, 33), -1),
                                        ((2, 4, 17, 129), -1), ((6, 19, 5), 1),
                                        ((4, 128, 128), -1)])
def test_softmax_masked_and_large(op: str, shape: tuple, axis: int) -> None:
    x = _rand(*shape) * 30
    flat = np.moveaxis(x, axis, -1)  # a view: rows along `axis`
    flat[..., ::3] = -np.inf          # masked attention scores (every row keeps finite values)
    flat[..., 1] = 1e30               # one huge score per row
    if flat.shape[-1] > 2:
        flat[..., 2] = 80.0
    fn = _compile(_model([h.make_node(op, ["x"], ["y"], axis=axis)], {"x": shape},
                         {"y": len(shape)}))
    got = fn(x)[0]
    want = _softmax64(x, axis, op == "LogSoftmax")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_fully_masked_row_matches_interpreter(op: str) -> None:
    x = _rand(4, 37) * 10
    x[1] = -np.inf  # all masked: NaN in numpy (-inf - -inf)
    model = _model([h.make_node(op, ["x"], ["y"], axis=-1)], {"x": x.shape}, {"y": 2})
    got = _compile(model)(x)[0]
    want = run(import_onnx(model), x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
    ok = [0, 2, 3]
    np.testing.assert_allclose(got[ok], _softmax64(x[ok], -1, op == "LogSoftmax"),
                               rtol=1e-5, atol=1e-6)


def test_softmax_rational_exp_stays_vectorised() -> None:
    fn = _compile(_model([h.make_node("Softmax", ["x"], ["y"], axis=-1)], {"x": (64, 1000)},
                         {"y": 2}))
    assert "@expf" not in fn.source("ll")


# -- matmul with a constant B packed at compile time ----------------------------------------------
def _sched(fn) -> List[str]:
    return [" ".join(k.schedule) for k in fn.kernels if k.kind == "matmul"]


def _panels(b_kn: np.ndarray, nj: int) -> np.ndarray:
    """The expected packed layout, written independently: out[p, k, c] = B[k, p*nj + c]."""
    k, n = b_kn.shape
    npan = (n + nj - 1) // nj
    out = np.zeros((npan, k, nj), F32)
    for p in range(npan):
        cols = b_kn[:, p * nj:(p + 1) * nj]
        out[p, :, :cols.shape[1]] = cols
    return out


def _packed_constants(fn) -> List[np.ndarray]:
    return [c for c in fn.plan.constants.values() if c.ndim == 3]


@pytest.mark.parametrize("m,k,n", [(37, 65, 100), (20, 64, 96), (8, 33, 7), (64, 300, 1000)])
def test_constant_b_is_packed_at_compile_time(m: int, k: int, n: int) -> None:
    w = _rand(k, n, seed=1)
    fn = _compile(_model([h.make_node("MatMul", ["x", "w"], ["y"])], {"x": (m, k)}, {"y": 2},
                         {"w": w}))
    x = _rand(m, k)
    np.testing.assert_allclose(fn(x)[0], x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)
    s = _sched(fn)
    assert len(s) == 1 and "matmul:tile" in s[0] and "+prepackedB" in s[0], s
    assert "+packB" not in s[0]  # no packing stage runs per call
    (packed,) = _packed_constants(fn)
    np.testing.assert_array_equal(packed, _panels(w, packed.shape[-1]))


def test_gemm_trans_b_bias_relu_batched_a() -> None:
    w, bias = _rand(71, 48, seed=2), _rand(71, seed=3)
    fn = _compile(_model([h.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1),
                          h.make_node("Relu", ["g"], ["y"])], {"x": (30, 48)}, {"y": 2},
                         {"w": w, "c": bias}))
    x = _rand(30, 48)
    want = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + bias, 0)
    np.testing.assert_allclose(fn(x)[0], want, rtol=1e-4, atol=1e-4)
    assert any("+prepackedB" in s for s in _sched(fn)), _sched(fn)
    (packed,) = _packed_constants(fn)
    np.testing.assert_array_equal(packed, _panels(w.T, packed.shape[-1]))

    w2 = _rand(48, 96, seed=4)
    fn = _compile(_model([h.make_node("MatMul", ["x", "w"], ["y"])], {"x": (3, 29, 48)}, {"y": 3},
                         {"w": w2}))
    xb = _rand(3, 29, 48)
    np.testing.assert_allclose(fn(xb)[0], xb.astype(np.float64) @ w2, rtol=1e-4, atol=1e-4)
    assert any("+prepackedB" in s for s in _sched(fn)), _sched(fn)


def test_shared_constant_gets_a_packed_copy_per_layout() -> None:
    w = _rand(40, 56, seed=5)
    nodes = [h.make_node("MatMul", ["x1", "w"], ["y1"]),
             h.make_node("MatMul", ["x2", "w"], ["y2"]),
             h.make_node("Gemm", ["x3", "w"], ["y3"], transB=1),   # w as [N=40, K=56]
             h.make_node("Add", ["w", "w"], ["y4"])]               # a non-matmul user
    fn = _compile(_model(nodes, {"x1": (17, 40), "x2": (33, 40), "x3": (24, 56)},
                         {"y1": 2, "y2": 2, "y3": 2, "y4": 2}, {"w": w}))
    x1, x2, x3 = _rand(17, 40), _rand(33, 40, seed=1), _rand(24, 56, seed=2)
    y1, y2, y3, y4 = fn(x1, x2, x3)
    w64 = w.astype(np.float64)
    np.testing.assert_allclose(y1, x1 @ w64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y2, x2 @ w64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y3, x3 @ w64.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y4, w + w)
    assert all("+prepackedB" in s for s in _sched(fn)), _sched(fn)
    packed = _packed_constants(fn)
    assert len(packed) == 2  # one copy for [K, N] (shared by both MatMuls), one transposed
    assert any(np.array_equal(w, c) for c in fn.plan.constants.values())  # the original stays


def test_gemv_trans_b_keeps_the_dot_schedule() -> None:
    w = _rand(50, 128, seed=6)
    fn = _compile(_model([h.make_node("Gemm", ["x", "w"], ["y"], transB=1)], {"x": (1, 128)},
                         {"y": 2}, {"w": w}))
    x = _rand(1, 128)
    np.testing.assert_allclose(fn(x)[0], x.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-4)
    assert any("dot-rows" in s for s in _sched(fn)), _sched(fn)
    assert not _packed_constants(fn)


def test_packed_constants_survive_the_artifact(tmp_path) -> None:
    import mlir_lite
    from mlir_lite.driver import compile_to_artifact
    w = _rand(40, 56, seed=7)
    model = _model([h.make_node("MatMul", ["x1", "w"], ["y1"]),
                    h.make_node("Gemm", ["x3", "w"], ["y3"], transB=1)],
                   {"x1": (17, 40), "x3": (24, 56)}, {"y1": 2, "y3": 2}, {"w": w})
    src, out = str(tmp_path / "m.onnx"), str(tmp_path / "m.mlc")
    onnx.save(model, src)
    compile_to_artifact(src, out)
    x1, x3 = _rand(17, 40, seed=8), _rand(24, 56, seed=9)
    y1, y3 = mlir_lite.load(out)(x1, x3)
    np.testing.assert_allclose(y1, x1.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y3, x3.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-4)
