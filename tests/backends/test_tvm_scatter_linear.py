"""The linear-time scatter kernels (backends/tvm/scatter_ir.py) against independent oracles: a
sequential numpy loop written here, the reference interpreter and onnxruntime (opset 18), for
every reduction, duplicate and negative indices, the parallel (big) and serial (small) update
loops, symbolic shapes, out-of-range indices (the typed ExecutionError), and the gradients of
gather / gather_elements / topk (np.add.at). f32 tolerance: rtol 1e-5, atol 1e-5 (sums of a few
terms in another order); integer results exact."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest

pytest.importorskip("tvm")

from mlir_lite import FuncOp, ModuleOp  # noqa: E402
from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.ir.types import TensorType, element_type_from_numpy  # noqa: E402
from mlir_lite.passes.autodiff import build_vjp  # noqa: E402

RTOL, ATOL = 1e-5, 1e-5
REDUCTIONS = ["none", "add", "mul", "max", "min"]
R = np.random.default_rng(11)


# -- oracles --------------------------------------------------------------------------------------
def _comb(red: str, cur: Any, u: Any) -> Any:
    return {"none": lambda: u, "add": lambda: cur + u, "mul": lambda: cur * u,
            "max": lambda: max(cur, u), "min": lambda: min(cur, u)}[red]()


def ref_scatter_elements(data: np.ndarray, idx: np.ndarray, upd: np.ndarray, axis: int,
                         red: str) -> np.ndarray:
    """ONNX ScatterElements, one update at a time in index order (the last one wins)."""
    out = data.copy()
    axis %= data.ndim
    for j in np.ndindex(*idx.shape):
        o = list(j)
        i = int(idx[j])
        o[axis] = i + data.shape[axis] if i < 0 else i
        out[tuple(o)] = _comb(red, out[tuple(o)], upd[j])
    return out


def ref_scatter_nd(data: np.ndarray, idx: np.ndarray, upd: np.ndarray, red: str) -> np.ndarray:
    out = data.copy()
    k = idx.shape[-1]
    for r in np.ndindex(*idx.shape[:-1]):
        pos = tuple(int(v) + data.shape[j] if v < 0 else int(v) for j, v in enumerate(idx[r]))
        for t in np.ndindex(*data.shape[k:]):
            out[pos + t] = _comb(red, out[pos + t], upd[r + t])
    return out


def ort_run(op_type: str, inputs: Sequence[np.ndarray], **attrs: Any) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    from onnx import helper
    names = ["data", "indices", "updates"]
    vi = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
          for n, a in zip(names, inputs)]
    out = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(inputs[0].dtype),
                                        inputs[0].shape)
    node = helper.make_node(op_type, names, ["y"], **attrs)
    model = helper.make_model(helper.make_graph([node], "g", vi, [out]),
                              opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(names, inputs)))[0]


# -- module building --------------------------------------------------------------------------------
def ttype(a: np.ndarray, sym: Dict[int, str] | None = None) -> TensorType:
    return TensorType(element_type_from_numpy(a.dtype),
                      tuple((sym or {}).get(i, d) for i, d in enumerate(a.shape)))


def one_op(name: str, ins: Sequence[np.ndarray], attrs: Dict[str, Any],
           syms: Sequence[Dict[int, str] | None] | None = None) -> ModuleOp:
    f = FuncOp.make("main", [ttype(a, (syms or [None] * len(ins))[i])
                             for i, a in enumerate(ins)], [])
    b = Builder.at_end(f.entry_block)
    op = b.create(name, list(f.args), dict(attrs))
    b.op("func.return", *op.results)
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m


def check(name: str, ins: List[np.ndarray], attrs: Dict[str, Any], want: np.ndarray,
          **kw: Any) -> Any:
    m = one_op(name, ins, attrs, **kw)
    cf = compile_function(m)
    assert [k.kind for k in cf.kernels] == ["scatter"]
    got = cf(*ins)[0]
    interp = run(m, *ins)[0]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(interp, want, rtol=RTOL, atol=ATOL)
    return cf


def f32(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return R.uniform(lo, hi, shape).astype(np.float32)


# -- ScatterElements ------------------------------------------------------------------------------
@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_elements_small(red, axis):
    data = f32(5, 4, 3, lo=0.5, hi=1.5)
    ishape = [3, 4, 2]
    ishape[axis % 3] = 6                         # more updates than rows: duplicates
    idx = R.integers(-data.shape[axis], data.shape[axis], ishape).astype(np.int64)
    upd = f32(*ishape, lo=0.5, hi=1.5)
    want = ref_scatter_elements(data, idx, upd, axis, red)
    check("ml.scatter_elements", [data, idx, upd], {"axis": axis, "reduction": red}, want)
    if red != "none":  # ONNX leaves duplicates with reduction "none" unspecified
        got = ort_run("ScatterElements", [data, idx, upd], axis=axis, reduction=red)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("red", REDUCTIONS)
def test_scatter_elements_ort_unique_indices(red):
    data = f32(6, 5)
    idx = np.stack([R.permutation(6)[:4] - 3 for _ in range(5)], axis=1).astype(np.int64)
    upd = f32(4, 5)
    want = ref_scatter_elements(data, idx, upd, 0, red)
    np.testing.assert_allclose(ort_run("ScatterElements", [data, idx, upd], axis=0,
                                       reduction=red), want, rtol=RTOL, atol=ATOL)
    check("ml.scatter_elements", [data, idx, upd], {"axis": 0, "reduction": red}, want)


@pytest.mark.parametrize("red", ["none", "add", "max"])
@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements_parallel_path_keeps_order(red, axis):
    # >= 16384 updates: the update loop is split across threads over the non-axis dim; the
    # many duplicates along the axis must still be applied in order (last one wins for "none").
    data = f32(40, 70)
    ishape = (500, 70) if axis == 0 else (40, 500)
    idx = R.integers(-40 if axis == 0 else -70, 40 if axis == 0 else 70, ishape).astype(np.int64)
    upd = f32(*ishape)
    want = ref_scatter_elements(data, idx, upd, axis, red)
    check("ml.scatter_elements", [data, idx, upd], {"axis": axis, "reduction": red}, want)


def test_scatter_elements_int32_and_symbolic_rows():
    data = R.integers(-9, 9, (7, 3)).astype(np.int32)
    idx = R.integers(-7, 7, (9, 3)).astype(np.int32)
    upd = R.integers(-9, 9, (9, 3)).astype(np.int32)
    want = ref_scatter_elements(data, idx, upd, 0, "add")
    cf = check("ml.scatter_elements", [data, idx, upd], {"axis": 0, "reduction": "add"}, want,
               syms=[None, {0: "n"}, {0: "n"}])
    idx2, upd2 = idx[:4], upd[:4]
    np.testing.assert_array_equal(cf(data, idx2, upd2)[0],
                                  ref_scatter_elements(data, idx2, upd2, 0, "add"))


# -- ScatterND ------------------------------------------------------------------------------------
@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_scatter_nd_small(red, k):
    data = f32(4, 5, 3, lo=0.5, hi=1.5)
    idx = np.stack([R.integers(-d, d, 7) for d in data.shape[:k]], axis=-1).astype(np.int64)
    upd = f32(*((7,) + data.shape[k:]), lo=0.5, hi=1.5)
    want = ref_scatter_nd(data, idx, upd, red)
    check("ml.scatter_nd", [data, idx, upd], {"reduction": red}, want)
    if red != "none":
        got = ort_run("ScatterND", [data, idx, upd], reduction=red)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("red", ["none", "add", "min"])
def test_scatter_nd_parallel_path_rows_of_rows(red):
    data = f32(30, 600)
    idx = R.integers(-30, 30, (8, 5, 1)).astype(np.int64)     # 2-d rows, many duplicates
    upd = f32(8, 5, 600)
    want = ref_scatter_nd(data, idx, upd, red)
    check("ml.scatter_nd", [data, idx, upd], {"reduction": red}, want)


# -- out-of-range indices -------------------------------------------------------------------------
@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("name", ["ml.scatter_elements", "ml.scatter_nd"])
def test_out_of_range_index_raises(name, big):
    n = 400 if big else 3
    data = f32(6, 64)
    if name == "ml.scatter_elements":
        idx, upd, attrs = np.zeros((n, 64), np.int64), f32(n, 64), {"axis": 0}
        bad_at = (n - 1, 63)
    else:
        idx, upd, attrs = np.zeros((n, 1), np.int64), f32(n, 64), {}
        bad_at = (n - 1, 0)
    m = one_op(name, [data, idx, upd], dict(attrs, reduction="add"))
    cf = compile_function(m)
    for v in (6, -7, 1 << 40):
        bad = idx.copy()
        bad[bad_at] = v
        with pytest.raises(ExecutionError, match="out of range"):
            cf(data, bad, upd)
    np.testing.assert_allclose(cf(data, idx, upd)[0], run(m, data, idx, upd)[0],
                               rtol=RTOL, atol=ATOL)


# -- gradients ------------------------------------------------------------------------------------
def _grad_module(name: str, ins: Sequence[np.ndarray], attrs: Dict[str, Any],
                 syms: Sequence[Dict[int, str] | None] | None = None) -> ModuleOp:
    m = one_op(name, ins, attrs, syms)
    build_vjp(m, "main", [0])
    return m


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_grad_matches_add_at(axis):
    w = f32(300, 16) if axis == 0 else f32(16, 300)
    ids = R.integers(-300, 300, (40, 3)).astype(np.int64)       # duplicates and negatives
    m = _grad_module("ml.gather", [w, ids], {"axis": axis})
    g = f32(40, 3, 16) if axis == 0 else f32(16, 40, 3)
    got = compile_function(m, "main_vjp")(w, ids, g)[-1]
    want = np.zeros_like(w)
    pos = np.where(ids < 0, ids + 300, ids)
    if axis == 0:
        np.add.at(want, pos, g)
    else:
        np.add.at(want.T, pos, np.moveaxis(g, 0, -1))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_embedding_grad_symbolic_batch_is_linear_time():
    # embedding 10000x64, 4096 ids: the old output-side scatter took ~5 s here; 1 s is generous.
    w = f32(10000, 64)
    ids = R.integers(-10000, 10000, 4096).astype(np.int64)
    g = f32(4096, 64)
    m = _grad_module("ml.gather", [w, ids], {"axis": 0}, syms=[None, {0: "n"}])
    cf = compile_function(m, "main_vjp")
    want = np.zeros_like(w)
    np.add.at(want, np.where(ids < 0, ids + 10000, ids), g)
    np.testing.assert_allclose(cf(w, ids, g)[-1], want, rtol=RTOL, atol=ATOL)
    t0 = time.perf_counter()
    cf(w, ids, g)
    assert time.perf_counter() - t0 < 1.0
    want2 = np.zeros_like(w)
    np.add.at(want2, np.where(ids[:5] < 0, ids[:5] + 10000, ids[:5]), g[:5])
    np.testing.assert_allclose(cf(w, ids[:5], g[:5])[-1], want2, rtol=RTOL, atol=ATOL)


def test_gather_elements_and_topk_grads():
    x = f32(6, 9)
    ids = R.integers(-9, 9, (6, 12)).astype(np.int64)
    m = _grad_module("ml.gather_elements", [x, ids], {"axis": 1})
    g = f32(6, 12)
    want = np.zeros_like(x)
    np.add.at(want, (np.arange(6)[:, None], np.where(ids < 0, ids + 9, ids)), g)
    np.testing.assert_allclose(compile_function(m, "main_vjp")(x, ids, g)[-1], want,
                               rtol=RTOL, atol=ATOL)

    m2 = _grad_module("ml.topk", [x], {"k": 3, "axis": 1})
    gv = f32(6, 3)
    outs = compile_function(m2, "main_vjp")(x, gv, np.zeros((6, 3), np.int64))
    top = np.argsort(-x, axis=1, kind="stable")[:, :3]
    want2 = np.zeros_like(x)
    np.put_along_axis(want2, top, gv, axis=1)
    np.testing.assert_allclose(outs[-1], want2, rtol=RTOL, atol=ATOL)
