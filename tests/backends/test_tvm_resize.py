"""ONNX Resize on the compiled (TVM) path against onnxruntime, the oracle.

Every mode (nearest with each nearest_mode, linear, cubic with cubic_coeff_a and
exclude_outside, antialiased linear and cubic) x every coordinate_transformation_mode x
upsampling, downsampling and mixed scales, with the scales or sizes (and roi) known at compile
time (initializers: `ml.resize`) or read at run time (graph inputs: `ml.resize_dynamic`, the
result dims bound by a shape step); and the axes attribute, keep_aspect_ratio_policy, N-linear
resize over three axes, symbolic input dims (one compile run at several sizes) and run-time sizes
that change between runs of one compile.

Each group is one ONNX model holding one Resize node per case, so that one compile covers them
all; onnxruntime runs the same model. Tolerances: float32 rtol 1e-5, atol 1e-5 (onnxruntime
computes coordinates in float32, the compiled tables in float64); integers exact. Where
onnxruntime's antialiasing departs from the ONNX specification (align_corners,
half_pixel_symmetric and tf_crop_and_resize when downsampling: it ignores how those modes place
the filter) the oracle is onnx's reference implementation instead, as the conformance suite's.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from mlir_lite.driver import CompileOptions, compile  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402

RTOL, ATOL = 1e-5, 1e-5
R = np.random.default_rng(7)
X = R.uniform(-2.0, 2.0, (2, 3, 8, 12)).astype(np.float32)

CTMS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
        "asymmetric", "tf_crop_and_resize")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
# per 4-D input (2, 3, 8, 12): upsampling, downsampling, mixed; binary fractions whose products
# with the dims are whole (where they are not, see test_lengths_that_scales_do_not_fill)
SCALES = {"up": (1.0, 1.0, 2.0, 2.5), "down": (1.0, 1.0, 0.5, 0.75),
          "mixed": (1.0, 1.0, 1.25, 0.5)}
SIZES = {"up": (2, 3, 16, 30), "down": (2, 3, 4, 9), "mixed": (2, 3, 10, 6)}
ROI = (0.0, 0.0, 0.1, -0.2, 1.0, 1.0, 0.8, 1.1)  # starts then ends, per axis


@dataclass
class Case:
    name: str
    attrs: Dict[str, Any]
    scales: Optional[Sequence[float]] = None
    sizes: Optional[Sequence[int]] = None
    roi: Optional[Sequence[float]] = None
    x: np.ndarray = field(default_factory=lambda: X)


def _vi(name: str, a: np.ndarray, shape: Optional[Sequence[Any]] = None) -> Any:
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype),
                                         a.shape if shape is None else shape)


def _model(cases: Sequence[Case], dynamic: bool,
           out_shapes: Optional[Sequence[Sequence[int]]] = None,
           ) -> Tuple[onnx.ModelProto, Dict[str, np.ndarray]]:
    """One Resize node per case. The roi / scales / sizes are initializers, or (dynamic) graph
    inputs fed at run time; the outputs' dims are `out_shapes`, or unknown (rank only)."""
    nodes, inputs, inits, outs = [], [], [], []
    feeds: Dict[str, np.ndarray] = {}
    xs: Dict[int, str] = {}
    for i, c in enumerate(cases):
        xname = xs.setdefault(id(c.x), f"x{len(xs)}")
        if xname not in feeds:
            feeds[xname] = c.x
            inputs.append(_vi(xname, c.x))
        names = [xname]
        for what, v, dt in (("roi", c.roi, np.float32), ("scales", c.scales, np.float32),
                            ("sizes", c.sizes, np.int64)):
            if v is None:
                names.append("")
                continue
            a, n = np.array(v, dt), f"{what}{i}"
            names.append(n)
            if dynamic:
                feeds[n] = a
                inputs.append(_vi(n, a))
            else:
                inits.append(onnx.numpy_helper.from_array(a, n))
        while names[-1] == "":
            names.pop()
        nodes.append(helper.make_node("Resize", names, [f"y{i}"], **c.attrs))
        outs.append(helper.make_tensor_value_info(f"y{i}", helper.np_dtype_to_tensor_dtype(
            c.x.dtype), [None] * c.x.ndim if out_shapes is None else out_shapes[i]))
    graph = helper.make_graph(nodes, "resize", inputs, outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)],
                             ir_version=10), feeds


