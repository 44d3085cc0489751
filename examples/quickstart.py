"""The main job: bring the bundled ONNX model into mlir-lite, optimize it, run it, check it.

    .venv/bin/python examples/quickstart.py [MODEL.onnx]

Imports the model, runs the default pass pipeline, prints the optimized IR, runs it on random
inputs with the reference interpreter, and compares the outputs with onnxruntime.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import mlir_lite
from mlir_lite.interpreter import run
from mlir_lite.passes.registry import run_pipeline
from mlir_lite.printer import print_module

PIPELINE = "canonicalize,fold-constants,cse,dce,shape-inference"


def main(argv: list) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "models" / "mlp.onnx"
    t0 = time.perf_counter()
    module = mlir_lite.import_onnx(str(path))
    t1 = time.perf_counter()
    run_pipeline(module, PIPELINE)
    t2 = time.perf_counter()
    print(print_module(module, elide_constants_over=16))

    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) else 4 for d in inp.shape]
        feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    t3 = time.perf_counter()
    ours = run(module, *feeds.values())
    t4 = time.perf_counter()
    ref = sess.run(None, feeds)
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref))
    ok = all(np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(ours, ref))
    print(f"\nimport {t1 - t0:.3f} s, passes ({PIPELINE}) {t2 - t1:.3f} s, "
          f"interpreter run {t4 - t3:.3f} s")
    print(f"outputs {[f'{o.dtype}{list(o.shape)}' for o in ours]}; max |ours - onnxruntime| = "
          f"{worst:.2e} -> {'MATCH' if ok else 'MISMATCH'} (rtol 1e-4, atol 1e-5)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
