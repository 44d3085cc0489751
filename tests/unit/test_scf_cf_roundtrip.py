"""scf -> cf (interpreted with dead tensors and frames) and scf -> cf -> scf preserve results on
random nested programs and inputs; the oracle is numpy (tests/unit/_scf_programs.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes import run_pipeline

from ._scf_programs import build, numpy_eval, programs

vec = st.lists(st.floats(-2, 2, width=32), min_size=4, max_size=4).map(
    lambda v: np.array(v, np.float32))


def _ops(m) -> set:
    return {o.name for o in m.walk()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs, s=vec, x=vec, p=st.booleans(), n=st.integers(0, 3))
def test_round_trips_match_numpy(prog, s, x, p, n):
    ref = numpy_eval(prog, s, x, p, n)
    m = build(prog)
    verify(m)
    np.testing.assert_allclose(run(m, s, x, np.array(p), np.int64(n))[0], ref, rtol=1e-5,
                               atol=1e-5)
    run_pipeline(m, "scf-to-cf")
    assert not _ops(m) & {"scf.if", "scf.for", "scf.while"}
    m = parse_module(print_module(m))   # the dataflow form survives the text round trip
    np.testing.assert_allclose(run(m, s, x, np.array(p), np.int64(n))[0], ref, rtol=1e-5,
                               atol=1e-5)
    run_pipeline(m, "cf-to-scf")
    assert not any(name.startswith("cf.") for name in _ops(m)), print_module(m)
    np.testing.assert_allclose(run(m, s, x, np.array(p), np.int64(n))[0], ref, rtol=1e-5,
                               atol=1e-5)
