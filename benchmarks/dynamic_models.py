"""Dynamic shapes on real models: one compile of a BERT-style encoder with a symbolic sequence
length run at several lengths beside onnxruntime, and the compile time of every model of the
real-model set with dynamic axes against the same model with static shapes.

    python benchmarks/dynamic_models.py [--part seq,compile] [--seq 8,64,128,512]
                                        [--exporters ts,dynamo] [--models bert,resnet18]
                                        [--data DIR] [--repeat 20] [--json]

(a) `seq`: the encoder (export_models.py's `bert_bench`: hidden 256, 4 heads, FFN 1024, 2
layers, 512 positions; exported here from each exporter, which needs the `models` extra;
without torch the test set's small `bert` from --data) is compiled ONCE with batch and
sequence symbolic, then run at each length of --seq (batch 1): the outputs are compared with
onnxruntime's (rtol 1e-3, atol 1e-4), both are timed (medians of interleaved rounds,
onnxruntime with 2 intra-op threads in a child process, benchmarks/reference.py), and the TVM
builds made after the compile are counted (`tvm.compile` calls: must be 0, no recompilation).
JSON: `{"seq": {EXPORTER: {"compile_s", "recompiles", "lengths": {L: {"ms",
"onnxruntime_ms", "ratio", "max_abs_err", "match"}}}}}`.

(b) `compile`: for every model of the manifest in --data (default tests/models/data) and each
exporter, the seconds of `mlir_lite.driver.compile` of the dynamic export and of the static
one (`export_models.py --static`, exported here into a temporary folder; without torch the
dynamic file with its dynamic dims pinned to the export example's sizes), and their ratio
(target <= 1.5). The phases (import, passes, codegen) and kernel counts come along; a compile
that fails is reported with its error. TVM and the compiler are imported before the first
timing. JSON: `{"compile": {"MODEL.EXPORTER": {"dynamic_s", "static_s", "ratio",
"static_from", "dynamic_phases", "static_phases", "dynamic_kernels", "static_kernels",
"error"}}, "compile_geomean_ratio", "compile_max_ratio"}`.
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
from typing import Any, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.reference import ReferenceProcess, interleaved, local_timer  # noqa: E402
from mlir_lite.driver import CompileOptions, compile  # noqa: E402
from tests.models.real_models import (  # noqa: E402
    ATOL,
    DATA,
    RTOL,
    Case,
    cases,
    compare,
    load_manifest,
    make_feed,
)

SEQ_LENGTHS = (8, 64, 128, 512)


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


class BuildCounter:
    """Counts `tvm.compile` calls (each a build of kernels) while installed."""

    def __init__(self) -> None:
        import tvm
        self._tvm = tvm
        self._orig = tvm.compile
        self.calls = 0

    def __enter__(self) -> "BuildCounter":
        def counting(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return self._orig(*args, **kwargs)
        self._tvm.compile = counting
        return self

    def __exit__(self, *exc: Any) -> None:
        self._tvm.compile = self._orig


def _warm_up() -> None:
    """Import TVM and the compiler's passes (a trivial compile) so that the first timed compile
    does not pay for them."""
    from onnx import TensorProto as T
    from onnx import helper as h
    g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "warm",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["N", 4])])
    compile(h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8),
            CompileOptions(target="cpu"))


def _bench_inputs(workdir: str, exporters: List[str], data: str
                  ) -> Tuple[Dict[str, str], List[Dict[str, Any]], str]:
    """The encoder's file per exporter, its input list, and where it came from."""
    if _have_torch():
        from benchmarks import export_models as ex
        manifest = ex.export_all(workdir, ["bert_bench"], stream=sys.stderr)
        entry = manifest["models"]["bert_bench"]
        src = "bert_bench (exported here)"
    else:
        entry = load_manifest(data)["models"]["bert"]
        src = f"bert from {data} (no torch: the test set's small encoder)"
    files = {}
    for e in exporters:
        exp = entry["exports"].get(e, {})
        if "file" in exp:
            files[e] = os.path.join(workdir if _have_torch() else data, exp["file"])
        else:
            print(f"  no {e} export of the encoder: {exp.get('error')}", file=sys.stderr)
    return files, entry["inputs"], src


