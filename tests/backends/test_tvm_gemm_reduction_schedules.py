"""The matmul and row-reduction CPU schedules (schedules/matmul.py, schedules/reduction.py) on
odd shapes: compiled models against numpy written here (float64), and the schedule each kernel
got, so a silent fallback to the generic schedule fails the test.

Tolerances: rtol 1e-4, atol 1e-4 (float32 accumulation over K <= 1000)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

from mlir_lite.driver import compile

RTOL, ATOL = 1e-4, 1e-4


def _model(nodes: list, inputs: Dict[str, Sequence], out_rank: int,
           inits: Dict[str, np.ndarray] = None) -> onnx.ModelProto:
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info(n, T.FLOAT, list(s))
                                  for n, s in inputs.items()],
                     [h.make_tensor_value_info("y", T.FLOAT, [f"o{i}" for i in range(out_rank)])],
                     [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def _compile(model: onnx.ModelProto):
    fn = compile(model, opt_level=2).executable
    return fn


def _schedules(fn) -> List[str]:
    return [" ".join(k.schedule) for k in fn.kernels]


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)


# -- matmul -----------------------------------------------------------------------------------
@pytest.mark.parametrize("m,k,n", [(37, 53, 71), (1, 64, 96), (100, 65, 96), (16, 7, 33)])
def test_matmul_odd_shapes(m: int, k: int, n: int) -> None:
    fn = _compile(_model([h.make_node("MatMul", ["a", "b"], ["y"])],
                         {"a": (m, k), "b": (k, n)}, 2))
    a, b = _rand(m, k), _rand(k, n, seed=1)
    np.testing.assert_allclose(fn(a, b)[0], a.astype(np.float64) @ b, rtol=RTOL, atol=ATOL)
    assert any("matmul:tile" in s for s in _schedules(fn)), _schedules(fn)


def test_dense_bias_relu_epilogue_is_in_the_tile() -> None:
    w, bias = _rand(65, 96, seed=2), _rand(96, seed=3)
    fn = _compile(_model([h.make_node("MatMul", ["x", "w"], ["m"]),
                          h.make_node("Add", ["m", "bias"], ["s"]),
                          h.make_node("Relu", ["s"], ["y"])], {"x": (100, 65)}, 2,
                         {"w": w, "bias": bias}))
    x = _rand(100, 65)
    want = np.maximum(x.astype(np.float64) @ w + bias, 0)
    np.testing.assert_allclose(fn(x)[0], want, rtol=RTOL, atol=ATOL)
    (sched,) = _schedules(fn)
    assert "into-tile" in sched and "packB" not in sched, sched  # B is small: not packed


def test_gemm_transposed_b_alpha_beta_packs_b() -> None:
    b, c = _rand(64, 40, seed=4), _rand(64, seed=5)
    fn = _compile(_model([h.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=0.5,
                                      beta=2.0)], {"a": (50, 40)}, 2, {"b": b, "c": c}))
    a = _rand(50, 40)
    want = 0.5 * (a.astype(np.float64) @ b.T) + 2.0 * c
    np.testing.assert_allclose(fn(a)[0], want, rtol=RTOL, atol=ATOL)
    # a constant B is packed at compile time (prepack.py), an input one per call
    assert any("+packB" in s or "+prepackedB" in s for s in _schedules(fn)), _schedules(fn)


def test_batched_matmul_packs_a_large_batched_b() -> None:
    fn = _compile(_model([h.make_node("MatMul", ["a", "b"], ["y"])],
                         {"a": (2, 2, 33, 512), "b": (2, 2, 512, 288)}, 4))
    a, b = _rand(2, 2, 33, 512), _rand(2, 2, 512, 288, seed=6)
    np.testing.assert_allclose(fn(a, b)[0], np.matmul(a.astype(np.float64), b), rtol=RTOL,
                               atol=ATOL)
    assert any("packB" in s for s in _schedules(fn)), _schedules(fn)


def test_attention_scores_with_transposed_keys() -> None:
    """Q.K^T with K transposed by a Transpose node, scaled, then P.V (attention shapes)."""
    nodes = [h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             h.make_node("MatMul", ["q", "kt"], ["s"]), h.make_node("Mul", ["s", "c"], ["ss"]),
             h.make_node("MatMul", ["ss", "v"], ["y"])]
    fn = _compile(_model(nodes, {"q": (2, 3, 40, 16), "k": (2, 3, 40, 16), "v": (2, 3, 40, 24)},
                         4, {"c": np.array(0.25, np.float32)}))
    q, k, v = _rand(2, 3, 40, 16), _rand(2, 3, 40, 16, seed=7), _rand(2, 3, 40, 24, seed=8)
    s = np.matmul(q.astype(np.float64), np.swapaxes(k, -1, -2)) * 0.25
    np.testing.assert_allclose(fn(q, k, v)[0], np.matmul(s, v), rtol=RTOL, atol=ATOL)


def test_small_batched_matmul_unpacked() -> None:
    fn = _compile(_model([h.make_node("MatMul", ["a", "b"], ["y"])],
                         {"a": (3, 4, 33, 20), "b": (3, 4, 20, 64)}, 4))
    a, b = _rand(3, 4, 33, 20), _rand(3, 4, 20, 64, seed=6)
    np.testing.assert_allclose(fn(a, b)[0], np.matmul(a.astype(np.float64), b), rtol=RTOL,
                               atol=ATOL)
    assert any("matmul:tile" in s and "packB" not in s for s in _schedules(fn)), _schedules(fn)


def test_broadcast_batch_matmul() -> None:
    fn = _compile(_model([h.make_node("MatMul", ["a", "b"], ["y"])],
                         {"a": (2, 1, 17, 8), "b": (3, 8, 64)}, 4))
    a, b = _rand(2, 1, 17, 8), _rand(3, 8, 64, seed=9)
    np.testing.assert_allclose(fn(a, b)[0], np.matmul(a.astype(np.float64), b), rtol=RTOL,
                               atol=ATOL)


def test_symbolic_batch_dense_one_artifact_two_sizes() -> None:
    w, bias = _rand(32, 64, seed=10), _rand(64, seed=11)
    fn = _compile(_model([h.make_node("MatMul", ["x", "w"], ["m"]),
                          h.make_node("Add", ["m", "bias"], ["y"])], {"x": ("N", 24, 32)}, 3,
                         {"w": w, "bias": bias}))
    for n in (1, 5):
        x = _rand(n, 24, 32, seed=n)
        np.testing.assert_allclose(fn(x)[0], x.astype(np.float64) @ w + bias, rtol=RTOL,
                                   atol=ATOL)


# -- row reductions -----------------------------------------------------------------------------
def _softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("shape", [(3, 7, 37), (5, 128), (2, 4, 16, 64), (6, 1000)])
def test_softmax_rows(shape: tuple) -> None:
    fn = _compile(_model([h.make_node("Softmax", ["x"], ["y"], axis=-1)], {"x": shape},
                         len(shape)))
    x = _rand(*shape) * 3
    np.testing.assert_allclose(fn(x)[0], _softmax(x), rtol=RTOL, atol=1e-6)
    assert any("rows:" in s for s in _schedules(fn)), _schedules(fn)
    if shape[-1] % 8 == 0:
        assert any("rfactor+vector" in s for s in _schedules(fn)), _schedules(fn)


def test_log_softmax_and_symbolic_rows() -> None:
    fn = _compile(_model([h.make_node("LogSoftmax", ["x"], ["y"], axis=-1)], {"x": ("N", 96)},
                         2))
    for n in (1, 7):
        x = _rand(n, 96, seed=n) * 3
        np.testing.assert_allclose(fn(x)[0], np.log(_softmax(x)), rtol=RTOL, atol=ATOL)
    assert any("rows:" in s for s in _schedules(fn)), _schedules(fn)


@pytest.mark.parametrize("shape", [(2, 9, 96), (4, 50), (1, 128, 256)])
def test_layer_norm_rows(shape: tuple) -> None:
    d = shape[-1]
    g, b = _rand(d, seed=12), _rand(d, seed=13)
    fn = _compile(_model([h.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1,
                                      epsilon=1e-5)], {"x": shape}, len(shape),
                         {"g": g, "b": b}))
    x = _rand(*shape) * 2 + 1
    xd = x.astype(np.float64)
    mu = xd.mean(-1, keepdims=True)
    want = (xd - mu) / np.sqrt(((xd - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b
    np.testing.assert_allclose(fn(x)[0], want, rtol=RTOL, atol=ATOL)
    assert any("rows:" in s for s in _schedules(fn)), _schedules(fn)


def test_reduce_mean_last_axis_vectorised() -> None:
    fn = _compile(_model([h.make_node("ReduceMean", ["x"], ["y"], axes=[-1], keepdims=0)],
                         {"x": (64, 768)}, 1))
    x = _rand(64, 768)
    np.testing.assert_allclose(fn(x)[0], x.astype(np.float64).mean(-1), rtol=RTOL, atol=1e-6)
    assert any("rfactor+vector" in s for s in _schedules(fn)), _schedules(fn)


def test_reduce_over_leading_axis_keeps_generic_schedule() -> None:
    fn = _compile(_model([h.make_node("ReduceSum", ["x", "ax"], ["y"], keepdims=1)],
                         {"x": (33, 40)}, 2, {"ax": np.array([0], np.int64)}))
    x = _rand(33, 40)
    np.testing.assert_allclose(fn(x)[0], x.astype(np.float64).sum(0, keepdims=True),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("m,k,n", [(1, 512, 100), (3, 200, 64), (1, 20, 7)])
def test_dense_batch_one_transposed_weights_dot_rows(m: int, k: int, n: int) -> None:
    """A dense layer at batch 1 (Gemm transB): the dot-product schedule, bias + ReLU after."""
    w, c = _rand(n, k, seed=14), _rand(n, seed=15)
    fn = _compile(_model([h.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1),
                          h.make_node("Relu", ["g"], ["y"])], {"x": (m, k)}, 2,
                         {"w": w, "c": c}))
    x = _rand(m, k)
    want = np.maximum(x.astype(np.float64) @ w.T + c, 0)
    np.testing.assert_allclose(fn(x)[0], want, rtol=RTOL, atol=ATOL)
    if k % 8 == 0:
        assert any("dot-rows" in s for s in _schedules(fn)), _schedules(fn)
