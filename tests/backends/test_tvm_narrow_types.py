"""The 8/4/2-bit element types on the TVM path (backends/tvm/narrow_types.py): stored as one
byte per element, converted by generated bit manipulation.

Every expected value comes from ml_dtypes (`astype`), onnx.numpy_helper.saturate_cast (what
onnx.reference's Cast does with `saturate`) or onnx.reference, compared byte for byte: every
code of each type decoded, and float32 / float16 / bfloat16 / float64 inputs encoded (all
float16 and bfloat16 values; for float32 the values of each type, the ties between them and
their neighbours, subnormals, overflow, inf and NaNs with payloads, plus random bit patterns).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Sequence

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("tvm")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx.numpy_helper import saturate_cast  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from tvm_test_util import multi_op_module  # noqa: E402

from mlir_lite import DenseAttr  # noqa: E402
from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.errors import CompileError, ExecutionError  # noqa: E402
from mlir_lite.ir.types import element_type, element_type_from_numpy  # noqa: E402

FLOATS = {"f8E4M3FN": ml_dtypes.float8_e4m3fn, "f8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
          "f8E5M2": ml_dtypes.float8_e5m2, "f8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
          "f4E2M1FN": ml_dtypes.float4_e2m1fn}
INTS = {"i4": ml_dtypes.int4, "u4": ml_dtypes.uint4, "i2": ml_dtypes.int2,
        "u2": ml_dtypes.uint2}
FLOAT8 = [n for n in FLOATS if n.startswith("f8")]
BITS = {**{n: 8 for n in FLOAT8}, "f4E2M1FN": 4, "i4": 4, "u4": 4, "i2": 2, "u2": 2}
R = np.random.default_rng(7)
OPSET = onnx.defs.onnx_opset_version()  # INT2 / UINT2 quantization needs opset 25


def codes(name: str) -> np.ndarray:
    """Every code of the type: all 256 bytes, or the 16 / 4 of a 4- / 2-bit type."""
    np_t = {**FLOATS, **INTS}[name]
    return np.arange(1 << BITS[name], dtype=np.uint8).view(np_t)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def cast_case(x: np.ndarray, to: Any, saturate: bool = True) -> tuple:
    to = to if not isinstance(to, str) else element_type(to)
    return ("ml.cast", [x], {"to": to, "saturate": saturate})


def run_cases(cases: Sequence[tuple]) -> List[np.ndarray]:
    m, args, _ = multi_op_module(cases)
    return compile_function(m)(*args)


def assert_same_bytes(got: np.ndarray, want: np.ndarray, what: str,
                      inputs: np.ndarray) -> None:
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, what
    bad = np.nonzero(bits(got).reshape(-1) != bits(want).reshape(-1))[0]
    if bad.size:
        i = bad[:8]
        flat = inputs.reshape(-1)
        raise AssertionError(
            f"{what}: {bad.size} of {want.size} differ; inputs {bits(flat[i]).tolist()} "
            f"({flat[i].astype(np.float64).tolist()}): got {bits(got.reshape(-1)[i]).tolist()}, "
            f"want {bits(want.reshape(-1)[i]).tolist()}")


def float32_probes(name: str) -> np.ndarray:
    """float32 inputs that exercise `name`'s rounding: its values, the ties between neighbours
    and one float32 ulp either side, 3/4 of the way, beyond the largest value, subnormals of
    both types, zeros, infinities, NaNs (payloads, both signs) and random bit patterns."""
    v = np.unique(codes(name).astype(np.float32))
    v = v[np.isfinite(v)]
    v = v[v >= 0]
    big = np.float32(ml_dtypes.finfo(FLOATS[name]).max)
    step = big - v[-2]
    v = np.concatenate([v, [big + step * k / 4 for k in range(1, 12)], [big * 2, 1e30, 3e38]])
    mids = (v[:-1] + v[1:]) / 2
    quarter = v[:-1] + (v[1:] - v[:-1]) * 0.75
    near = np.concatenate([np.nextafter(mids, np.float32(np.inf)),
                           np.nextafter(mids, np.float32(-np.inf))])
    tiny = np.array([1e-45, 1e-40, 1e-38, 1.1754942e-38, 1.17549435e-38, 1e-20, 1e-12],
                    np.float32)
    special = np.array([0x7F800000, 0x7F800001, 0x7FA00000, 0x7FC00000, 0x7FFFFFFF,
                        0x7F80F000, 0x00000001, 0x007FFFFF, 0x00800000],
                       np.uint32).view(np.float32)
    rand = R.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    pos = np.concatenate([v, mids, quarter, near, tiny, special]).astype(np.float32)
    return np.concatenate([pos, -pos, rand]).astype(np.float32)


def expected(x: np.ndarray, np_t: Any, saturate: bool) -> np.ndarray:
    if saturate and np.dtype(np_t) != np.dtype(ml_dtypes.float4_e2m1fn):
        return saturate_cast(x, np.dtype(np_t))
    return x.astype(np_t)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_decode_every_code() -> None:
    """Each code of each type as float32, float16, bfloat16 and float64 (floats), or as
    int8/uint8/int32/float32 (ints), against ml_dtypes."""
    cases, wants = [], []
    for name in FLOATS:
        c = codes(name)
        for to in (np.float32, np.float16, ml_dtypes.bfloat16, np.float64):
            cases.append(cast_case(c, element_type_from_numpy(to)))
            wants.append((c.astype(to), f"{name} -> {np.dtype(to)}", c))
    for name in INTS:
        c = codes(name)
        for to in (np.int8, np.uint8, np.int32, np.float32, np.bool_):
            cases.append(cast_case(c, element_type_from_numpy(to)))
            wants.append((c.astype(to), f"{name} -> {np.dtype(to)}", c))
    for got, (want, what, c) in zip(run_cases(cases), wants):
        if want.dtype.kind == "f" or want.dtype == np.dtype(ml_dtypes.bfloat16):
            nan = np.isnan(want.astype(np.float32))
            # a NaN code gives the quiet NaN of its sign, as ml_dtypes
            assert np.array_equal(np.isnan(got.astype(np.float32)), nan), what
        assert_same_bytes(got, want, what, c)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_encode_float32_rounding_overflow_nan() -> None:
    """float32 -> each float type with saturate on and off: round to nearest even (ties, one
    ulp either side), subnormals, overflow to NaN / inf or the largest value, NaN, -0."""
    cases, wants = [], []
    for name, np_t in FLOATS.items():
        x = float32_probes(name)
        for sat in (True, False):
            cases.append(cast_case(x, name, sat))
            wants.append((expected(x, np_t, sat), f"f32 -> {name} saturate={sat}", x))
    for got, (want, what, x) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_encode_every_float16_and_bfloat16() -> None:
    """Every float16 and every bfloat16 value -> each float type, saturate on and off."""
    every = np.arange(1 << 16, dtype=np.uint16)
    cases, wants = [], []
    for src in (np.float16, ml_dtypes.bfloat16):
        x = every.view(src)
        for name, np_t in FLOATS.items():
            for sat in (True, False):
                cases.append(cast_case(x, name, sat))
                wants.append((expected(x, np_t, sat), f"{np.dtype(src)} -> {name} sat={sat}",
                              x))
    for got, (want, what, x) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_encode_float64_rounds_once() -> None:
    """float64 -> float8 rounds once, as ml_dtypes (through float32 would round twice: a value
    just above a tie that float32 rounds onto the tie)."""
    cases, wants = [], []
    for name, np_t in FLOATS.items():
        x32 = float32_probes(name)[:-100_000].astype(np.float64)
        mids = x32[np.isfinite(x32)]
        x = np.concatenate([mids, mids * (1 + 2.0 ** -40), mids * (1 - 2.0 ** -40),
                            [1e300, -1e300, 5e-324, np.nan, -np.nan, np.inf, -np.inf]])
        for sat in (True, False):
            cases.append(cast_case(x, name, sat))
            wants.append((expected(x, np_t, sat), f"f64 -> {name} saturate={sat}", x))
    for got, (want, what, x) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_between_narrow_types() -> None:
    """Every code of each type -> every other narrow type (saturate on and off)."""
    cases, wants = [], []
    for src in list(FLOATS) + list(INTS):
        c = codes(src)
        for dst, np_t in {**FLOATS, **INTS}.items():
            if dst == src:
                continue
            # saturate matters for a float8 result of a float that can overflow it (an int
            # cannot; E5M2 has infinities)
            over = src in FLOATS and dst in FLOAT8 and (src == "f8E5M2" or float(
                ml_dtypes.finfo(FLOATS[src]).max) > float(ml_dtypes.finfo(np_t).max))
            for sat in ((True, False) if over else (True,)):
                if dst in INTS and src in FLOATS:
                    want = np.trunc(c.astype(np.float32)).astype(np_t)  # ONNX: trunc
                elif src in INTS and dst in FLOATS:
                    want = expected(c.astype(np.float32), np_t, sat)
                else:
                    want = expected(c.astype(np.float32), np_t, sat) if dst in FLOATS \
                        else c.astype(np_t)
                cases.append(cast_case(c, dst, sat))
                wants.append((want, f"{src} -> {dst} sat={sat}", c))
    for got, (want, what, c) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, c)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_integers_in_and_out() -> None:
    """To int4/uint4/int2/uint2: integers keep their low bits (ONNX Cast wraps); floats are
    truncated, and out of range (or NaN) they give 0 (ml_dtypes; ONNX leaves it undefined);
    bools are 0 / 1. From them: sign or zero extension."""
    f = np.concatenate([np.arange(-20, 20, 0.25), [np.nan, -np.nan, np.inf, -np.inf, 1e10, -0.0,
                                                   -1e10]]).astype(np.float32)
    i = np.arange(-300, 300, dtype=np.int32)
    cases, wants = [], []
    for name, np_t in INTS.items():
        for x in (f, f.astype(np.float16), f.astype(np.float64), i, i.astype(np.int8),
                  i.astype(np.int64), i.astype(np.uint16), R.random(9) > 0.5):
            want = (np.trunc(x) if x.dtype.kind == "f" else x).astype(np_t)
            cases.append(cast_case(x, name))
            wants.append((want, f"{x.dtype} -> {name}", x))
    for got, (want, what, x) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, x)


def test_same_type_cast_keeps_bytes() -> None:
    """A cast to its own type keeps every byte; saturating, E5M2's infinities become its
    largest value (onnx.reference's saturate_cast)."""
    cases, wants = [], []
    for name in list(FLOATS) + list(INTS):
        c = codes(name)
        for sat in (True, False):
            cases.append(cast_case(c, name, sat))
            want = c.copy()
            if sat and name == "f8E5M2":
                inf = np.isinf(c.astype(np.float32))
                want[inf] = saturate_cast(c[inf].astype(np.float32), np.dtype(FLOATS[name]))
            wants.append((want, f"{name} -> {name} sat={sat}", c))
    for got, (want, what, c) in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, what, c)


