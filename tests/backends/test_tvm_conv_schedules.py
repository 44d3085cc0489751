"""The CPU conv and pool schedules (schedules/conv.py, pool.py): each kind is picked for the
shapes it is meant for, gives the reference interpreter's (numpy) answer on odd shapes
(non-divisible channels and widths, strides, dilation, groups, asymmetric padding, batch 2;
rtol 1e-4, atol 1e-4), and a specialised schedule that fails falls back to the next one and
still computes the right thing."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")

from tvm_test_util import check_against_interpreter, multi_op_module, ttype  # noqa: E402

from mlir_lite import FuncOp, ModuleOp  # noqa: E402
from mlir_lite.backends.tvm import (
    compile_function,  # noqa: E402
    schedules,  # noqa: E402
)
from mlir_lite.backends.tvm.build import cpu_config  # noqa: E402
from mlir_lite.backends.tvm.schedules.conv import conv_plan  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.passes.registry import run_pipeline  # noqa: E402

R = np.random.default_rng(7)
TOL = {"rtol": 1e-4, "atol": 1e-4}


def rnd(*shape: int) -> np.ndarray:
    return R.uniform(-1.0, 1.0, shape).astype(np.float32)


def test_conv_plan_picks_the_kind_by_shape() -> None:
    assert conv_plan(64, 64, 56, 1, 16) == {"kind": "oc-vector", "oc": 32, "owt": 14}
    assert conv_plan(48, 16, 13, 1, 16) == {"kind": "oc-vector", "oc": 16, "owt": 13}
    assert conv_plan(512, 512, 7, 1, 16)["owt"] == 7
    assert conv_plan(136, 1, 28, 136, 16) == {"kind": "depthwise"}
    assert conv_plan(136, 34, 28, 4, 16) == {"kind": "ow-vector"}   # 34 channels per group
    assert conv_plan(20, 3, 28, 1, 16) == {"kind": "ow-vector"}
    assert conv_plan(None, 3, 28, 1, 16) == {"kind": "ow-vector"}
    # a prime width wider than the tile: a predicated tile, not a 1-column one
    assert conv_plan(16, 4, 31, 1, 16)["owt"] == 28


CONV_CASES = [
    # (x shape, w shape, attrs, expected schedule kind with 8 or 16 float32 lanes)
    ((1, 5, 9, 11), (32, 5, 3, 3), {"pads": (1, 1, 1, 1)}, "oc-vector"),
    ((2, 8, 13, 17), (16, 8, 3, 3), {"strides": (2, 2), "dilations": (2, 1),
                                     "pads": (1, 2, 0, 1)}, "oc-vector"),
    ((1, 4, 3, 31), (16, 4, 1, 1), {}, "oc-vector"),
    ((1, 8, 7, 7), (64, 4, 3, 3), {"group": 2, "pads": (1, 1, 1, 1)}, "oc-vector"),
    ((1, 3, 15, 15), (32, 3, 7, 7), {"strides": (2, 2), "pads": (3, 3, 3, 3)}, "oc-vector"),
    ((1, 12, 9, 10), (12, 1, 3, 3), {"group": 12, "strides": (2, 2),
                                     "pads": (1, 1, 1, 1)}, "depthwise"),
    ((2, 6, 11, 19), (12, 1, 3, 3), {"group": 6, "pads": (0, 1, 2, 1),
                                     "dilations": (1, 2)}, "depthwise"),
    ((1, 6, 7, 9), (6, 3, 3, 3), {"group": 2, "pads": (1, 1, 1, 1)}, "ow-vector"),
    ((1, 3, 10, 12), (20, 3, 2, 3), {"strides": (1, 2)}, "ow-vector"),
]


def test_conv_schedules_match_interpreter_on_odd_shapes() -> None:
    cases = []
    for xs, ws, attrs, _ in CONV_CASES:
        cases.append(("ml.conv", [rnd(*xs), rnd(*ws), rnd(ws[0])], attrs))
    m, args, labels = multi_op_module(cases)
    cf = compile_function(m)
    convs = [k for k in cf.kernels if k.kind == "conv"]
    assert len(convs) == len(CONV_CASES)
    lanes = cpu_config(cf.target).lanes("float32")
    for k, (_xs, _ws, _attrs, kind) in zip(convs, CONV_CASES):
        assert not any("fallback" in s for s in k.schedule), k
        if lanes in (8, 16):  # AVX2, AVX-512: the same kinds (4-lane SSE/NEON differ)
            assert any(s.startswith(f"conv:{kind}") for s in k.schedule), (k, kind)
    check_against_interpreter(cf, m, args, labels, **TOL)


def test_fused_conv_bias_relu_epilogue_in_the_tile() -> None:
    x, w, b = rnd(1, 16, 12, 12), rnd(32, 16, 3, 3), rnd(1, 32, 1, 1)
    res = rnd(1, 32, 12, 12)
    f = FuncOp.make("main", [ttype(x), ttype(w), ttype(b), ttype(res)], [])
    bl = Builder.at_end(f.entry_block)
    c = bl.op("ml.conv", f.args[0], f.args[1], pads=(1, 1, 1, 1))
    y = bl.op("ml.relu", bl.op("ml.add", bl.op("ml.add", c, f.args[2]), f.args[3]))
    bl.op("func.return", y)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    want = run(m, x, w, b, res)
    run_pipeline(m, "shape-inference,fuse")
    cf = compile_function(m)
    assert len(cf.kernels) == 1
    assert any(s.startswith("conv:") for s in cf.kernels[0].schedule)
    assert not any("fallback" in s for s in cf.kernels[0].schedule)
    np.testing.assert_allclose(cf(x, w, b, res)[0], want[0], **TOL)


def test_failing_conv_schedule_falls_back_and_stays_correct(monkeypatch) -> None:  # noqa: ANN001
    def broken(s, cfg, hints):  # noqa: ANN001, ANN202
        s.split(s.get_loops(s.get_sblock("conv"))[1], [None, 4])  # half-done, then fails
        raise ValueError("broken on purpose")
    cases = [("ml.conv", [rnd(1, 5, 9, 11), rnd(32, 5, 3, 3), rnd(32)], {"pads": (1, 1, 1, 1)})]
    m, args, labels = multi_op_module(cases)
    monkeypatch.setitem(schedules.CPU_SCHEDULES, "conv", broken)
    cf = compile_function(m)
    sched = cf.kernels[0].schedule
    assert "conv:ow-vector" in sched and any("broken on purpose" in s for s in sched), sched
    check_against_interpreter(cf, m, args, labels, **TOL)
    monkeypatch.setitem(schedules.CPU_SCHEDULES, "conv_direct", broken)
    cf = compile_function(m)
    sched = cf.kernels[0].schedule
    assert "conv:parallel" in sched and "fallback" in sched[-1], sched  # the generic one
    assert "T.parallel" in cf.ir_module[cf.kernels[0].symbol].script()  # generic, scheduled
    check_against_interpreter(cf, m, args, labels, **TOL)


POOL_CASES = [
    ("ml.max_pool", (1, 6, 13, 17), {"kernel_shape": (3, 3), "strides": (2, 2),
                                     "pads": (1, 1, 1, 1)}),
    ("ml.max_pool", (2, 3, 11, 40), {"kernel_shape": (2, 3), "strides": (2, 1),
                                     "dilations": (2, 1), "ceil_mode": True}),
    ("ml.avg_pool", (1, 4, 9, 35), {"kernel_shape": (3, 3), "strides": (2, 2),
                                    "pads": (1, 0, 1, 2), "count_include_pad": False}),
    ("ml.avg_pool", (1, 4, 9, 10), {"kernel_shape": (3, 3), "strides": (1, 1),
                                    "pads": (1, 1, 1, 1), "count_include_pad": True}),
    ("ml.avg_pool", (1, 2, 7, 7), {"kernel_shape": (2, 2), "strides": (2, 2),
                                   "ceil_mode": True}),
    ("ml.avg_pool", (1, 5, 7, 7), {"kernel_shape": (7, 7)}),   # one output column
    ("ml.max_pool", (1, 3, 10), {"kernel_shape": (3,), "pads": (1, 1)}),  # 1-D: generic
]


def test_pool_schedule_matches_interpreter() -> None:
    cases = [(name, [rnd(*shape)], attrs) for name, shape, attrs in POOL_CASES]
    m, args, labels = multi_op_module(cases)
    cf = compile_function(m)
    pools = [k for k in cf.kernels if k.kind == "pool"]
    assert len(pools) == len(POOL_CASES)
    for k, (_, shape, _) in zip(pools, POOL_CASES):
        if len(shape) == 4:
            assert any(s.startswith("pool:rows") for s in k.schedule), k
        else:
            assert "fallback" in k.schedule[-1], k
    check_against_interpreter(cf, m, args, labels, **TOL)


def test_constant_weights_are_packed_at_compile_time_unless_shared() -> None:
    from mlir_lite import DenseAttr
    from mlir_lite.backends.tvm.prepack import pack_oihw
    x = rnd(1, 8, 10, 10)
    w1, w2 = rnd(32, 8, 3, 3), rnd(16, 8, 1, 1)
    f = FuncOp.make("main", [ttype(x)], [])
    bl = Builder.at_end(f.entry_block)
    c1 = bl.op("ml.constant", value=DenseAttr(w1))
    c2 = bl.op("ml.constant", value=DenseAttr(w2))
    y1 = bl.op("ml.conv", f.args[0], c1, pads=(1, 1, 1, 1))      # its only user: packed
    y2 = bl.op("ml.conv", f.args[0], c2)                          # shared below: not packed
    y3 = bl.op("ml.conv", f.args[0], c2, strides=(2, 2))
    bl.op("func.return", y1, y2, y3)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    want = run(m, x)
    cf = compile_function(m)
    scheds = [k.schedule[-1] for k in cf.kernels if k.kind == "conv"]
    if cf.kernels and "oc-vector" in scheds[0]:
        assert scheds[0].endswith("+prepackedW") and scheds[1].endswith("+packW"), scheds
        consts = [a for a in cf.plan.constants.values() if a.ndim == 5]
        assert len(consts) == 1
        # the block is whole SIMD vectors of output channels: 32 with AVX-512, 16 with AVX2
        oc = consts[0].shape[-1]
        lanes = cpu_config(cf.target).lanes("float32")
        assert oc % lanes == 0 and 32 % oc == 0, (oc, lanes)
        np.testing.assert_array_equal(consts[0], np.transpose(
            w1.reshape(32 // oc, oc, 8, 3, 3), (0, 3, 4, 2, 1)))  # [M/oc, KH, KW, C, oc]
        np.testing.assert_array_equal(pack_oihw(w1, oc), consts[0])
    for g, wv in zip(cf(x), want):
        np.testing.assert_allclose(g, wv, **TOL)
