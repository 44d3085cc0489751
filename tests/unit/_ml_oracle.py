"""Test helpers for `ml` op tests: run one op through the interpreter, and the same op as a
one-node ONNX model through the independent oracles (onnx.reference, onnxruntime)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import helper

from mlir_lite import FuncOp, ModuleOp
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Operation
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import TensorType, element_type_from_numpy

OPSET = 23


def ttype(a: np.ndarray) -> TensorType:
    return TensorType(element_type_from_numpy(a.dtype), tuple(a.shape))


def build_op(name: str, inputs: Sequence[np.ndarray], attrs: Optional[Dict[str, Any]] = None):
    """A module whose @main applies op `name` to its arguments; returns (module, op)."""
    f = FuncOp.make("main", [ttype(a) for a in inputs], [])
    b = Builder.at_end(f.entry_block)
    op = b.create(name, list(f.args), dict(attrs or {}))
    b.op("func.return", *op.results)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m, op


def run_op(name: str, inputs: Sequence[np.ndarray], **attrs: Any) -> List[np.ndarray]:
    """Build, verify and interpret one op; checks each result's dtype is the declared one."""
    m, op = build_op(name, inputs, attrs)
    op.verify_op()
    outs = run(m, *inputs)
    for r, o in zip(op.results, outs):
        assert o.dtype == r.type.element.np_dtype, (name, o.dtype, r.type)
    return outs


def onnx_model(op_type: str, inputs: Sequence[Optional[np.ndarray]], n_out: int = 1,
               opset: int = OPSET, **attrs: Any) -> onnx.ModelProto:
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(inputs)]
    outs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op_type, names, outs, **attrs)
    vi = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
          for n, a in zip(names, inputs) if a is not None]
    ov = [onnx.ValueInfoProto(name=o) for o in outs]
    graph = helper.make_graph([node], "g", vi, ov)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10  # onnxruntime reads IR versions up to 13
    return model


def _feeds(inputs: Sequence[Optional[np.ndarray]]) -> Dict[str, np.ndarray]:
    return {f"in{i}": a for i, a in enumerate(inputs) if a is not None}


def onnx_ref(op_type: str, inputs: Sequence[Optional[np.ndarray]], n_out: int = 1,
             opset: int = OPSET, **attrs: Any) -> List[np.ndarray]:
    """The outputs of onnx.reference.ReferenceEvaluator on a one-node model."""
    from onnx.reference import ReferenceEvaluator
    model = onnx_model(op_type, inputs, n_out, opset, **attrs)
    return list(ReferenceEvaluator(model).run(None, _feeds(inputs)))


def ort_run(op_type: str, inputs: Sequence[Optional[np.ndarray]], n_out: int = 1,
            opset: int = OPSET, **attrs: Any) -> List[np.ndarray]:
    """The outputs of onnxruntime (CPU) on a one-node model."""
    import onnxruntime as ort
    model = onnx_model(op_type, inputs, n_out, opset, **attrs)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return list(sess.run(None, _feeds(inputs)))


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6):
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True)


def single_op(module: ModuleOp) -> Operation:
    return next(op for op in module["main"].entry_block.ops)
