"""The indexing ops of `ml`: numerics against onnx.reference (one-node models, random inputs),
bounds checks (ExecutionError naming op, axis and index), inference with symbolic dims, and
verifier errors. All comparisons are exact (indexing moves values without arithmetic, and the
scatter reductions use unique or integer data).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import pytest

import mlir_lite  # noqa: F401  (registers the dialects)
import mlir_lite.ir.interpreter.ml_index  # noqa: F401  (registers the rules)
from mlir_lite.errors import ExecutionError, InferenceError, VerifyError
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.dialects.func import FuncOp, ReturnOp
from mlir_lite.ir.interpreter.engine import run
from mlir_lite.ir.interpreter.rules import RULES
from mlir_lite.ir.types import TensorType, element_type_from_numpy, tensor

from ._ml_oracle import onnx_ref, ort_run, run_op

RNG = np.random.default_rng(1)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def ints(lo: int, hi: int, *shape: int, dtype: Any = np.int64) -> np.ndarray:
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def onnx_run(op_type: str, inputs: Sequence[Optional[np.ndarray]], n_out: int = 1,
             opset: int = 21, **attrs: Any) -> List[np.ndarray]:
    """Run one ONNX node through onnx's reference evaluator (None = an absent input)."""
    return onnx_ref(op_type, inputs, n_out, opset, **attrs)


def ttype(a: np.ndarray) -> TensorType:
    return TensorType(element_type_from_numpy(a.dtype), a.shape)


def build(name: str, types: Sequence[TensorType], **attrs: Any):
    f = FuncOp.make("main", list(types), [])
    op = OP_REGISTRY[name].build(f.args, attrs)
    f.entry_block.append(op)
    f.entry_block.append(ReturnOp.build(list(op.results), result_types=[]))
    f.update_type()
    f.verify_op()
    op.verify_op()
    return f, op


def run_ml(name: str, inputs: Sequence[np.ndarray], **attrs: Any) -> List[np.ndarray]:
    """Build and run the op through the interpreter (which also checks the inferred dims)."""
    f, _ = build(name, [ttype(a) for a in inputs], **attrs)
    return run(f, *inputs)


