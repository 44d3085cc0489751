"""The compiled (TVM CPU) path on empty tensors and host-run loops, against the interpreter and
an independent oracle (onnxruntime, or numpy written here).

Regressions covered: a kernel with a loop of extent 0 crashed the scheduler ("Divide by zero"
when fusing); a reduction over an empty set never initialised its output (TVM lowers the init
inside the reduction loop) and started max/min from the lowest finite float instead of -inf;
an error flag reduced over no index read as set (INT_MIN); a static ReduceMean over an empty
set failed to compile; loop scan outputs. Tolerances: rtol 1e-5, atol 1e-6 (float32).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

from mlir_lite import backend  # noqa: E402

F, I64, BOOL = TP.FLOAT, TP.INT64, TP.BOOL
RTOL, ATOL = 1e-5, 1e-6


def _model(nodes: Sequence[Any], ins: Sequence[Any], outs: Sequence[Any],
           inits: Sequence[Any] = ()) -> onnx.ModelProto:
    m = h.make_model(h.make_graph(list(nodes), "g", list(ins), list(outs), list(inits)),
                     opset_imports=[h.make_opsetid("", 18)])
    m.ir_version = 9  # what this onnxruntime loads
    return m


def _vi(name: str, shape: Optional[Sequence[Any]], t: int = F) -> Any:
    return h.make_tensor_value_info(name, t, shape)


def _i64(name: str, vals: Sequence[int]) -> Any:
    return h.make_tensor(name, I64, [len(vals)], list(vals))


def _same(got: Sequence[np.ndarray], want: Sequence[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, \
            f"{what} output {i}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True,
                                   err_msg=f"{what} output {i}")


def _run(m: onnx.ModelProto, feeds: Dict[str, np.ndarray], executor: str) -> List[np.ndarray]:
    return backend.prepare(m, "CPU", executor=executor).run(list(feeds.values()))


def _ort(m: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _check(m: onnx.ModelProto, feeds: Dict[str, np.ndarray],
           oracle: Optional[List[np.ndarray]] = None) -> None:
    """compiled == interpreter == oracle (onnxruntime unless given)."""
    want = _ort(m, feeds) if oracle is None else oracle
    _same(_run(m, feeds, "interpreter"), want, "interpreter")
    _same(_run(m, feeds, "tvm"), want, "compiled")


# -- empty reductions --------------------------------------------------------------------------
_REDUCE = ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceLogSumExp", "ReduceL1",
           "ReduceL2", "ReduceLogSum", "ReduceSumSquare"]


@pytest.mark.parametrize("keep", [0, 1])
@pytest.mark.parametrize("op", _REDUCE)
@pytest.mark.parametrize("form", ["static", "runtime-axes", "symbolic"])
def test_reduce_over_empty_axis(op: str, keep: int, form: str) -> None:
    """(2, 0, 4) reduced over axis 1: the identity (0, -inf, +inf, 1, ...) in every element,
    as onnxruntime gives; the output buffer holds garbage first (the arena reuses memory)."""
    x = np.zeros((2, 0, 4), np.float32)
    out = [_vi("y", [2, 1, 4] if keep else [2, 4])]
    node = h.make_node(op, ["x", "axes"], ["y"], keepdims=keep)
    if form == "runtime-axes":
        m = _model([node], [_vi("x", [2, 0, 4]), _vi("axes", [1], I64)], out)
        _check(m, {"x": x, "axes": np.array([1], np.int64)})
    else:
        m = _model([node], [_vi("x", [2, 0 if form == "static" else "N", 4])], out,
                   [_i64("axes", [1])])
        _check(m, {"x": x})


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
                                "ReduceLogSumExp"])
def test_reduce_all_axes_of_empty_tensor(op: str) -> None:
    m = _model([h.make_node(op, ["x"], ["y"], keepdims=0)], [_vi("x", [0, 3])], [_vi("y", [])])
    _check(m, {"x": np.zeros((0, 3), np.float32)})


@pytest.mark.parametrize("keep", [0, 1])
def test_reduce_mean_over_empty_axis_is_nan(keep: int) -> None:
    """0/0: NaN, as numpy and onnx.reference give (onnxruntime gives 0; ONNX leaves it
    undefined). Statically the count is 0, which TVM's constant folding refused to divide by."""
    from onnx.reference import ReferenceEvaluator
    x = np.zeros((2, 0, 4), np.float32)
    m = _model([h.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keep)],
               [_vi("x", [2, 0, 4])], [_vi("y", [2, 1, 4] if keep else [2, 4])],
               [_i64("axes", [1])])
    want = ReferenceEvaluator(m).run(None, {"x": x})
    assert np.isnan(want[0]).all()
    _check(m, {"x": x}, oracle=[np.asarray(w, np.float32) for w in want])


