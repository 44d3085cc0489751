"""The shape and data-movement ops of `ml`: numerics against onnx.reference (one-node models on
random inputs), type inference with symbolic / unknown dims, and verifier errors.

Data movement is compared exactly; resize (float math) with rtol = atol = 1e-5.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pytest
from onnx import TensorProto, helper

import mlir_lite  # noqa: F401  (registers the dialects)
import mlir_lite.ir.interpreter.ml_shape  # noqa: F401  (registers the rules)
from mlir_lite.errors import ExecutionError, InferenceError, VerifyError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.dialects.func import FuncOp, ReturnOp
from mlir_lite.ir.interpreter.engine import run
from mlir_lite.ir.types import TensorType, element_type_from_numpy, i64, tensor

from ._ml_oracle import onnx_ref

RNG = np.random.default_rng(0)
I64_MAX = np.iinfo(np.int64).max


def rand(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50, 50, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def onnx_run(op_type: str, inputs: Sequence[Optional[np.ndarray]], n_out: int = 1,
             opset: int = 21, **attrs: Any) -> List[np.ndarray]:
    """Run one ONNX node through onnx's reference evaluator (None = an absent input)."""
    return onnx_ref(op_type, inputs, n_out, opset, **attrs)


def build(name: str, arg_types: Sequence[TensorType], attrs: Optional[Dict[str, Any]] = None):
    """A function with one `name` op on its arguments; returns (func, op)."""
    f = FuncOp.make("main", list(arg_types), [])
    op = OP_REGISTRY[name].build(f.args, attrs or {})
    f.entry_block.append(op)
    f.entry_block.append(ReturnOp.build(list(op.results), result_types=[]))
    f.update_type()
    f.verify_op()
    op.verify_op()
    return f, op


def ttype(a: np.ndarray) -> TensorType:
    return TensorType(element_type_from_numpy(a.dtype), a.shape)


def run_ml(name: str, inputs: Sequence[np.ndarray], **attrs: Any) -> List[np.ndarray]:
    """Build and run the op through the interpreter (which also checks the inferred dims)."""
    f, _ = build(name, [ttype(a) for a in inputs], attrs)
    return run(f, *inputs)


def i64s(*v: int) -> np.ndarray:
    return np.array(v, dtype=np.int64)


