"""Summaries of a conformance run: totals per suite (the `--json` form) and CONFORMANCE.md."""
from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional, Sequence

import onnx

from .cases import SUITES, Case

__all__ = ["STATUSES", "totals", "render_markdown"]

STATUSES = ("pass", "fail", "unsupported", "error")


def totals(cases: Sequence[Case], results: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, int]]:
    """`{suite: {"total", "pass", "fail", "unsupported", "error", "out_of_scope"}}`."""
    out: Dict[str, Dict[str, int]] = {}
    for c in cases:
        t = out.setdefault(c.suite, {"total": 0, **{s: 0 for s in STATUSES}, "out_of_scope": 0})
        t["total"] += 1
        t[results[c.key]["status"]] += 1
        t["out_of_scope"] += c.scope is not None
    order = [s for s in SUITES if s in out] + sorted(set(out) - set(SUITES))
    return {s: out[s] for s in order}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _reasons(items: List[Dict[str, Any]], limit: int = 3) -> str:
    c = Counter(f"{r['status']}: {r.get('reason', '')}" for r in items if r["status"] != "pass")
    parts = [f"{k} (x{n})" if n > 1 else k for k, n in c.most_common(limit)]
    if len(c) > limit:
        parts.append(f"... {len(c) - limit} more")
    return _cell("; ".join(parts))


