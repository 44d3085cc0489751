"""ONNX operators added to the importer, the reference interpreter and the TVM backend
together: each one-node model runs compiled (TVM, -O2), interpreted and in onnxruntime, which
is the oracle (`run_three_ways`); where onnxruntime lacks the operator, onnx.reference is.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")
pytest.importorskip("onnxruntime")

from onnx import TensorProto  # noqa: E402
from test_tvm_rule_coverage import F, f32, run_three_ways  # noqa: E402

R = np.random.default_rng(5)
F64, I32 = TensorProto.DOUBLE, TensorProto.INT32


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumprod(exclusive: int, reverse: int) -> None:
    x = R.uniform(0.5, 1.5, (3, 4, 5))
    for axis in (0, -1, 1):
        run_three_ways("CumProd", {"x": x}, [F64], opset=26, inits={"a": np.array(axis)},
                       exclusive=exclusive, reverse=reverse)
    xi = R.integers(-3, 4, (4, 6)).astype(np.int32)
    run_three_ways("CumProd", {"x": xi}, [I32], opset=26, inits={"a": np.array(1, np.int32)},
                   exclusive=exclusive, reverse=reverse)
    run_three_ways("CumProd", {"x": f32(2, 5), "a": np.int64(-1)}, [F], opset=26,
                   exclusive=exclusive, reverse=reverse)
