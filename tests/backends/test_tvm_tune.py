"""`compile --tune`: MetaSchedule on a tiny matmul (4 trials), the database it leaves, and a
later compile that reuses it (results against numpy, rtol 1e-4 / atol 1e-5)."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from mlir_lite.driver import compile

pytest.importorskip("tvm.s_tir.meta_schedule")


def _matmul_model() -> onnx.ModelProto:
    g = h.make_graph([h.make_node("MatMul", ["a", "b"], ["m"]), h.make_node("Relu", ["m"], ["y"])],
                     "mm", [h.make_tensor_value_info("a", T.FLOAT, [32, 24]),
                            h.make_tensor_value_info("b", T.FLOAT, [24, 48])],
                     [h.make_tensor_value_info("y", T.FLOAT, [32, 48])])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def _check(fn) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((32, 24)).astype(np.float32)
    b = rng.standard_normal((24, 48)).astype(np.float32)
    want = np.maximum(a.astype(np.float64) @ b, 0)
    np.testing.assert_allclose(fn(a, b)[0], want, rtol=1e-4, atol=1e-5)


def test_tune_writes_a_database_that_a_later_compile_reuses(tmp_path: os.PathLike) -> None:
    db = os.path.join(tmp_path, "tune")
    log = io.StringIO()
    fn = compile(_matmul_model(), opt_level=2, tune=4, tune_dir=db, stream=log).executable
    _check(fn)
    assert "tuning 1 kernel(s)" in log.getvalue() and "4/4 trials" in log.getvalue()
    (target_dir,) = os.listdir(db)
    files = os.listdir(os.path.join(db, target_dir))
    assert {"choices.json", "database_workload.json", "database_tuning_record.json"} <= set(files)
    with open(os.path.join(db, target_dir, "choices.json")) as fh:
        choices = json.load(fh)
    (key, rec), = choices.items()
    assert rec["ours_s"] > 0 and rec["tuned_s"] > 0
    assert rec["use"] == (rec["tuned_s"] < rec["ours_s"])

    # Make the tuned schedule the winner, so the apply path is exercised whatever was measured.
    rec["use"] = True
    with open(os.path.join(db, target_dir, "choices.json"), "w") as fh:
        json.dump(choices, fh)
    log2 = io.StringIO()
    fn2 = compile(_matmul_model(), opt_level=2, tune=0, tune_dir=db, stream=log2).executable
    assert "tuning" not in log2.getvalue()  # nothing tuned again
    assert fn2.kernels[0].schedule[-1] == "tuned", fn2.kernels[0].schedule
    _check(fn2)

    # Without --tune the database is not consulted.
    fn3 = compile(_matmul_model(), opt_level=2).executable
    assert "tuned" not in fn3.kernels[0].schedule


def test_block_flops_counts_matmul_points() -> None:
    from mlir_lite.backends.tvm.tune import block_flops
    fn = compile(_matmul_model(), opt_level=2).executable
    assert block_flops(fn.ir_module[fn.kernels[0].symbol]) == 2 * 32 * 24 * 48
