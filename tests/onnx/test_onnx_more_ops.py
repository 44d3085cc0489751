"""Ops and op forms added for the ONNX conformance suite, imported from one-node models and run
by the interpreter, against onnx.reference.ReferenceEvaluator (the oracle; exact for integers,
rtol 1e-5 / atol 1e-6 for floats): parameters given as run-time inputs (`*_dynamic` ops),
empty reductions, losses, LayerNormalization's extra outputs, 8/4/2-bit casts, quantization,
BitCast, and operators imported through their ONNX function body."""
from __future__ import annotations

from typing import Any, Dict, List

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import mlir_lite.backend as backend
from mlir_lite.frontends.onnx import import_onnx

RNG = np.random.default_rng(7)


def _model(op: str, inputs: Dict[str, np.ndarray], n_out: int = 1, opset: int = 23,
           **attrs: Any):
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, list(inputs), outs, **attrs)
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in inputs.items()]
    ovs = [helper.make_empty_tensor_value_info(o) for o in outs]
    graph = helper.make_graph([node], "g", vis, ovs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    # declare the outputs with the types and shapes the oracle computes (as the ONNX test
    # cases do): a main-graph output must be ranked
    ref = ReferenceEvaluator(model).run(None, inputs)
    del model.graph.output[:]
    model.graph.output.extend(
        helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.asarray(r).dtype),
                                      np.asarray(r).shape) for o, r in zip(outs, ref))
    return model


def _check(op: str, inputs: Dict[str, np.ndarray], n_out: int = 1, opset: int = 23,
           **attrs: Any) -> List[np.ndarray]:
    model = _model(op, inputs, n_out, opset, **attrs)
    ours = list(backend.run_model(model, list(inputs.values())))
    ref = ReferenceEvaluator(model).run(None, inputs)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        b = np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.dtype, a.shape, b.dtype, b.shape)
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-5,
                                       atol=1e-6, equal_nan=True)
    return ours


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _ml_ops(model) -> List[str]:
    return [op.name for op in import_onnx(model)["main"].entry_block.ops]


# -- run-time parameters ------------------------------------------------------------------------
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceL2", "ReduceLogSumExp"])
def test_reduce_with_axes_input(op: str, keepdims: int) -> None:
    inputs = {"x": _f32(2, 3, 4), "axes": np.array([0, -1], np.int64)}
    _check(op, inputs, opset=18, keepdims=keepdims)
    assert any(n.endswith("_dynamic") for n in _ml_ops(_model(op, inputs, opset=18)))


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceLogSumExp"])
def test_reduce_of_an_empty_set_gives_the_identity(op: str) -> None:
    # ONNX: max of nothing is -inf, min +inf, log-sum-exp -inf
    _check(op, {"x": np.zeros((2, 0, 4), np.float32), "axes": np.array([1], np.int64)},
           opset=18, keepdims=1)


def test_trilu_pad_split_unsqueeze_tile_cumsum_onehot_with_input_parameters() -> None:
    x = _f32(3, 4)
    _check("Trilu", {"x": x, "k": np.array(-1, np.int64)}, upper=0)
    _check("Pad", {"x": x, "pads": np.array([1, 0, 0, 2], np.int64)}, mode="reflect")
    _check("Split", {"x": x, "split": np.array([1, 3], np.int64)}, n_out=2, axis=1)
    _check("Unsqueeze", {"x": x, "axes": np.array([0, 3], np.int64)})
    _check("Squeeze", {"x": _f32(1, 3, 1), "axes": np.array([2], np.int64)})
    _check("Tile", {"x": x, "repeats": np.array([2, 1], np.int64)})
    _check("CumSum", {"x": x, "axis": np.array(1, np.int32)}, exclusive=1, reverse=1)
    _check("OneHot", {"i": np.array([0, 2, -1], np.int64), "depth": np.array(3.0, np.float32),
                      "v": np.array([0, 5], np.int32)}, axis=0)