def test_byte_moving_ops() -> None:
    """Ops that only move elements run on the stored bytes: the result holds the operand's
    bytes exactly (NaN payloads included), for float8, float4 and int4 values."""
    cases, wants = [], []
    for name in ("f8E5M2", "f8E4M3FNUZ", "f4E2M1FN", "i4"):
        c = codes(name)
        x = np.resize(c, (4, 16)).copy()
        y = np.resize(c[::-1], (4, 16)).copy()
        idx = np.array([3, 0, 2], np.int64)
        cond = R.random((4, 16)) > 0.5
        cases += [("ml.transpose", [x], {"perm": (1, 0)}),
                  ("ml.gather", [x, idx], {"axis": 0}),
                  ("ml.concat", [x, y], {"axis": 1}),
                  ("ml.where", [cond, x, y], {}),
                  ("ml.reshape", [x], {"shape": (8, 8)}),
                  ("ml.identity", [x], {})]
        wants += [x.T, x[idx], np.concatenate([x, y], 1), np.where(cond, x, y),
                  x.reshape(8, 8), x]
        fill = c[-3:-2].reshape(())  # a constant's value: its byte
        cases.append(("ml.constant_of_shape", [], {"shape": (2, 3), "value": DenseAttr(fill)}))
        wants.append(np.full((2, 3), fill))
    for got, want in zip(run_cases(cases), wants):
        assert_same_bytes(got, want, f"{want.dtype} byte move", want)


