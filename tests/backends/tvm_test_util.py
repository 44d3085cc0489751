"""Helpers for the TVM backend tests: many independent ops in one function, so that one
compile (one IRModule) covers them all, and a comparison against the reference interpreter."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from mlir_lite import FuncOp, ModuleOp
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import TensorType, element_type_from_numpy

Case = Tuple[str, Sequence[np.ndarray], Dict[str, Any]]

RTOL, ATOL = 1e-4, 1e-5  # f32 against the numpy interpreter


def ttype(a: np.ndarray, symbolic: Dict[int, str] | None = None) -> TensorType:
    shape = tuple((symbolic or {}).get(i, d) for i, d in enumerate(a.shape))
    return TensorType(element_type_from_numpy(a.dtype), shape)


def multi_op_module(cases: Sequence[Case]) -> Tuple[ModuleOp, List[np.ndarray], List[str]]:
    """@main applying each case's op to its own arguments; returns the module, the flat
    argument list and one label per result."""
    args = [a for _, ins, _ in cases for a in ins]
    f = FuncOp.make("main", [ttype(a) for a in args], [])
    b = Builder.at_end(f.entry_block)
    pos, results, labels = 0, [], []
    for n, (name, ins, attrs) in enumerate(cases):
        vals = f.args[pos:pos + len(ins)]
        pos += len(ins)
        op = b.create(name, list(vals), dict(attrs))
        results.extend(op.results)
        labels.extend(f"#{n} {name} {attrs}" + (f" result {i}" if len(op.results) > 1 else "")
                      for i in range(len(op.results)))
    b.op("func.return", *results)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m, args, labels


def check_against_interpreter(compiled: Any, module: ModuleOp, args: Sequence[np.ndarray],
                              labels: Sequence[str], rtol: float = RTOL,
                              atol: float = ATOL) -> None:
    got = compiled(*args)
    want = run(module, *args)
    assert len(got) == len(want)
    bad = []
    for g, w, lab in zip(got, want, labels):
        if g.shape != w.shape or g.dtype != w.dtype:
            bad.append(f"{lab}: got {g.dtype}{g.shape}, want {w.dtype}{w.shape}")
        elif w.dtype.kind == "f":
            if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
                err = np.nanmax(np.abs(g.astype(np.float64) - w))
                bad.append(f"{lab}: max abs error {err}")
        elif not np.array_equal(g, w):
            bad.append(f"{lab}: values differ ({int((g != w).sum())} of {w.size})")
    assert not bad, "\n".join(bad)
