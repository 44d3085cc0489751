"""Golden tests: each model of the suite compiled for this CPU (TVM), written as an artifact,
loaded with `mlir_lite.load`, and compared with onnxruntime on the same inputs
(rtol 1e-3, atol 1e-4). Models with a symbolic batch run at two batch sizes from one artifact."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

import mlir_lite
from mlir_lite.driver import compile_to_artifact
from mlir_lite.driver.commands import ort_session

from .models import MODELS, SLOW, inputs_for

RTOL, ATOL = 1e-3, 1e-4
DYNAMIC = {"mlp": (1, 5), "small_cnn": (1, 3), "transformer_layer": (1, 2), "if_loop": (2, 7)}


def _params():
    for name in MODELS:
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(name, marks=marks, id=name)


def compile_and_compare(name: str, tmp_path: os.PathLike) -> None:
    model = MODELS[name]()
    src = os.path.join(tmp_path, f"{name}.onnx")
    onnx.save(model, src)
    art = os.path.join(tmp_path, f"{name}.mlc")
    compile_to_artifact(src, art)
    compiled = mlir_lite.load(art)
    sess = ort_session(src)
    for batch in DYNAMIC.get(name, (1,)):
        feed = inputs_for(model, batch=batch, seed=batch)
        got = compiled(**feed)
        want = sess.run(None, feed)
        assert len(got) == len(want)
        for out_name, g, w in zip(compiled.output_names, got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (out_name, g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}: output {out_name}, batch {batch}")


@pytest.mark.parametrize("name", list(_params()))
def test_golden_model_matches_onnxruntime(name: str, tmp_path: os.PathLike) -> None:
    compile_and_compare(name, tmp_path)


def test_if_takes_both_branches(tmp_path: os.PathLike) -> None:
    """The host evaluates the If condition: positive and negative sums take different
    branches, and both agree with onnxruntime."""
    model = MODELS["if_loop"]()
    src = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, src)
    compile_to_artifact(src, os.path.join(tmp_path, "m.mlc"))
    compiled = mlir_lite.load(os.path.join(tmp_path, "m.mlc"))
    sess = ort_session(src)
    x = np.abs(np.random.default_rng(0).standard_normal((3, 4))).astype(np.float32)
    for sign in (1, -1):
        got = compiled(x=sign * x)
        want = sess.run(None, {"x": sign * x})
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
