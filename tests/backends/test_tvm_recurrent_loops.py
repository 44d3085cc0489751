"""LSTM, GRU and RNN over a sequence length known only at run time compile once, as an
`scf.for` over the length (decompose-rnn), and match onnxruntime at every length.

Each model declares its sequence (and batch) axis symbolic; one compile runs lengths 1, 4
and 9 (and two batch sizes). Oracle: onnxruntime (onnx.reference for the batch-major LSTM,
which onnxruntime lacks). Tolerance rtol 1e-4, atol 1e-5 (float32 sums in another order).
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from mlir_lite.driver import CompileOptions, compile  # noqa: E402

R = np.random.default_rng(3)
F = TensorProto.FLOAT
IN, HID = 3, 5


def _model(kind: str, direction: str, with_h: bool, with_c: bool, peep: bool,
           **attrs: Any) -> onnx.ModelProto:
    nd = 2 if direction == "bidirectional" else 1
    ng = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    lay = attrs.get("layout", 0)

    def dims(*d: Any) -> List[Any]:  # (a, b, ...) in layout 0 -> batch-major in layout 1
        return [d[1], d[0], *d[2:]] if lay else list(d)
    inits = {"w": R.uniform(-0.5, 0.5, (nd, ng * HID, IN)),
             "r": R.uniform(-0.5, 0.5, (nd, ng * HID, HID)),
             "b": R.uniform(-0.5, 0.5, (nd, 2 * ng * HID))}
    names = ["x", "w", "r", "b", ""]
    inputs = [helper.make_tensor_value_info("x", F, dims("seq", "batch", IN))]
    names.append("h0" if with_h else "")
    if with_h:
        inputs.append(helper.make_tensor_value_info("h0", F, dims(nd, "batch", HID)))
    if kind == "LSTM":
        names.append("c0" if with_c else "")
        if with_c:
            inputs.append(helper.make_tensor_value_info("c0", F, dims(nd, "batch", HID)))
        if peep:
            names.append("p")
            inits["p"] = R.uniform(-0.5, 0.5, (nd, 3 * HID))
    while names and names[-1] == "":
        names.pop()
    outs = ["y", "yh"] + (["yc"] if kind == "LSTM" else [])
    node = helper.make_node(kind, names, outs, hidden_size=HID, direction=direction, **attrs)
    y_dims = ["batch", "seq", nd, HID] if lay else ["seq", nd, "batch", HID]
    out_vis = [helper.make_tensor_value_info("y", F, y_dims),
               helper.make_tensor_value_info("yh", F, dims(nd, "batch", HID))]
    if kind == "LSTM":
        out_vis.append(helper.make_tensor_value_info("yc", F, dims(nd, "batch", HID)))
    graph = helper.make_graph([node], "g", inputs, out_vis,
                              [onnx.numpy_helper.from_array(v.astype(np.float32), k)
                               for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _feeds(model: onnx.ModelProto, seq: int, batch: int) -> Dict[str, np.ndarray]:
    """Random inputs with the symbols seq and batch set (static dims as declared)."""
    sizes = {"seq": seq, "batch": batch}
    out: Dict[str, np.ndarray] = {}
    for vi in model.graph.input:
        shape = [sizes[d.dim_param] if d.dim_param else d.dim_value
                 for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = R.uniform(-1, 1, shape).astype(np.float32)
    return out


CASES: List[tuple] = [
    ("LSTM", "forward", False, False, False, {}),
    ("LSTM", "reverse", True, True, False, {}),
    ("LSTM", "bidirectional", True, True, True, {}),
    ("GRU", "forward", True, False, False, {}),
    ("GRU", "bidirectional", False, False, False, {"linear_before_reset": 1}),
    ("RNN", "reverse", True, False, False, {}),
    ("LSTM", "forward", True, True, False, {"layout": 1}),
]


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c[:2])) + f"-{i}"
                                             for i, c in enumerate(CASES)])
def test_one_compile_serves_every_length(case: tuple) -> None:
    kind, direction, with_h, with_c, peep, attrs = case
    model = _model(kind, direction, with_h, with_c, peep, **attrs)
    compiled = compile(model, CompileOptions(target="cpu"))
    assert "scf.for" in str(compiled.module), "expected a loop over the run-time length"
    if attrs.get("layout"):  # onnxruntime has no batch-major LSTM: onnx's reference instead
        from onnx.reference import ReferenceEvaluator
        oracle: Any = ReferenceEvaluator(model)
    else:
        oracle = ort.InferenceSession(model.SerializeToString(),
                                      providers=["CPUExecutionProvider"])
    for seq, batch in ((1, 2), (4, 2), (9, 1)):
        feeds = _feeds(model, seq, batch)
        want = oracle.run(None, feeds)
        got = compiled(*[feeds[n] for n in compiled.input_names])
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