def assert_same(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


# -- numerics against onnx.reference ------------------------------------------------------------

@pytest.mark.parametrize("shape,allowzero,xs", [
    ((0, -1), 0, (2, 3, 4)), ((4, -1, 2), 0, (2, 3, 4)), ((-1,), 0, (2, 3, 4)),
    ((3, 0), 1, (0, 3)), ((2, 0, 4), 0, (2, 3, 4)), ((6, 2, 2), 0, (2, 3, 4)),
])
def test_reshape_matches_onnx(shape, allowzero, xs):
    x = rand(*xs)
    want = onnx_run("Reshape", [x, i64s(*shape)], allowzero=allowzero)
    assert_same(run_ml("ml.reshape", [x], shape=shape, allowzero=allowzero), want)
    assert_same(run_ml("ml.reshape_dynamic", [x, i64s(*shape)], allowzero=allowzero), want)


@pytest.mark.parametrize("perm", [(1, 2, 0), (0, 2, 1), None])
def test_transpose_matches_onnx(perm):
    x = rand(2, 3, 4)
    want = onnx_run("Transpose", [x], **({} if perm is None else {"perm": perm}))
    assert_same(run_ml("ml.transpose", [x], **({} if perm is None else {"perm": perm})), want)


def test_squeeze_unsqueeze_flatten_match_onnx():
    x = rand(2, 1, 3, 1)
    assert_same(run_ml("ml.squeeze", [x], axes=(1, -1)), onnx_run("Squeeze", [x, i64s(1, -1)]))
    assert_same(run_ml("ml.squeeze", [x]), onnx_run("Squeeze", [x]))
    y = rand(2, 3)
    assert_same(run_ml("ml.unsqueeze", [y], axes=(0, 3)), onnx_run("Unsqueeze", [y, i64s(0, 3)]))
    assert_same(run_ml("ml.unsqueeze", [y], axes=(-1,)), onnx_run("Unsqueeze", [y, i64s(-1)]))
    z = rand(2, 3, 4, 5)
    for axis in (0, 1, 3, 4, -1):
        assert_same(run_ml("ml.flatten", [z], axis=axis), onnx_run("Flatten", [z], axis=axis))


def test_concat_and_split_match_onnx():
    a, b, c = rand(2, 1, 3), rand(2, 4, 3), rand(2, 2, 3)
    assert_same(run_ml("ml.concat", [a, b, c], axis=1), onnx_run("Concat", [a, b, c], axis=1))
    assert_same(run_ml("ml.concat", [a, a], axis=-1), onnx_run("Concat", [a, a], axis=-1))
    x = rand(3, 7)
    assert_same(run_ml("ml.split", [x], axis=1, split=(1, 2, 4)),
                onnx_run("Split", [x, i64s(1, 2, 4)], n_out=3, axis=1))
    assert_same(run_ml("ml.split", [x], axis=1, num_outputs=3),
                onnx_run("Split", [x], n_out=3, axis=1, num_outputs=3))
    assert_same(run_ml("ml.split", [x], axis=0, num_outputs=3),
                onnx_run("Split", [x], n_out=3, axis=0, num_outputs=3))


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ((1, 0), (3, I64_MAX), None, None),
    ((-1,), (-I64_MAX,), (1,), (-1,)),            # full reversal
    ((10, -20), (-10, 20), (0, 2), (-2, 3)),      # clamping on both sides
    ((-3,), (-1,), (-1,), (1,)),
    ((2,), (0,), (1,), (1,)),                     # empty
    ((4, 1), (-100, 5), (1, 2), (-2, 2)),
    ((I64_MAX,), (0,), (0,), (-1,)),
])
def test_slice_matches_onnx(starts, ends, axes, steps):
    x = rand(4, 6, 5)
    ins = [x, i64s(*starts), i64s(*ends), None if axes is None else i64s(*axes),
           None if steps is None else i64s(*steps)]
    if axes is None and steps is None:
        ins = ins[:3]
    want = onnx_run("Slice", ins)
    attrs = {"starts": starts, "ends": ends}
    if axes is not None:
        attrs["axes"] = axes
    if steps is not None:
        attrs["steps"] = steps
    assert_same(run_ml("ml.slice", [x], **attrs), want)
    if axes is not None and steps is not None:
        assert_same(run_ml("ml.slice_dynamic", [x, i64s(*starts), i64s(*ends), i64s(*axes),
                                                i64s(*steps)]), want)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_matches_onnx(mode):
    x = rand(3, 4, 5)
    pads = (1, 0, 2, 2, 3, 1)
    assert_same(run_ml("ml.pad", [x], pads=pads, mode=mode),
                onnx_run("Pad", [x, i64s(*pads)], mode=mode))
    axes_pads = (2, 1, 0, 3)
    assert_same(run_ml("ml.pad", [x], pads=axes_pads, axes=(-1, 0), mode=mode),
                onnx_run("Pad", [x, i64s(*axes_pads), None, i64s(-1, 0)], mode=mode))


def test_pad_constant_value_and_negative_pads():
    x = rand(3, 4)
    v = np.array(2.5, np.float32)
    assert_same(run_ml("ml.pad", [x, v], pads=(1, 2, 0, 1)),
                onnx_run("Pad", [x, i64s(1, 2, 0, 1), v]))
    # Negative pads crop (onnx.reference cannot: numpy's pad rejects them); oracle by hand.
    got = run_ml("ml.pad", [x, v], pads=(-1, 1, 1, -2))[0]
    want = np.full((3, 3), 2.5, np.float32)  # rows 1..2 of x, then one row of 2.5;
    want[0:2, 1:3] = x[1:3, 0:2]               # a column of 2.5, then cols 0..1 of x
    np.testing.assert_array_equal(got, want)


