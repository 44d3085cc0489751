"""Helpers for pass tests: parse, run a pipeline, and compare interpreter results before/after."""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.types import TensorType
from mlir_lite.passes import run_pipeline


def random_inputs(module, seed: int = 0, func: str = "main") -> List[np.ndarray]:
    """Random arrays for the arguments of `func` (all dims must be static)."""
    rng = np.random.default_rng(seed)
    out = []
    for a in module[func].args:
        t: TensorType = a.type
        if t.element.is_float:
            out.append(rng.standard_normal(t.shape).astype(t.element.np_dtype))
        elif t.element.name == "i1":
            out.append(rng.integers(0, 2, t.shape).astype(bool))
        else:
            out.append(rng.integers(-5, 6, t.shape).astype(t.element.np_dtype))
    return out


def check_pass_preserves(text: str, pipeline: str, seeds: Sequence[int] = (0, 1, 2),
                         rtol: float = 1e-6, atol: float = 1e-6):
    """Run `pipeline` on `text`; the interpreter's results on random inputs must agree before
    and after (within rtol/atol). Returns the transformed module."""
    before = parse_module(text)
    after = parse_module(text)
    run_pipeline(after, pipeline)
    for seed in seeds:
        ins = random_inputs(before, seed)
        want = run(before, *ins)
        got = run(after, *ins)
        assert len(want) == len(got)
        for w, g in zip(want, got):
            assert w.shape == g.shape and w.dtype == g.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return after


def op_names(module) -> List[str]:
    """Names of the ops inside the functions (module and func.func left out)."""
    return [op.name for op in module.walk() if op.name not in ("builtin.module", "func.func")]
