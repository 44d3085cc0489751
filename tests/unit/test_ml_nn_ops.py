"""Neural-network `ml` ops: conv, pooling, normalization, softmax family and recurrent ops,
against onnx.reference or onnxruntime on one-node models with random float32 inputs; type
inference with symbolic dims; verifier errors.

Tolerances: rtol 1e-4 / atol 1e-5 (accumulations over windows, channels and time steps).
"""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.errors import InferenceError
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.types import tensor

from ._ml_oracle import assert_close, onnx_ref, ort_run, run_op

RNG = np.random.default_rng(99)
TOL = (1e-4, 1e-5)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _onnx_attrs(attrs):
    return {k: int(v) if isinstance(v, bool) else (list(v) if isinstance(v, tuple) else v)
            for k, v in attrs.items() if v != ()}


# -- convolution -------------------------------------------------------------------------------
CONV = [
    ((2, 3, 7, 7), (4, 3, 3, 3), {}, True),
    ((1, 4, 8, 9), (6, 2, 3, 2), {"group": 2, "strides": (2, 1), "pads": (1, 0, 2, 1)}, True),
    ((1, 2, 9, 9), (3, 2, 3, 3), {"dilations": (2, 2), "pads": (2, 2, 2, 2)}, False),
    ((2, 3, 10), (5, 3, 4), {"strides": (3,), "pads": (1, 2)}, True),
    ((1, 2, 4, 5, 6), (2, 1, 2, 3, 2), {"group": 2, "strides": (1, 2, 2)}, True),
]


@pytest.mark.parametrize("xs,ws,attrs,bias", CONV)
def test_conv_matches_onnx(xs, ws, attrs, bias):
    ins = [randn(*xs), randn(*ws)] + ([randn(ws[0])] if bias else [])
    got = run_op("ml.conv", ins, **attrs)[0]
    assert_close(got, onnx_ref("Conv", ins, **_onnx_attrs(attrs))[0], *TOL)


