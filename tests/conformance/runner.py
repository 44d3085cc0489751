"""The ONNX conformance runner: every backend test case of the installed onnx package, run
through `mlir_lite.backend` in isolated worker processes, summarised in CONFORMANCE.md.

    python -m tests.conformance.runner                         # all suites, writes CONFORMANCE.md
    python -m tests.conformance.runner --suite node --jobs 2 --timeout 60 --json
    python -m tests.conformance.runner --filter 'test_conv' --out - --verbose
    python -m tests.conformance.runner --update-expected       # rewrite expected_pass.txt
    python -m tests.conformance.runner --compiled --jobs 1      # + the TVM path, side by side

`--json` prints `{"suite": {"total": N, "pass": N, "fail": N, "unsupported": N, "error": N,
"out_of_scope": N}, ...}` (with `--compiled`, each suite also has `"tvm": {...}`, the same counts
for executor "tvm": the module compiled at -O2 for this CPU). The case list comes from
`cases.py`, one case is run and classified by `execute.py`, the process pool is `pool.py` and
the report `report.py`.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # workers share the cores: one BLAS thread each

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple  # noqa: E402

from .cases import SUITES, Case, collect  # noqa: E402
from .execute import run_case  # noqa: E402
from .pool import WorkerPool  # noqa: E402
from .report import render_markdown, totals  # noqa: E402

__all__ = ["RunResult", "run_conformance", "read_expected", "write_expected", "diff_expected",
           "EXPECTED_FILE", "REPO_ROOT", "main"]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected_pass.txt")
DEFAULT_MEM_LIMIT = 8 << 30


@dataclass
class RunResult:
    cases: List[Case]
    results: Dict[str, Dict[str, Any]]
    wall_s: float
    jobs: int
    timeout: float
    restarts: int
    compiled: Optional[Dict[str, Dict[str, Any]]] = None  # results of executor "tvm", if run

    def totals(self) -> Dict[str, Dict[str, int]]:
        return totals(self.cases, self.results)

    def passing(self) -> Set[str]:
        return {k for k, r in self.results.items() if r["status"] == "pass"}

    def markdown(self) -> str:
        return render_markdown(self.cases, self.results, wall_s=self.wall_s, jobs=self.jobs,
                               timeout=self.timeout, compiled=self.compiled)


def run_conformance(suites: Sequence[str] = SUITES, *, jobs: int = 2, timeout: float = 60.0,
                    name_filter: Optional[str] = None, mem_limit: Optional[int] = DEFAULT_MEM_LIMIT,
                    progress: Optional[Callable[[Case, Dict[str, Any], int, int], None]] = None,
                    compiled: bool = False) -> RunResult:
    """Collect and run the cases of `suites` (optionally only names matching `name_filter`);
    with `compiled`, every case also runs through executor "tvm" (a task of its own)."""
    t0 = time.monotonic()
    if compiled:
        import mlir_lite.backends.tvm  # noqa: F401  (TVM, the driver and the passes loaded
        import mlir_lite.driver  # noqa: F401   once, before forking)
        import mlir_lite.passes  # noqa: F401
    import onnx.backend.test.runner  # noqa: F401

    import mlir_lite.backend  # noqa: F401  (imported before forking: warm workers)
    import mlir_lite.frontends.onnx  # noqa: F401
    import mlir_lite.ir.interpreter  # noqa: F401
    cases = collect(suites)
    if name_filter:
        pat = re.compile(name_filter)
        cases = [c for c in cases if pat.search(c.key)]
    execs = ("interpreter", "tvm") if compiled else ("interpreter",)
    ne = len(execs)  # task t: case t // ne with executor execs[t % ne]
    order = sorted(range(len(cases) * ne), key=lambda t: -cases[t // ne].cost)
    pool = WorkerPool(lambda t: run_case(cases[t // ne], execs[t % ne]), jobs=jobs,
                      timeout=lambda t: timeout * cases[t // ne].timeout_scale,
                      mem_limit=mem_limit)
    results: Dict[str, Dict[str, Dict[str, Any]]] = {e: {} for e in execs}
    for done, (t, res) in enumerate(pool.run(order), 1):
        case = cases[t // ne]
        results[execs[t % ne]][case.key] = res
        if progress is not None:
            progress(case, res, done, len(order))
    return RunResult(cases, results["interpreter"], time.monotonic() - t0, jobs, timeout,
                     pool.restarts, results.get("tvm"))


# -- the expectation file -------------------------------------------------------------------------
def read_expected(path: str = EXPECTED_FILE) -> Set[str]:
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}


def write_expected(keys: Set[str], path: str = EXPECTED_FILE) -> None:
    head = ("# Conformance cases that pass (suite/case), one per line, sorted. CI fails when one\n"
            "# of them stops passing. Regenerate: python -m tests.conformance.runner "
            "--update-expected\n")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + "".join(k + "\n" for k in sorted(keys)))
    os.replace(tmp, path)


def diff_expected(expected: Set[str], run: RunResult) -> Tuple[List[str], List[str]]:
    """(cases expected to pass that did not, cases passing that are not expected), restricted
    to the cases this run covered."""
    ran = set(run.results)
    passing = run.passing()
    regressed = sorted(k for k in expected & ran if k not in passing)
    new = sorted(passing - expected)
    return regressed, new


# -- CLI --------------------------------------------------------------------------------------
def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.conformance.runner",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default=",".join(SUITES),
                   help=f"comma-separated suites (default: all of {','.join(SUITES)})")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per case (default 60; the light CNNs get 5 times as long)")
    p.add_argument("--filter", default=None, help="only cases whose suite/name matches this regex")
    p.add_argument("--json", action="store_true", help="print the totals per suite as JSON")
    p.add_argument("--out", default=os.path.join(REPO_ROOT, "CONFORMANCE.md"),
                   help="where to write the report ('-' for none; default CONFORMANCE.md)")
    p.add_argument("--results", default=None, help="also write every case's result as JSON here")
    p.add_argument("--update-expected", action="store_true",
                   help=f"rewrite {os.path.relpath(EXPECTED_FILE, REPO_ROOT)} with the passing "
                        "cases (needs a run of every suite, without --filter)")
    p.add_argument("--mem-limit-gb", type=float, default=DEFAULT_MEM_LIMIT / (1 << 30),
                   help="address-space cap per worker (default 8)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every case as it ends")
    p.add_argument("--compiled", action="store_true",
                   help="also run every case through executor \"tvm\" (compiled at -O2 for "
                        "this CPU) and report its counts beside the interpreter's; slow")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse(argv)
    suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    bad = [s for s in suites if s not in SUITES]
    if bad:
        print(f"unknown suite(s) {bad}; known: {', '.join(SUITES)}", file=sys.stderr)
        return 2

    def progress(case: Case, res: Dict[str, Any], done: int, total: int) -> None:
        if args.verbose:
            reason = f"  {res.get('reason', '')}" if res["status"] != "pass" else ""
            print(f"[{done}/{total}] {res['status']:<11} {case.key}{reason}", file=sys.stderr)
        elif done % 200 == 0 or done == total:
            print(f"[{done}/{total}]", file=sys.stderr)

    run = run_conformance(suites, jobs=args.jobs, timeout=args.timeout, name_filter=args.filter,
                          mem_limit=int(args.mem_limit_gb * (1 << 30)) or None,
                          progress=progress, compiled=args.compiled)
    if args.out and args.out != "-":
        with open(args.out, "w") as f:
            f.write(run.markdown())
    if args.results:
        with open(args.results, "w") as f:
            json.dump({k: dict(run.results[k], **({"tvm": run.compiled[k]} if run.compiled
                                                    else {})) for k in sorted(run.results)},
                      f, indent=1)
    if args.update_expected:
        if args.filter or set(suites) != set(SUITES):
            print("--update-expected needs every suite and no --filter", file=sys.stderr)
            return 2
        write_expected(run.passing())
    tot = run.totals()
    ctot = totals(run.cases, run.compiled) if run.compiled is not None else {}
    if args.json:
        for suite, t in ctot.items():
            tot[suite]["tvm"] = t  # type: ignore[assignment]
        print(json.dumps(tot, indent=1))
    else:
        for s, t in tot.items():
            print(f"{s:<18} {t['pass']:>5} / {t['total']:<5} pass  ({t['fail']} fail, "
                  f"{t['unsupported']} unsupported, {t['error']} error; "
                  f"{t['out_of_scope']} out of scope)")
            if s in ctot:
                c = ctot[s]
                print(f"{'  compiled (tvm)':<18} {c['pass']:>5} / {c['total']:<5} pass  "
                      f"({c['fail']} fail, {c['unsupported']} unsupported, {c['error']} error)")
        print(f"wall time {run.wall_s:.1f} s, {run.restarts} worker restart(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