def render_markdown(cases: Sequence[Case], results: Dict[str, Dict[str, Any]], *,
                    wall_s: float, jobs: int, timeout: float, executor: str = "interpreter",
                    compiled: Optional[Dict[str, Dict[str, Any]]] = None) -> str:
    """The report; `compiled` (results of executor "tvm", by case key) adds its counts beside
    the interpreter's."""
    tot = totals(cases, results)
    ctot = totals(cases, compiled) if compiled is not None else None
    now = datetime.datetime.now().strftime("%Y-%m-%d")
    lines = [
        "# ONNX backend conformance",
        "",
        f"Measured with `python -m tests.conformance.runner` on {now}: onnx {onnx.__version__}, "
        f"`mlir_lite.backend` with executor `{executor}`"
        + (" and, beside it, executor `tvm` (`--compiled`: the module compiled at -O2 by "
           "TVM for this CPU; a case with an op that has no TVM lowering counts as "
           "unsupported)" if compiled is not None else "")
        + f", {jobs} worker process(es), "
        f"{timeout:g} s per case ({5 * timeout:g} s for a light CNN); wall time {wall_s:.0f} s.",
        "",
        "Each case runs in a worker process (restarted after a crash or timeout). Outputs are "
        "compared as `onnx.backend.test.BackendTest` does "
        "(`Runner.assert_similar_outputs`: same count, shape and dtype, values within the "
        "case's rtol/atol, default rtol 1e-3, atol 1e-7). *unsupported*: the importer reports "
        "an operator, attribute or data type it does not handle; *error*: rejected by a check, "
        "failed at run time, crashed or timed out; *fail*: wrong numbers, shape or dtype.",
        "",
        "The **light** suite is BackendTest's \"real\" kind: the CNNs in "
        "`onnx/backend/test/data/light`. Those files do not store their large weights (each is "
        "a `ConstantOfShape` filling it with 0.02, so the shipped outputs are a uniform 0.001 "
        "per class and test nearly nothing). The runner substitutes seeded random weights "
        "(He-scaled for rank >= 2, U(0.5, 1.5) for vectors), scales the classifier so the "
        "logits have standard deviation 3 (otherwise the softmax saturates to one-hot), and "
        "compares with **onnxruntime** run on the same model and BackendTest's dummy inputs, at "
        "the case's rtol and atol = max(case atol, 1e-6 x max|expected|): float32 sums taken in "
        "another order differ by more than atol 1e-7 on logits near zero.",
        "",
        "## Totals",
        "",
        "| suite | total | pass | fail | unsupported | error | of which out of scope |"
        + (" tvm pass | tvm fail | tvm unsupported | tvm error |" if ctot else ""),
        "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" * 4 if ctot else ""),
    ]
    keys = ("total", "pass", "fail", "unsupported", "error", "out_of_scope")
    ckeys = ("pass", "fail", "unsupported", "error")
    for s, t in tot.items():
        extra = "".join(f" {ctot[s][k]} |" for k in ckeys) if ctot else ""
        lines.append(f"| {s} | {t['total']} | {t['pass']} | {t['fail']} | {t['unsupported']} | "
                     f"{t['error']} | {t['out_of_scope']} |{extra}")
    grand = {k: sum(t[k] for t in tot.values()) for k in keys}
    extra = "".join(f" {sum(t[k] for t in ctot.values())} |" for k in ckeys) if ctot else ""
    lines.append(f"| **all** | {grand['total']} | {grand['pass']} | {grand['fail']} | "
                 f"{grand['unsupported']} | {grand['error']} | {grand['out_of_scope']} |{extra}")

    if compiled is not None:
        gap = [c for c in cases if results[c.key]["status"] == "pass"
               and compiled[c.key]["status"] != "pass"]
        lines += ["", "## Passing interpreted, not compiled", "",
                  f"{len(gap)} case(s) that the interpreter passes and the TVM path does not, "
                  "each with the compiled path's reason.", ""]
        if gap:
            lines += ["| case | tvm status | reason |", "|---|---|---|"]
            for c in gap:
                r = compiled[c.key]
                why = str(r.get("message") or r.get("reason") or "")[:300]
                lines.append(f"| {c.suite}/{c.name} | {r['status']} | {_cell(why)} |")

    scoped = [c for c in cases if c.scope is not None]
    lines += ["", "## Out of scope", "",
              "mlir-lite's IR has tensors of numbers only. These cases need strings, sequence, "
              "map or optional values, or training-only operators; they are run anyway and "
              "count in every denominator above.", "",
              "| reason | cases | passing | ops |", "|---|---:|---:|---|"]
    by_reason: Dict[str, List[Case]] = defaultdict(list)
    for c in scoped:
        by_reason[c.scope or ""].append(c)
    for reason, cs in sorted(by_reason.items()):
        ops = sorted({c.op for c in cs})
        npass = sum(results[c.key]["status"] == "pass" for c in cs)
        lines.append(f"| {reason} | {len(cs)} | {npass} | {_cell(', '.join(ops))} |")

    node = [c for c in cases if c.suite == "node"]
    if node:
        lines += ["", "## Node suite, per operator", "",
                  "Cases include the `_expanded` variants (the op's function body), counted "
                  "under the op they expand. Reasons: the most frequent, with counts.", "",
                  "| op | cases | pass | fail | unsupported | error | reasons |"
                  + (" tvm pass | tvm reasons |" if compiled is not None else ""),
                  "|---|---:|---:|---:|---:|---:|---|" + ("---:|---|" if compiled is not None
                                                         else "")]
        by_op: Dict[str, List[Case]] = defaultdict(list)
        for c in node:
            by_op[c.op].append(c)
        for op, cs in sorted(by_op.items(), key=lambda kv: kv[0].lower()):
            rs = [results[c.key] for c in cs]
            n = Counter(r["status"] for r in rs)
            scope = " (out of scope)" if all(c.scope for c in cs) else ""
            extra = ""
            if compiled is not None:
                crs = [compiled[c.key] for c in cs]
                cpass = sum(r["status"] == "pass" for r in crs)
                extra = f" {cpass} | {_reasons(crs, limit=2)} |"
            lines.append(f"| {_cell(op)}{scope} | {len(cs)} | {n['pass']} | {n['fail']} | "
                         f"{n['unsupported']} | {n['error']} | {_reasons(rs)} |{extra}")

    others = [c for c in cases if c.suite != "node"]
    if others:
        lines += ["", "## Model suites, cases not passing", "",
                  "| suite | case | status | reason |", "|---|---|---|---|"]
        for c in others:
            r = results[c.key]
            if r["status"] != "pass":
                scope = f" (out of scope: {c.scope})" if c.scope else ""
                lines.append(f"| {c.suite} | {c.name}{scope} | {r['status']} | "
                             f"{_cell(r.get('reason', ''))} |")
    return "\n".join(lines) + "\n"
