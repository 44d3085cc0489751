"""Latency of the golden model suite compiled with the TVM CPU backend, against onnxruntime
(2 intra-op threads) measured in the same run, and the executor's overhead per kernel call.

    python benchmarks/latency.py [--models mlp,resnet50 | --quick] [--repeat 30] [-O 2] [--json]

The suite (tests/golden/models.py): the onnx package's light ResNet-50, SqueezeNet, ShuffleNet,
Inception-v1, DenseNet-121 and VGG-19 (random weights), a BERT-style encoder and a GPT-2-style
decoder (seq 128, hidden 256, 4 heads, FFN 1024, 2 layers; the decoder with a causal mask), an
MLP, an LSTM, and the small CNN / Transformer layer / If+Loop test models. `--quick` runs a
fast subset.

For each model: compile time (import, passes, code generation, writing the artifact) at
optimisation level `-O` (default 2: with operator fusion), the median latency of the loaded
artifact over `--repeat` runs, onnxruntime's median on the same inputs, their ratio (ours /
onnxruntime; below 1 is faster), and the kernel calls per run at that level and at -O1 (no
fusion), so the effect of fusion shows. With --json: `{"models": {NAME: {"compile_s",
"latency_ms", "onnxruntime_ms", "ratio", "kernel_calls", "kernel_calls_o1"}}, "opt_level",
"geomean_ratio", "suite_geomean_ratio", "suite_max_ratio" (over SUITE, when all of it ran),
"per_call_overhead_us", "matmul_1024": {"gflops", "onnxruntime_gflops",
"numpy_gflops"}}` (a 1024^3 fp32 MatMul, both operands inputs, compiled by us, by onnxruntime
and numpy's BLAS, medians of interleaved rounds in this run).

onnxruntime and numpy run in a child process (benchmarks/reference.py): in one process, the
runtimes' spinning thread pools slowed each other down.
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
from benchmarks.reference import ReferenceProcess, interleaved, local_timer  # noqa: E402
from mlir_lite.driver import compile, compile_to_artifact  # noqa: E402
from mlir_lite.driver.commands import measure  # noqa: E402
from mlir_lite.runtime.plan import count_kernel_calls  # noqa: E402
from tests.golden.models import MODELS, inputs_for  # noqa: E402

QUICK = ("mlp", "bert", "squeezenet")
# The CPU-performance suite whose geomean the targets are stated over (the others are the
# small test models).
SUITE = ("resnet50", "squeezenet", "shufflenet", "inception_v1", "densenet121", "vgg19", "bert",
         "gpt2", "mlp", "lstm")


def geomean(ratios: List[float]) -> float:
    return math.exp(statistics.mean(math.log(r) for r in ratios))


def matmul_gflops(ref: ReferenceProcess, workdir: str, n: int = 1024,
                  repeat: int = 30) -> Dict[str, float]:
    """GFLOP/s of an n^3 fp32 MatMul: ours (compiled at -O2), onnxruntime's and numpy's."""
    g = h.make_graph([h.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                     [h.make_tensor_value_info("a", T.FLOAT, [n, n]),
                      h.make_tensor_value_info("b", T.FLOAT, [n, n])],
                     [h.make_tensor_value_info("c", T.FLOAT, [n, n])])
    src = os.path.join(workdir, "matmul.onnx")
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8), src)
    fn = compile(src, opt_level=2).executable
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(fn(a, b)[0], want, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(ref.load_onnx("matmul", src, {"a": a, "b": b})[0], want,
                               rtol=1e-3, atol=1e-2)
    ref.load_matmul("numpy", a, b)
    t = interleaved({"ours": local_timer(lambda: fn(a, b)), "ort": ref.timer("matmul"),
                     "numpy": ref.timer("numpy")}, repeat)
    ref.drop("matmul")
    ref.drop("numpy")
    flop = 2.0 * n ** 3
    return {"gflops": round(flop / t["ours"] / 1e9, 1),
            "onnxruntime_gflops": round(flop / t["ort"] / 1e9, 1),
            "numpy_gflops": round(flop / t["numpy"] / 1e9, 1)}


def bench_model(ref: ReferenceProcess, name: str, repeat: int, workdir: str,
                opt_level: int = 2) -> Dict[str, Any]:
    model = MODELS[name]()
    src = os.path.join(workdir, f"{name}.onnx")
    onnx.save(model, src)
    art = os.path.join(workdir, f"{name}.mlc")
    t0 = time.perf_counter()
    compile_to_artifact(src, art, opt_level=opt_level)
    compile_s = time.perf_counter() - t0
    o1 = compile(src, opt_level=1).executable
    compiled = mlir_lite.load(art)
    feed = inputs_for(model, batch=1)
    ref.load_onnx(name, src, feed)
    t = interleaved({"ours": local_timer(lambda: compiled(**feed)), "ort": ref.timer(name)},
                    repeat)
    ref.drop(name)
    lat, ort_ms = t["ours"] * 1e3, t["ort"] * 1e3
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
    ap.add_argument("--quick", action="store_true",
                    help=f"only {', '.join(QUICK)} (overrides --models)")
    ap.add_argument("--no-matmul", action="store_true", help="skip the 1024^3 MatMul figure")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    names = list(QUICK) if args.quick else [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}")
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlir-lite-bench-") as d, ReferenceProcess() as ref:
        for n in names:
            results[n] = bench_model(ref, n, args.repeat, d, args.opt_level)
            print(f"  {n}: compiled in {results[n]['compile_s']:.1f} s, ratio "
                  f"{results[n]['ratio']:.2f}", file=sys.stderr)
        overhead = per_call_overhead(d)
        mm = None if args.no_matmul else matmul_gflops(ref, d)
    geo = geomean([r["ratio"] for r in results.values()])
    suite = [results[n]["ratio"] for n in SUITE if n in results]
    suite_fig = ({"suite_geomean_ratio": round(geomean(suite), 3),
                  "suite_max_ratio": max(suite)} if len(suite) == len(SUITE) else {})
    if args.json:
        print(json.dumps({"models": results, "opt_level": args.opt_level,
                          "geomean_ratio": round(geo, 3), **suite_fig,
                          "per_call_overhead_us": overhead,
                          **({"matmul_1024": mm} if mm else {})}, indent=1))
        return 0
    print(f"-O{args.opt_level}\n")
    print("| model | compile s | latency ms | onnxruntime ms | ratio | kernel calls | at -O1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        print(f"| {n} | {r['compile_s']:.2f} | {r['latency_ms']:.3f} | "
              f"{r['onnxruntime_ms']:.3f} | {r['ratio']:.2f} | {r['kernel_calls']} | "
              f"{r['kernel_calls_o1']} |")
    print(f"\ngeomean ratio (mlir-lite / onnxruntime): {geo:.2f}")
    if suite_fig:
        print(f"suite ({', '.join(SUITE)}): geomean {suite_fig['suite_geomean_ratio']:.2f}, "
              f"worst {suite_fig['suite_max_ratio']:.2f}")
    print(f"executor overhead per kernel call: {overhead['overhead_us']:.1f} us "
          f"(per call {overhead['per_call_us']:.1f} us, raw FFI call "
          f"{overhead['raw_ffi_call_us']:.1f} us, {overhead['kernel_calls']} calls)")
    if mm:
        print(f"1024^3 MatMul GFLOP/s: ours {mm['gflops']}, onnxruntime "
              f"{mm['onnxruntime_gflops']}, numpy {mm['numpy_gflops']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
