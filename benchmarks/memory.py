"""Memory planning and fusion on the model suite, against baselines measured in the same run.

    python benchmarks/memory.py [--json] [--no-light] [--no-ort] [--no-runtime] [--models mlp,cnn]

For each model (benchmarks/suite_models.py: MLP, CNN with BN, Transformer encoder block, and
the onnx package's light models): import, fold constants (ConstantOfShape weights included),
clean up, count kernels (`kernels_unfused`), fold batch norm and fuse (`kernels_fused`), then
plan the fused kernel schedule for the suite's dims and report:

* planned_bytes: the arena of the plan (verified by `verify_plan`);
* no_reuse_bytes: the sum of all planned intermediates (each its own buffer);
* lower_bound_bytes: the largest total of aligned allocations live at one step (a value and
  the one written in place of it counted once), which no plan can beat;
  live_tensor_peak_bytes: the same, counting each live tensor separately and unaligned;
* onnxruntime_peak_bytes: the memory onnxruntime takes for the first run of a session on the
  same model and input shapes (CPU provider, memory patterns on, one thread): the growth of
  the process's heap in use (glibc `mallinfo2`: `uordblks + hblkhd`) from just before `run` to
  just after it, outputs kept. The CPU arena, which never gives memory back during a run, is
  registered with `arena_extend_strategy = kSameAsRequested`, so its growth is what onnxruntime
  requested (the default power-of-two growth would add up to 2x of rounding); so the figure is
  the arena's peak plus the outputs. Median of ORT_REPEATS (3) fresh subprocesses, which agree
  to about 1 KB. (The earlier peak-RSS reading was unreliable: pages freed before `run`, e.g.
  by session set-up, were reused without raising the RSS, so ResNet-50 read 0.5 MB.) It
  counts what onnxruntime holds for intermediates and outputs, so it is an upper-side figure,
  not an exact peer of the arena size;
* runtime_arena_bytes (mlp, cnn, transformer_encoder): the arena the TVM executor allocates
  when the model is compiled at -O2 and run on the suite's shapes, with runtime_plan_bytes,
  `plan_memory` of the same -O2 function for the same binding (they must be equal);
  mlp_dynamic_batch: the same for the MLP, compiled once with a symbolic batch, at 1, 8, 64;
* planned_unfused_bytes: the arena for the unfused op schedule, for comparison.

Target: planned_bytes <= 1.10 x lower_bound_bytes on every model.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.suite_models import suite  # noqa: E402
from mlir_lite import import_onnx  # noqa: E402
from mlir_lite.ir.core import Operation  # noqa: E402
from mlir_lite.passes import PassManager, parse_pipeline  # noqa: E402
from mlir_lite.passes.fusion import count_kernels  # noqa: E402
from mlir_lite.passes.memory_plan import plan_memory, verify_plan  # noqa: E402
from mlir_lite.passes.rewrite import apply_patterns_greedily, pattern  # noqa: E402

CLEANUP = "fold-constants{max-elements=16777216},canonicalize,cse,dce"
FUSE = "fold-batchnorm,canonicalize,cse,dce,fuse"
TARGET = 1.10

_ORT_PROBE = r"""
import ctypes, sys, numpy as np, onnxruntime as ort
path, shapes = sys.argv[1], eval(sys.argv[2])
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
def in_use():  # bytes malloc has handed out and not taken back (heap + mmapped chunks)
    m = libc.mallinfo2()
    return m.uordblks + m.hblkhd
# the CPU arena grows by what is requested (not by powers of two), so that its growth is the
# memory onnxruntime asked for
ort.create_and_register_allocator(
    ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT),
    ort.OrtArenaCfg(0, 1, -1, -1))
