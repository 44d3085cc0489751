"""Property: every pass (and the default pipeline) preserves interpreter results."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.registry import run_pipeline

from .ir_strategies import modules, random_inputs

PIPELINES = ["canonicalize", "fold-constants", "cse", "dce", "shape-inference",
             "canonicalize,fold-constants,cse,dce,shape-inference"]


@pytest.mark.parametrize("pipeline", PIPELINES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=modules(), seed=st.integers(0, 2**16))
def test_pass_preserves_results(pipeline: str, m, seed: int) -> None:  # noqa: ANN001
    inputs = random_inputs(m, seed)
    before = run(m, *inputs)
    work = parse_module(print_module(m))
    run_pipeline(work, pipeline)  # verifies after each pass
    verify(work)
    after = run(work, *inputs)
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert b.dtype == a.dtype and b.shape == a.shape
        # x + 0 -> x may change the sign of a zero; everything else must agree to float rounding
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