def test_reduce_max_of_minus_inf_row_is_minus_inf() -> None:
    """max over a row of -inf is -inf (TVM's te.max started from -FLT_MAX)."""
    x = np.array([[-np.inf, -np.inf, -np.inf], [1.0, -np.inf, 2.0]], np.float32)
    m = _model([h.make_node("ReduceMax", ["x", "axes"], ["y"], keepdims=0),
                h.make_node("Neg", ["x"], ["n"]),
                h.make_node("ReduceMin", ["n", "axes"], ["z"], keepdims=0)],
               [_vi("x", [2, 3])], [_vi("y", [2]), _vi("z", [2])], [_i64("axes", [1])])
    _check(m, {"x": x}, oracle=[np.array([-np.inf, 2.0], np.float32),
                                np.array([np.inf, -2.0], np.float32)])


def test_symbolic_reduction_reused_for_zero_and_nonzero_sizes() -> None:
    """One compiled function, N = 0, 3, 0: the symbolic reduction loop may run zero times."""
    m = _model([h.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0),
                h.make_node("ReduceMax", ["x", "axes"], ["mx"], keepdims=1)],
               [_vi("x", ["N", 5])], [_vi("s", [5]), _vi("mx", [1, 5])], [_i64("axes", [0])])
    rep = backend.prepare(m, "CPU", executor="tvm")
    rng = np.random.default_rng(0)
    for n in (0, 3, 0):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        s, mx = rep.run([x])
        np.testing.assert_allclose(s, x.sum(axis=0), rtol=RTOL, atol=ATOL)
        np.testing.assert_array_equal(mx, x.max(axis=0, keepdims=True) if n else
                                      np.full((1, 5), -np.inf, np.float32))


# -- empty slices, zero-size tensors -----------------------------------------------------------
def test_empty_slice_feeding_elementwise_and_concat() -> None:
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    m = _model([h.make_node("Slice", ["x", "s", "e", "a"], ["y"]),
                h.make_node("Relu", ["y"], ["r"]),
                h.make_node("Concat", ["r", "x"], ["c"], axis=1),
                h.make_node("Add", ["r", "r"], ["z"])],
               [_vi("x", [3, 5])], [_vi("c", [3, 5]), _vi("z", [3, 0]), _vi("y", [3, 0])],
               [_i64("s", [7]), _i64("e", [9]), _i64("a", [1])])
    _check(m, {"x": x})


def test_zero_size_symbolic_input_through_views_and_concat() -> None:
    """Zero-size inputs (one not contiguous) through an elementwise op, a reshape (a view) and a
    concat; the same compiled function for N = 0, 2, 0."""
    m = _model([h.make_node("Relu", ["x"], ["y"]),
                h.make_node("Reshape", ["y", "s"], ["r"]),
                h.make_node("Concat", ["r", "w"], ["c"], axis=0)],
               [_vi("x", ["N", 6]), _vi("w", [2, 3])], [_vi("c", ["M", 3]), _vi("r", ["K", 3])],
               [_i64("s", [-1, 3])])
    w = np.ones((2, 3), np.float32)
    _check(m, {"x": np.zeros((0, 12), np.float32)[:, ::2], "w": w})
    rep = backend.prepare(m, "CPU", executor="tvm")
    for n in (0, 2, 0):
        x = np.linspace(-1, 1, n * 6, dtype=np.float32).reshape(n, 6)
        c, r = rep.run([x, w])
        np.testing.assert_array_equal(r, np.maximum(x, 0).reshape(-1, 3))
        np.testing.assert_array_equal(c, np.concatenate([np.maximum(x, 0).reshape(-1, 3), w]))


@pytest.mark.parametrize("shape", [[0, 5], [3, 0, 5], [2, 3, 0]])
@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_of_empty_input(shape: List[int], upper: int) -> None:
    m = _model([h.make_node("Trilu", ["x"], ["y"], upper=upper)], [_vi("x", shape)],
               [_vi("y", shape)])
    _check(m, {"x": np.zeros(shape, np.float32)})


