"""The command-line subcommands that compile or run compiled code (their arguments are declared
in cli.py, which imports this module only when one of them runs):

    mlir-lite compile model.onnx -o model.mlc [--target cpu|cuda] [--arch sm_80] [-O1] [--tune N]
    mlir-lite run model.mlc [--input x=x.npy ...] [--inputs all.npz] [--random] [-o out.npz]
    mlir-lite bench model.mlc|model.onnx [--repeat N] [--vs onnxruntime] [--json]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from mlir_lite.driver.cli import read_inputs
from mlir_lite.driver.compile import CompileOptions
from mlir_lite.errors import MlirLiteError
from mlir_lite.fileio import write_atomic

__all__ = ["compile", "run_artifact", "bench", "random_inputs", "measure", "ort_session"]


def compile_options(args: argparse.Namespace) -> CompileOptions:
    """The CompileOptions of `mlir-lite compile`'s arguments."""
    return CompileOptions(target=args.target, opt_level=args.opt_level, arch=args.arch,
                          mcpu=args.mcpu, tune=getattr(args, "tune", None),
                          tune_dir=getattr(args, "tune_dir", None),
                          print_ir_after_all=args.print_ir_after_all, timing=args.timing)


def compile(args: argparse.Namespace) -> int:  # noqa: A001 - the subcommand's name
    from .compile import compile_to_artifact, pipeline_for
    opts = compile_options(args)
    if args.print_pipeline:
        print(pipeline_for(opts))
        return 0
    if not args.file or not args.output:
        raise MlirLiteError("compile needs a model and -o MODEL.mlc (or --print-pipeline)")
    t0 = time.perf_counter()
    info = compile_to_artifact(args.file, args.output, opts)
    if args.timing:
        total = time.perf_counter() - t0
        print("===- compile timing -===", file=sys.stderr)
        for phase, s in info.timings.items():
            print(f"  {s * 1e3:10.1f} ms  {phase}", file=sys.stderr)
        print(f"  {total * 1e3:10.1f} ms  total", file=sys.stderr)
    return 0


def random_inputs(signature: Dict[str, Any], dynamic_dim: int = 1,
                  seed: int = 0) -> Dict[str, np.ndarray]:
    """Random arrays for every input of a signature (symbolic dims take `dynamic_dim`)."""
    rng = np.random.default_rng(seed)
    out: Dict[str, np.ndarray] = {}
    for spec in signature["inputs"]:
        shape = [d if type(d) is int else dynamic_dim for d in spec["dims"]]
        dt = np.dtype(spec["dtype"])
        if dt.kind == "f":
            out[spec["name"]] = rng.standard_normal(shape).astype(dt)
        elif dt == np.bool_:
            out[spec["name"]] = rng.integers(0, 2, shape).astype(dt)
        else:
            out[spec["name"]] = rng.integers(0, 4, shape).astype(dt)
    return out


def _feed(model: Any, args: argparse.Namespace, random_ok: bool) -> Dict[str, np.ndarray]:
    given = read_inputs(args)
    unknown = sorted(set(given) - set(model.input_names))
    if unknown:
        raise MlirLiteError(f"the model has no input named {', '.join(unknown)} (its inputs: "
                            f"{', '.join(model.input_names)})")
    missing = [n for n in model.input_names if n not in given]
    if missing and not random_ok:
        raise MlirLiteError(f"no value for input(s) {', '.join(missing)} (give --input "
                            "NAME=FILE.npy, --inputs FILE.npz, or --random)")
    rand = random_inputs(model.signature, args.dynamic_dim, args.seed)
    return {n: given[n] if n in given else rand[n] for n in model.input_names}


def run_artifact(args: argparse.Namespace) -> int:
    import mlir_lite.runtime as rt
    model = rt.load(args.file)
    outs = model(**_feed(model, args, args.random))
    if args.output:
        buf = io.BytesIO()
        # numpy's stub also matches **kwds against its `allow_pickle: bool` parameter
        np.savez(buf, **dict(zip(model.output_names, outs)))  # type: ignore[arg-type]
        write_atomic(args.output, buf.getvalue())
    else:
        for name, o in zip(model.output_names, outs):
            print(f"{name}: {o.dtype}{list(o.shape)}\n{o}")
    return 0


def measure(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> List[float]:
    """Wall-clock seconds of `repeat` calls of `fn`, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def ort_session(onnx_path: str, threads: int = 2) -> Any:
    """An onnxruntime CPU session with `threads` intra-op threads."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


class _InMemory:
    """An ONNX model compiled in memory, with the interface of a loaded artifact."""

    def __init__(self, path: str) -> None:
        from .compile import compile as compile_model
        fn = compile_model(path)
        info = fn.info
        self.fn = fn
        self.compile_seconds = sum(info.timings.values())
        self.input_names = info.input_names
        self.output_names = info.output_names
        plan = fn.executable.plan
        self.signature = {"inputs": [
            {"name": n, "dtype": plan.buffers[b].dtype,
             "dims": [d if type(d) in (int, str) else None for d in plan.buffers[b].shape]}
            for n, b in zip(info.input_names, plan.inputs)]}
        self.manifest = {"source": os.path.abspath(path)}

    def __call__(self, **feed: np.ndarray) -> List[np.ndarray]:
        return self.fn(*[feed[n] for n in self.input_names])


def _stats(times: Sequence[float]) -> Dict[str, float]:
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
            "max_ms": max(times) * 1e3, "runs": len(times)}


def bench(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise MlirLiteError("--repeat must be at least 1")
    if args.file.endswith(".mlc"):
        import mlir_lite.runtime as rt
        model: Any = rt.load(args.file)
    else:
        model = _InMemory(args.file)
    feed = _feed(model, args, True)
    result: Dict[str, Any] = {"model": args.file,
                              "mlir_lite": _stats(measure(lambda: model(**feed), args.repeat,
                                                          args.warmup))}
    if args.vs == "onnxruntime":
        onnx_path: Optional[str] = args.onnx or model.manifest.get("source")
        if not onnx_path or not os.path.exists(onnx_path):
            raise MlirLiteError("--vs onnxruntime needs the ONNX model: give --onnx MODEL.onnx")
        sess = ort_session(onnx_path)
        result["onnxruntime"] = _stats(measure(lambda: sess.run(None, feed), args.repeat,
                                               args.warmup))
        result["ratio"] = result["mlir_lite"]["median_ms"] / result["onnxruntime"]["median_ms"]
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{'':12} {'median ms':>10} {'min ms':>10} {'max ms':>10}")
    for who in ("mlir_lite", "onnxruntime"):
        if who in result:
            r = result[who]
            print(f"{who:12} {r['median_ms']:10.3f} {r['min_ms']:10.3f} {r['max_ms']:10.3f}")
    if "ratio" in result:
        print(f"ratio (mlir-lite / onnxruntime, medians): {result['ratio']:.2f}x")
    return 0
