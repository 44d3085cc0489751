"""`mlir_lite.jit`: guard-check overhead per call, and a jitted MLP training step vs eager.

    python benchmarks/jit.py [--json] [--steps N]

* guard check: `JitFunction.guard_check(args)` alone (flatten the arguments, find the entry
  whose guards pass), for static and for symbolic shapes; target <= 10 us per call.
* dispatch: a full call of a jitted function minus a direct call of its compiled piece (guards,
  replay bookkeeping and wrapping the result).
* MLP step: one SGD step of a 2-layer MLP (forward, softmax cross-entropy, hand-written
  backward, update; weights in and out) run eagerly and through `@mlir_lite.jit` with the
  interpreter executor; the ratio is eager time / jit time, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable, Dict, List

import numpy as np

import mlir_lite
from mlir_lite.dsl import eager as F


def _per_call(fn: Callable[[], Any], n: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def mlp_step(x: Any, y: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    """x: (B, D), y: one-hot (B, C). Returns the loss and the updated weights."""
    lr = 0.1
    h_pre = x @ w1 + b1
    h = h_pre.relu()
    logits = h @ w2 + b2
    p = logits.softmax(-1)
    n = float(x.shape[0])
    loss = -(y * logits.log_softmax(-1)).sum() / n
    g_logits = (p - y) / n
    g_w2 = h.T @ g_logits
    g_b2 = g_logits.sum(0)
    g_h = g_logits @ w2.T
    g_pre = g_h * (h_pre > 0.0).float()
    g_w1 = x.T @ g_pre
    g_b1 = g_pre.sum(0)
    return loss, w1 - lr * g_w1, b1 - lr * g_b1, w2 - lr * g_w2, b2 - lr * g_b2


def run(steps: int) -> Dict[str, Any]:
    rng = np.random.default_rng(0)
    out: Dict[str, Any] = {}

    @mlir_lite.jit
    def small(x: Any, w: Any) -> Any:
        return (x @ w).relu()

    x, w = F.tensor(rng.standard_normal((8, 16))), F.tensor(rng.standard_normal((16, 4)))
    small(x, w)
    entry = small.guard_check(x, w)
    assert entry is not None
    out["guard_check_static_us"] = _per_call(lambda: small.guard_check(x, w), 20000) * 1e6
    arrays = [x.data, w.data]
    direct = _per_call(lambda: entry.root.fn(*arrays), 5000)
    full = _per_call(lambda: small(x, w), 5000)
    out["dispatch_overhead_us"] = (full - direct) * 1e6
    out["compiled_piece_call_us"] = direct * 1e6
    for n in (3, 5, 9):  # make the batch dim symbolic
        small(F.tensor(rng.standard_normal((n, 16))), w)
    xd = F.tensor(rng.standard_normal((11, 16)))
    assert small.guard_check(xd, w) is not None and small.compiles == 2
    out["guard_check_symbolic_us"] = _per_call(lambda: small.guard_check(xd, w), 20000) * 1e6

    for name, (b, d, hdim, c) in {"mlp_small": (32, 64, 64, 10),
                                  "mlp_mnist": (128, 784, 128, 10)}.items():
        xs = F.tensor(rng.standard_normal((b, d)) * 0.5)
        ys = F.tensor(np.eye(c)[rng.integers(0, c, b)])
        params = [F.tensor(rng.standard_normal((d, hdim)) * 0.05), F.zeros(hdim),
                  F.tensor(rng.standard_normal((hdim, c)) * 0.05), F.zeros(c)]
        jitted = mlir_lite.jit(mlp_step)
        ref = mlp_step(xs, ys, *params)
        got = jitted(xs, ys, *params)
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g.data, r.data, rtol=1e-4, atol=1e-5)

        def loop(fn: Callable[..., Any], xs: Any = xs, ys: Any = ys,
                 params: List[Any] = params) -> Callable[[], None]:
            def go() -> None:
                ps = params
                for _ in range(steps):
                    _, *ps = fn(xs, ys, *ps)
            return go
        t_eager = _per_call(loop(mlp_step), 1) / steps
        t_jit = _per_call(loop(jitted), 1) / steps
        out[name] = {"batch": b, "in": d, "hidden": hdim, "classes": c,
                     "eager_ms_per_step": t_eager * 1e3, "jit_ms_per_step": t_jit * 1e3,
                     "speedup": t_eager / t_jit, "compilations": jitted.compiles}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    res = run(args.steps)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"guard check (static shapes):   {res['guard_check_static_us']:.2f} us  (target <= 10)")
    print(f"guard check (symbolic shapes): {res['guard_check_symbolic_us']:.2f} us")
    print(f"dispatch overhead per call:    {res['dispatch_overhead_us']:.2f} us "
          f"(compiled piece itself: {res['compiled_piece_call_us']:.1f} us)")
    for k in ("mlp_small", "mlp_mnist"):
        r = res[k]
        print(f"{k} (B={r['batch']}, {r['in']}-{r['hidden']}-{r['classes']}): eager "
              f"{r['eager_ms_per_step']:.3f} ms/step, jit {r['jit_ms_per_step']:.3f} ms/step, "
              f"speedup x{r['speedup']:.2f}")


if __name__ == "__main__":
    main()