def test_expand_tile_match_onnx():
    x = rand(3, 1)
    assert_same(run_ml("ml.expand", [x], shape=(2, 1, 4)), onnx_run("Expand", [x, i64s(2, 1, 4)]))
    assert_same(run_ml("ml.expand_dynamic", [x, i64s(2, 1, 4)]),
                onnx_run("Expand", [x, i64s(2, 1, 4)]))
    assert_same(run_ml("ml.expand", [x], shape=(1,)), onnx_run("Expand", [x, i64s(1)]))
    y = rand(2, 3)
    assert_same(run_ml("ml.tile", [y], repeats=(2, 3)), onnx_run("Tile", [y, i64s(2, 3)]))
    assert_same(run_ml("ml.tile", [y], repeats=(0, 1)), onnx_run("Tile", [y, i64s(0, 1)]))


def test_shape_size_range_constant_of_shape_match_onnx():
    x = rand(2, 3, 4, 5)
    for kw in ({}, {"start": 1}, {"start": -3, "end": -1}, {"start": 2, "end": 1},
               {"start": -10, "end": 10}):
        assert_same(run_ml("ml.shape", [x], **kw), onnx_run("Shape", [x], **kw))
    assert_same(run_ml("ml.size", [x]), onnx_run("Size", [x]))
    for args in ((1, 10, 3), (10, 1, -2), (5, 5, 1), (1, 0, 1)):
        ins = [np.array(v, np.int64) for v in args]
        assert_same(run_ml("ml.range", ins), onnx_run("Range", ins))
    ins = [np.array(v, np.float32) for v in (0.5, 2.0, 0.3)]
    assert_same(run_ml("ml.range", ins), onnx_run("Range", ins))
    val = helper.make_tensor("value", TensorProto.INT32, [1], [7])
    assert_same(run_ml("ml.constant_of_shape", [], shape=(2, 3),
                       value=DenseAttr(np.array([7], np.int32))),
                onnx_run("ConstantOfShape", [i64s(2, 3)], value=val))
    assert_same(run_ml("ml.constant_of_shape_dynamic", [i64s(2, 3)],
                       value=DenseAttr(np.array([7], np.int32))),
                onnx_run("ConstantOfShape", [i64s(2, 3)], value=val))
    assert_same(run_ml("ml.constant_of_shape", [], shape=(4,)),
                onnx_run("ConstantOfShape", [i64s(4)]))


def test_depth_space_eye_like_match_onnx():
    x = rand(2, 8, 3, 2)
    for mode in ("DCR", "CRD"):
        assert_same(run_ml("ml.depth_to_space", [x], blocksize=2, mode=mode),
                    onnx_run("DepthToSpace", [x], blocksize=2, mode=mode))
    y = rand(1, 3, 4, 6)
    assert_same(run_ml("ml.space_to_depth", [y], blocksize=2),
                onnx_run("SpaceToDepth", [y], blocksize=2))
    # CRD (ONNX opset 25): out[n, c*b*b + by*b + bx, h, w] = in[n, c, h*b + by, w*b + bx],
    # written out element by element as the oracle
    want = np.zeros((1, 12, 2, 3), y.dtype)
    for c in range(3):
        for by in range(2):
            for bx in range(2):
                want[0, c * 4 + by * 2 + bx] = y[0, c, by::2, bx::2]
    assert_same(run_ml("ml.space_to_depth", [y], blocksize=2, mode="CRD"), [want])
    m = rand(3, 5)
    for k in (0, 2, -1):
        assert_same(run_ml("ml.eye_like", [m], k=k), onnx_run("EyeLike", [m], k=k))
    assert_same(run_ml("ml.eye_like", [m], dtype=i64), onnx_run("EyeLike", [m],
                                                                 dtype=TensorProto.INT64))


