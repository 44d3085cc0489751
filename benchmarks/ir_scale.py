"""How the IR core scales: parse, print, verify and canonicalize+cse on a 100,000-op module.

    python benchmarks/ir_scale.py [--ops N] [--json]

The module is a realistic mix: a long chain of elementwise ops with symbolic batch dims,
constants (some duplicated, so CSE has work), reshapes and reductions where the dialect has them.
Targets on the 2-core reference machine: parse <= 5 s, print <= 3 s, verify <= 3 s,
canonicalize+cse <= 10 s.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import mlir_lite as ml
from mlir_lite.ir.attributes import DenseAttr, NameLoc
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify


def build_module(n_ops: int) -> ml.ModuleOp:
    """A module of about `n_ops` ops in functions of 1,000 ops each."""
    m = ml.ModuleOp.empty()
    t = ml.types.tensor(["N", 64], "f32")
    per_func = 1000
    consts = [DenseAttr(np.full((64,), float(k), dtype=np.float32)) for k in range(4)]
    unary = [n for n in ("ml.relu", "ml.exp", "ml.neg", "ml.tanh", "ml.sigmoid")
             if n in OP_REGISTRY]
    binary = [n for n in ("ml.add", "ml.mul", "ml.sub", "ml.max") if n in OP_REGISTRY]
    made = 0
    fi = 0
    while made < n_ops:
        f = FuncOp.make(f"f{fi}", [t, t], [t], ["x", "y"])
        m.append(f)
        b = Builder.at_end(f.entry_block)
        cur, other = f.args
        k = 0
        while k < per_func - 1 and made + k < n_ops - 1:
            r = k % 10
            if r == 0:
                c = b.op("ml.constant", value=consts[k % 4])
                cur = b.op(binary[k % len(binary)], cur, c, loc=NameLoc(f"n{k}"))
                k += 2
                continue
            if r < 6:
                cur = b.op(unary[k % len(unary)], cur)
            else:
                cur = b.op(binary[k % len(binary)], cur, other)
            k += 1
        b.op("func.return", cur)
        made += k + 2
        fi += 1
    return m


def _time(fn, *args):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    module, build_s = _time(build_module, args.ops)
    n = sum(1 for _ in module.walk())
    text, print_s = _time(print_module, module)
    parsed, parse_s = _time(parse_module, text)
    _, verify_s = _time(verify, parsed)
    result = {"ops": n, "parse_s": round(parse_s, 3), "print_s": round(print_s, 3),
              "verify_s": round(verify_s, 3), "build_s": round(build_s, 3),
              "text_bytes": len(text)}
    try:
        from mlir_lite.passes.registry import run_pipeline
    except ImportError:
        result["canonicalize_cse_s"] = None
    else:
        _, cc_s = _time(run_pipeline, parsed, "canonicalize,cse")
        result["canonicalize_cse_s"] = round(cc_s, 3)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>20}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
