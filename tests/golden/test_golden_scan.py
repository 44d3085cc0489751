"""An ONNX Scan model compiled for CPU (host-side loop over compiled kernels) vs onnxruntime."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

import mlir_lite as ml
from mlir_lite.driver import compile_to_artifact
from tests.onnx._models import scan_model


def test_scan_compiled_matches_onnxruntime(tmp_path) -> None:  # noqa: ANN001
    import onnx
    src = tmp_path / "scan.onnx"
    onnx.save(scan_model(), src)
    compile_to_artifact(str(src), str(tmp_path / "scan.mlc"), opt_level=2)
    art = ml.load(str(tmp_path / "scan.mlc"))
    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    feeds = {i.name: rng.standard_normal([d if isinstance(d, int) else 3 for d in i.shape])
             .astype(np.float32) for i in sess.get_inputs()}
    ours = art.run(feeds)
    ours = list(ours.values()) if isinstance(ours, dict) else list(ours)
    ref = sess.run(None, feeds)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
