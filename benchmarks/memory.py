"""Memory planning and fusion on the model suite, against baselines measured in the same run.

    python benchmarks/memory.py [--json] [--no-light] [--no-ort] [--models mlp,cnn]

For each model (benchmarks/suite_models.py: MLP, CNN with BN, Transformer encoder block, and
the onnx package's light models): import, fold constants (ConstantOfShape weights included),
clean up, count kernels (`kernels_unfused`), fold batch norm and fuse (`kernels_fused`), then
plan the fused kernel schedule for the suite's dims and report:

* planned_bytes: the arena of the plan (verified by `verify_plan`);
* no_reuse_bytes: the sum of all planned intermediates (each its own buffer);
* lower_bound_bytes: the largest total of aligned allocations live at one step (a value and
  the one written in place of it counted once), which no plan can beat;
  live_tensor_peak_bytes: the same, counting each live tensor separately and unaligned;
* onnxruntime_peak_bytes: onnxruntime's peak memory growth during its first run of the same
  model on the same input shapes (CPU provider, default arena and memory patterns), measured in
  a fresh subprocess as the rise of the process's peak RSS (VmHWM, reset through
  /proc/self/clear_refs after the session and the inputs exist) over the resident size just
  before `run`. It counts what onnxruntime touches for intermediates and outputs (arena chunks
  included), so it is an upper-side figure, not an exact peer of the arena size;
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
from mlir_lite.core import Operation  # noqa: E402
from mlir_lite.passes import PassManager, parse_pipeline  # noqa: E402
from mlir_lite.passes.fusion import count_kernels  # noqa: E402
from mlir_lite.passes.memory_plan import plan_memory, verify_plan  # noqa: E402
from mlir_lite.passes.rewrite import apply_patterns_greedily, pattern  # noqa: E402

CLEANUP = "fold-constants{max-elements=16777216},canonicalize,cse,dce"
FUSE = "fold-batchnorm,canonicalize,cse,dce,fuse"
TARGET = 1.10

_ORT_PROBE = r"""
import sys, numpy as np, onnxruntime as ort
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0
path, shapes = sys.argv[1], eval(sys.argv[2])
so = ort.SessionOptions(); so.enable_mem_pattern = True; so.enable_cpu_mem_arena = True
so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
ins = [i for i in s.get_inputs()]
feeds, k = {}, 0
for i in ins:
    if "float" not in i.type:
        continue
    shape = shapes[k] if k < len(shapes) else [d if isinstance(d, int) else 1 for d in i.shape]
    feeds[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    k += 1
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = rss("VmRSS:")
out = s.run(None, feeds)
print(rss("VmHWM:") - base)
"""


@pattern("ml.constant_of_shape", name="materialize-constant-of-shape")
def _materialize(op: Operation, rewriter: Any) -> Any:
    """ConstantOfShape with a static shape -> ml.constant (fold-constants skips ops without
    operands, which is how the light models spell their weights)."""
    from mlir_lite.attributes import DenseAttr
    from mlir_lite.interpreter.rules import RULES
    import mlir_lite.interpreter  # noqa: F401
    if op.operands or not getattr(op.results[0].type, "is_static", False):
        return False
    arr = np.asarray(RULES[op.name](op)).astype(op.results[0].type.element.np_dtype)
    rewriter.replace_op(op, [rewriter.materialize_constant(op, DenseAttr(arr,
                                                                        op.results[0].type))])
    return True


def _ort_peak(model: Any, shapes: List[tuple]) -> Optional[int]:
    import tempfile

    import onnx
    with tempfile.TemporaryDirectory() as d:
        path = model if isinstance(model, str) else os.path.join(d, "m.onnx")
        if not isinstance(model, str):
            onnx.save(model, path)
        try:
            out = subprocess.run([sys.executable, "-c", _ORT_PROBE, path,
                                  repr([list(s) for s in shapes])],
                                 capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return None
        if out.returncode != 0:
            sys.stderr.write(f"onnxruntime failed: {out.stderr[-400:]}\n")
            return None
        return int(out.stdout.strip().splitlines()[-1])


def measure(name: str, model: Any, dims: Dict[str, int], shapes: List[tuple],
            ort: bool) -> Dict[str, Any]:
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
    return row


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-light", action="store_true", help="skip the onnx light models")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime measurement")
    ap.add_argument("--models", default="", help="comma-separated subset of the suite")
    args = ap.parse_args(argv)
    models = suite(light=not args.no_light)
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    rows = {name: measure(name, *spec, ort=not args.no_ort) for name, spec in models.items()}
    ok = all(r["planned_bytes"] <= TARGET * r["lower_bound_bytes"] for r in rows.values())
    if args.json:
        print(json.dumps({"models": rows, "target_ratio": TARGET, "meets_target": ok}, indent=2))
        return 0 if ok else 1
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
    print(f"target: planned <= {TARGET}x lower bound on every model: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
