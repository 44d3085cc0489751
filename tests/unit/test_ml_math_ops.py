"""Elementwise, linear-algebra and reduction `ml` ops: numerics against onnx.reference (or an
independent numpy expression), type inference with symbolic dims, and verifier errors.

Tolerances: float32 rtol 1e-5 / atol 1e-6; transcendental ops rtol 1e-4 / atol 1e-5; matmul-like
accumulations rtol 1e-4.
"""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite import FuncOp
from mlir_lite.errors import InferenceError, MlirLiteError, VerifyError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.types import TensorType, bf16, f32, i1, i32, i64, tensor

from ._ml_oracle import assert_close, build_op, onnx_ref, ort_run, run_op

RNG = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def randi(*shape, lo=-20, hi=20, dtype=np.int32):
    return RNG.integers(lo, hi, shape).astype(dtype)


# -- binary ----------------------------------------------------------------------------------
BINARY = [
    ("ml.add", "Add", {}, "f"), ("ml.sub", "Sub", {}, "f"), ("ml.mul", "Mul", {}, "f"),
    ("ml.div", "Div", {}, "f"), ("ml.div", "Div", {}, "i_nz"), ("ml.add", "Add", {}, "i"),
    ("ml.pow", "Pow", {}, "f_pos"), ("ml.mod", "Mod", {}, "i_nz"),
    ("ml.mod", "Mod", {"fmod": True}, "f"), ("ml.mod", "Mod", {"fmod": True}, "i_nz"),
    ("ml.mod", "Mod", {}, "f"),
    ("ml.bitwise_and", "BitwiseAnd", {}, "i"), ("ml.bitwise_or", "BitwiseOr", {}, "i"),
    ("ml.bitwise_xor", "BitwiseXor", {}, "i"), ("ml.logical_and", "And", {}, "b"),
    ("ml.logical_or", "Or", {}, "b"), ("ml.logical_xor", "Xor", {}, "b"),
    ("ml.equal", "Equal", {}, "i"), ("ml.less", "Less", {}, "f"),
    ("ml.less_equal", "LessOrEqual", {}, "i"), ("ml.greater", "Greater", {}, "f"),
    ("ml.greater_equal", "GreaterOrEqual", {}, "i"),
    ("ml.bit_shift", "BitShift", {"direction": "LEFT"}, "u"),
    ("ml.bit_shift", "BitShift", {"direction": "RIGHT"}, "u"),
]


def _binary_inputs(kind: str):
    sa, sb = (3, 1, 4), (5, 4)
    if kind == "f":
        return randn(*sa), randn(*sb)
    if kind == "f_pos":
        return np.abs(randn(*sa)) + 0.1, randn(*sb)
    if kind == "i":
        return randi(*sa), randi(*sb)
    if kind == "i_nz":
        b = randi(*sb)
        return randi(*sa), np.where(b == 0, 3, b).astype(np.int32)
    if kind == "u":
        return randi(*sa, lo=0, hi=200, dtype=np.uint32), randi(*sb, lo=0, hi=8, dtype=np.uint32)
    return RNG.random(sa) > 0.5, RNG.random(sb) > 0.5


@pytest.mark.parametrize("name,onnx_op,attrs,kind", BINARY,
                         ids=[f"{b[0]}-{b[3]}-{b[2]}" for b in BINARY])
def test_binary_matches_onnx(name, onnx_op, attrs, kind):
    a, b = _binary_inputs(kind)
    got = run_op(name, [a, b], **attrs)[0]
    onnx_attrs = {k: int(v) if isinstance(v, bool) else v for k, v in attrs.items()}
    want = onnx_ref(onnx_op, [a, b], **onnx_attrs)[0]
    assert_close(got, want)


def test_int_div_truncates_toward_zero():
    a = np.array([7, -7, 7, -7], np.int64)
    b = np.array([2, 2, -2, -2], np.int64)
    np.testing.assert_array_equal(run_op("ml.div", [a, b])[0], [3, -3, -3, 3])


