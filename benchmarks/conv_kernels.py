"""GFLOP/s of single convolutions (the ResNet-50 shapes, plus grouped/depthwise ones) compiled
by the TVM CPU backend, against onnxruntime's Conv (2 intra-op threads) on the same shape in
the same run.

    python benchmarks/conv_kernels.py [--shapes r50_3x3_56,...] [--repeat 15] [--json]

Each case is an ONNX model `Conv(+bias) -> Relu`, compiled at -O2 (conv, bias and relu fuse into
one kernel, weights packed at compile time); the kernel is timed on its own (TVM's
`time_evaluator`), onnxruntime through its session, alternating, `--repeat` samples of 5 calls
each. Medians and bests (the best is steadier on a loaded machine). With --json:
`{"shapes": {NAME: {"gflop", "ours_ms", "ort_ms", "ours_gflops", "ort_gflops", "ratio",
"ours_best_gflops", "ort_best_gflops", "ratio_best", "max_rel_err", "compile_s", "schedule"}},
"geomean_ratio", "geomean_ratio_best"}` (ratio = ours / onnxruntime time; below 1 is faster).
"""
from __future__ import annotations

import os

os.environ.setdefault("TVM_NUM_THREADS", "2")  # before TVM starts its thread pool

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.reference import ReferenceProcess  # noqa: E402
from mlir_lite.driver import compile  # noqa: E402

# name: (C, H, W, M, k, stride, pad, group)
SHAPES: Dict[str, Tuple[int, int, int, int, int, int, int, int]] = {
    "r50_7x7_s2": (3, 224, 224, 64, 7, 2, 3, 1),
    "r50_1x1_56_64": (64, 56, 56, 64, 1, 1, 0, 1),
    "r50_3x3_56": (64, 56, 56, 64, 3, 1, 1, 1),
    "r50_1x1_56_256": (64, 56, 56, 256, 1, 1, 0, 1),
    "r50_1x1_56_r": (256, 56, 56, 64, 1, 1, 0, 1),
    "r50_3x3_28": (128, 28, 28, 128, 3, 1, 1, 1),
    "r50_1x1_28_512": (128, 28, 28, 512, 1, 1, 0, 1),
    "r50_1x1_28_r": (512, 28, 28, 128, 1, 1, 0, 1),
    "r50_3x3_14": (256, 14, 14, 256, 3, 1, 1, 1),
    "r50_1x1_14_1024": (256, 14, 14, 1024, 1, 1, 0, 1),
    "r50_1x1_14_r": (1024, 14, 14, 256, 1, 1, 0, 1),
    "r50_3x3_7": (512, 7, 7, 512, 3, 1, 1, 1),
    "r50_1x1_7_2048": (512, 7, 7, 2048, 1, 1, 0, 1),
    "r50_3x3_s2_28": (256, 28, 28, 256, 3, 2, 1, 1),
    "r50_1x1_s2_14": (512, 28, 28, 1024, 1, 2, 0, 1),
    "shuffle_g4_28": (136, 28, 28, 136, 1, 1, 0, 4),
    "shuffle_dw_28": (136, 28, 28, 136, 3, 1, 1, 136),
    "shuffle_dw_s2_56": (112, 56, 56, 112, 3, 2, 1, 112),
    "squeeze_3x3_55": (16, 55, 55, 64, 3, 1, 1, 1),
}