RESIZE_CASES = [
    dict(mode="nearest", scales=(1.0, 1.0, 2.0, 1.5)),
    dict(mode="nearest", scales=(1.0, 1.0, 0.6, 0.5), nearest_mode="round_prefer_ceil"),
    dict(mode="nearest", scales=(1.0, 1.0, 1.7, 2.3), nearest_mode="floor",
         coordinate_transformation_mode="asymmetric"),
    dict(mode="nearest", sizes=(2, 3, 7, 3), nearest_mode="ceil",
         coordinate_transformation_mode="align_corners"),
    dict(mode="linear", scales=(1.0, 1.0, 2.0, 2.0)),
    dict(mode="linear", scales=(1.0, 1.0, 0.5, 1.5),
         coordinate_transformation_mode="pytorch_half_pixel"),
    dict(mode="linear", sizes=(2, 3, 9, 2), coordinate_transformation_mode="align_corners"),
    dict(mode="linear", scales=(1.0, 1.0, 1.3, 0.7),
         coordinate_transformation_mode="half_pixel_symmetric"),
    dict(mode="cubic", scales=(1.0, 1.0, 2.0, 2.0)),
    dict(mode="cubic", scales=(1.0, 1.0, 1.5, 0.8), cubic_coeff_a=-0.5, exclude_outside=1),
    dict(mode="cubic", sizes=(5, 6), axes=(2, 3), coordinate_transformation_mode="asymmetric"),
    dict(mode="linear", sizes=(8, 8), axes=(3, 2), keep_aspect_ratio_policy="not_larger"),
    dict(mode="nearest", sizes=(8, 8), axes=(2, 3), keep_aspect_ratio_policy="not_smaller"),
    dict(mode="linear", scales=(1.0, 1.0, 0.5, 0.6), antialias=1),
    dict(mode="cubic", sizes=(2, 3, 3, 2), antialias=1, exclude_outside=1,
         coordinate_transformation_mode="align_corners"),
    dict(mode="linear", sizes=(1, 1, 5, 4), coordinate_transformation_mode="tf_crop_and_resize",
         roi=(0.0, 0.0, 0.2, -0.3, 1.0, 1.0, 1.1, 0.9), extrapolation_value=-7.0),
]


@pytest.mark.parametrize("case", RESIZE_CASES, ids=lambda c: f"{c['mode']}-"
                         f"{c.get('coordinate_transformation_mode', 'half_pixel')}")
def test_resize_matches_onnx(case):
    x = rand(2, 3, 4, 5) if "roi" not in case else rand(1, 1, 4, 5)
    case = dict(case)
    roi = case.pop("roi", None)
    scales, sizes = case.pop("scales", None), case.pop("sizes", None)
    ins = [x, None if roi is None else np.array(roi, np.float32),
           None if scales is None else np.array(scales, np.float32),
           None if sizes is None else i64s(*sizes)]
    while ins[-1] is None:
        ins.pop()
    want = onnx_run("Resize", ins, opset=19, **case)
    attrs = dict(case)
    if roi is not None:
        attrs["roi"] = tuple(float(np.float32(v)) for v in roi)
    if scales is not None:
        attrs["scales"] = tuple(float(np.float32(v)) for v in scales)
    if sizes is not None:
        attrs["sizes"] = sizes
    got = run_ml("ml.resize", [x], **attrs)
    assert got[0].shape == want[0].shape
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


def test_resize_integer_input_rounds_like_onnx():
    x = RNG.integers(0, 255, size=(1, 1, 4, 4)).astype(np.uint8)
    want = onnx_run("Resize", [x, None, np.array([1, 1, 1.5, 1.5], np.float32)], opset=19,
                    mode="linear")
    assert_same(run_ml("ml.resize", [x], scales=(1.0, 1.0, 1.5, 1.5), mode="linear"), want)


# -- type inference with symbolic and unknown dims --------------------------------------------

def infer(name: str, types: Sequence[TensorType], **attrs: Any) -> List[TensorType]:
    f = FuncOp.make("main", list(types), [])
    return OP_REGISTRY[name].build(f.args, attrs).result_types


def shp(name: str, t: TensorType, **attrs: Any) -> Any:
    return infer(name, [t], **attrs)[0].shape