CONV_T = [
    ((1, 3, 4, 4), (3, 2, 3, 3), {}),
    ((2, 4, 3, 5), (4, 1, 3, 2), {"group": 2, "strides": (2, 3), "pads": (1, 0, 0, 1)}),
    ((1, 2, 5, 5), (2, 3, 3, 3), {"strides": (2, 2), "output_padding": (1, 1),
                                  "dilations": (1, 2)}),
    ((1, 2, 6), (2, 2, 4), {"strides": (2,), "pads": (1, 1)}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_T)
def test_conv_transpose_matches_onnx(xs, ws, attrs):
    m = ws[1] * attrs.get("group", 1)
    ins = [randn(*xs), randn(*ws), randn(m)]
    got = run_op("ml.conv_transpose", ins, **attrs)[0]
    assert_close(got, ort_run("ConvTranspose", ins, **_onnx_attrs(attrs))[0], *TOL)


# -- pooling (onnxruntime is the oracle: onnx.reference shifts ceil-mode windows) ---------------
POOL = [
    ({"kernel_shape": (3, 3)}),
    ({"kernel_shape": (3, 3), "strides": (2, 2), "ceil_mode": True}),
    ({"kernel_shape": (2, 3), "strides": (2, 2), "pads": (1, 1, 1, 1)}),
    ({"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1, 0, 1), "ceil_mode": True}),
    ({"kernel_shape": (2, 2), "dilations": (2, 2), "strides": (1, 2)}),
]


@pytest.mark.parametrize("attrs", POOL)
@pytest.mark.parametrize("kind", ["max", "avg", "avg_incl", "lp"])
def test_pools_match_onnxruntime(attrs, kind):
    x = randn(2, 3, 8, 7)
    extra = {"count_include_pad": True} if kind == "avg_incl" else {}
    name, onnx_op = {"max": ("max_pool", "MaxPool"), "avg": ("avg_pool", "AveragePool"),
                     "avg_incl": ("avg_pool", "AveragePool"),
                     "lp": ("lp_pool", "LpPool")}[kind]
    if kind == "lp":
        extra = {"p": 3}
    got = run_op(f"ml.{name}", [x], **attrs, **extra)[0]
    want = ort_run(onnx_op, [x], **_onnx_attrs({**attrs, **extra}))[0]
    assert_close(got, want, *TOL)


def test_pool_1d_and_3d_match_onnxruntime():
    x1 = randn(2, 3, 11)
    got = run_op("ml.max_pool", [x1], kernel_shape=(3,), strides=(2,), pads=(1, 1))[0]
    assert_close(got, ort_run("MaxPool", [x1], kernel_shape=[3], strides=[2], pads=[1, 1])[0])
    x3 = randn(1, 2, 5, 4, 6)
    got = run_op("ml.avg_pool", [x3], kernel_shape=(2, 2, 3), strides=(1, 2, 2))[0]
    want = ort_run("AveragePool", [x3], kernel_shape=[2, 2, 3], strides=[1, 2, 2])[0]
    assert_close(got, want, *TOL)


@pytest.mark.parametrize("name,onnx_op,attrs", [("global_avg_pool", "GlobalAveragePool", {}),
                                                ("global_max_pool", "GlobalMaxPool", {}),
                                                ])
def test_global_pools_match_onnx(name, onnx_op, attrs):
    x = randn(2, 3, 5, 4)
    assert_close(run_op(f"ml.{name}", [x], **attrs)[0], ort_run(onnx_op, [x], **attrs)[0], *TOL)


def test_global_lp_pool_matches_numpy():
    x = randn(2, 3, 5, 4).astype(np.float64)
    want = (np.abs(x) ** 3).sum(axis=(2, 3), keepdims=True) ** (1 / 3)
    assert_close(run_op("ml.global_lp_pool", [x.astype(np.float32)], p=3)[0], want, *TOL)


# -- normalization ---------------------------------------------------------------------------
def test_batch_and_instance_norm_match_onnx():
    x = randn(2, 3, 4, 5)
    sc, b, mean, var = randn(3), randn(3), randn(3), np.abs(randn(3)) + 0.1
    got = run_op("ml.batch_norm", [x, sc, b, mean, var], epsilon=1e-3)[0]
    want = onnx_ref("BatchNormalization", [x, sc, b, mean, var], epsilon=1e-3)[0]
    assert_close(got, want, *TOL)
    got = run_op("ml.instance_norm", [x, sc, b], epsilon=1e-4)[0]
    assert_close(got, onnx_ref("InstanceNormalization", [x, sc, b], epsilon=1e-4)[0], *TOL)


@pytest.mark.parametrize("axis,bias", [(-1, True), (1, False), (2, True)])
def test_layer_norm_matches_onnx(axis, bias):
    x = randn(2, 3, 4)
    ps = x.shape[axis:]
    ins = [x, randn(*ps)] + ([randn(*ps)] if bias else [])
    got = run_op("ml.layer_norm", ins, axis=axis, epsilon=1e-5)[0]
    assert_close(got, onnx_ref("LayerNormalization", ins, axis=axis, epsilon=1e-5)[0], *TOL)


def test_group_rms_norm_and_lrn_match_onnx():
    x = randn(2, 6, 3, 4)
    sc, b = randn(6), randn(6)
    got = run_op("ml.group_norm", [x, sc, b], num_groups=3)[0]
    assert_close(got, onnx_ref("GroupNormalization", [x, sc, b], num_groups=3)[0], *TOL)
    sc2 = randn(3, 4)
    got = run_op("ml.rms_norm", [x, sc2], axis=2)[0]
    assert_close(got, onnx_ref("RMSNormalization", [x, sc2], axis=2)[0], *TOL)
    for size in (3, 5):  # onnxruntime takes odd sizes only
        got = run_op("ml.lrn", [x], size=size, alpha=1e-2, beta=0.6, bias=2.0)[0]
        want = ort_run("LRN", [x], size=size, alpha=1e-2, beta=0.6, bias=2.0)[0]
        assert_close(got, want, *TOL)


def test_lrn_even_size_matches_spec_formula():
    x = randn(2, 5, 3).astype(np.float64)
    size, alpha, beta, bias = 4, 0.1, 0.75, 1.5
    want = np.empty_like(x)
    for c in range(5):  # the ONNX formula: channels c - floor((s-1)/2) .. c + ceil((s-1)/2)
        lo, hi = max(0, c - (size - 1) // 2), min(4, c + -(-(size - 1) // 2))
        sq = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        want[:, c] = x[:, c] / (bias + alpha / size * sq) ** beta
    got = run_op("ml.lrn", [x.astype(np.float32)], size=size, alpha=alpha, beta=beta, bias=bias)
    assert_close(got[0], want, *TOL)


@pytest.mark.parametrize("name,onnx_op", [("softmax", "Softmax"), ("log_softmax", "LogSoftmax"),
                                          ("hardmax", "Hardmax")])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family_matches_onnx(name, onnx_op, axis):
    x = randn(3, 4, 5) * 3
    x[0, 0, :2] = 7.0  # a tie for hardmax
    assert_close(run_op(f"ml.{name}", [x], axis=axis)[0], onnx_ref(onnx_op, [x], axis=axis)[0],
                 *TOL)


def test_dropout_is_identity_at_inference():
    x = randn(4, 5)
    np.testing.assert_array_equal(run_op("ml.dropout", [x], ratio=0.3)[0], x)


# -- recurrent -------------------------------------------------------------------------------
SEQ, BATCH, INP, HID = 5, 3, 4, 6


def _rnn_inputs(kind, nd, optional, layout=0):
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    x = randn(BATCH, SEQ, INP) if layout else randn(SEQ, BATCH, INP)
    w, r = randn(nd, gates * HID, INP) * 0.5, randn(nd, gates * HID, HID) * 0.5
    b = randn(nd, 2 * gates * HID) * 0.5
    lens = np.array([5, 2, 4], np.int32)
    h0 = randn(BATCH, nd, HID) if layout else randn(nd, BATCH, HID)
    c0 = randn(*h0.shape)
    p = randn(nd, 3 * HID) * 0.5
    full = {"b": b, "sequence_lens": lens, "initial_h": h0, "initial_c": c0, "p": p}
    names = {"lstm": ["b", "sequence_lens", "initial_h", "initial_c", "p"],
             "gru": ["b", "sequence_lens", "initial_h"],
             "rnn": ["b", "sequence_lens", "initial_h"]}[kind]
    opt = [full[n] if n in optional else None for n in names]
    return [x, w, r], opt


RNN_CASES = [
    ("lstm", "forward", ("b",), {}), ("lstm", "reverse", ("b", "initial_h", "initial_c"), {}),
    ("lstm", "bidirectional", ("b", "sequence_lens", "initial_h", "initial_c", "p"), {}),
    ("lstm", "forward", ("p",), {"input_forget": True, "clip": 0.8}),
    ("gru", "forward", ("b", "initial_h"), {}),
    ("gru", "bidirectional", ("b", "sequence_lens"), {"linear_before_reset": True}),
    ("gru", "reverse", ("sequence_lens",), {"activations": ("HardSigmoid", "Softsign"),
                                            "activation_alpha": (0.3,),
                                            "activation_beta": (0.4,)}),
    ("rnn", "forward", (), {}), ("rnn", "bidirectional", ("b", "sequence_lens", "initial_h"),
                                 {"activations": ("Relu", "LeakyRelu"),
                                  "activation_alpha": (0.2,)}),
    ("lstm", "forward", ("b", "initial_h"), {"layout": 1}),
]


@pytest.mark.parametrize("kind,direction,optional,attrs", RNN_CASES)
def test_recurrent_ops_match_onnxruntime(kind, direction, optional, attrs):
    nd = 2 if direction == "bidirectional" else 1
    req, opt = _rnn_inputs(kind, nd, optional, attrs.get("layout", 0))
    seg = (1, 1, 1) + tuple(int(o is not None) for o in opt)
    ins = req + [o for o in opt if o is not None]
    got = run_op(f"ml.{kind}", ins, direction=direction, hidden_size=HID,
                 operandSegmentSizes=seg, **attrs)
    n_out = 3 if kind == "lstm" else 2
    while opt and opt[-1] is None:
        opt.pop()
    # onnxruntime has no layout=1; onnx.reference has it (but ignores sequence_lens)
    oracle = onnx_ref if attrs.get("layout") else ort_run
    want = oracle(kind.upper(), req + opt, n_out=n_out, direction=direction, hidden_size=HID,
                  **_onnx_attrs(attrs))
    assert len(got) == n_out
    for g, w in zip(got, want):
        assert_close(g, w, *TOL)


# -- inference and verification --------------------------------------------------------------
def _infer(name, types, **attrs):
    return OP_REGISTRY[name].infer_result_types(list(types), attrs)


def test_nn_inference_with_symbolic_dims():
    conv = _infer("ml.conv", [tensor(["N", 3, 32, None]), tensor([16, 3, 3, 3])],
                  pads=(1, 1, 1, 1), strides=(2, 2))[0]
    assert conv == tensor(["N", 16, 16, None])
    assert _infer("ml.conv", [tensor(None), tensor([8, 3, 3, 3])])[0] == tensor(None)
    same = _infer("ml.conv", [tensor(["N", 3, "H", "W"]), tensor([8, 3, 3, 3])],
                  pads=(1, 1, 1, 1))[0]
    assert same == tensor(["N", 8, "H", "W"])  # length-preserving windows keep symbols
    assert _infer("ml.conv", [tensor(["N", 3, "H", "W"]), tensor([8, 3, 3, 3])],
                  pads=(1, 1, 1, 1), strides=(2, 1))[0] == \
        tensor(["N", 8, "floor(H/2 - 1/2) + 1", "W"])  # (H + 2 - 3) // 2 + 1
    assert _infer("ml.max_pool", [tensor(["N", 3, "H", 9])], kernel_shape=(3, 3),
                  pads=(1, 1, 1, 1))[0] == tensor(["N", 3, "H", 9])
    assert _infer("ml.conv_transpose", [tensor([1, 4, "H", 5]), tensor([4, 2, 3, 3])],
                  pads=(1, 0, 1, 0))[0] == tensor([1, 2, "H", 7])
    ct = _infer("ml.conv_transpose", [tensor(["N", 4, 5, 5]), tensor([4, 2, 3, 3])],
                group=2, strides=(2, 2), output_padding=(1, 1))[0]
    assert ct == tensor(["N", 4, 12, 12])
    mp = _infer("ml.max_pool", [tensor(["N", "C", 7, 8])], kernel_shape=(3, 3), strides=(2, 2),
                ceil_mode=True)[0]
    assert mp == tensor(["N", "C", 3, 4])
    assert _infer("ml.global_avg_pool", [tensor(["N", "C", "H", "W"])])[0] == \
        tensor(["N", "C", 1, 1])
    assert _infer("ml.layer_norm", [tensor(["B", "T", 8]), tensor([8])])[0] == \
        tensor(["B", "T", 8])
    assert _infer("ml.softmax", [tensor(["B", None])], axis=1)[0] == tensor(["B", None])
    y, h, c = _infer("ml.lstm", [tensor(["T", "B", 4]), tensor([2, 24, 4]),
                                 tensor([2, 24, 6])], direction="bidirectional")
    assert y == tensor(["T", 2, "B", 6]) and h == c == tensor([2, "B", 6])
    y, h = _infer("ml.gru", [tensor(["B", "T", 4]), tensor([1, 18, 4]), tensor([1, 18, 6])],
                  layout=1)
    assert y == tensor(["B", "T", 1, 6]) and h == tensor(["B", 1, 6])


@pytest.mark.parametrize("name,types,attrs", [
    ("ml.conv", [tensor([1, 4, 8, 8]), tensor([8, 3, 3, 3])], {}),
    ("ml.conv", [tensor([1, 4, 8, 8]), tensor([6, 2, 3, 3])], {"group": 4}),
    ("ml.conv", [tensor([1, 3, 8, 8]), tensor([8, 3, 3, 3])], {"strides": (1,)}),
    ("ml.conv", [tensor([1, 3, 2, 2]), tensor([8, 3, 3, 3])], {}),
    ("ml.conv", [tensor([1, 3, 8, 8]), tensor([8, 3, 3, 3]), tensor([4])], {}),
    ("ml.max_pool", [tensor([1, 3, 8])], {"kernel_shape": (2, 2)}),
    ("ml.max_pool", [tensor([1, 3, 8, 8])], {"kernel_shape": (2, 2), "pads": (2, 0, 0, 0)}),
    ("ml.batch_norm", [tensor([2, 3, 4])] + [tensor([4])] * 4, {}),
    ("ml.group_norm", [tensor([2, 6, 4]), tensor([6]), tensor([6])], {"num_groups": 4}),
    ("ml.softmax", [tensor([2, 3])], {"axis": 2}),
    ("ml.softmax", [tensor([2, 3], "i32")], {}),
    ("ml.layer_norm", [tensor([2, 3, 4]), tensor([3])], {}),
    ("ml.lstm", [tensor([5, 2, 4]), tensor([1, 24, 4]), tensor([1, 24, 6])],
     {"direction": "sideways"}),
    ("ml.lstm", [tensor([5, 2, 4]), tensor([2, 24, 4]), tensor([2, 24, 6])], {}),
    ("ml.gru", [tensor([5, 2, 4]), tensor([1, 18, 4]), tensor([1, 18, 6])],
     {"activations": ("Tanh",)}),
])
def test_nn_inference_rejects_bad_operands(name, types, attrs):
    with pytest.raises(InferenceError):
        _infer(name, types, **attrs)