so = ort.SessionOptions(); so.enable_mem_pattern = True; so.enable_cpu_mem_arena = True
so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
so.add_session_config_entry("session.use_env_allocators", "1")
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
feeds, k = {}, 0
for i in s.get_inputs():
    if "float" not in i.type:
        continue
    shape = shapes[k] if k < len(shapes) else [d if isinstance(d, int) else 1 for d in i.shape]
    feeds[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    k += 1
base = in_use()
out = s.run(None, feeds)
print(in_use() - base)
"""
ORT_REPEATS = 3


@pattern("ml.constant_of_shape", name="materialize-constant-of-shape")
def _materialize(op: Operation, rewriter: Any) -> Any:
    """ConstantOfShape with a static shape -> ml.constant (fold-constants skips ops without
    operands, which is how the light models spell their weights)."""
    import mlir_lite.ir.interpreter  # noqa: F401
    from mlir_lite.ir.attributes import DenseAttr
    from mlir_lite.ir.interpreter.rules import RULES
    if op.operands or not getattr(op.results[0].type, "is_static", False):
        return False
    arr = np.asarray(RULES[op.name](op)).astype(op.results[0].type.element.np_dtype)
    rewriter.replace_op(op, [rewriter.materialize_constant(op, DenseAttr(arr,
                                                                        op.results[0].type))])
    return True


def _ort_peak(model: Any, shapes: List[tuple]) -> Optional[int]:
    """The median over ORT_REPEATS fresh subprocesses of onnxruntime's first-run peak growth."""
    import tempfile

    import onnx
    with tempfile.TemporaryDirectory() as d:
        path = model if isinstance(model, str) else os.path.join(d, "m.onnx")
        if not isinstance(model, str):
            onnx.save(model, path)
        runs = []
        for _ in range(ORT_REPEATS):
            try:
                out = subprocess.run([sys.executable, "-c", _ORT_PROBE, path,
                                      repr([list(s) for s in shapes])],
                                     capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                return None
            if out.returncode != 0:
                sys.stderr.write(f"onnxruntime failed: {out.stderr[-400:]}\n")
                return None
            runs.append(int(out.stdout.strip().splitlines()[-1]))
        return int(np.median(runs))


def _runtime_arena(model: Any, dims: Dict[str, int], shapes: List[tuple]) -> Dict[str, Any]:
    """Compile at -O2, run once on the suite's shapes, and read the executor's arena; compare
    it with `plan_memory` of the same compiled function for the same binding."""
    from mlir_lite.driver import compile, load_source, pipeline_for
    from mlir_lite.passes.registry import run_pipeline
    _compiled = compile(model, opt_level=2)
    fn = _compiled.executable
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fn(*args)
    ex = fn.executor._real
    (key,) = ex._bindings
    arena = ex.arena_layout(key)[0]
    module, _, _ = load_source(model)
    run_pipeline(module, pipeline_for(opt_level=2))
    planned = plan_memory(module["main"], dict(key)).arena_bytes
    return {"runtime_arena_bytes": arena, "runtime_plan_bytes": planned,
            "runtime_binding": dict(key)}


def measure(name: str, model: Any, dims: Dict[str, int], shapes: List[tuple],
            ort: bool, runtime: bool = False) -> Dict[str, Any]:
    t0 = time.perf_counter()
    m = import_onnx(model)
    apply_patterns_greedily(m, [_materialize], fold=False)
    PassManager(parse_pipeline(CLEANUP)).run(m)
    k0 = count_kernels(m)
    unfused = plan_memory(m["main"], dims)
    verify_plan(unfused)
    PassManager(parse_pipeline(FUSE)).run(m)
    k1 = count_kernels(m)
    plan = plan_memory(m["main"], dims)
    verify_plan(plan)
    row: Dict[str, Any] = {
        "planned_bytes": plan.arena_bytes, "no_reuse_bytes": plan.no_reuse_bytes,
        "lower_bound_bytes": plan.lower_bound_bytes,
        "live_tensor_peak_bytes": plan.live_tensor_peak_bytes,
        "onnxruntime_peak_bytes": _ort_peak(model, shapes) if ort else None,
        "kernels_unfused": k0, "kernels_fused": k1,
        "planned_unfused_bytes": unfused.arena_bytes, "in_place": len(plan.inplace_of),
        "unplanned": len(plan.unplanned), "dims": dims,
        "ratio_to_lower_bound": round(plan.arena_bytes / max(plan.lower_bound_bytes, 1), 4),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if runtime:
        row.update(_runtime_arena(model, dims, shapes))
    return row


def dynamic_batch(batches: tuple = (1, 8, 64)) -> Dict[str, Any]:
    """The suite MLP (batch `N` symbolic) compiled once at -O2 and run at several batch sizes:
    the runtime arena per binding against `plan_memory` for that binding."""
    from benchmarks.suite_models import mlp
    from mlir_lite.driver import compile, load_source, pipeline_for
    from mlir_lite.passes.registry import run_pipeline
    model = mlp()
    fn = compile(model, opt_level=2).executable
    module, _, _ = load_source(model)
    run_pipeline(module, pipeline_for(opt_level=2))
    width = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    rows = {}
    for n in batches:
        fn(np.zeros((n, width), np.float32))
        arena = fn.executor._real.arena_layout((("N", n),))[0]
        rows[str(n)] = {"runtime_arena_bytes": arena,
                        "planned_bytes": plan_memory(module["main"], {"N": n}).arena_bytes}
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-light", action="store_true", help="skip the onnx light models")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime measurement")
    ap.add_argument("--models", default="", help="comma-separated subset of the suite")
    ap.add_argument("--no-runtime", action="store_true",
                    help="skip compiling the small models with TVM to read the runtime arena")
    args = ap.parse_args(argv)
    models = suite(light=not args.no_light)
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    small = {"mlp", "cnn", "transformer_encoder"}
    rows = {name: measure(name, *spec, ort=not args.no_ort,
                          runtime=not args.no_runtime and name in small)
            for name, spec in models.items()}
    dyn = {} if args.no_runtime else dynamic_batch()
    ok = all(r["planned_bytes"] <= TARGET * r["lower_bound_bytes"] for r in rows.values())
    same = all(r.get("runtime_arena_bytes") == r.get("runtime_plan_bytes") for r in rows.values()) \
        and all(r["runtime_arena_bytes"] == r["planned_bytes"] for r in dyn.values())
    if args.json:
        print(json.dumps({"models": rows, "mlp_dynamic_batch": dyn, "target_ratio": TARGET,
                          "meets_target": ok, "runtime_executes_plan": same}, indent=2))
        return 0 if ok and same else 1
    mib = 1 / (1 << 20)
    print(f"{'model':<20} {'planned':>9} {'lower bd':>9} {'ratio':>6} {'no reuse':>9} "
          f"{'ort peak':>9} {'unfused':>9} {'kernels':>9}   (MiB)")
    for name, r in rows.items():
        ortb = r["onnxruntime_peak_bytes"]
        print(f"{name:<20} {r['planned_bytes'] * mib:>9.3f} {r['lower_bound_bytes'] * mib:>9.3f} "
              f"{r['ratio_to_lower_bound']:>6.3f} {r['no_reuse_bytes'] * mib:>9.3f} "
              f"{'-' if ortb is None else format(ortb * mib, '9.3f'):>9} "
              f"{r['planned_unfused_bytes'] * mib:>9.3f} "
              f"{r['kernels_unfused']:>4}->{r['kernels_fused']:<4}")
    for n, r in dyn.items():
        print(f"mlp batch {n:>3}: runtime arena {r['runtime_arena_bytes']} B, planned "
              f"{r['planned_bytes']} B")
    print(f"target: planned <= {TARGET}x lower bound on every model: {'met' if ok else 'MISSED'}"
          f"; runtime arena == plan: {same}")
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
