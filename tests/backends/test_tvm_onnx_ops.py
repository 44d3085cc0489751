"""ONNX operators added to the importer, the reference interpreter and the TVM backend
together: each one-node model runs compiled (TVM, -O2), interpreted and in onnxruntime, which
is the oracle (`run_three_ways`); where onnxruntime lacks the operator, onnx.reference is.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest

pytest.importorskip("tvm")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402
from test_tvm_rule_coverage import I64, F, f32, run_three_ways  # noqa: E402

from mlir_lite import backend  # noqa: E402

R = np.random.default_rng(5)
F64, I32 = TensorProto.DOUBLE, TensorProto.INT32


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumprod(exclusive: int, reverse: int) -> None:
    x = R.uniform(0.5, 1.5, (3, 4, 5))
    for axis in (0, -1, 1):
        run_three_ways("CumProd", {"x": x}, [F64], opset=26, inits={"a": np.array(axis)},
                       exclusive=exclusive, reverse=reverse)
    xi = R.integers(-3, 4, (4, 6)).astype(np.int32)
    run_three_ways("CumProd", {"x": xi}, [I32], opset=26, inits={"a": np.array(1, np.int32)},
                   exclusive=exclusive, reverse=reverse)
    run_three_ways("CumProd", {"x": f32(2, 5), "a": np.int64(-1)}, [F], opset=26,
                   exclusive=exclusive, reverse=reverse)


@pytest.mark.parametrize("ceil,incl", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_average_pool_with_dilations(ceil: int, incl: int) -> None:
    run_three_ways("AveragePool", {"x": f32(1, 2, 9, 8)}, [F], kernel_shape=[3, 2],
                   dilations=[2, 3], strides=[2, 1], pads=[1, 0, 2, 1], ceil_mode=ceil,
                   count_include_pad=incl)
    run_three_ways("AveragePool", {"x": f32(1, 1, 7, 6, 5)}, [F], kernel_shape=[2, 2, 2],
                   dilations=[2, 2, 1], strides=[1, 2, 2], ceil_mode=ceil,
                   count_include_pad=incl)


@pytest.mark.parametrize("order", [0, 1])
def test_max_pool_indices(order: int) -> None:
    ties = R.integers(0, 3, (2, 3, 7, 6)).astype(np.float32)  # many equal maxima
    run_three_ways("MaxPool", {"x": ties}, [F, I64], kernel_shape=[3, 3], strides=[2, 2],
                   pads=[1, 1, 1, 1], storage_order=order)
    run_three_ways("MaxPool", {"x": f32(1, 2, 8, 7)}, [F, I64], kernel_shape=[2, 3],
                   strides=[2, 1], dilations=[2, 1], ceil_mode=1, storage_order=order)
    run_three_ways("MaxPool", {"x": R.integers(0, 2, (1, 2, 4, 5, 3)).astype(np.float32)},
                   [F, I64], kernel_shape=[2, 2, 2], strides=[1, 2, 1], storage_order=order)
    run_three_ways("MaxPool", {"x": np.full((1, 1, 4, 4), -np.inf, np.float32)}, [F, I64],
                   kernel_shape=[2, 2], pads=[1, 1, 0, 0], storage_order=order)


@pytest.mark.parametrize("p,axis", [(1, 0), (2, 1), (1, -1), (2, -1)])
def test_lp_normalization(p: int, axis: int) -> None:
    x = f32(3, 4, 5)
    x[:, 1] = 0.0  # zero norms along some axes: 0, not 0/0
    run_three_ways("LpNormalization", {"x": x}, [F], p=p, axis=axis)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_mod_takes_the_divisor_sign(dtype: type) -> None:
    inf, nan = np.inf, np.nan
    x = np.array([0.0, -0.0, 0.0, -0.0, -3.0, 3.0, -1.0, 1.0, inf, -inf, 1.0, 1.0, nan, 1.0,
                  -4.3, 7.2, 5.0, 4.3, -7.2, 8.0], dtype)
    y = np.array([-2.0, 2.0, 2.0, -2.0, inf, inf, -inf, -inf, 2.0, 2.0, 0.0, -0.0, 2.0, nan,
                  2.1, -3.4, 8.0, -2.1, 3.4, 5.0], dtype)
    tt = {np.float16: TensorProto.FLOAT16, np.float32: F, np.float64: F64}[dtype]
    (got,) = run_three_ways("Mod", {"x": x, "y": y}, [tt], opset=28, fmod=0)
    np.testing.assert_array_equal(np.signbit(got[:4]), [True, False, False, True])


def test_function_op_with_a_default_attribute() -> None:
    # MeanVarianceNormalization's body reads `axes` by reference: without the attribute the
    # checker's full check used to refuse the model (onnxruntime takes the default)
    run_three_ways("MeanVarianceNormalization", {"x": f32(3, 2, 4, 5)}, [F], opset=13)


def test_scan_8_over_a_batch() -> None:
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Add", ["s", "x"], ["s2"]), helper.make_node("Mul", ["s2", "x"], ["y"])],
        "body", [vi("s", F, [3]), vi("x", F, [3])], [vi("s2", F, [3]), vi("y", F, [3])])
    for dirs in ([0], [1]):
        run_three_ways("Scan", {"lens": None, "s0": f32(2, 3), "xs": f32(2, 4, 3)}, [F, F],
                       opset=8, body=body, num_scan_inputs=1, directions=dirs)


@pytest.mark.parametrize("cond", [False, True])
def test_if_with_a_constant_condition_imports_the_branch_taken(cond: bool) -> None:
    # the branch not taken splits 5 entries 4 ways: ONNX shape inference and the op disagree on
    # its sizes (the model never runs it; AffineGrid's expansion has such a branch)
    vi = helper.make_tensor_value_info

    def branch(parts: int, out: str) -> Any:
        names = [f"{out}{i}" for i in range(parts)]
        return helper.make_graph(
            [helper.make_node("Split", ["x"], names, num_outputs=parts),
             helper.make_node("Neg", [names[2]], [out])], out, [], [vi(out, F, None)])
    good, bad = branch(5, "g"), branch(4, "b")
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value_int=int(cond)),
         helper.make_node("Cast", ["c"], ["cb"], to=TensorProto.BOOL),
         helper.make_node("If", ["cb"], ["y"], then_branch=good if cond else bad,
                          else_branch=bad if cond else good)],
        "g", [vi("x", F, [5])], [vi("y", F, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    x = f32(5)
    want = -x[2:3]  # entry 2 of the five one-element parts, negated
    for executor in ("tvm", "interpreter"):
        (got,) = backend.prepare(model, "CPU", executor=executor).run([x])
        np.testing.assert_array_equal(got, want)


def test_det() -> None:
    run_three_ways("Det", {"x": f32(4, 4)}, [F])
    run_three_ways("Det", {"x": f32(2, 3, 5, 5)}, [F])
    sing = f32(3, 3, 3)
    sing[0, 2] = sing[0, 0] * 2  # singular; a zero pivot column; one needing a row swap
    sing[1, :, 0] = 0
    sing[2, 0, 0] = 0
    run_three_ways("Det", {"x": sing}, [F])
    run_three_ways("Det", {"x": f32(2, 1, 1)}, [F])


def _ml_domain_model(node: Any, inputs: list, out_type: int, rank: int) -> Any:
    """A model importing only ai.onnx.ml (no default-domain opset, as onnxruntime accepts)."""
    vi = helper.make_tensor_value_info
    out = vi("y", out_type, [f"d{i}" for i in range(rank)])
    g = helper.make_graph([node], "g", inputs, [out])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("ai.onnx.ml", 3)],
                             ir_version=9)


@pytest.mark.parametrize("case", ["binarizer", "extract_2d", "extract_1d", "extract_3d"])
def test_ai_onnx_ml_operators(case: str) -> None:
    import onnxruntime as ort
    vi = helper.make_tensor_value_info
    if case == "binarizer":
        feeds = {"x": f32(3, 4)}
        node = helper.make_node("Binarizer", ["x"], ["y"], domain="ai.onnx.ml", threshold=0.5)
    else:
        shape = {"extract_2d": (3, 5), "extract_1d": (6,), "extract_3d": (2, 3, 4)}[case]
        feeds = {"x": f32(*shape), "i": np.array([[2, 0, 2]], np.int64)}
        node = helper.make_node("ArrayFeatureExtractor", ["x", "i"], ["y"], domain="ai.onnx.ml")
    model = _ml_domain_model(node, [vi(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                                    for k, v in feeds.items()], F, max(feeds["x"].ndim, 2))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (want,) = sess.run(None, feeds)
    for executor in ("tvm", "interpreter"):
        (got,) = backend.prepare(model, "CPU", executor=executor).run(list(feeds.values()))
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("attrs", [{}, {"strides": [2, 1]}, {"pads": [1, 0, 2, 1]},
                                   {"dilations": [2, 2], "pads": [1, 1, 1, 1]}])
def test_col2im_with_constant_shapes(attrs: Dict[str, Any]) -> None:
    image, block = [6, 5], [2, 3]
    n = 2
    strides = attrs.get("strides", [1] * n)
    pads = attrs.get("pads", [0] * 2 * n)
    dil = attrs.get("dilations", [1] * n)
    cols = [(image[i] + pads[i] + pads[n + i] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1
            for i in range(n)]
    x = f32(2, 3 * 6, int(np.prod(cols)))
    run_three_ways("Col2Im", {"x": x}, [F], opset=18,
                   inits={"image": np.array(image), "block": np.array(block)}, **attrs)


def test_col2im_3d() -> None:
    x = f32(1, 2 * 8, 3 * 2 * 2)
    run_three_ways("Col2Im", {"x": x}, [F], opset=18,
                   inits={"image": np.array([4, 3, 3]), "block": np.array([2, 2, 2])})


def test_max_unpool() -> None:
    for shape, out in (((2, 3, 8, 6), None), ((2, 3, 9, 7), np.array([2, 3, 9, 7]))):
        _, idx = run_three_ways("MaxPool", {"x": f32(*shape)}, [F, I64], kernel_shape=[2, 2],
                                strides=[2, 2])
        run_three_ways("MaxUnpool", {"x": f32(*idx.shape), "i": idx}, [F], kernel_shape=[2, 2],
                       strides=[2, 2], inits={} if out is None else {"shape": out})


@pytest.mark.parametrize("attrs", [{}, {"sorted": 0}, {"axis": 0}, {"axis": -1},
                                   {"axis": 1, "sorted": 0}])
def test_unique(attrs: Dict[str, Any]) -> None:
    # the distinct count is decided at run time: one compile serves each input
    x = R.integers(0, 3, (4, 3)).astype(np.float32)
    x[2] = x[0]
    x[:, 2] = x[:, 0]
    outs = [F, I64, I64, I64]
    run_three_ways("Unique", {"x": x}, outs, **attrs)
    run_three_ways("Unique", {"x": R.integers(-2, 9, (7,)).astype(np.int64)}, [I64] * 4,
                   **{k: v for k, v in attrs.items() if k != "axis"})


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(mode: str, pad: str, align: int) -> None:
    grid = R.uniform(-1.6, 1.6, (2, 3, 5, 2)).astype(np.float32)  # some points outside
    run_three_ways("GridSample", {"x": f32(2, 3, 4, 6), "g": grid}, [F], opset=22, mode=mode,
                   padding_mode=pad, align_corners=align)


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_grid_sample_3d_and_opset_16_names(mode: str) -> None:
    grid = R.uniform(-1.3, 1.3, (1, 2, 3, 4, 3)).astype(np.float32)
    run_three_ways("GridSample", {"x": f32(1, 2, 3, 4, 5), "g": grid}, [F], opset=22,
                   mode=mode, padding_mode="reflection")
    run_three_ways("GridSample", {"x": f32(1, 2, 5, 4), "g": grid[:, 0, :, :, :2]}, [F],
                   opset=16, mode="bilinear" if mode == "linear" else mode)