@pytest.mark.parametrize("name,onnx_op", [("ml.sum", "Sum"), ("ml.mean", "Mean"),
                                          ("ml.max", "Max"), ("ml.min", "Min")])
def test_variadic_matches_onnx(name, onnx_op):
    xs = [randn(2, 1, 3), randn(4, 3), randn(1)]  # onnx.reference's Mean cannot broadcast
    assert_close(run_op(name, xs)[0], ort_run(onnx_op, xs)[0])
    one = [randn(3, 2)]
    assert_close(run_op(name, one)[0], one[0])


# -- unary -------------------------------------------------------------------------------------
# (ml op, onnx op or None, attrs, input domain, loose tolerance)
UNARY = [
    ("neg", "Neg", {}, "r", False), ("abs", "Abs", {}, "r", False),
    ("exp", "Exp", {}, "r", True), ("log", "Log", {}, "pos", True),
    ("sqrt", "Sqrt", {}, "pos", True), ("reciprocal", "Reciprocal", {}, "pos", False),
    ("sin", "Sin", {}, "r", True), ("cos", "Cos", {}, "r", True), ("tan", "Tan", {}, "r", True),
    ("asin", "Asin", {}, "unit", True), ("acos", "Acos", {}, "unit", True),
    ("atan", "Atan", {}, "r", True), ("sinh", "Sinh", {}, "r", True),
    ("cosh", "Cosh", {}, "r", True), ("tanh", "Tanh", {}, "r", True),
    ("asinh", "Asinh", {}, "r", True), ("acosh", "Acosh", {}, "gt1", True),
    ("atanh", "Atanh", {}, "unit", True), ("sigmoid", "Sigmoid", {}, "r", True),
    ("relu", "Relu", {}, "r", False), ("leaky_relu", "LeakyRelu", {"alpha": 0.2}, "r", False),
    ("elu", "Elu", {"alpha": 0.7}, "r", True), ("celu", "Celu", {"alpha": 1.5}, "r", True),
    ("selu", "Selu", {}, "r", True), ("gelu", "Gelu", {}, "r", True),
    ("gelu", "Gelu", {"approximate": "tanh"}, "r", True), ("erf", "Erf", {}, "r", True),
    ("floor", "Floor", {}, "r", False), ("ceil", "Ceil", {}, "r", False),
    ("round", "Round", {}, "halves", False), ("sign", "Sign", {}, "r", False),
    ("softplus", "Softplus", {}, "r", True), ("softsign", "Softsign", {}, "r", True),
    ("hard_sigmoid", "HardSigmoid", {"alpha": 0.3, "beta": 0.4}, "r", False),
    ("hard_swish", "HardSwish", {}, "r", True), ("mish", "Mish", {}, "r", True),
    ("thresholded_relu", "ThresholdedRelu", {"alpha": 0.5}, "r", False),
    ("identity", "Identity", {}, "r", False), ("isnan", "IsNaN", {}, "special", False),
    ("isinf", "IsInf", {}, "special", False),
    ("isinf", "IsInf", {"detect_negative": False}, "special", False),
]


def _unary_input(domain: str) -> np.ndarray:
    x = randn(3, 4, 5) * 2
    if domain == "pos":
        return np.abs(x) + 0.05
    if domain == "unit":
        return np.tanh(x).astype(np.float32) * 0.95
    if domain == "gt1":
        return np.abs(x) + 1.05
    if domain == "halves":
        return (np.round(x * 2) / 2).astype(np.float32)
    if domain == "special":
        x.ravel()[:4] = [np.nan, np.inf, -np.inf, 0.0]
    return x


@pytest.mark.parametrize("name,onnx_op,attrs,domain,loose", UNARY,
                         ids=[f"{u[0]}{u[2] or ''}" for u in UNARY])