def conv_model(c: int, hh: int, ww: int, m: int, k: int, s: int, p: int, g: int
               ) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((m, c // g, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    conv = h.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s],
                       pads=[p] * 4, group=g)
    relu = h.make_node("Relu", ["y"], ["z"])
    oh, ow = (hh + 2 * p - k) // s + 1, (ww + 2 * p - k) // s + 1
    graph = h.make_graph([conv, relu], "conv", [h.make_tensor_value_info("x", T.FLOAT,
                                                                        [1, c, hh, ww])],
                         [h.make_tensor_value_info("z", T.FLOAT, [1, m, oh, ow])],
                         [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def gflop(c: int, hh: int, ww: int, m: int, k: int, s: int, p: int, g: int) -> float:
    oh, ow = (hh + 2 * p - k) // s + 1, (ww + 2 * p - k) // s + 1
    return 2.0 * m * oh * ow * (c // g) * k * k / 1e9


def bench(ref: ReferenceProcess, name: str, repeat: int, workdir: str) -> Dict[str, Any]:
    """One shape: the conv kernel called directly on the plan's buffers (TVM's
    `time_evaluator`) and onnxruntime's session (in the reference process), each `repeat`
    averages of 5 calls, in three alternating rounds with pauses (reference.py says why)."""
    import tvm
    shape = SHAPES[name]
    path = os.path.join(workdir, f"{name}.onnx")
    onnx.save(conv_model(*shape), path)
    t0 = time.perf_counter()
    fn = compile(path, opt_level=2).executable
    compile_s = time.perf_counter() - t0
    x = np.random.default_rng(1).standard_normal((1, shape[0], shape[1], shape[2])
                                                 ).astype(np.float32)
    feed = {"x": x}
    want = ref.load_onnx(name, path, feed)[0]
    got = fn(x)[0]
    err = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-6))
    conv = next(k for k in fn.kernels if k.kind == "conv")
    step = next(st for st in fn.plan.steps if getattr(st, "symbol", None) == conv.symbol)
    bufs = []
    for b in step.args:
        spec = fn.plan.buffers[b]
        arr = fn.plan.constants.get(b)
        if arr is None:
            arr = x if spec.kind == "input" else np.zeros([int(d) for d in spec.shape],
                                                           spec.dtype)
        bufs.append(tvm.runtime.tensor(arr))
    timer = fn.executable.mod.time_evaluator(conv.symbol, tvm.cpu(), number=5, repeat=1)
    ort_timer = ref.timer(name)
    ours, theirs = [], []
    for r in range(3):  # alternate, so that load changes hit both alike
        per = repeat // 3 + (r < repeat % 3)
        time.sleep(0.25)
        ours += [timer(*bufs).mean for _ in range(per)]
        time.sleep(0.25)
        theirs += [statistics.mean(ort_timer(5)) for _ in range(per)]
    ref.drop(name)
    gf = gflop(*shape)
    o_ms, t_ms = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    o_min, t_min = min(ours) * 1e3, min(theirs) * 1e3
    return {"gflop": round(gf, 4), "ours_ms": round(o_ms, 4), "ort_ms": round(t_ms, 4),
            "ours_gflops": round(gf / o_ms * 1e3, 1), "ort_gflops": round(gf / t_ms * 1e3, 1),
            "ratio": round(o_ms / t_ms, 3), "ours_best_gflops": round(gf / o_min * 1e3, 1),
            "ort_best_gflops": round(gf / t_min * 1e3, 1), "ratio_best": round(o_min / t_min, 3),
            "max_rel_err": err, "compile_s": round(compile_s, 3),
            "schedule": conv.schedule}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as wd, ReferenceProcess() as ref:
        for name in a.shapes.split(","):
            r = res[name] = bench(ref, name, a.repeat, wd)
            if not a.json:
                print(f"{name:17s} ours {r['ours_gflops']:6.1f} GF/s ({r['ours_ms']:.3f} ms, "
                      f"best {r['ours_best_gflops']:6.1f})  ort {r['ort_gflops']:6.1f} GF/s "
                      f"({r['ort_ms']:.3f} ms, best {r['ort_best_gflops']:6.1f})  "
                      f"ratio {r['ratio']:.2f} (best {r['ratio_best']:.2f})  "
                      f"err {r['max_rel_err']:.0e}  {r['schedule'][-1]}", flush=True)
    geo = math.exp(sum(math.log(r["ratio"]) for r in res.values()) / len(res))
    best = math.exp(sum(math.log(r["ratio_best"]) for r in res.values()) / len(res))
    if a.json:
        print(json.dumps({"shapes": res, "geomean_ratio": round(geo, 3),
                          "geomean_ratio_best": round(best, 3)}, indent=1))
    else:
        print(f"geomean ratio (ours/ort time): median {geo:.2f}, best {best:.2f}")


if __name__ == "__main__":
    main()
