"""The main job: compile the bundled ONNX model with TVM, run the artifact, check it.

    .venv/bin/python examples/quickstart.py [MODEL.onnx]

1. imports the model and runs the default pass pipeline, printing the optimized IR;
2. compiles it for this CPU into one artifact file (`.mlc`: kernels, plan, weights, hash);
3. loads the artifact with `mlir_lite.load` (numpy + TVM runtime only) and runs it on random
   inputs at two batch sizes (one compiled artifact serves every batch size);
4. compares the outputs with onnxruntime and with the reference interpreter.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))

import numpy as np  # noqa: E402

import mlir_lite  # noqa: E402
from mlir_lite.driver import compile_to_artifact, optimize  # noqa: E402
from mlir_lite.ir.interpreter import run as interpret  # noqa: E402
from mlir_lite.ir.printer import print_module  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def main(argv: list) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "models" / "mlp.onnx"
    module = mlir_lite.import_onnx(str(path))
    optimize(module, target="cpu", opt_level=2)  # the passes compile runs, to show the IR
    print(print_module(module, elide_constants_over=16))

    with tempfile.TemporaryDirectory() as tmp:
        artifact = os.path.join(tmp, path.stem + ".mlc")
        t0 = time.perf_counter()
        compile_to_artifact(str(path), artifact, target="cpu", opt_level=2)
        compile_s = time.perf_counter() - t0
        size = os.path.getsize(artifact)
        model = mlir_lite.load(artifact)

        import onnxruntime as ort
        # onnxruntime's idle worker threads spin on the cores by default, which stalls
        # TVM's thread pool in this same process (runs of 4 ms instead of 0.02 ms here)
        so = ort.SessionOptions()
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        ok = True
        print(f"compiled {path.name} -> {Path(artifact).name} ({size / 1e6:.2f} MB) "
              f"in {compile_s:.2f} s")
        for batch in (1, 16):
            feeds = {}
            for inp in sess.get_inputs():
                shape = [d if isinstance(d, int) else batch for d in inp.shape]
                feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
            times = []
            for _ in range(7):  # the first calls start threads and set up buffers: take the median
                t0 = time.perf_counter()
                ours = model.run(feeds)
                times.append((time.perf_counter() - t0) * 1e3)
            run_ms = float(np.median(times))
            ours = list(ours.values()) if isinstance(ours, dict) else list(ours)
            ref = sess.run(None, feeds)
            oracle = interpret(module, *feeds.values())
            worst = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref))
            match = all(np.allclose(a, b, rtol=RTOL, atol=ATOL) for a, b in zip(ours, ref)) and \
                all(np.allclose(a, b, rtol=RTOL, atol=ATOL) for a, b in zip(ours, oracle))
            ok = ok and match
            print(f"batch {batch:>2}: outputs {[f'{o.dtype}{list(o.shape)}' for o in ours]}, "
                  f"median {run_ms:.2f} ms; max |ours - onnxruntime| = {worst:.2e} -> "
                  f"{'MATCH' if match else 'MISMATCH'} (rtol {RTOL}, atol {ATOL}, against "
                  "onnxruntime and the reference interpreter)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