def test_unary_matches_onnx(name, onnx_op, attrs, domain, loose):
    x = _unary_input(domain)
    got = run_op(f"ml.{name}", [x], **attrs)[0]
    onnx_attrs = {k: int(v) if isinstance(v, bool) else v for k, v in attrs.items()}
    want = onnx_ref(onnx_op, [x], **onnx_attrs)[0]
    assert_close(got, want, *((1e-4, 1e-5) if loose else (1e-5, 1e-6)))


def test_unary_numpy_oracles():
    x = np.abs(randn(4, 5)) + 0.1
    assert_close(run_op("ml.rsqrt", [x])[0], 1.0 / np.sqrt(x.astype(np.float64)), 1e-5)
    tiny = np.array([-0.5, -1e-6, 1e-7, 3e-5, 0.1, 10.0, 1e4], np.float32)
    assert_close(run_op("ml.log1p", [tiny])[0], np.log1p(tiny.astype(np.float64)), 1e-6)
    b = RNG.random((3, 3)) > 0.5
    np.testing.assert_array_equal(run_op("ml.not", [b])[0], ~b)
    i = randi(3, 3)
    np.testing.assert_array_equal(run_op("ml.not", [i])[0], ~i)
    np.testing.assert_array_equal(run_op("ml.abs", [i])[0], np.abs(i))
    np.testing.assert_array_equal(run_op("ml.relu", [i])[0], np.maximum(i, 0))


def test_prelu_where_clip_cast_match_onnx():
    x, slope = randn(2, 3, 4), randn(3, 1)
    assert_close(run_op("ml.prelu", [x, slope])[0], onnx_ref("PRelu", [x, slope])[0])
    c, a, b = RNG.random((3, 1)) > 0.5, randn(1, 4), randn(3, 4)
    assert_close(run_op("ml.where", [c, a, b])[0], onnx_ref("Where", [c, a, b])[0])
    lo, hi = np.array(-0.5, np.float32), np.array(0.7, np.float32)
    assert_close(run_op("ml.clip", [x, lo, hi])[0], onnx_ref("Clip", [x, lo, hi])[0])
    only_max = run_op("ml.clip", [x, hi], operandSegmentSizes=(1, 0, 1))[0]
    assert_close(only_max, onnx_ref("Clip", [x, None, hi])[0])
    only_min = run_op("ml.clip", [x, lo])[0]  # optional operands fill from the front
    assert_close(only_min, np.maximum(x, lo))
    y = (randn(3, 4) * 10)
    for to, onnx_to in ((i32, 6), (i1, 9), (bf16, 16)):
        got = run_op("ml.cast", [y], to=to)[0]
        want = onnx_ref("Cast", [y], to=onnx_to)[0]
        assert got.dtype == to.np_dtype
        assert_close(got.astype(np.float64), want.astype(np.float64))


def test_float_ops_keep_declared_dtype_for_bf16_and_f16():
    x = randn(3, 4)
    for dt in (np.float16, bf16.np_dtype):
        xd = x.astype(dt)
        for name in ("ml.exp", "ml.sigmoid", "ml.gelu"):
            got = run_op(name, [xd])[0]
            assert got.dtype == dt
        got = run_op("ml.add", [xd, xd])[0]
        assert got.dtype == dt
        assert_close(got.astype(np.float32), (xd.astype(np.float32) * 2), 1e-2, 1e-2)


# -- linear algebra ----------------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)),
                                   ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_matches_onnx(sa, sb):
    a, b = randn(*sa), randn(*sb)
    assert_close(run_op("ml.matmul", [a, b])[0], onnx_ref("MatMul", [a, b])[0], 1e-4, 1e-5)


@pytest.mark.parametrize("ta,tb,with_c", [(False, False, True), (True, False, True),
                                          (False, True, False), (True, True, True)])