def _oracle(model: onnx.ModelProto, feeds: Dict[str, np.ndarray], reference: bool
            ) -> List[np.ndarray]:
    if reference:
        return list(ReferenceEvaluator(model).run(None, feeds))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _compare(got: Sequence[np.ndarray], want: Sequence[np.ndarray], labels: Sequence[str]
             ) -> None:
    bad = []
    assert len(got) == len(want)
    for g, w, lab in zip(got, want, labels):
        w = np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            bad.append(f"{lab}: got {g.dtype}{g.shape}, want {w.dtype}{w.shape}")
        elif w.dtype.kind == "f":
            if not np.allclose(g, w, rtol=RTOL, atol=ATOL):
                bad.append(f"{lab}: max abs error {np.abs(g - w).max():.3g}")
        elif not np.array_equal(g, w):
            bad.append(f"{lab}: {int((g != w).sum())} of {w.size} values differ")
    assert not bad, "\n".join(bad)


def check(cases: Sequence[Case], dynamic: bool, reference: bool = False,
          declared: bool = False) -> Any:
    """Compile the model of `cases` once, run it, compare every output with the oracle. With
    `declared`, the model declares the output dims (the oracle's), as exported models do."""
    model, feeds = _model(cases, dynamic)
    want = _oracle(model, feeds, reference)
    if declared:
        model, feeds = _model(cases, dynamic, [w.shape for w in want])
    compiled = compile(model, CompileOptions(target="cpu"))
    got = compiled(*[feeds[n] for n in compiled.input_names])
    _compare(got, want, [c.name for c in cases])
    return compiled


def _param(how: str, key: str) -> Dict[str, Any]:
    return {"scales": SCALES[key]} if how == "scales" else {"sizes": SIZES[key]}


def grid(mode: str, how: str) -> List[Case]:
    """The cases of `mode`: every coordinate mode at every scale set (nearest: with the
    nearest modes in turn), by scales or by sizes."""
    cases = []
    for (j, ctm), (k, key) in itertools.product(enumerate(CTMS), enumerate(SCALES)):
        attrs: Dict[str, Any] = dict(mode=mode, coordinate_transformation_mode=ctm)
        if mode == "nearest":
            attrs["nearest_mode"] = NEAREST[(j + k) % 4]
        roi = ROI if ctm == "tf_crop_and_resize" else None
        if ctm == "tf_crop_and_resize":
            attrs["extrapolation_value"] = -3.5
        cases.append(Case(f"{mode} {ctm} {how} {key} {attrs.get('nearest_mode', '')}", attrs,
                          roi=roi, **_param(how, key)))
        if mode == "cubic":
            cases.append(Case(f"cubic A=-0.5 exclude_outside {ctm} {how} {key}",
                              dict(attrs, cubic_coeff_a=-0.5, exclude_outside=1), roi=roi,
                              **_param(how, key)))
    if mode == "nearest":  # every nearest_mode with every coordinate mode
        for ctm, nm in itertools.product(CTMS, NEAREST):
            cases.append(Case(f"nearest {ctm} {nm} {how} mixed",
                              dict(mode=mode, coordinate_transformation_mode=ctm,
                                   nearest_mode=nm),
                              roi=ROI if ctm == "tf_crop_and_resize" else None,
                              **_param(how, "mixed")))
    return cases


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("how", ["scales", "sizes"])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_every_coordinate_mode(mode: str, how: str, dynamic: bool) -> None:
    check(grid(mode, how), dynamic)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_lengths_that_scales_do_not_fill(dynamic: bool) -> None:
    """Scales whose products with the dims are not whole (8 x 0.6 = 4.8): ONNX places
    align_corners, half_pixel_symmetric and tf_crop_and_resize coordinates by that fractional
    length, onnxruntime by the whole output length, so the oracle here is onnx's reference
    (linear and cubic: continuous in the coordinates, so the reference's float32 steps do not
    matter); the other modes agree with onnxruntime."""
    cases, agree = [], []
    for mode, ctm, sc in itertools.product(("linear", "cubic"), CTMS,
                                           ((1.0, 1.0, 0.6, 0.7), (1.0, 1.0, 1.3, 1.7))):
        c = Case(f"{mode} {ctm} {sc}", dict(mode=mode, coordinate_transformation_mode=ctm),
                 scales=sc, roi=ROI if ctm == "tf_crop_and_resize" else None)
        (cases if ctm in ("align_corners", "half_pixel_symmetric", "tf_crop_and_resize")
         else agree).append(c)
    check(cases, dynamic, reference=True)
    check(agree, dynamic)


