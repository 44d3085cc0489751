"""Property: fusion preserves interpreter results on random modules (rtol 1e-5, atol 1e-6).

Two generators: the shared random-module strategy (elementwise chains, constants, scf.if) and a
DAG generator here that mixes anchors (matmul), reductions, softmax, injective ops (transpose,
reshape, concat, slice) and an opaque op (topk), so every fusion rule and the cycle check get
exercised. After fusion the module verifies, every group kind is legal, and no group holds two
anchors."""
from __future__ import annotations

from typing import List

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlir_lite as ml
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.dialects.ml.fused import FUSION_KINDS
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.opdef import op_has_trait
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes.fusion import count_kernels
from mlir_lite.passes.registry import run_pipeline

from ..property.ir_strategies import modules, random_inputs

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _check(m: ml.ModuleOp, inputs: List[np.ndarray], pipeline: str) -> ml.ModuleOp:
    before = run(m, *inputs)
    work = parse_module(print_module(m))
    n0 = count_kernels(work)
    run_pipeline(work, pipeline)
    verify(work)
    assert count_kernels(work) <= n0
    for op in work.walk():
        if op.name == "ml.fused":
            assert op.attributes["kind"] in FUSION_KINDS
            body = [o.name for o in op.regions[0].blocks[0].ops]
            assert sum(op_has_trait(n, "FusionAnchor") for n in body) <= 1
    after = run(work, *inputs)
    for b, a in zip(before, after):
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
    return work


@SETTINGS
@given(m=modules(), seed=st.integers(0, 2**16), max_ops=st.sampled_from([1, 2, 64]))
def test_fuse_preserves_results_on_random_modules(m, seed: int, max_ops: int) -> None:  # noqa: ANN001
    _check(m, random_inputs(m, seed), f"fuse{{max-ops={max_ops}}}")


@st.composite
def dags(draw: st.DrawFn) -> ml.ModuleOp:
    """A random DAG over 4x4 f32 tensors with anchors, reductions and injective ops."""
    t = ml.types.tensor((4, 4), "f32")
    m = ml.ModuleOp.empty()
    f = FuncOp.make("main", [t, t], [t])
    m.append(f)
    b = Builder.at_end(f.entry_block)
    pool = list(f.args)
    for _ in range(draw(st.integers(2, 14))):
        x = draw(st.sampled_from(pool))
        y = draw(st.sampled_from(pool))
        k = draw(st.integers(0, 11))
        if k == 0:
            v = b.op("ml.matmul", x, y)
        elif k == 1:
            v = b.op("ml.softmax", x, axis=-1)
        elif k == 2:
            r = b.op("ml.reduce_sum", x, axes=(1,), keepdims=True)
            v = b.op("ml.mul", y, r)
        elif k == 3:
            v = b.op("ml.transpose", x, perm=(1, 0))
        elif k == 4:
            v = b.op("ml.reshape", b.op("ml.reshape", x, shape=(16,)), shape=(4, 4))
        elif k == 5:
            c = b.op("ml.concat", x, y, axis=0)
            v = b.op("ml.slice", c, starts=(2,), ends=(6,), axes=(0,))
        elif k == 6:
            v = b.op("ml.topk", x, k=4)[0]
        elif k == 7:
            v = b.op(draw(st.sampled_from(["ml.add", "ml.sub", "ml.mul", "ml.max"])), x, y)
        else:
            v = b.op(draw(st.sampled_from(["ml.exp", "ml.tanh", "ml.neg", "ml.sigmoid",
                                           "ml.relu"])), x)
        pool.append(v)
    b.op("func.return", pool[-1])
    return m


@SETTINGS
@given(m=dags(), seed=st.integers(0, 2**16),
       opts=st.sampled_from(["", "max-ops=3", "injective=false", "reductions=false",
                             "epilogues=false", "wrap-single=true"]))
def test_fuse_preserves_results_on_random_dags(m, seed: int, opts: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    ins = [rng.standard_normal((4, 4)).astype(np.float32) * 0.5 for _ in range(2)]
    _check(m, ins, f"fuse{{{opts}}}" if opts else "fuse")
