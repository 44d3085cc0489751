"""`mlir_lite.backend`: the onnx.backend.base.Backend API (prepare / run_model / run_node /
supports_device), input matching by position and name, the executor hook."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.backend.base import Backend

import mlir_lite.backend as backend
from mlir_lite.driver.executors import InterpreterExecutor
from mlir_lite.errors import ExecutionError


def _model():
    # y = x @ W + b, z = relu(y); W and b are initializers (listed as inputs too, IR v3 style)
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) - 2, "W")
    b = numpy_helper.from_array(np.array([0.5, -1.0], np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["y"]),
             helper.make_node("Relu", ["y"], ["z"])]
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", f, ["N", 3]),
                     helper.make_tensor_value_info("W", f, [3, 2])],
        [helper.make_tensor_value_info("z", f, ["N", 2]),
         helper.make_tensor_value_info("y", f, ["N", 2])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _expected(x):
    y = x @ (np.arange(6, dtype=np.float32).reshape(3, 2) - 2) + np.array([0.5, -1.0],
                                                                          np.float32)
    return np.maximum(y, 0), y


def test_backend_is_an_onnx_backend() -> None:
    assert issubclass(backend.MlirLiteBackend, Backend)
    assert backend.supports_device("CPU") and not backend.supports_device("TPU")
    try:
        import tvm
        has_gpu = bool(tvm.cuda(0).exist)
    except ImportError:
        has_gpu = False
    assert backend.supports_device("CUDA") == has_gpu  # honest: only with a CUDA device
    if not has_gpu:
        with pytest.raises(ValueError, match="CUDA needs a CUDA device"):
            backend.prepare(_model(), "CUDA")


def test_prepare_and_run_match_inputs_and_order_outputs() -> None:
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    rep = backend.prepare(_model(), "CPU")
    assert rep.input_names == ["x"]  # initializers are not inputs to feed
    z, y = rep.run([x])
    want_z, want_y = _expected(x)
    np.testing.assert_allclose(z, want_z, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(y, want_y, rtol=1e-6, atol=1e-6)
    by_name = rep.run({"x": x})
    np.testing.assert_array_equal(by_name["z"], z)  # outputs are addressable by name too
    np.testing.assert_array_equal(backend.run_model(_model(), [x])[0], z)


def test_wrong_inputs_are_reported() -> None:
    rep = backend.prepare(_model())
    with pytest.raises(ExecutionError, match="takes 1 inputs"):
        rep.run([np.zeros((1, 3), np.float32)] * 2)
    with pytest.raises(ExecutionError, match="missing"):
        rep.run({"q": np.zeros((1, 3), np.float32)})


def test_run_node() -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1, alpha=2.0)
    a, b = np.ones((2, 3), np.float32), np.full((4, 3), 0.5, np.float32)
    c = np.arange(4, dtype=np.float32)
    (y,) = backend.run_node(node, [a, b, c])
    np.testing.assert_allclose(y, 2.0 * a @ b.T + c)


def test_executor_hook() -> None:
    with pytest.raises(ValueError, match="unknown executor 'nope'"):
        backend.prepare(_model(), executor="nope")
    calls = []

    class Counting(InterpreterExecutor):
        name = "counting"

        def compile(self, module, func, options):
            inner = super().compile(module, func, options)

            def run(*arrays):
                calls.append(len(arrays))
                return inner(*arrays)
            return run

    backend.register_executor("counting", Counting())
    try:
        rep = backend.prepare(_model(), executor="counting")
        rep.run([np.zeros((1, 3), np.float32)])
        assert calls == [1] and rep.executor == "counting"
    finally:
        del backend.EXECUTORS["counting"]