def test_inference_keeps_symbols():
    t = tensor(["B", "S", 64])
    assert shp("ml.transpose", t, perm=(1, 0, 2)) == ("S", "B", 64)
    assert shp("ml.transpose", t) == (64, "S", "B")
    assert shp("ml.reshape", t, shape=(0, 0, 8, 8)) == ("B", "S", 8, 8)
    assert shp("ml.reshape", t, shape=(0, -1)) == ("B", "64*S")
    assert shp("ml.reshape", tensor(["B", 8, 8]), shape=(0, -1)) == ("B", 64)
    assert shp("ml.reshape", tensor(["B", 4, 16]), shape=(-1, 64)) == ("B", 64)
    assert shp("ml.reshape", tensor(["B", None]), shape=(-1, 4)) == (None, 4)
    assert shp("ml.unsqueeze", t, axes=(1,)) == ("B", 1, "S", 64)
    assert shp("ml.squeeze", tensor(["B", 1, 4]), axes=(1,)) == ("B", 4)
    assert shp("ml.squeeze", tensor(["B", 1, 4])) is None  # B may be 1: rank unknown
    assert shp("ml.flatten", tensor(["B", 3, 4])) == ("B", 12)
    assert shp("ml.flatten", tensor(["B", "S", 4]), axis=2) == ("B*S", 4)
    assert shp("ml.slice", t, starts=(0,), ends=(I64_MAX,), axes=(1,)) == ("B", "S", 64)
    assert shp("ml.slice", t, starts=(-1,), ends=(-I64_MAX,), axes=(0,), steps=(-1,)) == \
        ("B", "S", 64)
    assert shp("ml.slice", t, starts=(1, 8), ends=(3, -8), axes=(1, 2)) == \
        ("B", "Min(3, S) - 1", 48)  # S[1:3], clamped
    assert shp("ml.pad", t, pads=(0, 1, 0, 0, 1, 0)) == ("B", "S + 2", 64)
    assert shp("ml.tile", t, repeats=(1, 2, 3)) == ("B", "2*S", 192)
    assert shp("ml.expand", tensor(["B", 1]), shape=(3, 1, 5)) == (3, "B", 5)
    assert shp("ml.shape", t, start=1) == (2,)
    assert shp("ml.size", t) == ()
    assert shp("ml.resize", t, scales=(1.0, 1.0, 2.0)) == ("B", "S", 128)
    assert shp("ml.resize", t, scales=(1.0, 2.0, 1.0)) == ("B", None, 64)
    assert shp("ml.depth_to_space", tensor(["N", 8, "H", 4]), blocksize=2) == ("N", 2, "2*H", 8)
    assert shp("ml.space_to_depth", tensor(["N", 3, 4, 6]), blocksize=2) == ("N", 12, 2, 3)
    assert [r.shape for r in infer("ml.split", [t], axis=2, split=(16, 48))] == \
        [("B", "S", 16), ("B", "S", 48)]
    assert [r.shape for r in infer("ml.split", [tensor([10, "S"])], num_outputs=3)] == \
        [(4, "S"), (4, "S"), (2, "S")]
    assert [r.shape for r in infer("ml.split", [t], axis=1, num_outputs=2)] == \
        [("B", None, 64)] * 2
    cat = infer("ml.concat", [tensor(["B", 3]), tensor([None, 4]), tensor(["B", "K"])], axis=1)
    assert cat[0].shape == ("B", "K + 7")
    assert infer("ml.concat", [tensor(["B", 3]), tensor([None, 4])], axis=1)[0].shape == ("B", 7)
    assert infer("ml.concat", [tensor(["B", 3]), tensor(["B", 0])], axis=1)[0].shape == ("B", 3)


def test_inference_unranked_and_dynamic():
    u = tensor(None)
    assert shp("ml.transpose", u) is None
    assert shp("ml.transpose", u, perm=(1, 0)) == (None, None)
    assert shp("ml.reshape", u, shape=(2, -1)) == (2, None)
    assert shp("ml.flatten", u) == (None, None)
    assert shp("ml.squeeze", u, axes=(0,)) is None
    assert shp("ml.shape", u) == (None,)
    assert infer("ml.concat", [u, tensor([2, 3])], axis=0)[0].shape == (None, 3)
    assert infer("ml.concat", [u, u], axis=0)[0].shape is None
    s3 = tensor([3], "i64")
    assert infer("ml.reshape_dynamic", [tensor(["B", 4]), s3])[0].shape == (None,) * 3
    assert infer("ml.reshape_dynamic", [tensor(["B", 4]), tensor([None], "i64")])[0].shape is None
    assert infer("ml.expand_dynamic", [tensor(["B", 1, 5]), s3])[0].shape == (None, None, 5)
    assert infer("ml.expand_dynamic", [tensor([5]), s3])[0].shape == (None, None, 5)
    assert infer("ml.slice_dynamic", [tensor(["B", 4, 5]), tensor([1], "i64"),
                                      tensor([1], "i64")])[0].shape == (None, 4, 5)
    assert infer("ml.constant_of_shape_dynamic", [s3])[0] == tensor([None] * 3, "f32")
    assert infer("ml.range", [tensor([], "i32")] * 3)[0] == tensor([None], "i32")
    cos = infer("ml.constant_of_shape", [], shape=(2, 0),
                value=DenseAttr(np.array([1], np.int64)))[0]
    assert cos == tensor([2, 0], "i64")


