"""The TVM CPU backend against the reference interpreter (rtol 1e-4, atol 1e-5 for f32; exact
for integers and booleans). Each test puts many ops into one function, so one compile covers
them (TVM compiles cost 20-130 ms per kernel)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")

from tvm_test_util import check_against_interpreter, multi_op_module  # noqa: E402

from mlir_lite import DenseAttr, FuncOp, ModuleOp  # noqa: E402
from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.errors import CompileError, ExecutionError  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.ir.types import f32, i32, tensor  # noqa: E402

R = np.random.default_rng(0)


def rnd(*shape: int, lo: float = -2.0, hi: float = 2.0, dtype=np.float32) -> np.ndarray:
    return R.uniform(lo, hi, shape).astype(dtype)


def ints(*shape: int, lo: int = -9, hi: int = 10, dtype=np.int32) -> np.ndarray:
    return R.integers(lo, hi, shape).astype(dtype)


def compile_and_check(cases, **tol) -> None:
    m, args, labels = multi_op_module(cases)
    check_against_interpreter(compile_function(m), m, args, labels, **tol)


def test_unary_and_activations():
    x = rnd(4, 33)
    pos = rnd(4, 33, lo=0.1, hi=3.0)
    unit = rnd(4, 33, lo=-0.9, hi=0.9)
    cases = [(f"ml.{n}", [x], {}) for n in (
        "exp", "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh", "asinh", "sigmoid", "erf",
        "floor", "ceil", "softplus", "softsign", "hard_swish", "mish", "neg", "abs", "sign",
        "relu", "leaky_relu", "elu", "celu", "selu", "hard_sigmoid", "thresholded_relu")]
    cases += [(f"ml.{n}", [pos], {}) for n in ("log", "log1p", "sqrt", "rsqrt", "reciprocal")]
    cases += [(f"ml.{n}", [unit], {}) for n in ("asin", "acos", "atanh")]
    cases += [("ml.acosh", [pos + 1.0], {}), ("ml.gelu", [x], {}),
              ("ml.gelu", [x], {"approximate": "tanh"}), ("ml.leaky_relu", [x], {"alpha": 0.2}),
              ("ml.round", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 2.51], np.float32)], {}),
              ("ml.isnan", [np.array([0.0, np.nan, np.inf], np.float32)], {}),
              ("ml.isinf", [np.array([0.0, np.nan, np.inf, -np.inf], np.float32)], {}),
              ("ml.isinf", [np.array([1.0, np.inf, -np.inf], np.float32)],
               {"detect_negative": False}),
              ("ml.neg", [ints(5)], {}), ("ml.abs", [ints(5)], {}), ("ml.sign", [ints(7)], {}),
              ("ml.not", [R.random(6) > 0.5], {}), ("ml.not", [ints(6)], {})]
    compile_and_check(cases)


def test_log1p_keeps_small_arguments_exact():
    """log(1 + x) in float32 is 0 for |x| < 6e-8 and off by up to ~50% near 1e-7; the compiled
    log1p (libm's, not log(1 + x) with the rounding of 1 + x) stays within float32 rounding of
    float64's log1p (rtol 2e-7)."""
    x = np.array([-0.5, -1e-6, -3e-8, 1e-7, 3e-5, 0.1, 1.0, 10.0, 1e4, 0.0], np.float32)
    m, args, labels = multi_op_module([("ml.log1p", [x], {})])
    got = compile_function(m)(*args)[0]
    np.testing.assert_allclose(got, np.log1p(x.astype(np.float64)), rtol=2e-7, atol=0)


def test_binary_broadcast_and_friends():
    a, b = rnd(3, 1, 5), rnd(4, 1)
    bpos = rnd(4, 1, lo=0.5, hi=2.0)
    ia, ib = ints(3, 4), ints(4, lo=1, hi=5) * np.array([1, -1, 1, -1], np.int32)
    cases = [(f"ml.{n}", [a, b], {}) for n in ("add", "sub", "mul", "div", "equal", "less",
                                                "less_equal", "greater", "greater_equal")]
    cases += [("ml.pow", [rnd(3, 4, lo=0.1, hi=2.0), rnd(4)], {}),
              ("ml.div", [ia, ib], {}), ("ml.mod", [ia, ib], {}),
              ("ml.mod", [ia, ib], {"fmod": True}), ("ml.mod", [a, bpos], {"fmod": True}),
              ("ml.add", [ia, ib], {}), ("ml.mul", [ia, ib], {}),
              ("ml.bitwise_and", [ia, ib], {}), ("ml.bitwise_xor", [ia, ib], {}),
              ("ml.bit_shift", [ints(4, lo=0, hi=50), ints(4, lo=0, hi=4)],
               {"direction": "LEFT"}),
              ("ml.logical_and", [R.random((2, 3)) > 0.5, R.random(3) > 0.5], {}),
              ("ml.logical_xor", [R.random((2, 3)) > 0.5, R.random(3) > 0.5], {}),
              ("ml.sum", [a, b, rnd(5)], {}), ("ml.mean", [a, b], {}), ("ml.max", [a, b], {}),
              ("ml.min", [a, b, rnd(1)], {}),
              ("ml.where", [R.random((4, 5)) > 0.5, rnd(4, 1), rnd(5)], {}),
              ("ml.clip", [a, np.array(-0.5, np.float32), np.array(0.7, np.float32)], {}),
              ("ml.clip", [ia, np.array(-3, np.int32)], {}),
              ("ml.prelu", [rnd(2, 3, 4), rnd(3, 1)], {}),
              ("ml.cast", [rnd(9, lo=-5, hi=5)], {"to": i32}),
              ("ml.cast", [ints(5, dtype=np.int64)], {"to": f32}),
              ("ml.cast", [np.array([0.0, 2.0, -0.0, 0.5], np.float32)],
               {"to": __import__("mlir_lite").i1}),
              ("ml.cast", [R.random(4) > 0.5], {"to": f32})]
    compile_and_check(cases)


def test_matmul_and_gemm():
    cases = [("ml.matmul", [rnd(37, 50), rnd(50, 70)], {}),
             ("ml.matmul", [rnd(2, 5, 6), rnd(6, 7)], {}),
             ("ml.matmul", [rnd(2, 1, 5, 6), rnd(3, 6, 4)], {}),
             ("ml.matmul", [rnd(6), rnd(3, 6, 4)], {}),
             ("ml.matmul", [rnd(5, 6), rnd(6)], {}),
             ("ml.matmul", [rnd(64, 96), rnd(96, 64)], {}),
             ("ml.gemm", [rnd(8, 12), rnd(12, 16), rnd(16)], {}),
             ("ml.gemm", [rnd(12, 8), rnd(16, 12), rnd(8, 1)],
              {"trans_a": True, "trans_b": True, "alpha": 0.5, "beta": 2.0}),
             ("ml.gemm", [rnd(32, 64), rnd(96, 64)], {"trans_b": True})]
    compile_and_check(cases, rtol=1e-4, atol=1e-4)


def test_conv_pool_norm_softmax():
    x = rnd(2, 4, 9, 11)
    cases = [("ml.conv", [x, rnd(6, 4, 3, 3), rnd(6)], {"pads": (1, 1, 1, 1)}),
             ("ml.conv", [x, rnd(8, 2, 3, 2)], {"strides": (2, 1), "pads": (1, 0, 2, 1),
                                                "dilations": (1, 2), "group": 2}),
             ("ml.conv", [x, rnd(4, 1, 3, 3), rnd(4)], {"pads": (1, 1, 1, 1), "group": 4}),
             ("ml.conv", [rnd(1, 16, 14, 14), rnd(32, 16, 1, 1)], {}),
             ("ml.conv", [rnd(1, 3, 10), rnd(5, 3, 3)], {"pads": (1, 1)}),
             ("ml.max_pool", [x], {"kernel_shape": (3, 3), "strides": (2, 2),
                                   "pads": (1, 1, 1, 1)}),
             ("ml.max_pool", [x], {"kernel_shape": (2, 2), "strides": (2, 2),
                                   "ceil_mode": True}),
             ("ml.avg_pool", [x], {"kernel_shape": (3, 3), "strides": (2, 2),
                                   "pads": (1, 1, 1, 1)}),
             ("ml.avg_pool", [x], {"kernel_shape": (3, 2), "pads": (1, 0, 1, 1),
                                   "count_include_pad": True}),
             ("ml.avg_pool", [x], {"kernel_shape": (2, 2), "strides": (2, 2),
                                   "ceil_mode": True}),
             ("ml.global_avg_pool", [x], {}), ("ml.global_max_pool", [x], {}),
             ("ml.batch_norm", [x, rnd(4), rnd(4), rnd(4), rnd(4, lo=0.5, hi=2)], {}),
             ("ml.layer_norm", [rnd(3, 5, 8), rnd(8), rnd(8)], {}),
             ("ml.layer_norm", [rnd(3, 5, 8), rnd(5, 8)], {"axis": 1, "epsilon": 1e-3}),
             ("ml.rms_norm", [rnd(3, 8), rnd(8)], {}),
             ("ml.instance_norm", [x, rnd(4), rnd(4)], {}),
             ("ml.group_norm", [x, rnd(4), rnd(4)], {"num_groups": 2}),
             ("ml.softmax", [rnd(3, 7)], {}), ("ml.softmax", [rnd(3, 7, 2)], {"axis": 1}),
             ("ml.log_softmax", [rnd(3, 7)], {"axis": -1})]
    compile_and_check(cases, rtol=1e-4, atol=5e-5)


def test_reductions():
    x = rnd(3, 4, 5, lo=0.1, hi=2.0)
    cases = [(f"ml.{n}", [x], {"axes": (1,), "keepdims": k})
             for n in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                       "reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp",
                       "reduce_sum_square") for k in (True, False)]
    cases += [("ml.reduce_sum", [x], {}), ("ml.reduce_max", [x], {"axes": (0, 2)}),
              ("ml.reduce_sum", [x], {"axes": (), "noop_with_empty_axes": True}),
              ("ml.reduce_sum", [ints(3, 4)], {"axes": (-1,), "keepdims": False}),
              ("ml.argmax", [rnd(3, 6)], {"axis": 1}),
              ("ml.argmin", [rnd(3, 6)], {"axis": 0, "keepdims": False}),
              ("ml.argmax", [np.array([[1, 3, 3, 0]], np.float32)],
               {"axis": 1, "select_last_index": True})]
    compile_and_check(cases)


