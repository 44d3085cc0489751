"""Shape and data-movement ops. Value-dependent inputs (shapes, axes, starts/ends, pads,
repeats, scales) that are constants become attributes; otherwise the `*_dynamic` op variant."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Value
from mlir_lite.ir.types import TensorType

from ..context import NodeContext
from ..dtypes import element_of
from ..registry import Unsupported, converter
from ._util import as_i64, const_input_or_dynamic, static_shape


@converter("Reshape", since=5)
def _reshape(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    allowzero = ctx.attr("allowzero", 0, "int")
    shape = ctx.const_ints(1)
    if shape is not None:
        return [ctx.op("ml.reshape", x, shape=shape, allowzero=allowzero)]
    return [ctx.op("ml.reshape_dynamic", x, as_i64(ctx, ctx.input(1)), allowzero=allowzero)]


@converter("Reshape", since=1)
def _reshape1(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.reshape", ctx.input(0), shape=ctx.attr("shape", kind="ints"))]


@converter("Transpose", since=1)
def _transpose(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.transpose", ctx.input(0), perm=ctx.attr("perm", None, "ints"))]


@converter("Squeeze", since=1)
def _squeeze1(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.squeeze", ctx.input(0), axes=ctx.attr("axes", None, "ints"))]


@converter("Squeeze", since=13)
def _squeeze13(ctx: NodeContext) -> List[Value]:
    if ctx.has_input(1):
        return [const_input_or_dynamic(ctx, "ml.squeeze", "axes")]
    return [ctx.op("ml.squeeze", ctx.input(0), axes=None)]


@converter("Unsqueeze", since=1)
def _unsqueeze1(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.unsqueeze", ctx.input(0), axes=ctx.attr("axes", kind="ints"))]


@converter("Unsqueeze", since=13)
def _unsqueeze13(ctx: NodeContext) -> List[Value]:
    return [const_input_or_dynamic(ctx, "ml.unsqueeze", "axes")]


@converter("Flatten", since=1)
def _flatten(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.flatten", ctx.input(0), axis=ctx.attr("axis", 1, "int"))]


@converter("Concat", since=4)
def _concat(ctx: NodeContext) -> List[Value]:
    ins = [ctx.input(i) for i in range(ctx.num_inputs) if ctx.has_input(i)]
    return [ctx.op("ml.concat", *ins, axis=ctx.attr("axis", kind="int"))]


def _split(ctx: NodeContext, split: Optional[tuple]) -> List[Value]:
    n = ctx.num_outputs
    axis = ctx.attr("axis", 0, "int")
    if split is not None and len(split) != n:
        raise ctx.error(f"split {split} has {len(split)} entries for {n} outputs")
    if split is None:
        num = ctx.attr("num_outputs", n, "int") if ctx.opset >= 18 else n
        if num != n:
            raise ctx.error(f"num_outputs {num} but the node has {n} outputs",
                            attribute="num_outputs")
        res = ctx.op("ml.split", ctx.input(0), axis=axis, num_outputs=n)
    else:
        res = ctx.op("ml.split", ctx.input(0), axis=axis, split=tuple(split))
    return list(res) if isinstance(res, tuple) else [res]


@converter("Split", since=2)
def _split2(ctx: NodeContext) -> List[Value]:
    s = ctx.attr("split", None, "ints")
    return _split(ctx, tuple(s) if s else None)


@converter("Split", since=13)
def _split13(ctx: NodeContext) -> List[Value]:
    split = None
    if ctx.has_input(1):
        split = ctx.const_ints(1)
        if split is None:
            res = ctx.op("ml.split_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)),
                         axis=ctx.attr("axis", 0, "int"), num_outputs=ctx.num_outputs)
            return list(res) if isinstance(res, tuple) else [res]
    return _split(ctx, split)


@converter("Slice", since=1)
def _slice1(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.slice", ctx.input(0), starts=ctx.attr("starts", kind="ints"),
                   ends=ctx.attr("ends", kind="ints"), axes=ctx.attr("axes", None, "ints"))]


@converter("Slice", since=10)
def _slice10(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    starts, ends = ctx.const_ints(1), ctx.const_ints(2)
    axes = ctx.const_ints(3) if ctx.has_input(3) else None
    steps = ctx.const_ints(4) if ctx.has_input(4) else None
    if (starts is not None and ends is not None and (axes is not None or not ctx.has_input(3))
            and (steps is not None or not ctx.has_input(4))):
        return [ctx.op("ml.slice", x, starts=starts, ends=ends, axes=axes, steps=steps)]
    ops = [x, as_i64(ctx, ctx.input(1)), as_i64(ctx, ctx.input(2))]
    seg = [1, 1, 1, 0, 0]
    for k in (3, 4):
        if ctx.has_input(k):
            ops.append(as_i64(ctx, ctx.input(k)))
            seg[k] = 1
    return [ctx.op("ml.slice_dynamic", *ops, operandSegmentSizes=tuple(seg))]


def _pad_value(ctx: NodeContext, x: Value, value: Optional[Value]) -> List[Value]:
    if value is None:
        return []
    t = value.type
    if isinstance(t, TensorType) and t.shape not in (None, ()):
        value = ctx.op("ml.reshape", value, shape=())
    return [value]


@converter("Pad", since=2)
def _pad2(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    mode = ctx.attr("mode", "constant", "string")
    value = ctx.attr("value", 0.0, "float")
    extra = []
    if value != 0.0 and mode == "constant":
        extra = [ctx.constant(np.array(value, dtype=ctx.type(0).element.np_dtype))]
    return [ctx.op("ml.pad", x, *extra, pads=ctx.attr("pads", kind="ints"), mode=mode)]


@converter("Pad", since=11)
def _pad11(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    pads = ctx.const_ints(1)
    axes = None
    if ctx.has_input(3):
        axes = ctx.const_ints(3)
    mode = ctx.attr("mode", "constant", "string")
    extra = _pad_value(ctx, x, ctx.opt_input(2)) if mode == "constant" else []
    if pads is None or (ctx.has_input(3) and axes is None):
        ops = [x, as_i64(ctx, ctx.input(1))] + extra
        seg = [1, 1, len(extra), 0]
        if ctx.has_input(3):
            ops.append(as_i64(ctx, ctx.input(3)))
            seg[3] = 1
        return [ctx.op("ml.pad_dynamic", *ops, mode=mode, operandSegmentSizes=tuple(seg))]
    return [ctx.op("ml.pad", x, *extra, pads=pads, mode=mode, axes=axes)]


@converter("Expand", since=8)
def _expand(ctx: NodeContext) -> List[Value]:
    shape = ctx.const_ints(1)
    if shape is not None:
        return [ctx.op("ml.expand", ctx.input(0), shape=shape)]
    return [ctx.op("ml.expand_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)))]


@converter("Tile", since=6)
def _tile(ctx: NodeContext) -> List[Value]:
    return [const_input_or_dynamic(ctx, "ml.tile", "repeats")]


@converter("Shape", since=1)
def _shape(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    start = ctx.attr("start", 0, "int") if ctx.opset >= 15 else 0
    end = ctx.attr("end", None, "int") if ctx.opset >= 15 else None
    s = static_shape(x)
    if s is not None:
        r = len(s)
        b = max(0, min(r, start + r if start < 0 else start))
        e = r if end is None else max(0, min(r, end + r if end < 0 else end))
        return [ctx.constant(np.array(s[b:max(b, e)], dtype=np.int64))]
    return [ctx.op("ml.shape", x, start=start, end=end)]


@converter("Size", since=1)
def _size(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    s = static_shape(x)
    if s is not None:
        return [ctx.constant(np.array(int(np.prod(s)), dtype=np.int64))]
    return [ctx.op("ml.size", x)]


@converter("Range", since=11)
def _range(ctx: NodeContext) -> List[Value]:
    ins = []
    for i in range(3):
        v = ctx.input(i)
        if isinstance(v.type, TensorType) and v.type.shape not in (None, ()):
            v = ctx.op("ml.reshape", v, shape=())
        ins.append(v)
    return [ctx.op("ml.range", *ins)]


def _cos_value(ctx: NodeContext) -> Optional[DenseAttr]:
    if not ctx.has_attr("value"):
        return None
    element_of(ctx.node.attribute[[a.name for a in ctx.node.attribute].index("value")]
               .t.data_type)
    arr = np.asarray(ctx.attr("value", kind="tensor"))
    if arr.size != 1:
        raise ctx.error(f"value must hold one element, got shape {arr.shape}", attribute="value")
    return DenseAttr(arr.reshape(1))


@converter("ConstantOfShape", since=9)
def _constant_of_shape(ctx: NodeContext) -> List[Value]:
    value = _cos_value(ctx)
    shape = ctx.const_ints(0)
    if shape is not None:
        return [ctx.op("ml.constant_of_shape", shape=shape, value=value)]
    return [ctx.op("ml.constant_of_shape_dynamic", as_i64(ctx, ctx.input(0)), value=value)]


@converter("DepthToSpace", since=1)
def _depth_to_space(ctx: NodeContext) -> List[Value]:
    mode = ctx.attr("mode", "DCR", "string") if ctx.opset >= 11 else "DCR"
    return [ctx.op("ml.depth_to_space", ctx.input(0), blocksize=ctx.attr("blocksize",
                                                                          kind="int"),
                   mode=mode)]


@converter("SpaceToDepth", since=1)
def _space_to_depth(ctx: NodeContext) -> List[Value]:
    mode = ctx.attr("mode", "DCR", "string")  # from opset 25
    if mode not in ("DCR", "CRD"):
        raise ctx.error(f"SpaceToDepth mode must be DCR or CRD, got {mode!r}", attribute="mode")
    return [ctx.op("ml.space_to_depth", ctx.input(0), blocksize=ctx.attr("blocksize",
                                                                          kind="int"),
                   mode=mode)]


def _resize(ctx: NodeContext, scales: Optional[tuple], sizes: Optional[tuple],
            roi: Optional[tuple], old: bool) -> Value:
    attrs = dict(scales=scales, sizes=sizes, roi=roi, **_resize_attrs(ctx, old))
    return ctx.op("ml.resize", ctx.input(0), **attrs)


def _resize_attrs(ctx: NodeContext, old: bool) -> dict:
    mode = ctx.attr("mode", "nearest", "string")
    if mode == "bilinear":
        mode = "linear"
    attrs: dict = dict(mode=mode)
    if old:
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs.update(
            coordinate_transformation_mode=ctx.attr("coordinate_transformation_mode",
                                                    "half_pixel", "string"),
            nearest_mode=ctx.attr("nearest_mode", "round_prefer_floor", "string"),
            cubic_coeff_a=ctx.attr("cubic_coeff_a", -0.75, "float"),
            exclude_outside=ctx.attr("exclude_outside", 0, "int"),
            extrapolation_value=ctx.attr("extrapolation_value", 0.0, "float"),
            antialias=ctx.attr("antialias", 0, "int"),
            axes=ctx.attr("axes", None, "ints"),
            keep_aspect_ratio_policy=ctx.attr("keep_aspect_ratio_policy", "stretch", "string"))
        if attrs["antialias"] and mode == "nearest":
            raise Unsupported("Resize with antialias=1 in nearest mode")
    return attrs


class _NotConstant(Exception):
    pass


def _opt_const(ctx: NodeContext, i: int, what: str) -> Optional[np.ndarray]:
    if not ctx.has_input(i):
        return None
    a = ctx.const(i)
    if a is None:
        raise _NotConstant(what)
    return None if a.size == 0 else a


def _resize_dynamic(ctx: NodeContext, inputs: dict, old: bool) -> Value:
    """Resize whose roi / scales / sizes are run-time tensors: `ml.resize_dynamic`."""
    probe = _resize_attrs(ctx, old)
    ops, seg = [ctx.input(0)], [1, 0, 0, 0]
    for k, name in enumerate(("roi", "scales", "sizes")):
        i = inputs.get(name)
        if i is not None and ctx.has_input(i):
            a = ctx.const(i)
            if a is not None and a.size == 0:
                continue
            v = ctx.input(i)
            ops.append(as_i64(ctx, v) if name == "sizes" else v)
            seg[k + 1] = 1
    return ctx.op("ml.resize_dynamic", *ops, operandSegmentSizes=tuple(seg), **probe)


@converter("Resize", since=10)
def _resize10(ctx: NodeContext) -> List[Value]:
    try:
        s = _opt_const(ctx, 1, "scales")
    except _NotConstant:
        return [_resize_dynamic(ctx, {"scales": 1}, True)]
    return [_resize(ctx, None if s is None else tuple(float(v) for v in s.ravel()), None, None,
                    True)]


@converter("Resize", since=11)
def _resize11(ctx: NodeContext) -> List[Value]:
    try:
        return _resize11_static(ctx)
    except _NotConstant:
        return [_resize_dynamic(ctx, {"roi": 1, "scales": 2, "sizes": 3}, False)]


def _resize11_static(ctx: NodeContext) -> List[Value]:
    roi = _opt_const(ctx, 1, "roi")
    s = _opt_const(ctx, 2, "scales")
    z = _opt_const(ctx, 3, "sizes")
    ctm = ctx.attr("coordinate_transformation_mode", "half_pixel", "string")
    return [_resize(ctx, None if s is None else tuple(float(v) for v in s.ravel()),
                    None if z is None else tuple(int(v) for v in z.ravel()),
                    None if roi is None or ctm != "tf_crop_and_resize"
                    else tuple(float(v) for v in roi.ravel()), False)]


@converter("Upsample", since=7)
def _upsample7(ctx: NodeContext) -> List[Value]:
    return [_resize(ctx, tuple(ctx.attr("scales", kind="floats")), None, None, True)]


@converter("Upsample", since=9)
def _upsample9(ctx: NodeContext) -> List[Value]:
    try:
        s = _opt_const(ctx, 1, "scales")
    except _NotConstant:
        return [_resize_dynamic(ctx, {"scales": 1}, True)]
    if s is None:
        raise Unsupported("Upsample without scales")
    return [_resize(ctx, tuple(float(v) for v in s.ravel()), None, None, True)]


@converter("EyeLike", since=9)
def _eye_like(ctx: NodeContext) -> List[Value]:
    dt = ctx.attr("dtype", None, "int")
    return [ctx.op("ml.eye_like", ctx.input(0), k=ctx.attr("k", 0, "int"),
                   dtype=None if dt is None else element_of(dt))]


@converter("Compress", since=9)
def _compress(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.compress", ctx.input(0), ctx.input(1), axis=ctx.attr("axis", None, "int"))]