# -- verifier -----------------------------------------------------------------------------------

BAD_ATTRS = [
    ("ml.transpose", [2, 3, 4], {"perm": (0, 0, 1)}, "not a permutation"),
    ("ml.transpose", [2, 3, 4], {"perm": (0, 1)}, "not a permutation"),
    ("ml.squeeze", [2, 1, 4], {"axes": (0,)}, "size 2"),
    ("ml.squeeze", [2, 1, 4], {"axes": (3,)}, "out of range"),
    ("ml.unsqueeze", [2, 3], {"axes": (3,)}, "out of range"),
    ("ml.unsqueeze", [2, 3], {"axes": (1, 1)}, "repeat"),
    ("ml.flatten", [2, 3], {"axis": 3}, "out of range"),
    ("ml.reshape", [2, 3], {"shape": (-1, -1)}, "more than one -1"),
    ("ml.reshape", [2, 3], {"shape": (4, 2)}, "cannot reshape"),
    ("ml.reshape", [2, 3], {"shape": (-1, 4)}, "cannot reshape"),
    ("ml.reshape", [2, 3], {"shape": (-2, 3)}, "negative"),
    ("ml.split", [2, 6], {"axis": 1, "split": (2, 3)}, "add up"),
    ("ml.split", [2, 6], {"axis": 2, "split": (6,)}, "out of range"),
    ("ml.split", [2, 6], {"axis": 1}, "num_outputs"),
    ("ml.slice", [2, 6], {"starts": (0,), "ends": (1,), "steps": (0,)}, "contain 0"),
    ("ml.slice", [2, 6], {"starts": (0,), "ends": (1, 2)}, "equal lengths"),
    ("ml.slice", [2, 6], {"starts": (0,), "ends": (1,), "axes": (2,)}, "out of range"),
    ("ml.pad", [2, 6], {"pads": (1, 1)}, "2 entries"),
    ("ml.pad", [2, 6], {"pads": (1, 1, 1, 1), "mode": "mirror"}, "mode"),
    ("ml.pad", [2, 6], {"pads": (0, -4, 0, -3)}, "crop"),
    ("ml.tile", [2, 6], {"repeats": (2,)}, "one entry per axis"),
    ("ml.expand", [2, 6], {"shape": (3, 6)}, "broadcast"),
    ("ml.depth_to_space", [1, 6, 2, 2], {"blocksize": 2}, "divisible"),
    ("ml.depth_to_space", [1, 8, 2, 2], {"blocksize": 2, "mode": "XYZ"}, "DCR"),
    ("ml.space_to_depth", [1, 3, 5, 4], {"blocksize": 2}, "divisible"),
    ("ml.resize", [1, 3, 4, 4], {"scales": (1.0, 2.0), "sizes": (1, 2)}, "exactly one"),
    ("ml.resize", [1, 3, 4, 4], {"scales": (1.0, 2.0)}, "one entry"),
    ("ml.resize", [1, 3, 4, 4], {"scales": (1.0, 1.0, 2.0, 2.0), "mode": "area"}, "mode"),
    ("ml.resize", [1, 3, 4, 4], {"scales": (1.0, 1.0, 2.0, 2.0), "antialias": 1}, "antialias"),
    ("ml.eye_like", [2, 3, 4], {}, "2-D"),
]