def _antialias_cases(how: str) -> Tuple[List[Case], List[Case]]:
    """(cases onnxruntime computes as ONNX specifies, cases only the reference does)."""
    params = ([{"scales": s} for s in ((1.0, 1.0, 0.5, 0.4), (1.0, 1.0, 0.3, 0.7),
                                       (1.0, 1.0, 1.6, 0.45))] if how == "scales" else
              [{"sizes": s} for s in ((2, 3, 3, 4), (2, 3, 2, 8), (2, 3, 11, 3))])
    agree, reference = [], []
    for mode, ctm, ex, p in itertools.product(("linear", "cubic"), CTMS, (0, 1), params):
        attrs = dict(mode=mode, coordinate_transformation_mode=ctm, antialias=1,
                     exclude_outside=ex)
        c = Case(f"antialias {mode} {ctm} exclude_outside={ex} {p}", attrs,
                 roi=ROI if ctm == "tf_crop_and_resize" else None, **p)
        (reference if ctm in ("align_corners", "half_pixel_symmetric", "tf_crop_and_resize")
         else agree).append(c)
    return agree, reference


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("how", ["scales", "sizes"])
def test_antialias(how: str, dynamic: bool) -> None:
    """Run-time scales with declared output dims give a static tap count; with output dims
    bound at run time, the tap count is bounded from the input dim (the last two cases)."""
    agree, reference = _antialias_cases(how)
    check(agree, dynamic, declared=dynamic)
    check(reference, dynamic, reference=True, declared=dynamic)
    if dynamic:
        check(agree[:1] + agree[-1:], dynamic)


