"""Imported ONNX models run by the reference interpreter agree with onnxruntime
(rtol 1e-4, atol 1e-5)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from mlir_lite.frontends.onnx import import_onnx
from mlir_lite.ir.interpreter import run

from . import _models as M

RTOL, ATOL = 1e-4, 1e-5


def _check(model, feeds) -> None:
    module = import_onnx(model)
    ours = run(module, *feeds.values())
    ref = M.run_ort(model, feeds)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_mlp() -> None:
    _check(M.mlp(), {"x": M.f32(5, 4)})


def test_small_cnn() -> None:
    _check(M.cnn(), {"x": M.f32(2, 3, 12, 12)})


@pytest.mark.parametrize("batch,seq", [(1, 3), (2, 5)])
def test_transformer_block_symbolic_batch_and_sequence(batch: int, seq: int) -> None:
    _check(M.transformer_block(), {"x": M.f32(batch, seq, 8)})


@pytest.mark.parametrize("x,trip", [([1.0, 2.0, -0.5], 6), ([-1.0, -2.0, 0.5], 3),
                                    ([0.5, 0.5, 0.5], 0)])
def test_if_and_loop(x, trip) -> None:
    # the first case leaves the Loop early through its condition
    _check(M.if_loop(), {"x": np.array(x, np.float32), "trip": np.array(trip, np.int64)})


def test_scan_reverse_input_and_output_axis() -> None:
    _check(M.scan_model(), {"s0": M.f32(4), "xs": M.f32(5, 4)})


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm(direction: str) -> None:
    nd = 2 if direction == "bidirectional" else 1
    _check(M.lstm(direction), {"x": M.f32(4, 2, 3), "h0": M.f32(nd, 2, 5),
                               "c0": M.f32(nd, 2, 5)})


def test_gru_and_rnn() -> None:
    n = helper.make_node
    m = M.model([n("GRU", ["x", "W", "R", "B"], ["Y", "Y_h"], name="gru", hidden_size=4,
                   linear_before_reset=1),
                 n("RNN", ["x", "Wr", "Rr"], ["", "Yr_h"], name="rnn", hidden_size=4)],
                [M.vi("x", [3, 2, 5])],
                [M.vi("Y", [3, 1, 2, 4]), M.vi("Y_h", [1, 2, 4]), M.vi("Yr_h", [1, 2, 4])],
                [M.init("W", M.f32(1, 12, 5, scale=0.5)), M.init("R", M.f32(1, 12, 4, scale=0.5)),
                 M.init("B", M.f32(1, 24, scale=0.5)), M.init("Wr", M.f32(1, 4, 5, scale=0.5)),
                 M.init("Rr", M.f32(1, 4, 4, scale=0.5))])
    _check(m, {"x": M.f32(3, 2, 5)})


def test_dynamic_shape_ops_and_constant_folding() -> None:
    """x.view(x.size(0), -1)-style shape arithmetic, Slice/Pad/Expand/Concat/Gather/TopK."""
    n = helper.make_node
    m = M.model([
        n("Shape", ["x"], ["s"], name="shape"),
        n("Gather", ["s", "zero"], ["n0"], name="dim0", axis=0),
        n("Unsqueeze", ["n0", "axes0"], ["n0u"], name="unsq"),
        n("Concat", ["n0u", "minus1"], ["target"], name="cat_shape", axis=0),
        n("Reshape", ["x", "target"], ["flat"], name="flatten_view"),
        n("Slice", ["flat", "starts", "ends", "axes1"], ["sl"], name="slice"),
        n("Pad", ["sl", "pads", "pv"], ["pd"], name="pad", mode="constant"),
        n("TopK", ["pd", "k"], ["tv", "ti"], name="topk", axis=1),
        n("Cast", ["ti"], ["tif"], name="cast", to=TensorProto.FLOAT),
        n("Add", ["tv", "tif"], ["y"], name="add"),
        n("ReduceMean", ["y"], ["ym"], name="mean", axes=[1], keepdims=1),
        n("Expand", ["ym", "eshape"], ["ye"], name="expand"),
        n("Where", ["cond", "ye", "y"], ["out"], name="where"),
    ], [M.vi("x", ["N", 3, 4]), M.vi("cond", [1, 4], TensorProto.BOOL)], [M.vi("out", ["N", 4])],
        [M.init("zero", np.array(0, np.int64)), M.init("axes0", np.array([0], np.int64)),
         M.init("minus1", np.array([-1], np.int64)), M.init("starts", np.array([2], np.int64)),
         M.init("ends", np.array([10], np.int64)), M.init("axes1", np.array([1], np.int64)),
         M.init("pads", np.array([0, 1, 0, 2], np.int64)), M.init("pv", np.array(0.5, np.float32)),
         M.init("k", np.array([4], np.int64)), M.init("eshape", np.array([1, 4], np.int64))])
    _check(m, {"x": M.f32(3, 3, 4), "cond": np.array([[True, False, True, False]])})


def test_elementwise_and_reductions_opset13() -> None:
    n = helper.make_node
    m = M.model([
        n("Clip", ["x", "lo", ""], ["c"], name="clip"),
        n("LeakyRelu", ["c"], ["l"], name="lrelu", alpha=0.2),
        n("Softmax", ["l"], ["s"], name="softmax", axis=1),
        n("ReduceSum", ["s", "ax"], ["r"], name="rsum", keepdims=0),
        n("Sqrt", ["r"], ["q"], name="sqrt"),
        n("Split", ["x"], ["a", "b"], name="split", axis=1),
        n("Max", ["a", "b"], ["mx"], name="max"),
        n("ReduceMin", ["mx"], ["mn"], name="rmin", axes=[1], keepdims=1),
        n("Squeeze", ["mn", "ax2"], ["sq"], name="squeeze"),
        n("Sum", ["sq", "q"], ["y"], name="sum"),
    ], [M.vi("x", [2, 4, 3])], [M.vi("y", [2, 3])],
        [M.init("lo", np.array(-0.5, np.float32)), M.init("ax", np.array([1], np.int64)),
         M.init("ax2", np.array([1], np.int64))], opset=13)
    _check(m, {"x": M.f32(2, 4, 3)})


def test_old_opset_softmax_and_attribute_forms() -> None:
    n = helper.make_node
    m = M.model([
        n("Softmax", ["x"], ["s"], name="softmax_v9", axis=1),
        n("Unsqueeze", ["s"], ["u"], name="unsq_v9", axes=[0]),
        n("ReduceMax", ["u"], ["y"], name="rmax_v9", axes=[0], keepdims=0),
        n("Slice", ["y"], ["z"], name="slice_v9", starts=[1], ends=[3], axes=[1]),
    ], [M.vi("x", [2, 3, 4])], [M.vi("z", [2, 2, 4])], opset=9)
    _check(m, {"x": M.f32(2, 3, 4)})