def test_gemm_matches_onnx(ta, tb, with_c):
    a = randn(4, 3) if ta else randn(3, 4)
    b = randn(5, 4) if tb else randn(4, 5)
    ins = [a, b] + ([randn(5)] if with_c else [])
    attrs = {"alpha": 0.5, "beta": 2.0, "trans_a": ta, "trans_b": tb}
    got = run_op("ml.gemm", ins, **attrs)[0]
    want = onnx_ref("Gemm", ins, alpha=0.5, beta=2.0, transA=int(ta), transB=int(tb))[0]
    assert_close(got, want, 1e-4, 1e-5)


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(3, 4), (4, 5)]),
                                       ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                                       ("ii->i", [(4, 4)]), ("ij->", [(3, 4)]),
                                       ("...ij,...jk", [(2, 3, 4), (4, 5)]),
                                       ("ij,ij", [(2, 3), (2, 3)]), ("Ab,bc->cA", [(2, 3), (3, 4)]),
                                       ("b...j,kj->bk...", [(2, 3, 5, 4), (6, 4)])])
def test_einsum_matches_numpy(eq, shapes):
    xs = [randn(*s) for s in shapes]
    got = run_op("ml.einsum", xs, equation=eq)[0]
    assert_close(got, np.einsum(eq, *[x.astype(np.float64) for x in xs]), 1e-4, 1e-5)


# -- reductions --------------------------------------------------------------------------------
REDUCE = [("reduce_sum", "ReduceSum"), ("reduce_mean", "ReduceMean"), ("reduce_max", "ReduceMax"),
          ("reduce_min", "ReduceMin"), ("reduce_prod", "ReduceProd"), ("reduce_l1", "ReduceL1"),
          ("reduce_l2", "ReduceL2"), ("reduce_log_sum", "ReduceLogSum"),
          ("reduce_log_sum_exp", "ReduceLogSumExp"), ("reduce_sum_square", "ReduceSumSquare")]


@pytest.mark.parametrize("name,onnx_op", REDUCE)
@pytest.mark.parametrize("axes,keepdims", [((1,), True), ((0, -1), False), ((), True)])
def test_reductions_match_onnx(name, onnx_op, axes, keepdims):
    x = np.abs(randn(3, 4, 5)) + 0.5 if name == "reduce_log_sum" else randn(3, 4, 5)
    got = run_op(f"ml.{name}", [x], axes=axes, keepdims=keepdims)[0]
    ins = [x, np.array(axes, np.int64)] if axes else [x]
    want = onnx_ref(onnx_op, ins, keepdims=int(keepdims))[0]
    assert_close(got, want, 1e-4, 1e-5)


def test_reduce_noop_with_empty_axes_is_identity():
    x = randn(2, 3)
    assert_close(run_op("ml.reduce_sum", [x], noop_with_empty_axes=True)[0], x)


@pytest.mark.parametrize("name,onnx_op", [("argmax", "ArgMax"), ("argmin", "ArgMin")])
@pytest.mark.parametrize("axis,keepdims,last", [(1, True, False), (-1, False, True),
                                                (0, True, True)])
def test_arg_reductions_match_onnx(name, onnx_op, axis, keepdims, last):
    x = RNG.integers(0, 3, (4, 5, 3)).astype(np.float32)  # many ties
    got = run_op(f"ml.{name}", [x], axis=axis, keepdims=keepdims, select_last_index=last)[0]
    want = onnx_ref(onnx_op, [x], axis=axis, keepdims=int(keepdims),
                    select_last_index=int(last))[0]
    assert got.dtype == np.int64
    assert_close(got, want)


@pytest.mark.parametrize("name,onnx_op,opset", [("cumsum", "CumSum", 23),
                                                ("cumprod", "CumProd", 26)])
@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True),
                                               (True, True)])