def test_resize_with_scales_and_sizes_inputs() -> None:
    x = _f32(1, 1, 3, 4)
    _check("Resize", {"x": x, "roi": np.array([], np.float32),
                      "scales": np.array([1, 1, 2, 0.5], np.float32)}, mode="linear")
    sizes = np.array([1, 1, 5, 2], np.int64)
    model = _model("Resize", {"x": x, "roi": np.array([], np.float32),
                              "scales": np.array([1, 1, 2, 0.5], np.float32)}, mode="nearest")
    node = model.graph.node[0]
    node.input[1:] = ["", "", "sizes"]
    del model.graph.input[1:]
    model.graph.input.append(helper.make_tensor_value_info("sizes", TensorProto.INT64, [4]))
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y0", TensorProto.FLOAT,
                                                                 [1, 1, 5, 2]))
    ours = backend.run_model(model, [x, sizes])[0]
    ref = ReferenceEvaluator(model).run(None, {"x": x, "sizes": sizes})[0]
    np.testing.assert_array_equal(ours, ref)


# -- losses and normalizations ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_negative_log_likelihood_loss(reduction: str) -> None:
    x = _f32(3, 5, 2)
    t = np.array([[0, 4], [1, 1], [3, 2]], np.int64)
    w = np.abs(_f32(5)) + 0.1
    _check("NegativeLogLikelihoodLoss", {"x": x, "t": t, "w": w}, opset=13,
           reduction=reduction, ignore_index=1)
    _check("NegativeLogLikelihoodLoss", {"x": x, "t": t}, opset=13, reduction=reduction)


def test_nll_loss_rejects_an_out_of_range_target() -> None:
    from mlir_lite.errors import ExecutionError
    model = _model("NegativeLogLikelihoodLoss", {"x": _f32(2, 3), "t": np.array([0, 1])},
                   opset=13)
    with pytest.raises(ExecutionError, match="out of range"):
        backend.run_model(model, [_f32(2, 3), np.array([0, 7], np.int64)])


def test_softmax_cross_entropy_loss_with_log_prob() -> None:
    _check("SoftmaxCrossEntropyLoss", {"x": _f32(4, 3), "t": np.array([0, 2, 1, 1], np.int64)},
           n_out=2, opset=13)


def test_layer_normalization_mean_and_inv_std_dev_outputs() -> None:
    _check("LayerNormalization", {"x": _f32(2, 3, 4), "s": _f32(3, 4), "b": _f32(3, 4)},
           n_out=3, opset=17, axis=1, epsilon=1e-3)


# -- narrow types -------------------------------------------------------------------------------
@pytest.mark.parametrize("to,saturate", [(TensorProto.FLOAT8E4M3FN, 1), (TensorProto.FLOAT8E4M3FN, 0),
                                         (TensorProto.FLOAT8E5M2, 1), (TensorProto.FLOAT8E5M2, 0)])
def test_cast_to_float8_saturates_or_overflows(to: int, saturate: int) -> None:
    x = np.array([0.3, -2.7, 1e6, -1e6, np.inf, np.nan, 448.0, 57344.0], np.float32)
    model = _model("Cast", {"x": x}, opset=21, to=to, saturate=saturate)
    got = backend.run_model(model, [x])[0].astype(np.float32)
    dt = {TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
          TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2}[to]
    m = float(ml_dtypes.finfo(dt).max)
    # independent expectation: clamp (saturate) and round to the nearest representable value
    want = (np.clip(x, -m, m) if saturate else x).astype(dt).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    if saturate:
        assert got[2] == m and got[4] == m and got[3] == -m


def test_cast_to_int4_and_back() -> None:
    x = np.array([-8, -3, 0, 5, 7], np.int32)
    model = _model("Cast", {"x": x}, opset=21, to=TensorProto.INT4)
    y = backend.run_model(model, [x])[0]
    assert y.dtype == np.dtype(ml_dtypes.int4)
    np.testing.assert_array_equal(y.astype(np.int32), x)


def test_bitcast_reinterprets_bits() -> None:
    x = np.array([1.0, -2.5, 0.0], np.float32)
    got = backend.run_model(_model("BitCast", {"x": x}, opset=26, to=TensorProto.INT32), [x])[0]
    np.testing.assert_array_equal(got, np.frombuffer(x.tobytes(), np.int32))