X5 = R.uniform(-2.0, 2.0, (1, 2, 4, 5, 6)).astype(np.float32)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_axes_policies_and_more_axes(dynamic: bool) -> None:
    cases = [
        Case("axes 3,2 scales", dict(mode="linear", axes=[3, 2]), scales=(0.6, 2.0)),
        Case("axes -1 sizes cubic", dict(mode="cubic", axes=[-1]), sizes=(13,)),
        Case("all axes nearest", dict(mode="nearest"), scales=(2.0, 0.5, 1.5, 1.25)),
        Case("trilinear", dict(mode="linear", axes=[2, 3, 4]), scales=(1.5, 0.8, 2.0), x=X5),
        Case("tf_crop axes 2,3", dict(mode="linear", coordinate_transformation_mode=
                                      "tf_crop_and_resize", axes=[2, 3],
                                      extrapolation_value=9.0),
             sizes=(6, 5), roi=(0.2, -0.3, 0.9, 1.2)),
    ]
    for policy, sizes, axes in itertools.product(("not_larger", "not_smaller"),
                                                 ((2, 3, 5, 20), (2, 3, 21, 4)),
                                                 (None, [3, 2])):
        # (over all axes the policy resizes the batch and channels too, which onnxruntime
        # resizes in nearest mode only)
        for mode in ("nearest",) if axes is None else ("nearest", "linear"):
            attrs: Dict[str, Any] = dict(mode=mode, keep_aspect_ratio_policy=policy)
            sz = sizes
            if axes is not None:
                attrs["axes"] = axes
                sz = (sizes[3], sizes[2])
            cases.append(Case(f"{policy} {mode} sizes {sz} axes {axes}", attrs, sizes=sz))
    check(cases, dynamic)
    # N-linear / N-cubic over axes onnxruntime does not resize (it takes linear and cubic
    # over the two innermost axes, or the three of a 5-D input): onnx's reference
    check([Case("channel axis linear", dict(mode="linear", axes=[1]), scales=(2.5,)),
           Case("batch and width linear", dict(mode="linear", axes=[0, 3]), sizes=(3, 5)),
           Case("tricubic (axis by axis)", dict(mode="cubic", axes=[2, 3, 4]),
                sizes=(7, 3, 9), x=X5),
           Case("five axes linear", dict(mode="linear"), scales=(2.0, 1.5, 0.5, 0.8, 1.5),
                x=X5)], dynamic, reference=True)


def test_integer_and_half_inputs() -> None:
    """Integers (computed in float64): nearest against onnxruntime; linear and cubic round half
    to even and saturate as ONNX's reference does (onnxruntime does not round so, and has no
    integer cubic), so there the reference is the oracle. float16 (computed in float32):
    rtol = atol = 2e-3."""
    u8 = R.integers(0, 256, (1, 2, 5, 6)).astype(np.uint8)
    i8 = R.integers(-128, 128, (1, 2, 5, 6)).astype(np.int8)
    i32 = R.integers(-1000, 1000, (1, 2, 5, 6)).astype(np.int32)
    sc = (1.0, 1.0, 1.5, 0.5)
    check([Case(f"{x.dtype} nearest", dict(mode="nearest"), scales=sc, x=x)
           for x in (u8, i8, i32)], dynamic=False)
    check([Case(f"{x.dtype} {mode}", dict(mode=mode), scales=sc, x=x)
           for x in (u8, i8, i32) for mode in ("linear", "cubic")], dynamic=False,
          reference=True)
    f16 = R.uniform(-2, 2, (1, 2, 5, 6)).astype(np.float16)
    half = [Case(f"float16 {mode}", dict(mode=mode), scales=sc, x=f16)
            for mode in ("nearest", "linear", "cubic")]
    model, feeds = _model(half, dynamic=False)
    compiled = compile(model, CompileOptions(target="cpu"))
    got = compiled(*[feeds[n] for n in compiled.input_names])
    for g, w in zip(got, _oracle(model, feeds, False)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=2e-3,
                                   atol=2e-3)


def _symbolic_model(scales: Optional[Sequence[float]], sizes: Optional[Sequence[int]],
                    mode: str, **attrs: Any) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "H", "W"])
    inits, names = [], ["x", ""]
    if scales is not None:
        inits.append(onnx.numpy_helper.from_array(np.array(scales, np.float32), "s"))
        names.append("s")
    else:
        inits.append(onnx.numpy_helper.from_array(np.array(sizes, np.int64), "z"))
        names += ["", "z"]
    up = helper.make_node("Resize", names, ["u"], mode=mode, **attrs)
    relu = helper.make_node("Relu", ["u"], ["y"])
    graph = helper.make_graph([up, relu], "g", [x], [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 4)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=10)