def _call(fn: Any, args: List[np.ndarray]) -> Any:
    return lambda: fn(*args)


def bench_seq(ref: ReferenceProcess, workdir: str, exporters: List[str], data: str,
              lengths: List[int], repeat: int) -> Dict[str, Any]:
    files, inputs, src = _bench_inputs(workdir, exporters, data)
    out: Dict[str, Any] = {"model": src}
    for exporter, path in files.items():
        t0 = time.perf_counter()
        try:
            fn = compile(path, CompileOptions(target="cpu"))
        except Exception as e:
            out[exporter] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
            print(f"  {exporter}: compile failed: {out[exporter]['error']}", file=sys.stderr)
            continue
        compile_s = time.perf_counter() - t0
        res: Dict[str, Any] = {"compile_s": round(compile_s, 2), "lengths": {}}
        with BuildCounter() as builds:
            for n in lengths:
                feed = make_feed(inputs, {"batch": 1, "seq": n})
                args = [feed[k] for k in fn.input_names]
                key = f"{exporter}@{n}"
                want = ref.load_onnx(key, path, feed)
                try:
                    ours = fn(*args)
                except Exception as e:
                    res["lengths"][n] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
                    ref.drop(key)
                    continue
                diff = compare(ours, want)
                err = max(float(np.max(np.abs(np.asarray(a, np.float64) - b)))
                          for a, b in zip(ours, want))
                t = interleaved({"ours": local_timer(_call(fn, args)), "ort": ref.timer(key)},
                                repeat)
                ref.drop(key)
                ms, ort_ms = t["ours"] * 1e3, t["ort"] * 1e3
                res["lengths"][n] = {"ms": round(ms, 3), "onnxruntime_ms": round(ort_ms, 3),
                                     "ratio": round(ms / ort_ms, 3),
                                     "max_abs_err": float(f"{err:.3g}"), "match": diff is None,
                                     **({"mismatch": diff} if diff else {})}
                print(f"  {exporter} seq {n}: {ms:.3f} ms vs {ort_ms:.3f} ms, "
                      f"{'match' if diff is None else diff}", file=sys.stderr)
        res["recompiles"] = builds.calls
        out[exporter] = res
    return out


def _pinned(path: str, sizes: Dict[str, int], out: str) -> str:
    """`path` with each dynamic input dim fixed at `sizes` (outputs left to inference)."""
    m = onnx.load(path)
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in sizes:
                d.dim_value = sizes[d.dim_param]
    for vi in m.graph.output:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param"):
                d.ClearField("dim_param")
    onnx.save(m, out)
    return out


def _timed_compile(path: str) -> Tuple[float, Dict[str, float], int]:
    t0 = time.perf_counter()
    fn = compile(path, CompileOptions(target="cpu"))
    s = time.perf_counter() - t0
    phases = {k: round(v, 2) for k, v in fn.info.timings.items()}
    return s, phases, len(fn.executable.kernels)


def _geomean(xs: List[float]) -> float:
    return math.exp(statistics.mean(math.log(x) for x in xs))


