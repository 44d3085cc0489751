"""Per-kernel profile of a suite model compiled with the TVM CPU backend (-O2, batch 1): the time
of each kernel per run, its share of the kernel time, its GFLOP/s (matmul and conv stages: 2
FLOPs per point of their iteration domain, from the shapes) and its share of the machine's peak.

    python benchmarks/kernel_profile.py [--model vgg19 | --latency-json out.json]
        [--repeat 10] [--json]

Default model: the slowest (highest latency) of a `latency.py --json` output given with
`--latency-json`, else vgg19 (the suite's heaviest in FLOPs). Each kernel function is wrapped
with a timer (about 1 us per call is added; `kernel_sum_ms` vs `end_to_end_ms` shows the
executor's own time).

Peak = cores x SIMD lanes (fp32) x 2 (an FMA is 2 FLOPs) x FMA issues per cycle x GHz. Lanes come
from the target's vector width (64-byte AVX-512: 16); FMA issues per cycle are 2 for 256-bit
vectors on recent x86 and for AVX-512 on Intel server cores and Zen 5, 1 for AVX-512 on Zen 4
(its 512-bit FMAs take both 256-bit pipes); GHz is `--ghz`, else /proc/cpuinfo's "cpu MHz",
else half the "bogomips" (the TSC rate, about the base clock: turbo can exceed it, so a share
above 100% means the clock is higher than assumed).
"""
from __future__ import annotations

import os

os.environ.setdefault("TVM_NUM_THREADS", "2")  # before TVM starts its thread pool

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from typing import Any, Dict, List, Optional  # noqa: E402

import onnx  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mlir_lite.backends.tvm.build import cpu_config  # noqa: E402
from mlir_lite.backends.tvm.tune import block_flops  # noqa: E402
from mlir_lite.driver import compile  # noqa: E402
from mlir_lite.driver.commands import measure  # noqa: E402
from tests.golden.models import MODELS, inputs_for  # noqa: E402

_FMA_ISSUE_512 = {"znver4": 1}  # AVX-512 FMAs per cycle where it is not 2


def _ghz() -> Optional[float]:
    mhz, bogo = None, None
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.startswith("cpu MHz") and mhz is None:
                    mhz = float(ln.split(":")[1])
                elif ln.startswith("bogomips") and bogo is None:
                    bogo = float(ln.split(":")[1])
    except (OSError, ValueError):
        return None
    return mhz / 1e3 if mhz else bogo / 2e3 if bogo else None


def peak_gflops(target: Any, ghz: Optional[float]) -> Dict[str, Any]:
    """The fp32 peak estimate and how it was made."""
    cfg = cpu_config(target)
    lanes = cfg.vector_bytes // 4
    mcpu = str(target.attrs.get("mcpu", ""))
    issue = _FMA_ISSUE_512.get(mcpu, 2) if cfg.vector_bytes == 64 else 2
    source = "--ghz" if ghz else "cpuinfo"
    ghz = ghz or _ghz() or 3.0
    peak = cfg.num_cores * lanes * 2 * issue * ghz
    return {"gflops": round(peak, 1), "cores": cfg.num_cores, "lanes": lanes,
            "fma_per_cycle": issue, "ghz": round(ghz, 3), "ghz_from": source, "mcpu": mcpu}


def profile(name: str, repeat: int, ghz: Optional[float]) -> Dict[str, Any]:
    model = MODELS[name]()
    with tempfile.TemporaryDirectory(prefix="mlir-lite-prof-") as d:
        src = os.path.join(d, f"{name}.onnx")
        onnx.save(model, src)
        t0 = time.perf_counter()
        fn = compile(src, opt_level=2).executable
        compile_s = time.perf_counter() - t0
    feed = inputs_for(model, batch=1)
    args = [feed[n] for n in feed]
    fn(*args)  # makes the executor
    e2e = statistics.median(measure(lambda: fn(*args), repeat))
    ex = fn.executor._real
    env = ex.bind(args)
    times: Dict[str, List[float]] = defaultdict(list)
    calls: Dict[str, int] = defaultdict(int)
    orig = dict(ex._funcs)

    def timed(sym: str, f: Any) -> Any:
        def call(*a: Any) -> Any:
            t = time.perf_counter()
            r = f(*a)
            times[sym].append(time.perf_counter() - t)
            return r
        return call
    ex._funcs.update({s: timed(s, f) for s, f in orig.items()})
    try:
        for _ in range(2):
            fn(*args)
        times.clear()
        for _ in range(repeat):
            fn(*args)
    finally:
        ex._funcs.update(orig)
    for s, ts in times.items():
        calls[s] = len(ts) // repeat
    info = {k.symbol: k for k in fn.kernels}
    peak = peak_gflops(fn.target, ghz)
    per_run = {s: sum(ts) / repeat for s, ts in times.items()}
    total = sum(per_run.values())
    rows = []
    for s, t in sorted(per_run.items(), key=lambda kv: -kv[1]):
        k = info.get(s)
        fl = block_flops(fn.ir_module[s], env)
        fl = fl * calls[s] if fl else fl
        gf = fl / t / 1e9 if fl and t > 0 else None
        rows.append({"kernel": s, "op": k.op if k else "", "kind": k.kind if k else "",
                     "schedule": " ".join(k.schedule) if k else "", "calls": calls[s],
                     "ms": round(t * 1e3, 4), "share": round(t / total, 4),
                     "gflop": round(fl / 1e9, 4) if fl else None,
                     "gflops": round(gf, 1) if gf else None,
                     "peak_share": round(gf / peak["gflops"], 3) if gf else None})
    flops = sum(r["gflop"] or 0 for r in rows)
    return {"model": name, "compile_s": round(compile_s, 2), "end_to_end_ms": round(e2e * 1e3, 3),
            "kernel_sum_ms": round(total * 1e3, 3), "gflop": round(flops, 3),
            "gflops": round(flops / total, 1) if total else None, "peak": peak, "kernels": rows}


def _slowest(path: str) -> str:
    with open(path) as fh:
        res = json.load(fh)["models"]
    return max(res, key=lambda n: res[n]["latency_ms"])


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help=f"one of: {', '.join(MODELS)}")
    ap.add_argument("--latency-json", default=None,
                    help="a latency.py --json output: profile its slowest model")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--ghz", type=float, default=None, help="clock for the peak estimate")
    ap.add_argument("--top", type=int, default=25, help="kernels shown in the table")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    name = args.model or (_slowest(args.latency_json) if args.latency_json else "vgg19")
    if name not in MODELS:
        ap.error(f"unknown model {name!r}")
    r = profile(name, args.repeat, args.ghz)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    p = r["peak"]
    print(f"{name}: {r['end_to_end_ms']:.2f} ms end to end, kernels {r['kernel_sum_ms']:.2f} ms, "
          f"{r['gflop']:.2f} GFLOP in matmul/conv, {r['gflops']} GFLOP/s overall; peak "
          f"{p['gflops']} GFLOP/s ({p['cores']} cores x {p['lanes']} lanes x 2 x "
          f"{p['fma_per_cycle']} FMA/cycle x {p['ghz']} GHz)\n")
    print("| kernel | kind | calls | ms | share | GFLOP/s | of peak | schedule |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for k in r["kernels"][:args.top]:
        gf = f"{k['gflops']:.1f}" if k["gflops"] else ""
        ps = f"{k['peak_share'] * 100:.0f}%" if k["peak_share"] else ""
        print(f"| {k['kernel']} | {k['kind']} | {k['calls']} | {k['ms']:.3f} | "
              f"{k['share'] * 100:.1f}% | {gf} | {ps} | {k['schedule'][:60]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