def test_reduce_any_static_and_run_time_axes():
    """ml.reduce_any (i1 in and out) compiles: TVM's max reducer has no bool identity, so it
    reduces as int8; an empty reduced axis gives false."""
    from tvm_test_util import ttype

    from mlir_lite.ir.types import TensorType, i1, i64
    b = R.random((3, 4, 5)) > 0.85
    cases = [("ml.reduce_any", [b], {"axes": axes, "keepdims": k})
             for axes in ((1,), (0, 2), ()) for k in (True, False)]
    cases += [("ml.reduce_any", [np.zeros((3, 0), bool)], {"axes": (1,)}),
              ("ml.reduce_any", [np.ones((2, 3), bool)], {"axes": (-1,), "keepdims": False})]
    compile_and_check(cases)
    f = FuncOp.make("main", [ttype(b), tensor([1], i64)], [])
    bl = Builder.at_end(f.entry_block)
    # the run-time axes leave the result's dims to the declared type (as an ONNX graph output)
    bl.op("func.return", bl.op("ml.reduce_any_dynamic", f.args[0], f.args[1], keepdims=False,
                               result_types=[TensorType(i1, (3, 5))]))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    check_against_interpreter(compile_function(m), m, [b, np.array([1], np.int64)], ["dyn"])


def test_shape_and_data_movement():
    x = rnd(2, 3, 4)
    cases = [("ml.reshape", [x], {"shape": (0, -1)}), ("ml.flatten", [x], {"axis": 2}),
             ("ml.squeeze", [rnd(2, 1, 3)], {"axes": (1,)}),
             ("ml.unsqueeze", [x], {"axes": (0, 3)}), ("ml.identity", [x], {}),
             ("ml.transpose", [x], {"perm": (2, 0, 1)}), ("ml.transpose", [x], {}),
             ("ml.concat", [x, rnd(2, 1, 4), rnd(2, 2, 4)], {"axis": 1}),
             ("ml.slice", [x], {"starts": (1, -1), "ends": (100, 0), "axes": (2, 1),
                                "steps": (2, -1)}),
             ("ml.slice", [rnd(10)], {"starts": (-3,), "ends": (-100,), "steps": (-2,)}),
             ("ml.pad", [x], {"pads": (0, 1, 2, 0, 1, 0)}),
             ("ml.pad", [x, np.array(7.0, np.float32)], {"pads": (0, 0, 1, 0, 0, 2)}),
             ("ml.pad", [x], {"pads": (0, 0, -1, 0, 0, 2)}),
             ("ml.pad", [x], {"pads": (0, 2, 3, 0, 1, 2), "mode": "reflect"}),
             ("ml.pad", [x], {"pads": (1, 2, 3, 1, 1, 2), "mode": "edge"}),
             ("ml.pad", [x], {"pads": (0, 2, 3, 0, 1, 5), "mode": "wrap"}),
             ("ml.expand", [rnd(3, 1)], {"shape": (2, 3, 4)}),
             ("ml.tile", [x], {"repeats": (1, 2, 3)}),
             ("ml.split", [rnd(7, 2)], {"axis": 0, "num_outputs": 3}),
             ("ml.split", [rnd(2, 6)], {"axis": 1, "split": (1, 5)}),
             ("ml.gather", [rnd(5, 3), np.array([[0, 4], [-1, 2]], np.int64)], {"axis": 0}),
             ("ml.gather", [rnd(2, 5, 3), np.array(-2, np.int64)], {"axis": 1}),
             ("ml.gather_elements", [rnd(3, 4), np.array([[0, 3], [1, -1], [2, 0]],
                                                         np.int64)], {"axis": 1}),
             ("ml.resize", [rnd(1, 2, 3, 4)], {"scales": (1.0, 1.0, 2.0, 1.5)}),
             ("ml.resize", [rnd(1, 2, 6, 4)], {"sizes": (1, 2, 3, 7),
                                                "coordinate_transformation_mode": "asymmetric",
                                                "nearest_mode": "floor"}),
             ("ml.resize", [rnd(1, 1, 4, 5)], {"sizes": (1, 1, 7, 3),
                                                "coordinate_transformation_mode": "align_corners",
                                                "nearest_mode": "round_prefer_ceil"}),
             ("ml.resize", [rnd(1, 1, 4, 5)], {"scales": (1.0, 1.0, 0.5, 1.7),
                                                "coordinate_transformation_mode":
                                                    "pytorch_half_pixel",
                                                "nearest_mode": "ceil"}),
             ("ml.constant_of_shape", [], {"shape": (2, 3),
                                           "value": DenseAttr(np.array([3], np.int64))}),
             ("ml.shape", [x], {"start": 1}), ("ml.size", [x], {})]
    compile_and_check(cases)


