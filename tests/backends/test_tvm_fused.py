"""Fused kernels: every `ml.fused` group compiles to ONE kernel (PrimFunc), and modules
compiled at -O2 (fold-batchnorm + fuse) match the interpreter on the unfused module
(rtol 1e-3, atol 1e-4 on the golden models; rtol 1e-4, atol 1e-5 on random fused DAGs), with
fewer kernel calls than at -O1."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlir_lite.backends.tvm.build import compile_function
from mlir_lite.driver import compile
from mlir_lite.frontends.onnx import import_onnx
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.passes.registry import run_pipeline
from mlir_lite.runtime.plan import count_kernel_calls
from tests.golden.models import MODELS, SLOW, inputs_for
from tests.unit.test_fusion_property import dags

FAST = [n for n in MODELS if n not in SLOW]


@pytest.mark.parametrize("name", FAST)
def test_golden_model_at_o2_matches_interpreter(name: str) -> None:
    model = MODELS[name]()
    feed = inputs_for(model, batch=1, seed=3)
    ref_module = import_onnx(model)
    _compiled = compile(model, opt_level=1)
    fn1, info = _compiled.executable, _compiled.info
    fn2 = compile(model, opt_level=2).executable
    args = [feed[k] for k in info.input_names]
    want = run(ref_module, *args)
    got = fn2(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4, err_msg=name)
    fused = [k for k in fn2.kernels if k.op == "ml.fused"]
    if name != "lstm":  # the LSTM is decomposed after fusion: nothing to fuse at this level
        assert fused, f"{name}: no fused kernel at -O2"
        assert count_kernel_calls(fn2.plan.steps) < count_kernel_calls(fn1.plan.steps)


def test_matmul_epilogue_runs_in_the_tile() -> None:
    """The bias + activation of a fused matmul are computed in the matmul's tile write-back,
    not in a loop nest of their own."""
    fn = compile(MODELS["mlp"](), opt_level=2).executable
    fused = [k for k in fn.kernels if k.op == "ml.fused"]
    assert fused and all(k.kind == "matmul" for k in fused)
    for k in fused:
        assert any(s.endswith(":into-tile") for s in k.schedule), k.schedule
        assert not any(s.startswith("fallback") for s in k.schedule), k.schedule


def test_one_prim_func_per_fused_group() -> None:
    model = MODELS["small_cnn"]()
    module = import_onnx(model)
    run_pipeline(module, "canonicalize,fold-constants,fold-batchnorm,cse,dce,shape-inference,"
                         "fuse")
    groups = sum(1 for op in module.walk() if op.name == "ml.fused")
    fn = compile_function(module)
    assert groups >= 2
    assert sum(1 for k in fn.kernels if k.op == "ml.fused") == groups
    # one PrimFunc per kernel, beside the single-threaded variants of kernels with a symbolic
    # batch (called for small batches)
    names = [g.name_hint for g in fn.ir_module.functions]
    main = [n for n in names if not n.endswith("_serial")]
    assert len(main) == len(fn.kernels)
    assert {n[:-len("_serial")] for n in names if n.endswith("_serial")} <= set(main)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(m=dags(), seed=st.integers(0, 2**16),
       opts=st.sampled_from(["", "max-ops=3", "wrap-single=true"]))
def test_random_fused_modules_match_interpreter(m, seed: int, opts: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    ins = [rng.standard_normal((4, 4)).astype(np.float32) * 0.5 for _ in range(2)]
    want = run(m, *ins)
    work = parse_module(print_module(m))
    run_pipeline(work, f"fuse{{{opts}}}" if opts else "fuse")
    got = compile_function(work)(*ins)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
