"""The rules added for the ops that lacked a TVM lowering (rules_quant, rules_misc,
rules_dynamic, rules_dynamic_params, the GRU/RNN unrolling in decompose.py) compute what
onnxruntime and the reference interpreter compute. (That every `ml` op has a lowering, or a
documented reason, is checked with the other rule tables in tests/unit/test_op_traits.py.)

Each case is a one-node ONNX model run three ways: `mlir_lite.backend` with executor "tvm"
(compiled at -O2 for this CPU), the reference interpreter, and onnxruntime (the independent
oracle; skipped for BitCast, which this onnxruntime lacks). Tolerances: f32 rtol 1e-4,
atol 1e-5; integer and boolean results exact. Ops whose output shape depends on run-time
values get their output shape declared in the model (from onnxruntime's result), as the
compiled path requires.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pytest

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from tvm_test_util import multi_op_module  # noqa: E402

from mlir_lite import backend  # noqa: E402
from mlir_lite.backends.tvm import compile_function, cuda_target  # noqa: E402
from mlir_lite.errors import CompileError, ExecutionError  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
R = np.random.default_rng(11)

# -- one-node models --------------------------------------------------------------------------
def f32(*shape: int) -> np.ndarray:
    return R.uniform(-2.0, 2.0, shape).astype(np.float32)


def _vi(name: str, a: np.ndarray) -> Any:
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)


def _model(node: Any, feeds: Dict[str, np.ndarray], outs: Sequence[tuple], opset: int,
           inits: Optional[Dict[str, np.ndarray]] = None) -> onnx.ModelProto:
    inits = inits or {}
    graph = helper.make_graph(
        [node], "g", [_vi(n, a) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, dt, shape) for n, dt, shape in outs],
        [onnx.numpy_helper.from_array(a, n) for n, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10 if opset <= 21 else 11)


def run_three_ways(op_type: str, feeds: Dict[str, np.ndarray], out_types: Sequence[int],
                   opset: int = 21, inits: Optional[Dict[str, np.ndarray]] = None,
                   use_ort: bool = True, **attrs: Any) -> List[np.ndarray]:
    """Run the one-node model compiled, interpreted and (if `use_ort`) in onnxruntime; assert
    they agree and return the compiled outputs. Output shapes come from onnxruntime."""
    inputs = [k if v is not None else "" for k, v in feeds.items()]  # None: an omitted input
    feeds = {k: np.asarray(v) for k, v in feeds.items() if v is not None}  # (and no scalars)
    names = [f"y{i}" for i in range(len(out_types))]
    node = helper.make_node(op_type, inputs + list(inits or {}), names, **attrs)
    ref: Optional[List[np.ndarray]] = None
    if use_ort:
        probe = _model(node, feeds, [(n, t, None) for n, t in zip(names, out_types)], opset, inits)
        sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        ref = sess.run(None, feeds)
        outs = [(n, t, r.shape) for n, t, r in zip(names, out_types, ref)]
    else:
        outs = [(n, t, None) for n, t in zip(names, out_types)]
    model = _model(node, feeds, outs, opset, inits)
    if not use_ort:
        model = onnx.shape_inference.infer_shapes(model)
    got = list(backend.prepare(model, "CPU", executor="tvm").run(list(feeds.values())))
    interp = list(backend.prepare(model, "CPU").run(list(feeds.values())))
    for want_set, who in ((interp, "interpreter"), (ref, "onnxruntime")):
        if want_set is None:
            continue
        for g, w in zip(got, want_set):
            w = np.asarray(w)
            assert g.shape == w.shape and g.dtype == w.dtype, (who, g.dtype, g.shape, w.dtype,
                                                               w.shape)
            if w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=who)
            else:
                np.testing.assert_array_equal(g, w, err_msg=who)
    return got


F, I64, I32, U8, I8, B = (TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32,
                          TensorProto.UINT8, TensorProto.INT8, TensorProto.BOOL)
i64 = lambda *v: np.array(v, np.int64)  # noqa: E731


# -- rules_quant ----------------------------------------------------------------------------
def test_quantize_dequantize_linear() -> None:
    x = f32(2, 3, 4) * 40
    run_three_ways("QuantizeLinear", {"x": x, "s": np.float32(0.7), "zp": np.uint8(128)}, [U8])
    run_three_ways("QuantizeLinear", {"x": x, "s": np.array([0.5, 1.5, 0.25], np.float32),
                                      "zp": np.array([-3, 0, 5], np.int8)}, [I8], axis=1)
    q = R.integers(0, 255, (2, 3, 4)).astype(np.uint8)
    run_three_ways("DequantizeLinear", {"x": q, "s": np.array([0.5, 1.5, 0.25], np.float32),
                                        "zp": np.array([1, 128, 7], np.uint8)}, [F], axis=1)
    run_three_ways("DequantizeLinear", {"x": q, "s": R.uniform(0.1, 1, (2, 3, 2)).astype(
        np.float32)}, [F], axis=2, block_size=2)


def test_matmul_integer_and_conv_integer() -> None:
    a = R.integers(0, 255, (3, 5)).astype(np.uint8)
    b = R.integers(0, 255, (5, 4)).astype(np.uint8)
    run_three_ways("MatMulInteger", {"a": a, "b": b, "az": np.uint8(12),
                                     "bz": np.array([1, 2, 3, 4], np.uint8)}, [I32])
    x = R.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    w = R.integers(0, 255, (3, 2, 3, 3)).astype(np.uint8)
    run_three_ways("ConvInteger", {"x": x, "w": w, "xz": np.uint8(100)}, [I32], pads=[1, 1, 1, 1])


def test_bitcast() -> None:
    x = f32(3, 4)
    (got,) = run_three_ways("BitCast", {"x": x}, [I32], opset=26, use_ort=False,
                            to=TensorProto.INT32)
    np.testing.assert_array_equal(got, x.view(np.int32))  # numpy as the oracle


# -- rules_misc ------------------------------------------------------------------------------
@pytest.mark.parametrize("eq,shapes", [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                                       ("ii->i", [(4, 4)]), ("...ij->...ji", [(2, 3, 4)]),
                                       ("i,i", [(5,), (5,)])])
def test_einsum(eq: str, shapes: List[tuple]) -> None:
    feeds = {f"x{i}": f32(*s) for i, s in enumerate(shapes)}
    run_three_ways("Einsum", feeds, [F], equation=eq)


def test_small_nn_ops() -> None:
    x = f32(2, 5, 6, 6)
    run_three_ways("EyeLike", {"x": f32(4, 6)}, [F], k=1)
    run_three_ways("Hardmax", {"x": f32(3, 4, 5)}, [F], axis=1)
    run_three_ways("LRN", {"x": x}, [F], size=3, alpha=1e-3, beta=0.75, bias=2.0)
    run_three_ways("LpPool", {"x": x}, [F], kernel_shape=[3, 3], strides=[2, 2], p=3,
                   pads=[1, 1, 1, 1])
    run_three_ways("GlobalLpPool", {"x": x}, [F], p=2)


def test_nll_loss_and_reverse_sequence() -> None:
    x, t = f32(4, 5, 3), R.integers(0, 5, (4, 3)).astype(np.int64)
    t[0, 0] = -1
    w = R.uniform(0.5, 2, 5).astype(np.float32)
    for red in ("mean", "sum", "none"):
        run_three_ways("NegativeLogLikelihoodLoss", {"x": x, "t": t, "w": w}, [F],
                       reduction=red, ignore_index=-1)
    run_three_ways("ReverseSequence", {"x": f32(5, 3, 2), "l": i64(5, 0, 3)}, [F],
                   batch_axis=1, time_axis=0)


def test_index_checks_raise() -> None:
    x, t = f32(2, 3), i64(1, 7)
    node = helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], reduction="none")
    m = _model(node, {"x": x, "t": t}, [("y", F, (2,))], 21)
    with pytest.raises(ExecutionError, match="out of range"):
        backend.prepare(m, "CPU", executor="tvm").run([x, t])
    node = helper.make_node("ReverseSequence", ["x", "l"], ["y"], batch_axis=1, time_axis=0)
    xs, lens = f32(3, 2), i64(4, 1)
    m = _model(node, {"x": xs, "l": lens}, [("y", F, (3, 2))], 21)
    with pytest.raises(ExecutionError, match="out of range"):
        backend.prepare(m, "CPU", executor="tvm").run([xs, lens])


# -- GRU and RNN (decompose.py) -------------------------------------------------------------
def _rnn_feeds(kind: str, nd: int, seq: int = 4, batch: int = 2, inp: int = 3, hid: int = 5,
               layout: int = 0) -> Dict[str, np.ndarray]:
    ng = 3 if kind == "GRU" else 1
    x = f32(batch, seq, inp) if layout else f32(seq, batch, inp)
    h0 = f32(batch, nd, hid) if layout else f32(nd, batch, hid)
    return {"x": x, "w": f32(nd, ng * hid, inp) * 0.5, "r": f32(nd, ng * hid, hid) * 0.5,
            "b": f32(nd, 2 * ng * hid) * 0.5, "": None, "h": h0}  # type: ignore[dict-item]


@pytest.mark.parametrize("kind,direction,extra", [
    ("GRU", "forward", {}), ("GRU", "bidirectional", {"linear_before_reset": 1}),
    ("RNN", "reverse", {}), ("RNN", "forward", {"layout": 1})])
def test_gru_rnn_unrolled(kind: str, direction: str, extra: Dict[str, Any]) -> None:
    nd = 2 if direction == "bidirectional" else 1
    feeds = _rnn_feeds(kind, nd, layout=extra.get("layout", 0))
    names = ["x", "w", "r", "b", "", "h"]
    node = helper.make_node(kind, names, ["y", "yh"], hidden_size=5, direction=direction,
                            **extra)
    real = {k: v for k, v in feeds.items() if k}
    layout = extra.pop("layout", 0)
    # onnxruntime has no layout=1: its oracle runs the layout-0 model on transposed data
    probe_node = helper.make_node(kind, names, ["y", "yh"], hidden_size=5, direction=direction,
                                  **extra)
    probe_feeds = dict(real, x=real["x"].swapaxes(0, 1).copy(),
                       h=real["h"].swapaxes(0, 1).copy()) if layout else real
    probe = _model(probe_node, probe_feeds, [("y", F, None), ("yh", F, None)], 14)
    ref = ort.InferenceSession(probe.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, probe_feeds)
    if layout:
        ref = [ref[0].transpose(2, 0, 1, 3), ref[1].swapaxes(0, 1)]
    model = _model(node, real, [("y", F, ref[0].shape), ("yh", F, ref[1].shape)], 14)
    got = backend.prepare(model, "CPU", executor="tvm").run(list(real.values()))
    interp = backend.prepare(model, "CPU").run(list(real.values()))
    for g, w, i in zip(got, ref, interp):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(g, i, rtol=RTOL, atol=ATOL)


def test_gru_with_clip_is_a_compile_error() -> None:
    real = {k: v for k, v in _rnn_feeds("GRU", 1).items() if k}
    node = helper.make_node("GRU", ["x", "w", "r", "b", "", "h"], ["y", "yh"], hidden_size=5,
                            clip=1.0)
    m = _model(node, real, [("y", F, (4, 1, 2, 5)), ("yh", F, (1, 2, 5))], 14)
    with pytest.raises(CompileError, match="clip"):
        backend.prepare(m, "CPU", executor="tvm")


# -- data-dependent shapes (rules_dynamic, rules_dynamic_params) -----------------------------
def test_range_nonzero_compress_constant_of_shape() -> None:
    run_three_ways("Range", {"s": np.float32(1.5), "l": np.float32(7.0),
                             "d": np.float32(0.75)}, [F])
    run_three_ways("Range", {"s": np.int64(10), "l": np.int64(-3), "d": np.int64(-4)}, [I64])
    x = f32(3, 4)
    x[x < 0] = 0
    run_three_ways("NonZero", {"x": x}, [I64])
    run_three_ways("Compress", {"x": f32(4, 3), "c": np.array([1, 0, 1, 1], bool)}, [F], axis=0)
    run_three_ways("Compress", {"x": f32(2, 3), "c": np.array([0, 1, 1, 0, 1], bool)}, [F])
    run_three_ways("ConstantOfShape", {"s": i64(2, 3)}, [F],
                   value=helper.make_tensor("v", F, [1], [1.25]))


def test_dynamic_shape_parameters() -> None:
    x = f32(2, 3, 4)
    run_three_ways("Reshape", {"x": x, "s": i64(0, -1, 2)}, [F])
    run_three_ways("Unsqueeze", {"x": x, "a": i64(-1, 1)}, [F])
    run_three_ways("Squeeze", {"x": f32(2, 1, 3, 1), "a": i64(3, 1)}, [F])
    run_three_ways("Tile", {"x": x, "r": i64(2, 1, 3)}, [F])
    run_three_ways("Slice", {"x": f32(5, 6), "st": i64(-1, 1), "en": i64(-9, 100),
                             "ax": i64(0, 1), "sp": i64(-2, 2)}, [F])
    run_three_ways("Split", {"x": f32(7, 2), "s": i64(2, 0, 5)}, [F, F, F], axis=0)
    run_three_ways("Pad", {"x": f32(3, 4), "p": i64(1, 2, 2, 0)}, [F], mode="reflect")
    run_three_ways("Pad", {"x": f32(3, 4), "p": i64(0, -1, 1, 2), "v": np.float32(9.0)}, [F])
    img = f32(1, 2, 3, 4)
    run_three_ways("Resize", {"x": img, "roi": np.zeros(0, np.float32),
                              "sc": np.array([1, 1, 2.0, 1.5], np.float32)}, [F], mode="nearest")
    run_three_ways("Resize", {"x": img, "roi": np.zeros(0, np.float32),
                              "sc": None, "sz": i64(1, 2, 2, 7)}, [F],
                   mode="nearest", coordinate_transformation_mode="asymmetric",
                   nearest_mode="floor")


def test_dynamic_parameters_same_shape() -> None:
    x = f32(3, 4, 5)
    run_three_ways("Trilu", {"x": x, "k": np.int64(-1)}, [F], upper=0)
    run_three_ways("CumSum", {"x": x, "a": np.int64(-2)}, [F], exclusive=1, reverse=1)
    run_three_ways("CumProd", {"x": x, "a": np.int64(-2)}, [F], opset=26, exclusive=1,
                   reverse=1)
    run_three_ways("OneHot", {"i": i64(0, 3, -1, 2), "d": np.int64(4),
                              "v": np.array([0.0, 5.0], np.float32)}, [F], axis=0)
    run_three_ways("TopK", {"x": x, "k": i64(2)}, [F, I64], axis=1)
    for op in ("ReduceSum", "ReduceMax", "ReduceLogSumExp", "ReduceMean", "ReduceL2"):
        for keep in (0, 1):
            run_three_ways(op, {"x": x, "a": i64(-1, 0)}, [F], keepdims=keep)


def test_run_time_shape_that_differs_from_the_type_is_an_error() -> None:
    node = helper.make_node("Range", ["s", "l", "d"], ["y"])
    feeds = {"s": np.int64(0), "l": np.int64(3), "d": np.int64(1)}
    m = _model(node, feeds, [("y", I64, (3,))], 21)
    rep = backend.prepare(m, "CPU", executor="tvm")
    np.testing.assert_array_equal(rep.run(list(feeds.values()))[0], [0, 1, 2])
    with pytest.raises(ExecutionError, match="differs"):
        rep.run([np.int64(0), np.int64(5), np.int64(1)])
    node = helper.make_node("NonZero", ["x"], ["y"])
    x = np.array([0, 1, 1], np.float32)
    m = _model(node, {"x": x}, [("y", I64, (1, 2))], 21)
    rep = backend.prepare(m, "CPU", executor="tvm")
    np.testing.assert_array_equal(rep.run([x])[0], [[1, 2]])
    with pytest.raises(ExecutionError, match="differs"):
        rep.run([np.ones(3, np.float32)])


def test_new_rules_generate_cuda_kernels() -> None:
    """The new kernels also go through the CUDA path (dlight schedules; no GPU needed to
    generate the code): one bound `__global__` kernel per compiled kernel at least."""
    x = f32(2, 3, 4)
    cases = [("ml.einsum", [x, f32(2, 4, 5)], {"equation": "bij,bjk->bik"}),
             ("ml.hardmax", [x], {"axis": 1}), ("ml.lrn", [f32(1, 4, 3, 3)], {"size": 3}),
             ("ml.reverse_sequence", [x, i64(1, 3, 2)], {"batch_axis": 1, "time_axis": 0}),
             ("ml.global_lp_pool", [f32(1, 4, 3, 3)], {"p": 2})]
    m, _, _ = multi_op_module(cases)
    compiled = compile_function(m, target=cuda_target("sm_80"))
    src = compiled.source()
    for info in compiled.kernels:
        assert f"{info.symbol}_kernel" in src, info.symbol
