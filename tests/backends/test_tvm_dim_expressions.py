"""Dims that are expressions of the inputs' symbols (`seq - 1`, `2*seq`, a strided window's
`floor((H - 1)/2) + 1`) flow through type inference and the compiled path: one compile runs
every size, compared with onnxruntime (rtol 1e-5, atol 1e-5)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from mlir_lite.driver import CompileOptions, compile  # noqa: E402

F = TensorProto.FLOAT
R = np.random.default_rng(7)


def _model() -> onnx.ModelProto:
    c = onnx.numpy_helper.from_array
    nodes = [
        helper.make_node("Slice", ["x", "one", "big", "one"], ["shifted"]),     # seq - 1
        helper.make_node("Concat", ["x", "x"], ["twice"], axis=1),              # 2*seq
        helper.make_node("MaxPool", ["img"], ["pooled"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),                     # windows of H
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("ReduceSum", ["flat", "one"], ["s"], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", F, ["b", "seq"]),
         helper.make_tensor_value_info("img", F, ["b", 2, "H", "W"])],
        [helper.make_tensor_value_info(n, F, [None] * r) for n, r in
         (("shifted", 2), ("twice", 2), ("s", 2))],
        [c(np.array([1], np.int64), "one"), c(np.array([2 ** 62], np.int64), "big")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def test_expression_dims_are_typed_and_compiled_once() -> None:
    model = _model()
    compiled = compile(model, CompileOptions(target="cpu"))
    text = str(compiled.module)
    assert '"seq - 1"' in text and '"2*seq"' in text, text
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for b, seq, h, w in ((1, 5, 7, 9), (3, 2, 4, 4), (2, 9, 1, 6)):
        feeds = {"x": R.standard_normal((b, seq)).astype(np.float32),
                 "img": R.standard_normal((b, 2, h, w)).astype(np.float32)}
        want = sess.run(None, feeds)
        got = compiled(*[feeds[n] for n in compiled.input_names])
        for g, wv in zip(got, want):
            assert g.shape == wv.shape
            np.testing.assert_allclose(g, wv, rtol=1e-5, atol=1e-5)