@pytest.mark.parametrize("name,shape,attrs,msg", BAD_ATTRS, ids=lambda v: str(v)[:30])
def test_verifier_rejects_bad_attributes(name, shape, attrs, msg):
    with pytest.raises(InferenceError, match=msg):  # at build time...
        infer(name, [tensor(shape)], **attrs)
    f = FuncOp.make("main", [tensor(shape)], [])  # ...and on an op built with explicit types
    op = OP_REGISTRY[name].build(f.args, attrs, result_types=[tensor(None)])
    with pytest.raises(VerifyError, match=msg):
        op.verify_op()


def test_verifier_checks_result_types_and_operands():
    f = FuncOp.make("main", [tensor([2, 3])], [])
    op = OP_REGISTRY["ml.transpose"].build(f.args, {}, result_types=[tensor([2, 3])])
    with pytest.raises(VerifyError, match="result #0"):
        op.verify_op()
    with pytest.raises(InferenceError, match="element types"):
        infer("ml.concat", [tensor([2]), tensor([2], "i64")], axis=0)
    with pytest.raises(InferenceError, match="ranks"):
        infer("ml.concat", [tensor([2]), tensor([2, 1])], axis=0)
    with pytest.raises(InferenceError, match="differ"):
        infer("ml.concat", [tensor([2, 1]), tensor([3, 1])], axis=1)
    with pytest.raises(InferenceError, match="integer"):
        infer("ml.reshape_dynamic", [tensor([2, 3]), tensor([2], "f32")])
    with pytest.raises(InferenceError, match="element type"):
        infer("ml.pad", [tensor([2, 3]), tensor([], "i64")], pads=(0, 0, 0, 0))


# -- run-time checks ----------------------------------------------------------------------------

def test_dynamic_ops_reject_bad_runtime_values():
    x = rand(2, 3)
    with pytest.raises(ExecutionError, match="ml.reshape_dynamic"):
        run_ml("ml.reshape_dynamic", [x, i64s(4, -1)])
    with pytest.raises(ExecutionError, match="ml.expand_dynamic"):
        run_ml("ml.expand_dynamic", [x, i64s(4, 3)])
    with pytest.raises(ExecutionError, match="step 0"):
        run_ml("ml.slice_dynamic", [x, i64s(0), i64s(1), i64s(0), i64s(0)])
    with pytest.raises(ExecutionError, match="out of range"):
        run_ml("ml.slice_dynamic", [x, i64s(0), i64s(1), i64s(2), i64s(1)])
    with pytest.raises(ExecutionError, match="negative"):
        run_ml("ml.constant_of_shape_dynamic", [i64s(2, -1)])
    with pytest.raises(ExecutionError, match="delta is 0"):
        run_ml("ml.range", [np.array(v, np.int64) for v in (0, 5, 0)])


def test_interpreter_results_match_inferred_symbolic_types():
    # A chain through symbolic dims: the engine checks the inferred static dims at every step.
    f = FuncOp.make("main", [tensor(["B", 4, 6])], [])
    b = f.entry_block
    x = f.args[0]
    t = b.append(OP_REGISTRY["ml.transpose"].build([x], {"perm": (0, 2, 1)})).result
    r = b.append(OP_REGISTRY["ml.reshape"].build([t], {"shape": (0, 3, 8)})).result
    p = b.append(OP_REGISTRY["ml.pad"].build([r], {"pads": (0, 1, 0, 0, 0, 2),
                                                  "mode": "edge"})).result
    s = b.append(OP_REGISTRY["ml.slice"].build([p], {"starts": (-1,), "ends": (-I64_MAX,),
                                                    "axes": (2,), "steps": (-1,)})).result
    assert s.type.shape == ("B", 4, 10)
    b.append(ReturnOp.build([s], result_types=[]))
    f.update_type()
    arr = rand(5, 4, 6)
    got = run(f, arr)[0]
    want = np.pad(arr.transpose(0, 2, 1).reshape(5, 3, 8), ((0, 0), (1, 0), (0, 2)),
                  mode="edge")[:, :, ::-1]
    np.testing.assert_array_equal(got, want)
    assert infer("ml.size", [tensor(["B"], "i1")])[0] == TensorType(i64, ())