def run_rule(name: str, inputs: Sequence[np.ndarray], **attrs: Any) -> List[np.ndarray]:
    """Call the rule directly (no engine around it), to see its own errors."""
    _, op = build(name, [ttype(a) for a in inputs], **attrs)
    out = RULES[name](op, *inputs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def assert_same(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_array_equal(g, w)


# -- numerics against onnx.reference ------------------------------------------------------------

@pytest.mark.parametrize("axis,ishape", [(0, (2, 3)), (1, (4,)), (-1, ()), (2, (2, 2))])
def test_gather_matches_onnx(axis, ishape):
    x = rand(5, 4, 3)
    d = x.shape[axis]
    idx = ints(-d, d, *ishape)
    assert_same(run_ml("ml.gather", [x, idx], axis=axis), onnx_run("Gather", [x, idx], axis=axis))
    idx32 = idx.astype(np.int32)
    assert_same(run_ml("ml.gather", [x, idx32], axis=axis),
                onnx_run("Gather", [x, idx32], axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_scatter_elements_match_onnx(axis):
    x = rand(4, 5)
    a = axis % 2
    d = x.shape[a]
    ishape = (3, 5) if a == 0 else (4, 3)  # onnx.reference wants the other dims equal
    # (and mishandles a negative axis, so it gets the normalised one)
    idx = ints(-d, d, *ishape)
    assert_same(run_ml("ml.gather_elements", [x, idx], axis=axis),
                onnx_run("GatherElements", [x, idx], axis=a))
    upd = rand(*ishape)
    # "none" with duplicate indices is order-dependent: distinct indices along the axis.
    rows = [RNG.permutation(d)[:3] - d * (RNG.random(3) < 0.5) for _ in range(ishape[1 - a])]
    uniq = np.stack(rows, axis=1 - a).astype(np.int64)
    assert_same(run_ml("ml.scatter_elements", [x, uniq, upd], axis=axis),
                onnx_run("ScatterElements", [x, uniq, upd], axis=a))
    xi, ui = ints(-9, 9, 4, 5), ints(-9, 9, *ishape)
    for red in ("add", "mul", "max", "min"):
        assert_same(run_ml("ml.scatter_elements", [xi, idx, ui], axis=axis, reduction=red),
                    onnx_run("ScatterElements", [xi, idx, ui], axis=a, reduction=red))


@pytest.mark.parametrize("batch_dims,dshape,ishape", [
    (0, (4, 5, 3), (2, 2)), (0, (4, 5, 3), (3, 1)), (0, (4, 5), (2, 3, 2)),
    (1, (2, 4, 3), (2, 3, 1)), (1, (2, 4, 3), (2, 2)), (2, (2, 3, 4, 5), (2, 3, 1, 2)),
])
def test_gather_nd_matches_onnx(batch_dims, dshape, ishape):
    x = rand(*dshape)
    k = ishape[-1]
    cols = [ints(-dshape[batch_dims + j], dshape[batch_dims + j], *ishape[:-1])
            for j in range(k)]
    idx = np.stack(cols, axis=-1)
    assert_same(run_ml("ml.gather_nd", [x, idx], batch_dims=batch_dims),
                onnx_run("GatherND", [x, idx], batch_dims=batch_dims))


def test_scatter_nd_matches_onnx():
    x = rand(4, 5, 3)
    idx = np.array([[1, 2], [3, 0], [0, 4]], np.int64)
    upd = rand(3, 3)
    assert_same(run_ml("ml.scatter_nd", [x, idx, upd]), onnx_run("ScatterND", [x, idx, upd]))
    idx1 = np.array([[2], [0]], np.int64)
    upd1 = rand(2, 5, 3)
    assert_same(run_ml("ml.scatter_nd", [x, idx1, upd1]), onnx_run("ScatterND", [x, idx1, upd1]))
    xi = ints(-9, 9, 4, 5)
    dup = np.array([[1, 2], [1, 2], [3, 4]], np.int64)
    ui = ints(-9, 9, 3)
    for red in ("add", "mul", "max", "min"):
        assert_same(run_ml("ml.scatter_nd", [xi, dup, ui], reduction=red),
                    onnx_run("ScatterND", [xi, dup, ui], reduction=red))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_matches_onnx(axis):
    idx = np.array([[0, 3, -1], [-4, 2, 1]], np.int64)
    vals = np.array([-1.5, 4.0], np.float32)
    depth = np.array(4, np.int64)
    assert_same(run_ml("ml.one_hot", [idx, vals], depth=4, axis=axis),
                onnx_run("OneHot", [idx, depth, vals], axis=axis))
    # Out of [-depth, depth): an all-off row, exactly as ONNX defines it (no memory is touched).
    oob = np.array([4, -5, 7], np.int64)
    got = run_ml("ml.one_hot", [oob, vals], depth=4, axis=-1)
    assert_same(got, onnx_run("OneHot", [oob, depth, vals], axis=-1))
    assert (got[0] == -1.5).all()


@pytest.mark.parametrize("axis,largest", [(-1, 1), (0, 1), (1, 0), (-1, 0)])
def test_topk_matches_onnx(axis, largest):
    x = ints(0, 4, 5, 6).astype(np.float32)  # many ties: ONNX keeps the lower index first
    k = 3
    want = onnx_run("TopK", [x, np.array([k], np.int64)], n_out=2, axis=axis, largest=largest)
    assert_same(run_ml("ml.topk", [x], k=k, axis=axis, largest=largest), want)
    assert_same(run_ml("ml.topk_dynamic", [x, np.array([k], np.int64)], axis=axis,
                       largest=largest), want)
    y = ints(-100, 100, 3, 7, dtype=np.int32)
    assert_same(run_ml("ml.topk", [y], k=7, axis=1, largest=largest),
                onnx_run("TopK", [y, np.array([7], np.int64)], n_out=2, axis=1,
                         largest=largest))


def test_trilu_nonzero_reverse_sequence_compress_match_onnx():
    x = rand(2, 4, 5)
    for upper in (0, 1):
        for k in (-2, 0, 1, 7):
            assert_same(run_ml("ml.trilu", [x], upper=upper, k=k),
                        onnx_run("Trilu", [x, np.array(k, np.int64)], upper=upper))
    z = (ints(0, 3, 3, 4) == 0).astype(np.float32)
    assert_same(run_ml("ml.nonzero", [z]), onnx_run("NonZero", [z]))
    seq = rand(5, 3, 2)  # time-major
    lens = np.array([5, 0, 3], np.int64)
    assert_same(run_ml("ml.reverse_sequence", [seq, lens]),
                onnx_run("ReverseSequence", [seq, lens], batch_axis=1, time_axis=0))
    bm = rand(3, 5)
    assert_same(run_ml("ml.reverse_sequence", [bm, lens], batch_axis=0, time_axis=1),
                onnx_run("ReverseSequence", [bm, lens], batch_axis=0, time_axis=1))
    c = rand(3, 4)
    for axis, cond in ((None, [1, 0, 0, 1, 1]), (0, [0, 1, 1]), (1, [1, 0, 1]), (-1, [0, 1])):
        cond = np.array(cond, bool)
        kw = {} if axis is None else {"axis": axis}
        assert_same(run_ml("ml.compress", [c, cond], **kw), onnx_run("Compress", [c, cond], **kw))


# -- bounds checks ------------------------------------------------------------------------------

OOB_CASES = [
    ("ml.gather", [rand(3, 4), np.array([0, 4], np.int64)], {"axis": 1}, 1, 4),
    ("ml.gather", [rand(3, 4), np.array([[-4]], np.int64)], {"axis": 0}, 0, -4),
    ("ml.gather", [rand(3, 4), np.array([2**40], np.int64)], {"axis": 0}, 0, 2**40),
    ("ml.gather_elements", [rand(3, 4), np.array([[0, 5]], np.int64)], {"axis": 1}, 1, 5),
    ("ml.gather_elements", [rand(3, 4), np.array([[-5, 0]], np.int64)], {"axis": -1}, 1, -5),
    ("ml.gather_nd", [rand(3, 4), np.array([[1, 4]], np.int64)], {}, 1, 4),
    ("ml.gather_nd", [rand(3, 4), np.array([[-4, 0]], np.int64)], {}, 0, -4),
    ("ml.gather_nd", [rand(2, 3, 4), np.array([[3], [0]], np.int64)], {"batch_dims": 1}, 1, 3),
    ("ml.scatter_nd", [rand(3, 4), np.array([[3, 0]], np.int64), rand(1)], {}, 0, 3),
    ("ml.scatter_nd", [rand(3, 4), np.array([[0, -5]], np.int64), rand(1)],
     {"reduction": "add"}, 1, -5),
    ("ml.scatter_elements", [rand(3, 4), np.array([[3]], np.int64), rand(1, 1)], {}, 0, 3),
    ("ml.scatter_elements", [rand(3, 4), np.array([[0, 9]], np.int64), rand(1, 2)],
     {"axis": 1, "reduction": "max"}, 1, 9),
]


@pytest.mark.parametrize("name,inputs,attrs,axis,index", OOB_CASES, ids=lambda v: str(v)[:20])
def test_out_of_range_indices_raise(name, inputs, attrs, axis, index):
    for runner in (run_rule, run_ml):
        with pytest.raises(ExecutionError) as e:
            runner(name, inputs, **attrs)
        msg = str(e.value)
        assert name in msg and f"index {index} " in msg and f"axis {axis} " in msg, msg


def test_other_runtime_range_checks():
    with pytest.raises(ExecutionError, match="ml.reverse_sequence.*length 4.*axis 0"):
        run_ml("ml.reverse_sequence", [rand(3, 2), np.array([1, 4], np.int64)])
    with pytest.raises(ExecutionError, match="ml.reverse_sequence.*length -1"):
        run_ml("ml.reverse_sequence", [rand(3, 2), np.array([1, -1], np.int64)])
    with pytest.raises(ExecutionError, match="ml.compress.*index 4.*axis 1"):
        run_ml("ml.compress", [rand(3, 4), np.array([1, 0, 0, 0, 1], bool)], axis=1)
    # A longer condition whose extra entries are false selects nothing out of range: allowed.
    got = run_ml("ml.compress", [rand(3, 4), np.array([1, 0, 0, 0, 0], bool)], axis=1)[0]
    assert got.shape == (3, 1)
    with pytest.raises(ExecutionError, match="ml.topk_dynamic.*k = 9.*axis 1"):
        run_ml("ml.topk_dynamic", [rand(3, 4), np.array([9], np.int64)])
    _, op = build("ml.scatter_nd", [tensor([3, 4]), tensor([1, 2], "i64"), tensor([1])])
    with pytest.raises(ExecutionError, match="ml.scatter_nd.*updates shape"):
        RULES["ml.scatter_nd"](op, rand(3, 4), np.array([[0, 0]], np.int64), rand(2))


# -- type inference with symbolic dims ----------------------------------------------------------

def infer(name: str, types: Sequence[TensorType], **attrs: Any) -> List[TensorType]:
    f = FuncOp.make("main", list(types), [])
    return OP_REGISTRY[name].build(f.args, attrs).result_types


def test_inference_with_symbols():
    emb, ids = tensor(["V", 64]), tensor(["B", "S"], "i64")
    assert infer("ml.gather", [emb, ids])[0].shape == ("B", "S", 64)
    assert infer("ml.gather", [tensor(["B", "S", 64]), tensor([], "i32")], axis=1)[0].shape == \
        ("B", 64)
    assert infer("ml.gather", [tensor(None), ids])[0].shape is None
    assert infer("ml.gather_elements", [tensor(["B", 5]), tensor(["B", 2], "i64")],
                 axis=1)[0].shape == ("B", 2)
    assert infer("ml.gather_nd", [tensor(["B", 4, "H"]), tensor(["B", "K", 1], "i64")],
                 batch_dims=1)[0].shape == ("B", "K", "H")
    assert infer("ml.gather_nd", [tensor([4, 5]), tensor(["K", None], "i64")])[0].shape is None
    assert infer("ml.scatter_nd", [tensor(["N", 4]), tensor(["K", 1], "i64"),
                                   tensor(["K", 4])])[0].shape == ("N", 4)
    assert infer("ml.one_hot", [tensor(["B", "S"], "i64"), tensor([2], "f16")], depth=10,
                 axis=1)[0] == tensor(["B", 10, "S"], "f16")
    vals, idx = infer("ml.topk", [tensor(["B", 100])], k=5)
    assert vals == tensor(["B", 5]) and idx == tensor(["B", 5], "i64")
    vals, idx = infer("ml.topk_dynamic", [tensor(["B", 100]), tensor([1], "i64")], axis=0)
    assert vals == tensor([None, 100]) and idx == tensor([None, 100], "i64")
    assert infer("ml.trilu", [tensor(["B", "S", "S"])])[0] == tensor(["B", "S", "S"])
    assert infer("ml.nonzero", [tensor(["B", 3])])[0] == tensor([2, None], "i64")
    assert infer("ml.nonzero", [tensor(None)])[0] == tensor([None, None], "i64")
    assert infer("ml.compress", [tensor(["B", 3]), tensor([None], "i1")], axis=0)[0].shape == \
        (None, 3)
    assert infer("ml.compress", [tensor(["B", 3]), tensor([None], "i1")])[0].shape == (None,)
    assert infer("ml.reverse_sequence", [tensor(["T", "B"]), tensor(["B"], "i64")])[0] == \
        tensor(["T", "B"])


BAD = [
    ("ml.gather", [tensor([3, 4]), tensor([2], "i64")], {"axis": 2}, "out of range"),
    ("ml.gather", [tensor([3, 4]), tensor([2], "f32")], {}, "integer"),
    ("ml.gather_elements", [tensor([3, 4]), tensor([2], "i64")], {}, "same rank"),
    ("ml.gather_nd", [tensor([3, 4]), tensor([2, 3], "i64")], {}, "last dim 3"),
    ("ml.gather_nd", [tensor([3, 4]), tensor([2], "i64")], {"batch_dims": 1}, "batch_dims"),
    ("ml.gather_nd", [tensor([3, 4]), tensor([2, 1], "i64")], {"batch_dims": -1}, "negative"),
    ("ml.scatter_nd", [tensor([3, 4]), tensor([2, 1], "i64"), tensor([2, 5])], {}, "updates"),
    ("ml.scatter_nd", [tensor([3, 4]), tensor([2, 2], "i64"), tensor([2])],
     {"reduction": "sum"}, "reduction"),
    ("ml.scatter_nd", [tensor([3, 4]), tensor([2, 2], "i64"), tensor([2], "f16")], {},
     "element types"),
    ("ml.scatter_elements", [tensor([3, 4]), tensor([2, 2], "i64"), tensor([2, 3])], {},
     "differ"),
    ("ml.scatter_elements", [tensor([3, 4]), tensor([2], "i64"), tensor([2])], {}, "same rank"),
    ("ml.one_hot", [tensor([3], "i64"), tensor([2])], {"depth": 4, "axis": 2}, "out of range"),
    ("ml.one_hot", [tensor([3], "i64"), tensor([3])], {"depth": 4}, "off_value"),
    ("ml.one_hot", [tensor([3], "i64"), tensor([2])], {"depth": -1}, "non-negative"),
    ("ml.topk", [tensor([3, 4])], {"k": 5}, "exceeds"),
    ("ml.topk", [tensor([3, 4])], {"k": 2, "axis": -3}, "out of range"),
    ("ml.trilu", [tensor([3])], {}, "rank >= 2"),
    ("ml.reverse_sequence", [tensor([3, 4]), tensor([4], "i64")],
     {"batch_axis": 0, "time_axis": 0}, "differ"),
    ("ml.reverse_sequence", [tensor([3, 4]), tensor([3], "i64")], {}, "differ"),
    ("ml.compress", [tensor([3, 4]), tensor([3], "i64")], {}, "i1"),
    ("ml.compress", [tensor([3, 4]), tensor([3], "i1")], {"axis": 2}, "out of range"),
]


@pytest.mark.parametrize("name,types,attrs,msg", BAD, ids=lambda v: str(v)[:30])
def test_verifier_rejects_bad_operands_and_attributes(name, types, attrs, msg):
    with pytest.raises(InferenceError, match=msg):
        infer(name, types, **attrs)
    f = FuncOp.make("main", list(types), [])
    n = 2 if name == "ml.topk" else 1
    op = OP_REGISTRY[name].build(f.args, attrs, result_types=[tensor(None)] * n)
    with pytest.raises(VerifyError, match=msg):
        op.verify_op()


@pytest.mark.parametrize("attrs", [{}, {"sorted": False}, {"axis": 1}, {"axis": -2},
                                   {"axis": 0, "sorted": False}])
def test_unique_matches_onnx(attrs):
    x = np.random.default_rng(3).integers(0, 3, (4, 3, 2)).astype(np.float32)
    x[3] = x[1]
    got = run_op("ml.unique", [x], **attrs)
    # onnxruntime: onnx.reference fails on sorted=0 without an axis
    want = ort_run("Unique", [x], n_out=4, **{k: int(v) for k, v in attrs.items()})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