@pytest.mark.parametrize("case", [
    ("x2 bilinear", (1.0, 1.0, 2.0, 2.0), None, "linear", {}),
    ("x1.5 nearest", (1.0, 1.0, 1.5, 0.6), None, "nearest", {}),
    ("x2,x3 cubic align_corners", (1.0, 1.0, 2.0, 3.0), None, "cubic",
     {"coordinate_transformation_mode": "align_corners"}),
    ("sizes linear", None, (9, 5), "linear", {"axes": [2, 3]}),
    ("sizes not_smaller", None, (6, 6), "linear", {"axes": [2, 3],
                                                    "keep_aspect_ratio_policy": "not_smaller"}),
    ("antialias x0.5", (1.0, 1.0, 0.5, 0.5), None, "linear", {"antialias": 1}),
], ids=lambda c: c[0])
def test_symbolic_input_dims_compile_once(case: tuple) -> None:
    """A feature map with a symbolic batch and H/W (as an FPN's upsampling sees it): one
    compile, run at three sizes."""
    _, scales, sizes, mode, attrs = case
    model = _symbolic_model(scales, sizes, mode, **attrs)
    compiled = compile(model, CompileOptions(target="cpu"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in ((1, 4, 7, 9), (2, 4, 16, 16), (1, 4, 5, 12)):
        x = R.uniform(-2, 2, shape).astype(np.float32)
        _compare(compiled(x), sess.run(None, {"x": x}), [f"{case[0]} at {shape}"])


def test_run_time_sizes_change_between_runs() -> None:
    """Sizes read at run time, the output dims bound by a shape step: one compile, the output
    size changing from run to run (a linear and a not_larger nearest resize)."""
    x = R.uniform(-2, 2, (1, 3, 6, 8)).astype(np.float32)
    model, _ = _model([Case("linear", dict(mode="linear"), sizes=(1, 3, 12, 16), x=x),
                       Case("not_larger", dict(mode="nearest", axes=[2, 3],
                                               keep_aspect_ratio_policy="not_larger"),
                            sizes=(5, 5), x=x)], dynamic=True)
    compiled = compile(model, CompileOptions(target="cpu"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for a, b in (((1, 3, 12, 16), (5, 5)), ((1, 3, 4, 21), (13, 7)), ((1, 3, 6, 8), (3, 30))):
        feeds = {"x0": x, "sizes0": np.array(a, np.int64), "sizes1": np.array(b, np.int64)}
        got = compiled(*[feeds[n] for n in compiled.input_names])
        _compare(got, sess.run(None, feeds), [f"linear {a}", f"not_larger {b}"])


def test_run_time_scales_that_contradict_the_declared_shape_are_an_error() -> None:
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")
    graph = helper.make_graph([node], "g", [_vi("x", X), _vi("s", np.zeros(4, np.float32))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                             [2, 3, 16, 24])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=10)
    compiled = compile(model, CompileOptions(target="cpu"))
    s = np.array([1, 1, 2, 2], np.float32)
    _compare(compiled(X, s), _oracle(model, {"x": X, "s": s}, False), ["x2"])
    with pytest.raises(ExecutionError, match="scales/sizes"):
        compiled(X, np.array([1, 1, 2, 3], np.float32))


def test_bilinear_upsample_is_one_gathering_kernel() -> None:
    """The x2 bilinear upsample of a 1x64x56x56 map: one kernel whose output stage runs
    parallel rows vectorised by LLVM (hardware gathers of the taps), the tables computed once
    per call; float64 only in the tables."""
    x = R.standard_normal((1, 64, 56, 56)).astype(np.float32)
    model, _ = _model([Case("x2", dict(mode="linear"), scales=(1.0, 1.0, 2.0, 2.0), x=x)],
                      dynamic=False)
    compiled = compile(model, CompileOptions(target="cpu"))
    (k,) = compiled.executable.kernels
    out = [s for s in k.schedule if s.startswith("resize")]
    assert out == [f"{out[0].split(':')[0]}:rows:parallel+llvm-vector"], k.schedule
    _compare(compiled(x), _oracle(model, {"x0": x}, False), ["x2"])