def test_cumulative_matches_onnx(name, onnx_op, opset, exclusive, reverse):
    for x, axis in ((randn(3, 4), 1), (randi(4, 3, lo=-3, hi=4), 0)):
        got = run_op(f"ml.{name}", [x], axis=axis, exclusive=exclusive, reverse=reverse)[0]
        want = onnx_ref(onnx_op, [x, np.array(axis, np.int64)], opset=opset,
                        exclusive=int(exclusive), reverse=int(reverse))[0]
        assert_close(got, want)


# -- type inference ----------------------------------------------------------------------------
def _infer(name, types, **attrs):
    return OP_REGISTRY[name].infer_result_types(list(types), attrs)


def test_inference_keeps_symbols_and_unknowns():
    t = _infer("ml.add", [tensor(["N", 1, 4]), tensor([3, 4])])[0]
    assert t == tensor(["N", 3, 4])
    assert _infer("ml.mul", [tensor(["N", None]), tensor(["N", 5])])[0] == tensor(["N", 5])
    assert _infer("ml.add", [tensor(None), tensor([3])])[0] == tensor(None)
    assert _infer("ml.less", [tensor(["B", 2]), tensor([2])])[0] == tensor(["B", 2], "i1")
    assert _infer("ml.sum", [tensor(["B", 1]), tensor([1, "T"]), tensor([1])])[0] == \
        tensor(["B", "T"])
    assert _infer("ml.exp", [tensor(["B", None, 3])])[0] == tensor(["B", None, 3])
    assert _infer("ml.cast", [tensor(["B"])], to=i64)[0] == tensor(["B"], "i64")
    assert _infer("ml.matmul", [tensor(["B", 4, "K"]), tensor(["K", 16])])[0] == \
        tensor(["B", 4, 16])
    assert _infer("ml.matmul", [tensor(["K"]), tensor(["B", "K", 7])])[0] == tensor(["B", 7])
    assert _infer("ml.gemm", [tensor([8, "M"]), tensor([8, 3])], trans_a=True)[0] == \
        tensor(["M", 3])
    assert _infer("ml.einsum", [tensor(["B", 3, 4]), tensor([4, "N"])],
                  equation="bij,jk->bik")[0] == tensor(["B", 3, "N"])
    assert _infer("ml.reduce_sum", [tensor(["B", "T", 8])], axes=(1,))[0] == \
        tensor(["B", 1, 8])
    assert _infer("ml.reduce_mean", [tensor(["B", "T", 8])], axes=(-1, 1),
                  keepdims=False)[0] == tensor(["B"])
    assert _infer("ml.reduce_max", [tensor(["B", 3])])[0] == tensor([1, 1])
    assert _infer("ml.argmax", [tensor(["B", "T"])], axis=1, keepdims=False)[0] == \
        tensor(["B"], "i64")
    assert _infer("ml.reduce_sum", [tensor(None)], axes=(1,))[0] == tensor(None)
    assert _infer("ml.where", [tensor(["B", 1], "i1"), tensor([1, 4]), tensor([1])])[0] == \
        tensor(["B", 4])


@pytest.mark.parametrize("name,types,attrs", [
    ("ml.add", [tensor([3]), tensor([3], "i32")], {}),
    ("ml.add", [tensor([3]), tensor([4])], {}),
    ("ml.add", [tensor([3], "i1"), tensor([3], "i1")], {}),
    ("ml.max", [tensor([3], "i1")], {}),
    ("ml.exp", [tensor([3], "i32")], {}),
    ("ml.logical_and", [tensor([3]), tensor([3])], {}),
    ("ml.bitwise_and", [tensor([3]), tensor([3])], {}),
    ("ml.matmul", [tensor([3, 4]), tensor([5, 6])], {}),
    ("ml.where", [tensor([3]), tensor([3]), tensor([3])], {}),
    ("ml.mod", [tensor([3], "i1"), tensor([3], "i1")], {}),
    ("ml.gelu", [tensor([3])], {"approximate": "erf"}),
    ("ml.bit_shift", [tensor([3], "u8"), tensor([3], "u8")], {"direction": "UP"}),
    ("ml.reduce_sum", [tensor([3, 4])], {"axes": (2,)}),
    ("ml.reduce_sum", [tensor([3, 4])], {"axes": (1, -1)}),
    ("ml.einsum", [tensor([3, 4])], {"equation": "ijk->i"}),
    ("ml.clip", [tensor([3]), tensor([2])], {}),
    ("ml.mean", [], {}),
])
def test_inference_rejects_bad_operands(name, types, attrs):
    with pytest.raises(InferenceError):
        _infer(name, types, **attrs)