def bench_compile(workdir: str, data: str, models: Optional[List[str]],
                  exporters: List[str]) -> Dict[str, Any]:
    manifest = load_manifest(data)
    names = [n for n in manifest["models"] if models is None or n in models]
    static_dir = os.path.join(workdir, "static")
    static: Dict[str, str] = {}
    if _have_torch():
        from benchmarks import export_models as ex
        sm = ex.export_all(static_dir, names, static=True, stream=sys.stderr)
        for n in names:
            for e in exporters:
                exp = sm["models"][n]["exports"].get(f"{e}.static", {})
                if "file" in exp:
                    static[f"{n}.{e}"] = os.path.join(static_dir, exp["file"])
    out: Dict[str, Any] = {}
    dyn: List[Case] = [c for c in cases(data) if c.model in names and c.exporter in exporters]
    for c in dyn:
        row: Dict[str, Any] = {}
        spath = static.get(c.id)
        row["static_from"] = "export" if spath else "pinned dims"
        if spath is None:
            os.makedirs(static_dir, exist_ok=True)
            spath = _pinned(c.path, manifest["models"][c.model]["example"],
                            os.path.join(static_dir, f"{c.id}.pinned.onnx"))
        for kind, p in (("dynamic", c.path), ("static", spath)):
            try:
                s, phases, kernels = _timed_compile(p)
            except Exception as e:
                row.setdefault("error", {})[kind] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                continue
            row[f"{kind}_s"] = round(s, 2)
            row[f"{kind}_phases"] = phases
            row[f"{kind}_kernels"] = kernels
        if "dynamic_s" in row and "static_s" in row:
            row["ratio"] = round(row["dynamic_s"] / row["static_s"], 2)
        out[c.id] = row
        print(f"  {c.id}: dynamic {row.get('dynamic_s')} s, static {row.get('static_s')} s, "
              f"ratio {row.get('ratio')} {row.get('error', '')}", file=sys.stderr)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="seq,compile", help="seq, compile or both (default)")
    ap.add_argument("--seq", default=",".join(map(str, SEQ_LENGTHS)))
    ap.add_argument("--exporters", default="ts,dynamo")
    ap.add_argument("--models", default=None, help="(b) only these models of the manifest")
    ap.add_argument("--data", default=DATA, help="the real-model set (export_models.py)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    parts = set(args.part.split(","))
    exporters = [e for e in args.exporters.split(",") if e]
    models = args.models.split(",") if args.models else None
    result: Dict[str, Any] = {"rtol": RTOL, "atol": ATOL}
    with tempfile.TemporaryDirectory(prefix="mlir-lite-dyn-") as d:
        _warm_up()
        if "seq" in parts:
            with ReferenceProcess() as ref:
                result["seq"] = bench_seq(ref, d, exporters, args.data,
                                          [int(n) for n in args.seq.split(",")], args.repeat)
        if "compile" in parts:
            comp = bench_compile(d, args.data, models, exporters)
            result["compile"] = comp
            ratios = [r["ratio"] for r in comp.values() if "ratio" in r]
            if ratios:
                result["compile_geomean_ratio"] = round(_geomean(ratios), 2)
                result["compile_max_ratio"] = max(ratios)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    if "seq" in result:
        print(f"(a) {result['seq']['model']}: one compile, batch 1\n")
        print("| exporter | seq | ms | onnxruntime ms | ratio | match | recompiles |")
        print("|---|---:|---:|---:|---:|---|---:|")
        for e in exporters:
            r = result["seq"].get(e)
            if r is None or "error" in r:
                print(f"| {e} | compile failed: {r and r['error']} |")
                continue
            for n, x in r["lengths"].items():
                if "error" in x:
                    print(f"| {e} | {n} | {x['error']} |")
                    continue
                print(f"| {e} | {n} | {x['ms']} | {x['onnxruntime_ms']} | {x['ratio']} | "
                      f"{x['match']} | {r['recompiles']} |")
    if "compile" in result:
        print("\n(b) compile seconds, dynamic vs static shapes\n")
        print("| model | dynamic s | static s | ratio | static from | error |")
        print("|---|---:|---:|---:|---|---|")
        for k, r in result["compile"].items():
            print(f"| {k} | {r.get('dynamic_s', '')} | {r.get('static_s', '')} | "
                  f"{r.get('ratio', '')} | {r['static_from']} | {r.get('error', '')} |")
        if "compile_geomean_ratio" in result:
            print(f"\ngeomean ratio {result['compile_geomean_ratio']}, max "
                  f"{result['compile_max_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