def test_arithmetic_on_narrow_types_is_refused() -> None:
    x = codes("f8E4M3FN")
    m, _, _ = multi_op_module([("ml.add", [x, x], {})])
    with pytest.raises(CompileError, match=r"ml\.add on f8E4M3FN values.*cast to f32"):
        compile_function(m)
    i = codes("i4")
    m, _, _ = multi_op_module([("ml.reduce_sum", [i], {"axes": (0,)})])
    with pytest.raises(CompileError, match=r"ml\.reduce_sum on i4 values"):
        compile_function(m)


# -- quantize / dequantize, through ONNX models against onnx.reference ---------------------------
def _qdq_model(op: str, x_type: int, x_shape: Sequence[int], out_type: int,
               inits: Dict[str, np.ndarray], attrs: Dict[str, Any]) -> onnx.ModelProto:
    names = ["x"] + list(inits)
    node = helper.make_node(op, names, ["y"], **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", x_type, x_shape)],
                          [helper.make_tensor_value_info("y", out_type, x_shape)],
                          [onnx.numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_quantize_dequantize_against_onnx_reference() -> None:
    from mlir_lite.driver import CompileOptions, compile
    x = np.concatenate([np.linspace(-700, 700, 241), [np.nan, np.inf, -np.inf, 0.0, -0.0,
                                                        1e-6, 3.0]]).astype(np.float32)
    x = np.resize(x, (3, 83)).astype(np.float32)
    scale = np.array([0.5, 2.0, 1.25], np.float32)
    tp = helper.np_dtype_to_tensor_dtype
    runs = []
    for np_t in list(FLOATS.values()) + list(INTS.values()):
        zp = np.zeros(3, np_t)
        if np.dtype(np_t) in (np.dtype(ml_dtypes.int4), np.dtype(ml_dtypes.uint4)):
            zp = np.array([1, 3, 0], np_t)
        for sat in ((1, 0) if np.dtype(np_t).name.startswith("float8") else (1,)):
            attrs: Dict[str, Any] = {"axis": 0}
            if np.dtype(np_t).name.startswith("float8"):
                attrs["saturate"] = sat
            q = _qdq_model("QuantizeLinear", TensorProto.FLOAT, x.shape, tp(np.dtype(np_t)),
                           {"s": scale, "zp": zp}, attrs)
            # NaN and inf have no integer value (onnx.reference gives what int64 overflow does)
            xq = x if attrs.get("saturate") is not None or np_t is ml_dtypes.float4_e2m1fn \
                else np.nan_to_num(x, nan=0.0, posinf=1e4, neginf=-1e4)
            runs.append((q, xq, f"quantize -> {np.dtype(np_t)} saturate={sat}"))
        c = np.resize(codes(next(k for k, v in {**FLOATS, **INTS}.items() if v is np_t)),
                      (3, 83)).copy()
        d = _qdq_model("DequantizeLinear", tp(np.dtype(np_t)), c.shape, TensorProto.FLOAT,
                       {"s": scale, "zp": zp}, {"axis": 0})
        runs.append((d, c, f"dequantize {np.dtype(np_t)}"))
    for model, inp, what in runs:
        want = ReferenceEvaluator(model).run(None, {"x": inp})[0]
        got = compile(model, CompileOptions(target="tvm", opt_level=2))(inp)[0]
        assert_same_bytes(got, np.asarray(want), what, inp)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fused_fake_quantization() -> None:
    """At -O2 the conversions fuse with their consumers (Quantize -> Dequantize -> Mul(d, d),
    Cast to int4 and back -> Add(c, c): each conversion is inlined twice into one kernel)."""
    from mlir_lite.driver import CompileOptions, compile
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"],
                              output_dtype=TensorProto.FLOAT8E4M3FN),
             helper.make_node("DequantizeLinear", ["q", "s"], ["d"]),
             helper.make_node("Mul", ["d", "d"], ["y"]),
             helper.make_node("Cast", ["x"], ["c"], to=TensorProto.INT4),
             helper.make_node("Cast", ["c"], ["cf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["cf", "cf"], ["z"])]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [64])],
        [onnx.numpy_helper.from_array(np.array(0.5, np.float32), "s")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    x = np.linspace(-300, 300, 64).astype(np.float32)
    fn = compile(model, CompileOptions(target="tvm", opt_level=2))
    assert any(op.name == "ml.fused" for op in fn.module["main"].walk())
    for got, want, what in zip(fn(x), ReferenceEvaluator(model).run(None, {"x": x}), "yz"):
        assert_same_bytes(got, np.asarray(want), what, x)


# -- the plan and the artifact ---------------------------------------------------------------
def _artifact_model() -> onnx.ModelProto:
    """y8 = Pad(Cast(x, f8e4m3fn), value=c8), w = Cast(q, float) * 2, o4 = Reshape(i4)."""
    c8 = np.array(-448.0, np.float32).astype(ml_dtypes.float8_e4m3fn)
    nodes = [helper.make_node("Cast", ["x"], ["x8"], to=TensorProto.FLOAT8E4M3FN),
             helper.make_node("Pad", ["x8", "pads", "c8"], ["y8"]),
             helper.make_node("Cast", ["q"], ["qf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["qf", "two"], ["w"]),
             helper.make_node("Reshape", ["i4", "shape"], ["o4"])]
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5]),
         helper.make_tensor_value_info("q", TensorProto.FLOAT8E5M2, [256]),
         helper.make_tensor_value_info("i4", TensorProto.INT4, [16])],
        [helper.make_tensor_value_info("y8", TensorProto.FLOAT8E4M3FN, [9]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [256]),
         helper.make_tensor_value_info("o4", TensorProto.INT4, [4, 4])],
        [onnx.numpy_helper.from_array(c8, "c8"),
         onnx.numpy_helper.from_array(np.array([1, 3], np.int64), "pads"),
         onnx.numpy_helper.from_array(np.array([4, 4], np.int64), "shape"),
         onnx.numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("level", [0, 2])  # -O0: c8 is a constant buffer; -O2: in the kernel
def test_plan_and_artifact_round_trip(tmp_path: os.PathLike, level: int) -> None:
    import mlir_lite
    from mlir_lite.backends.tvm.artifact import save_artifact
    from mlir_lite.driver import CompileOptions, compile
    from mlir_lite.runtime.plan import plan_from_json, plan_to_json
    model = _artifact_model()
    x = np.array([0.3, 470.0, -1e-3, np.inf, np.nan], np.float32)
    q = codes("f8E5M2")
    i4 = codes("i4")
    want = ReferenceEvaluator(model).run(None, {"x": x, "q": q, "i4": i4})
    fn = compile(model, CompileOptions(target="tvm", opt_level=level))
    compiled = fn.executable
    plan = compiled.plan
    specs = [plan.buffers[b] for b in plan.inputs + plan.outputs]
    assert [(s.dtype, s.element) for s in specs] == [
        ("float32", ""), ("uint8", "float8_e5m2"), ("uint8", "int4"),
        ("uint8", "float8_e4m3fn"), ("float32", ""), ("uint8", "int4")]
    again = plan_from_json(plan_to_json(plan), plan.constants)
    assert again.buffers == plan.buffers
    # constants are held as their storage bytes
    consts = {plan.buffers[i].element: a for i, a in plan.constants.items()}
    assert all(a.dtype == np.dtype(plan.buffers[i].dtype) for i, a in plan.constants.items())
    if level == 0:
        assert consts["float8_e4m3fn"].tobytes() == \
            np.array(-448.0, np.float32).astype(ml_dtypes.float8_e4m3fn).tobytes()

    for run in (fn, None):
        if run is None:
            path = os.path.join(os.fspath(tmp_path), "narrow.mlc")
            save_artifact(compiled, path, ["x", "q", "i4"], ["y8", "w", "o4"])
            loaded = mlir_lite.load(path)
            sig = loaded.signature
            assert [i["dtype"] for i in sig["inputs"]] == ["float32", "float8_e5m2", "int4"]
            assert [o["dtype"] for o in sig["outputs"]] == ["float8_e4m3fn", "float32", "int4"]
            run = loaded
        got = run(x, q, i4)
        for g, w, what in zip(got, want, ("y8", "w", "o4")):
            assert_same_bytes(g, np.asarray(w), what, x)
        # the caller's arrays are viewed, never required to be bytes
        with pytest.raises(ExecutionError, match="float8_e5m2"):
            run(x, q.view(np.uint8), i4)
