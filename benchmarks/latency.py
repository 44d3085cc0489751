"""Latency of the golden model suite compiled with the TVM CPU backend, against onnxruntime
(2 intra-op threads) measured in the same run, and the executor's overhead per kernel call.

    python benchmarks/latency.py [--models mlp,resnet50] [--repeat 30] [-O 2] [--json]

For each model: compile time (import, passes, code generation, writing the artifact) at
optimisation level `-O` (default 2: with operator fusion), the median latency of the loaded
artifact over `--repeat` runs, onnxruntime's median on the same inputs, their ratio (ours /
onnxruntime; below 1 is faster), and the kernel calls per run at that level and at -O1 (no
fusion), so the effect of fusion shows. With --json: `{"models": {NAME: {"compile_s",
"latency_ms", "onnxruntime_ms", "ratio", "kernel_calls", "kernel_calls_o1"}}, "opt_level",
"geomean_ratio", "per_call_overhead_us"}`.
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
from typing import Any, Dict, List  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mlir_lite  # noqa: E402
from mlir_lite.backends.tvm.commands import measure, ort_session  # noqa: E402
from mlir_lite.backends.tvm.driver import compile_model, compile_to_artifact  # noqa: E402
from mlir_lite.plan import count_kernel_calls  # noqa: E402
from tests.golden.models import MODELS, inputs_for  # noqa: E402


def bench_model(name: str, repeat: int, workdir: str, opt_level: int = 2) -> Dict[str, Any]:
    model = MODELS[name]()
    src = os.path.join(workdir, f"{name}.onnx")
    onnx.save(model, src)
    art = os.path.join(workdir, f"{name}.mlc")
    t0 = time.perf_counter()
    compile_to_artifact(src, art, opt_level=opt_level)
    compile_s = time.perf_counter() - t0
    o1, _ = compile_model(src, opt_level=1)
    compiled = mlir_lite.load(art)
    sess = ort_session(src, threads=2)
    feed = inputs_for(model, batch=1)
    ours = measure(lambda: compiled(**feed), repeat)
    theirs = measure(lambda: sess.run(None, feed), repeat)
    lat, ort_ms = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    return {"compile_s": round(compile_s, 3), "latency_ms": round(lat, 4),
            "onnxruntime_ms": round(ort_ms, 4), "ratio": round(lat / ort_ms, 3),
            "kernel_calls": compiled.num_kernel_calls,
            "kernel_calls_o1": count_kernel_calls(o1.plan.steps)}


def per_call_overhead(workdir: str, n_ops: int = 200, repeat: int = 30) -> Dict[str, float]:
    """Microseconds the executor adds per kernel call: a chain of `n_ops` tiny ops (one kernel,
    reused), timed through `mlir_lite.load`, minus the same kernel called directly."""
    nodes = [h.make_node("Relu" if i % 2 else "Neg", [f"v{i}"], [f"v{i + 1}"])
             for i in range(n_ops)]
    g = h.make_graph(nodes, "chain", [h.make_tensor_value_info("v0", T.FLOAT, [4])],
                     [h.make_tensor_value_info(f"v{n_ops}", T.FLOAT, [4])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)
    src = os.path.join(workdir, "chain.onnx")
    onnx.save(m, src)
    art = os.path.join(workdir, "chain.mlc")
    compile_to_artifact(src, art, opt_level=0)
    compiled = mlir_lite.load(art)
    x = np.ones(4, np.float32)
    calls = compiled.num_kernel_calls
    whole = statistics.median(measure(lambda: compiled(x), repeat)) / calls
    # The raw cost of one call of the same kernel through TVM's FFI, for reference.
    import tvm
    ex = compiled._executor
    step = ex.plan.steps[0]
    fn = ex._funcs[step.symbol]
    a = tvm.runtime.tensor(x)
    b = tvm.runtime.empty((4,), "float32")
    raw = statistics.median(measure(lambda: [fn(a, b) for _ in range(calls)], repeat)) / calls
    return {"kernel_calls": calls, "per_call_us": round(whole * 1e6, 2),
            "raw_ffi_call_us": round(raw * 1e6, 2),
            "overhead_us": round((whole - raw) * 1e6, 2)}


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated subset of: {', '.join(MODELS)}")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}")
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlir-lite-bench-") as d:
        for n in names:
            results[n] = bench_model(n, args.repeat, d, args.opt_level)
            if not args.json:
                print(f"  {n}: done", file=sys.stderr)
        overhead = per_call_overhead(d)
    geo = math.exp(statistics.mean(math.log(r["ratio"]) for r in results.values()))
    if args.json:
        print(json.dumps({"models": results, "opt_level": args.opt_level,
                          "geomean_ratio": round(geo, 3),
                          "per_call_overhead_us": overhead}, indent=1))
        return 0
    print(f"-O{args.opt_level}\n")
    print("| model | compile s | latency ms | onnxruntime ms | ratio | kernel calls | at -O1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        print(f"| {n} | {r['compile_s']:.2f} | {r['latency_ms']:.3f} | "
              f"{r['onnxruntime_ms']:.3f} | {r['ratio']:.2f} | {r['kernel_calls']} | "
              f"{r['kernel_calls_o1']} |")
    print(f"\ngeomean ratio (mlir-lite / onnxruntime): {geo:.2f}")
    print(f"executor overhead per kernel call: {overhead['overhead_us']:.1f} us "
          f"(per call {overhead['per_call_us']:.1f} us, raw FFI call "
          f"{overhead['raw_ffi_call_us']:.1f} us, {overhead['kernel_calls']} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