def _op_on(name, types, attrs, result_types=None):
    f = FuncOp.make("main", types, [])
    op = OP_REGISTRY[name].build(list(f.args), attrs, result_types=result_types)
    f.entry_block.append(op)
    return op


@pytest.mark.parametrize("name,types,attrs", [
    ("ml.leaky_relu", [tensor([3])], {"alpha": "big"}),
    ("ml.reduce_sum", [tensor([3])], {"axes": (0.5,)}),
    ("ml.reduce_sum", [tensor([3])], {"keepdims": 1}),
    ("ml.cast", [tensor([3])], {"to": "f32"}),
    ("ml.argmax", [tensor([3])], {"axis": (0,)}),
    ("ml.gemm", [tensor([3, 3]), tensor([3, 3])], {"trans_a": "yes"}),
])
def test_verifier_rejects_wrong_attribute_kinds(name, types, attrs):
    op = _op_on(name, types, attrs, result_types=[types[0]])
    with pytest.raises(VerifyError, match="attribute"):
        op.verify_op()


def test_verifier_rejects_wrong_result_type_and_operand_count():
    op = _op_on("ml.add", [tensor([3]), tensor([3])], {}, result_types=[tensor([4])])
    with pytest.raises(VerifyError, match="result #0"):
        op.verify_op()
    op = _op_on("ml.add", [tensor([3])] * 3, {}, result_types=[tensor([3])])
    with pytest.raises(VerifyError, match="operands"):
        op.verify_op()
    op = _op_on("ml.add", [tensor(["N"]), tensor([3])], {}, result_types=[tensor([3])])
    op.verify_op()  # a symbol may be refined to a static dim


def test_constant_runs_and_infers_its_type():
    arr = randn(2, 3)
    m, op = build_op("ml.constant", [], {"value": DenseAttr(arr)})
    assert op.result.type == TensorType(f32, (2, 3))
    op.verify_op()
    from mlir_lite.ir.interpreter import run
    out = run(m)[0]
    np.testing.assert_array_equal(out, arr)


def test_reduce_any_matches_numpy_and_takes_only_i1():
    b = RNG.random((3, 4, 5)) > 0.8
    for axes, keep in (((1,), True), ((0, -1), False), ((), False)):
        want = np.any(b, axis=axes or None, keepdims=keep)
        np.testing.assert_array_equal(run_op("ml.reduce_any", [b], axes=axes, keepdims=keep)[0],
                                      want)
        got = run_op("ml.reduce_any_dynamic", [b, np.array(axes, np.int64)], keepdims=keep)[0]
        np.testing.assert_array_equal(got, want)
    empty = np.zeros((3, 0), bool)
    np.testing.assert_array_equal(run_op("ml.reduce_any", [empty], axes=(1,))[0],
                                  np.zeros((3, 1), bool))
    with pytest.raises(MlirLiteError, match="operand must be i1"):
        run_op("ml.reduce_any", [randn(2, 3)], axes=(1,))


@pytest.mark.parametrize("shape,dtype", [((3, 3), np.float32), ((2, 4, 4), np.float64),
                                         ((2, 1, 1), np.float32)])
def test_det_matches_onnx(shape, dtype):
    x = randn(*shape, dtype=dtype)
    assert_close(run_op("ml.det", [x])[0], onnx_ref("Det", [x])[0], 1e-5, 1e-6)
