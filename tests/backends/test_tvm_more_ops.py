"""TVM lowering of the indexing/layout ops of rules_index.py, against the reference interpreter
(f32 tolerance rtol 1e-4, atol 1e-5; integer results exact), plus out-of-range index checks."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")

from tvm_test_util import check_against_interpreter, multi_op_module  # noqa: E402

from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402

R = np.random.default_rng(7)


def rnd(*shape: int) -> np.ndarray:
    return R.uniform(-2.0, 2.0, shape).astype(np.float32)


def idx(*shape: int, hi: int, lo: int | None = None) -> np.ndarray:
    return R.integers(-hi if lo is None else lo, hi, shape).astype(np.int64)


def compile_and_check(cases) -> None:
    m, args, labels = multi_op_module(cases)
    check_against_interpreter(compile_function(m), m, args, labels)


def test_scatter_and_gather_ops():
    data = rnd(5, 4)
    ix0 = idx(3, 4, hi=5)             # duplicates along axis 0, negatives too
    perm = np.stack([R.permutation(4) for _ in range(5)]).astype(np.int64)[:, :3]
    upd = rnd(3, 4)
    nd_idx = np.array([[1, 2], [-1, 0], [1, 2], [3, 3]], np.int64)
    nd_rows = np.array([[0], [3], [-2]], np.int64)
    g_data = rnd(3, 4, 5)
    cases = [
        ("ml.scatter_elements", [data, ix0, upd], {"axis": 0, "reduction": "add"}),
        ("ml.scatter_elements", [data, ix0, upd], {"axis": 0, "reduction": "max"}),
        ("ml.scatter_elements", [data, ix0, upd], {"axis": 0, "reduction": "mul"}),
        ("ml.scatter_elements", [data, ix0, upd], {"axis": 0}),
        ("ml.scatter_elements", [data, perm, rnd(5, 3)], {"axis": 1}),
        ("ml.scatter_elements", [data, perm[:2], rnd(2, 3)], {"axis": -1, "reduction": "add"}),
        ("ml.scatter_nd", [data, nd_idx, rnd(4)], {"reduction": "add"}),
        ("ml.scatter_nd", [data, nd_idx, rnd(4)], {}),
        ("ml.scatter_nd", [data, nd_rows, rnd(3, 4)], {}),
        ("ml.scatter_nd", [data, nd_rows, rnd(3, 4)], {"reduction": "min"}),
        ("ml.gather_nd", [g_data, idx(2, 6, 2, hi=3)], {}),
        ("ml.gather_nd", [g_data, np.array([[[1], [3]], [[0], [-1]], [[2], [2]]], np.int64)],
         {"batch_dims": 1}),
        ("ml.gather_nd", [g_data, idx(2, 3, hi=3)], {}),
        ("ml.gather_elements", [g_data, idx(3, 2, 5, hi=4)], {"axis": 1}),
        ("ml.one_hot", [idx(3, 4, hi=7), np.array([-1.0, 2.5], np.float32)], {"depth": 5}),
        ("ml.one_hot", [idx(6, hi=4), np.array([0, 1], np.int64)], {"depth": 4, "axis": 0}),
    ]
    compile_and_check(cases)


def test_scatter_elements_matches_numpy_add_at():
    # An independent oracle for the training-step case (gradient of a gather).
    data, upd = rnd(6, 3), rnd(4, 3)
    ix = np.array([[0, 5, 1], [0, 5, 1], [2, -1, 1], [3, 0, 1]], np.int64)
    m, args, _ = multi_op_module([("ml.scatter_elements", [data, ix, upd],
                                   {"axis": 0, "reduction": "add"})])
    got = compile_function(m)(*args)[0]
    want = data.copy()
    np.add.at(want, (np.where(ix < 0, ix + 6, ix), np.arange(3)[None, :]), upd)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_topk_cumsum_trilu_space_ops():
    x = rnd(3, 7)
    ties = R.integers(0, 3, (4, 6)).astype(np.float32)
    img = rnd(2, 8, 3, 4)
    cases = [
        ("ml.topk", [x], {"k": 3}),
        ("ml.topk", [x], {"k": 2, "largest": 0}),
        ("ml.topk", [ties], {"k": 4, "axis": 1}),
        ("ml.topk", [ties], {"k": 3, "axis": 0, "largest": 0}),
        ("ml.topk", [R.integers(-5, 5, (5, 4)).astype(np.int64)], {"k": 5, "axis": 0}),
        ("ml.cumsum", [x], {"axis": 1}),
        ("ml.cumsum", [x], {"axis": 0, "exclusive": True}),
        ("ml.cumsum", [x], {"axis": -1, "reverse": True}),
        ("ml.cumsum", [x], {"axis": 1, "reverse": True, "exclusive": True}),
        ("ml.cumsum", [R.integers(-5, 5, (4, 5)).astype(np.int32)], {"axis": 1}),
        ("ml.trilu", [rnd(2, 4, 5)], {}),
        ("ml.trilu", [rnd(4, 5)], {"upper": 0, "k": -1}),
        ("ml.trilu", [rnd(5, 3)], {"upper": 1, "k": 2}),
        ("ml.depth_to_space", [img], {"blocksize": 2}),
        ("ml.depth_to_space", [img], {"blocksize": 2, "mode": "CRD"}),
        ("ml.space_to_depth", [rnd(2, 3, 4, 6)], {"blocksize": 2}),
    ]
    compile_and_check(cases)


def test_topk_nan_and_equal_values():
    x = np.array([[1.0, np.nan, 3.0, 3.0, -1.0]], np.float32)
    compile_and_check([("ml.topk", [x], {"k": 3}), ("ml.topk", [x], {"k": 3, "largest": 0})])


@pytest.mark.parametrize("name,good,bad", [
    ("ml.scatter_elements", np.array([[0, 4], [-5, 1]], np.int64),
     [np.array([[0, 5], [0, 1]], np.int64), np.array([[0, 1], [-6, 1]], np.int64)]),
    ("ml.scatter_nd", np.array([[4, 1], [-5, 0]], np.int64),
     [np.array([[5, 0], [0, 0]], np.int64), np.array([[0, 2], [0, 0]], np.int64)]),
    ("ml.gather_nd", np.array([[4, 1], [-5, -2]], np.int64),
     [np.array([[5, 0], [0, 0]], np.int64), np.array([[0, -3], [0, 0]], np.int64)]),
])
def test_out_of_range_indices_are_reported(name, good, bad):
    data = rnd(5, 2)
    ins = [data, good] + ([rnd(2, 2)] if name == "ml.scatter_elements" else
                          [rnd(2)] if name == "ml.scatter_nd" else [])
    m, args, _ = multi_op_module([(name, ins, {})])
    cf = compile_function(m)
    from mlir_lite.ir.interpreter import run
    np.testing.assert_allclose(cf(*args)[0], run(m, *args)[0], rtol=1e-5, atol=1e-6)
    for b in bad:
        args2 = list(args)
        args2[1] = b
        with pytest.raises(ExecutionError, match="out of range"):
            cf(*args2)


def test_conv_transpose():
    x1, w1 = rnd(2, 4, 5), rnd(4, 3, 3)
    x2 = rnd(1, 4, 4, 5)
    cases = [
        ("ml.conv_transpose", [x1, w1], {}),
        ("ml.conv_transpose", [x1, w1, rnd(3)], {"strides": (2,), "pads": (1, 0),
                                                 "output_padding": (1,)}),
        ("ml.conv_transpose", [x2, rnd(4, 3, 3, 2)], {"strides": (2, 1), "pads": (1, 1, 0, 1),
                                                      "dilations": (1, 2)}),
        ("ml.conv_transpose", [x2, rnd(4, 2, 2, 3), rnd(4)], {"group": 2, "strides": (2, 2)}),
    ]
    compile_and_check(cases)