def test_gather_out_of_range_is_reported_not_clamped():
    m, args, _ = multi_op_module([("ml.gather", [rnd(5, 3), np.array([0, 1], np.int64)],
                                   {"axis": 0})])
    cf = compile_function(m)
    data = args[0]
    np.testing.assert_array_equal(cf(data, np.array([4, -5], np.int64))[0], data[[4, 0]])
    for bad in ([0, 5], [-6, 1]):
        with pytest.raises(ExecutionError, match="out of range"):
            cf(data, np.array(bad, np.int64))


def _mlp_module(hidden: int = 64) -> ModuleOp:
    f = FuncOp.make("main", [tensor(["N", 32])], [])
    b = Builder.at_end(f.entry_block)

    def const(*shape: int) -> object:
        return b.op("ml.constant", value=DenseAttr(rnd(*shape, lo=-0.3, hi=0.3)))
    h = b.op("ml.gemm", f.args[0], const(hidden, 32), const(hidden), trans_b=True)
    h = b.op("ml.relu", h)
    h = b.op("ml.matmul", h, const(hidden, 10))
    h = b.op("ml.add", h, const(10))
    b.op("func.return", b.op("ml.log_softmax", h, axis=1))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m


def test_mlp_symbolic_batch_compiles_once():
    m = _mlp_module()
    cf = compile_function(m)
    assert cf.plan.buffers[cf.plan.inputs[0]].shape == ("N", 32)
    for n in (1, 5, 33):
        x = rnd(n, 32)
        np.testing.assert_allclose(cf(x)[0], run(m, x)[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(ExecutionError, match="dim 1"):
        cf(rnd(3, 31))
    with pytest.raises(ExecutionError, match="dtype"):
        cf(rnd(3, 32).astype(np.float64))


def test_small_cnn_symbolic_batch():
    f = FuncOp.make("main", [tensor(["B", 3, 16, 16])], [])
    b = Builder.at_end(f.entry_block)

    def const(*shape: int, lo: float = -0.3, hi: float = 0.3) -> object:
        return b.op("ml.constant", value=DenseAttr(rnd(*shape, lo=lo, hi=hi)))
    x = b.op("ml.conv", f.args[0], const(8, 3, 3, 3), const(8), pads=(1, 1, 1, 1))
    x = b.op("ml.batch_norm", x, const(8), const(8), const(8), const(8, lo=0.5, hi=1.5))
    x = b.op("ml.relu", x)
    x = b.op("ml.max_pool", x, kernel_shape=(2, 2), strides=(2, 2))
    x = b.op("ml.conv", x, const(16, 8, 3, 3), const(16), pads=(1, 1, 1, 1), strides=(2, 2))
    x = b.op("ml.relu", x)
    x = b.op("ml.global_avg_pool", x)
    x = b.op("ml.flatten", x, axis=1)
    x = b.op("ml.gemm", x, const(10, 16), const(10), trans_b=True)
    b.op("func.return", b.op("ml.softmax", x, axis=1))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    cf = compile_function(m)
    for n in (2, 3):
        x = rnd(n, 3, 16, 16)
        np.testing.assert_allclose(cf(x)[0], run(m, x)[0], rtol=1e-4, atol=1e-5)


def test_every_kernel_is_scheduled_and_big_ones_run_in_parallel():
    f = FuncOp.make("main", [tensor(["N", 256]), tensor([1, 16, 32, 32])], [])
    b = Builder.at_end(f.entry_block)
    w = b.op("ml.constant", value=DenseAttr(rnd(256, 256)))
    k = b.op("ml.constant", value=DenseAttr(rnd(16, 16, 3, 3)))
    y = b.op("ml.tanh", b.op("ml.matmul", f.args[0], w))
    s = b.op("ml.softmax", y, axis=1)
    c = b.op("ml.conv", f.args[1], k, pads=(1, 1, 1, 1))
    b.op("func.return", s, b.op("ml.relu", c))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    cf = compile_function(m)
    assert len(cf.kernels) == 5
    for info in cf.kernels:
        assert info.schedule, info
        assert not any("fallback" in s for s in info.schedule), info
    by_op = {i.op: i for i in cf.kernels}
    assert any(s.startswith("matmul:tile+parallel") for s in by_op["ml.matmul"].schedule)
    assert any(s.startswith("conv:") for s in by_op["ml.conv"].schedule)
    for info in cf.kernels:  # all of these are big (or of symbolic size): parallel loops
        script = cf.ir_module[info.symbol].script()
        assert "T.parallel" in script, info
        if info.op in ("ml.tanh", "ml.relu"):
            assert "T.vectorized" in script, info
    x, img = rnd(40, 256), rnd(1, 16, 32, 32)
    got, want = cf(x, img), run(m, x, img)
    for g, wv in zip(got, want):
        np.testing.assert_allclose(g, wv, rtol=1e-4, atol=1e-4)


def test_unsupported_ops_are_all_listed(monkeypatch):
    # Every ml op has a rule now, so take two away: the error must list both, not the first.
    from mlir_lite.backends.tvm.lower import LOWERING
    monkeypatch.delitem(LOWERING, "ml.lrn")
    monkeypatch.delitem(LOWERING, "ml.hardmax")
    f = FuncOp.make("main", [tensor([4, 4])], [])
    b = Builder.at_end(f.entry_block)
    y = b.op("ml.lrn", b.op("ml.reshape", f.args[0], shape=(1, 4, 2, 2)), size=3)
    z = b.op("ml.hardmax", f.args[0])
    b.op("func.return", y, z)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    with pytest.raises(CompileError) as e:
        compile_function(m)
    assert "ml.lrn" in str(e.value) and "ml.hardmax" in str(e.value)


def test_misaligned_and_strided_inputs_are_copied():
    m, _, _ = multi_op_module([("ml.add", [rnd(64), rnd(64)], {})])
    cf = compile_function(m)
    buf = np.zeros(200, np.float32)
    a = buf[1:65]                      # 4-byte offset from an aligned start: misaligned
    a[:] = rnd(64)
    bb = rnd(128)[::2]                 # strided view
    np.testing.assert_allclose(cf(a, bb)[0], a + bb, rtol=1e-6)


def test_symbolic_dims_broadcast_at_run_time_and_mismatches_are_errors() -> None:
    """Types assume a symbolic dim meeting a static one is 1 or equal to it: the kernel must
    broadcast when it is 1 and refuse anything else (never read out of bounds)."""
    import mlir_lite as ml
    from mlir_lite.backends.tvm.build import compile_function
    from mlir_lite.errors import ExecutionError
    from mlir_lite.ir.builder import Builder
    from mlir_lite.ir.dialects.func import FuncOp
    from mlir_lite.ir.interpreter import run as interpret

    m = ml.ModuleOp.empty()
    f = FuncOp.make("main", [ml.types.tensor(["N"]), ml.types.tensor([4]), ml.types.tensor(["K", 3]),
                             ml.types.tensor([4, 3])], [ml.types.tensor([4]), ml.types.tensor(["K", 4])])
    m.append(f)
    b = Builder.at_end(f.entry_block)
    s = b.op("ml.add", f.args[0], f.args[1])
    t = b.op("ml.transpose", f.args[3], perm=(1, 0))
    mm = b.op("ml.matmul", f.args[2], t)
    b.op("func.return", s, mm)
    compiled = compile_function(m)
    y = np.arange(4, dtype=np.float32)
    a = np.ones((2, 3), np.float32)
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    for x in (np.array([5.0], np.float32), np.arange(4, dtype=np.float32)):
        got = compiled(x, y, a, w)
        want = interpret(m, x, y, a, w)
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-6)
    with pytest.raises(ExecutionError, match="must be 1 or equal to 4"):
        compiled(np.arange(3, dtype=np.float32), y, a, w)