# -- quantization -------------------------------------------------------------------------------
def test_quantize_dequantize_per_tensor_axis_and_block() -> None:
    x = _f32(2, 4) * 50
    _check("QuantizeLinear", {"x": x, "s": np.array(0.5, np.float32),
                              "z": np.array(3, np.uint8)}, opset=21)
    _check("QuantizeLinear", {"x": x, "s": np.array([0.5, 1.0, 2.0, 4.0], np.float32),
                              "z": np.array([0, 1, -2, 5], np.int8)}, opset=21, axis=1)
    _check("QuantizeLinear", {"x": x, "s": np.array([[0.5, 2.0], [1.0, 3.0]], np.float32),
                              "z": np.array([[0, 1], [2, 3]], np.int8)}, opset=21, axis=1,
           block_size=2)
    q = RNG.integers(0, 255, (2, 4)).astype(np.uint8)
    _check("DequantizeLinear", {"q": q, "s": np.array([0.5, 0.25], np.float32),
                                "z": np.array([128, 3], np.uint8)}, opset=21, axis=0)


def test_matmul_integer_and_conv_integer() -> None:
    a = RNG.integers(0, 255, (3, 4)).astype(np.uint8)
    b = RNG.integers(-128, 127, (4, 2)).astype(np.int8)
    _check("MatMulInteger", {"a": a, "b": b, "az": np.array(5, np.uint8),
                             "bz": np.array(-3, np.int8)}, opset=10)
    # a per-row zero point of A (onnx.reference does not broadcast it; numpy oracle)
    az = np.array([5, 6, 7], np.uint8)
    model = _model("MatMulInteger", {"a": a, "b": b, "az": np.array(5, np.uint8)}, opset=10)
    model.graph.input[2].CopyFrom(helper.make_tensor_value_info("az", TensorProto.UINT8, [3]))
    got = backend.run_model(model, [a, b, az])[0]
    want = (a.astype(np.int32) - az.astype(np.int32)[:, None]) @ b.astype(np.int32)
    np.testing.assert_array_equal(got, want)
    x = RNG.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    w = RNG.integers(0, 255, (3, 2, 3, 3)).astype(np.uint8)
    _check("ConvInteger", {"x": x, "w": w, "xz": np.array(100, np.uint8)}, opset=10,
           pads=[1, 1, 1, 1])


def test_qlinear_matmul_and_conv() -> None:
    a = RNG.integers(0, 255, (2, 4)).astype(np.uint8)
    b = RNG.integers(0, 255, (4, 3)).astype(np.uint8)
    s = lambda v: np.array(v, np.float32)  # noqa: E731
    _check("QLinearMatMul", {"a": a, "as": s(0.02), "az": np.array(120, np.uint8), "b": b,
                             "bs": s(0.03), "bz": np.array(10, np.uint8), "ys": s(0.5),
                             "yz": np.array(5, np.uint8)}, opset=10)
    x = RNG.integers(0, 255, (1, 2, 4, 4)).astype(np.uint8)
    w = RNG.integers(0, 255, (2, 2, 2, 2)).astype(np.uint8)
    _check("QLinearConv", {"x": x, "xs": s(0.05), "xz": np.array(7, np.uint8), "w": w,
                           "ws": s([0.01, 0.02]), "wz": np.array(3, np.uint8), "ys": s(0.4),
                           "yz": np.array(9, np.uint8), "B": np.array([10, -20], np.int32)},
           opset=10)


# -- function bodies ----------------------------------------------------------------------------
def test_an_op_without_converter_imports_through_its_function_body() -> None:
    x = _f32(4, 6)
    model = _model("CenterCropPad", {"x": x, "shape": np.array([3, 8], np.int64)}, opset=18)
    ops = _ml_ops(model)
    assert "onnx.unsupported" not in ops and len(ops) > 3  # several ml ops, no placeholder
    _check("CenterCropPad", {"x": x, "shape": np.array([3, 8], np.int64)}, opset=18)


def test_dropout_mask_before_opset_10_has_the_input_type() -> None:
    x = _f32(2, 3)
    node = helper.make_node("Dropout", ["x"], ["y", "mask"])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("y", "mask")]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, 3])], outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    y, mask = backend.run_model(model, [x])
    np.testing.assert_array_equal(y, x)
    assert mask.dtype == np.float32 and np.all(mask == 1)