def test_gather_with_no_indices_raises_no_range_error() -> None:
    """The index range check reduced over zero indices must read as clear."""
    m = _model([h.make_node("Gather", ["x", "i"], ["y"], axis=0)],
               [_vi("x", [3, 5]), _vi("i", [0], I64)], [_vi("y", [0, 5])])
    _check(m, {"x": np.ones((3, 5), np.float32), "i": np.zeros(0, np.int64)})


@pytest.mark.parametrize("a_shape,b_shape", [((3, 0), (0, 4)), ((0, 3), (3, 4))])
def test_matmul_with_an_empty_dim(a_shape: tuple, b_shape: tuple) -> None:
    m = _model([h.make_node("MatMul", ["a", "b"], ["y"])],
               [_vi("a", list(a_shape)), _vi("b", list(b_shape))],
               [_vi("y", [a_shape[0], b_shape[1]])])
    _check(m, {"a": np.ones(a_shape, np.float32), "b": np.ones(b_shape, np.float32)})


# -- loops run by the host ---------------------------------------------------------------------
def _range_via_loop(dtype: int) -> onnx.ModelProto:
    """ONNX Range's function body: a Loop whose scan output is the value carried in."""
    body = h.make_graph(
        [h.make_node("Add", ["prev", "delta"], ["cur"]),
         h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Identity", ["prev"], ["scan"])],
        "body", [_vi("i", [], I64), _vi("cond_in", [], BOOL), _vi("prev", [], dtype)],
        [_vi("cond_out", [], BOOL), _vi("cur", [], dtype), _vi("scan", [], dtype)])
    nodes = [h.make_node("Sub", ["limit", "start"], ["diff"]),
             h.make_node("Cast", ["diff"], ["diff_f"], to=F),
             h.make_node("Cast", ["delta"], ["delta_f"], to=F),
             h.make_node("Div", ["diff_f", "delta_f"], ["q"]),
             h.make_node("Ceil", ["q"], ["qc"]),
             h.make_node("Relu", ["qc"], ["n"]),
             h.make_node("Cast", ["n"], ["trips"], to=I64),
             h.make_node("Cast", ["n"], ["go"], to=BOOL),
             h.make_node("Loop", ["trips", "go", "start"], ["last", "out"], body=body)]
    return _model(nodes, [_vi(n, [], dtype) for n in ("start", "limit", "delta")],
                  [_vi("out", ["T"], dtype)])


@pytest.mark.parametrize("start,limit,delta", [(0, 10, 1), (1, 5, 2), (10, 4, -3), (5, 5, 1),
                                               (-2, 9, 4), (0.25, 9, 0.75)])
def test_range_via_loop(start: float, limit: float, delta: float) -> None:
    is_f = any(isinstance(v, float) for v in (start, limit, delta))
    dt, t = (np.float32, F) if is_f else (np.int32, TP.INT32)
    m = _range_via_loop(t)
    feeds = {"start": np.array(start, dt), "limit": np.array(limit, dt),
             "delta": np.array(delta, dt)}
    want = np.arange(start, limit, delta).astype(dt)
    np.testing.assert_allclose(_ort(m, feeds)[0], want, rtol=RTOL)
    _check(m, feeds, oracle=[want])


def _while_model(with_trip_count: bool) -> onnx.ModelProto:
    """x += d while x < lim (the body decides), scanning x before and -x after the update."""
    body = h.make_graph(
        [h.make_node("Add", ["x_in", "d"], ["x_out"]),
         h.make_node("Less", ["x_out", "lim"], ["cond_out"]),
         h.make_node("Identity", ["x_in"], ["scan_old"]),
         h.make_node("Neg", ["x_out"], ["scan_new"])],
        "body", [_vi("i", [], I64), _vi("cond_in", [], BOOL), _vi("x_in", [])],
        [_vi("cond_out", [], BOOL), _vi("x_out", []), _vi("scan_old", []), _vi("scan_new", [])])
    ins = [_vi("c", [], BOOL), _vi("x0", []), _vi("d", []), _vi("lim", [])]
    if with_trip_count:
        ins = [_vi("M", [], I64)] + ins
    loop = h.make_node("Loop", ["M" if with_trip_count else "", "c", "x0"],
                       ["xf", "s_old", "s_new"], body=body)
    return _model([loop], ins, [_vi("xf", []), _vi("s_old", ["T"]), _vi("s_new", ["T"])])


def _while_numpy(x: float, d: float, lim: float, go: bool, trips: Optional[int] = None) -> list:
    old, new, n = [], [], 0
    while go and (trips is None or n < trips):
        old.append(x)
        x = np.float32(x + d)
        new.append(-x)
        go = bool(x < lim)
        n += 1
    f = np.float32
    return [np.array(x, f), np.array(old, f), np.array(new, f)]


@pytest.mark.parametrize("x0,d,lim,go", [(0.0, 1.0, 5.0, True), (0.0, 0.5, 3.0, True),
                                         (0.0, 1.0, 5.0, False), (10.0, 1.0, 5.0, True),
                                         (-3.0, 1.5, 7.0, True)])
def test_while_loop_scan_outputs(x0: float, d: float, lim: float, go: bool) -> None:
    f = np.float32
    feeds = {"c": np.array(go), "x0": np.array(x0, f), "d": np.array(d, f),
             "lim": np.array(lim, f)}
    _check(_while_model(False), feeds, oracle=_while_numpy(f(x0), d, lim, go))


@pytest.mark.parametrize("trips", [0, 2, 10])
def test_loop_with_trip_count_and_condition(trips: int) -> None:
    f = np.float32
    feeds = {"M": np.array(trips, np.int64), "c": np.array(True), "x0": np.array(0, f),
             "d": np.array(1, f), "lim": np.array(5, f)}
    m = _while_model(True)
    want = _while_numpy(f(0), 1.0, 5.0, True, trips)
    _same(_ort(m, feeds), want, "onnxruntime")
    _check(m, feeds, oracle=want)


def test_counted_loop_scans_consumed_downstream() -> None:
    """A scan output (empty when M = 0) feeding a compiled reduction."""
    body = h.make_graph(
        [h.make_node("Add", ["x_in", "one"], ["x_out"]),
         h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Mul", ["x_out", "two"], ["scan"])],
        "body", [_vi("i", [], I64), _vi("cond_in", [], BOOL), _vi("x_in", [2])],
        [_vi("cond_out", [], BOOL), _vi("x_out", [2]), _vi("scan", [2])],
        [h.make_tensor("one", F, [1], [1.0]), h.make_tensor("two", F, [1], [2.0])])
    m = _model([h.make_node("Loop", ["M", "c", "x0"], ["xf", "s"], body=body),
                h.make_node("ReduceSum", ["s"], ["tot"], keepdims=0)],
               [_vi("M", [], I64), _vi("c", [], BOOL), _vi("x0", [2])],
               [_vi("xf", [2]), _vi("s", ["T", 2]), _vi("tot", [])])
    for n in (0, 1, 5):
        _check(m, {"M": np.array(n, np.int64), "c": np.array(True),
                   "x0": np.array([0.5, -1.0], np.float32)})


# -- float16 accumulation (the cause of the attention fp16 mismatches) -------------------------
@pytest.mark.parametrize("shape_a,shape_b", [((4, 256), (256, 8)), ((2, 3, 5, 64), (2, 3, 64, 7))])
def test_float16_matmul_accumulates_in_float32(shape_a: tuple, shape_b: tuple) -> None:
    """Within 1 float16 ulp of the float64 product (a float16 running sum drifts ~sqrt(K)
    ulps: measured 0.042 vs 0.0076 at K = 64), as numpy and onnxruntime are."""
    rng = np.random.default_rng(1)
    a = rng.random(shape_a).astype(np.float16)
    b = rng.random(shape_b).astype(np.float16)
    m = _model([h.make_node("MatMul", ["a", "b"], ["y"])],
               [_vi("a", list(shape_a), TP.FLOAT16), _vi("b", list(shape_b), TP.FLOAT16)],
               [_vi("y", list(np.matmul(a, b).shape), TP.FLOAT16)])
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64)
    for executor in ("tvm", "interpreter"):
        got = _run(m, {"a": a, "b": b}, executor)[0]
        assert got.dtype == np.float16
        assert np.all(np.abs(got.astype(np.float64) - exact) <= ulp), executor
    ref = _ort(m, {"a": a, "b": b})[0].astype(np.float64)
    assert np.all(np.abs(ref - exact) <= ulp)
