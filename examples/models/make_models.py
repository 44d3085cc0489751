"""Regenerate the small ONNX models bundled in examples/models (deterministic weights).

    python examples/models/make_models.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent


def mlp() -> onnx.ModelProto:
    """784 -> 128 -> 10 MLP with a dynamic batch dim `N`, ReLU and Softmax."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((784, 128)) * 0.05).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(128, np.float32), "b1")
    w2 = numpy_helper.from_array((rng.standard_normal((128, 10)) * 0.1).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(np.full(10, 0.01, np.float32), "b2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
        helper.make_node("MatMul", ["h2", "w2"], ["o0"], name="fc2"),
        helper.make_node("Add", ["o0", "b2"], ["o1"], name="fc2_bias"),
        helper.make_node("Softmax", ["o1"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])],
        initializer=[w1, b1, w2, b2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="mlir-lite examples")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


if __name__ == "__main__":
    onnx.save(mlp(), HERE / "mlp.onnx")
    print("wrote", HERE / "mlp.onnx")
