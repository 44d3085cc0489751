"""Shape and data-movement ops of the `ml` dialect (ONNX semantics, static attributes).

Values that ONNX passes as run-time tensors (shapes, axes, perms, starts/ends, pads, repeats)
are attributes here, so that result types are known statically; the `*_dynamic` variants take
them as tensor operands and infer unknown (`None`) dims of the right rank.

    %y = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<?x4xf32, ["N", 4]>) -> ...  // 4 x N
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from mlir_lite.ir import dim_expr
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.dialects.ml._shape_infer import (
    INT_MAX,
    check_int_tensor,
    dim_add,
    dim_mul,
    dim_product,
    merge_dims,
    norm_axes,
    norm_axis,
    slice_len,
    tensor_of,
)
from mlir_lite.ir.opdef import (
    INJECTIVE,
    PURE,
    VIEW,
    Dense,
    Float,
    Floats,
    Int,
    Ints,
    Str,
    TypeAttr,
    define_op,
)
from mlir_lite.ir.types import ElementType, TensorType, Type, broadcast_shapes, i64

__all__ = [
    "ReshapeOp", "ReshapeDynamicOp", "TransposeOp", "SqueezeOp", "UnsqueezeOp", "FlattenOp",
    "ConcatOp", "SplitOp", "SliceOp", "SliceDynamicOp", "PadOp", "ExpandOp", "ExpandDynamicOp",
    "TileOp", "ShapeOp", "SizeOp", "RangeOp", "ConstantOfShapeOp", "ConstantOfShapeDynamicOp",
    "DepthToSpaceOp", "SpaceToDepthOp", "ResizeOp", "EyeLikeOp", "reshape_target",
]

Attrs = Dict[str, Any]


def reshape_target(in_shape: Optional[tuple], shape: tuple, allowzero: int) -> List[Any]:
    """ONNX Reshape's output dims for `shape` (0 copies, -1 infers), symbols where possible.

    Shared by type inference (dims may be symbolic), the interpreter (all static) and
    shape-inference's shape values (`shape` entries may be symbols or None there too).
    """
    if sum(1 for s in shape if s == -1) > 1:
        raise ValueError(f"shape {shape} has more than one -1")
    if any(type(s) is int and s < -1 for s in shape):
        raise ValueError(f"shape {shape} has a negative entry other than -1")
    if allowzero and 0 in shape and -1 in shape:
        raise ValueError(f"shape {shape} has both 0 and -1 while allowzero=1")
    out: List[Any] = []
    for i, s in enumerate(shape):
        if s == 0 and not allowzero:
            if in_shape is None:
                out.append(None)
            elif i >= len(in_shape):
                raise ValueError(f"shape {shape} copies dim {i} of a rank-{len(in_shape)} input")
            else:
                out.append(in_shape[i])
        else:
            out.append(s)
    if -1 in shape:
        k = shape.index(-1)
        known = out[:k] + out[k + 1:]
        out[k] = None if in_shape is None else _infer_minus_one(list(in_shape), known, shape)
    elif in_shape is not None:
        a, b = dim_product(list(in_shape)), dim_product(out)
        if type(a) is int and type(b) is int and a != b:
            raise ValueError(f"cannot reshape {a} elements into shape {tuple(out)}")
    return out


def _infer_minus_one(ins: list, known: list, shape: tuple) -> Any:
    if None in ins or None in known:
        return None
    syms_in = [d for d in ins if type(d) is str]
    syms_out = [d for d in known if type(d) is str]
    for s in syms_out:
        if s not in syms_in:
            return None
        syms_in.remove(s)
    c_in = dim_product([d for d in ins if type(d) is int])
    c_out = dim_product([d for d in known if type(d) is int])
    if syms_in:
        if len(syms_in) == 1 and c_in == c_out and c_out != 0:
            return syms_in[0]
        return dim_expr.exact_div(dim_product(ins), dim_product(known))  # batch*seq
    if c_out == 0:
        if c_in == 0:
            raise ValueError(f"shape {shape}: -1 is ambiguous with zero-sized dims")
        raise ValueError(f"cannot reshape {c_in} elements into shape {shape}")
    if c_in % c_out:
        raise ValueError(f"cannot reshape {c_in} elements into shape {shape}")
    return c_in // c_out


def _reshape_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    return [x.with_shape(reshape_target(x.shape, tuple(a["shape"]), a["allowzero"]))]


def _reshape_dynamic_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    s = check_int_tensor(types[1], "shape")
    if s.shape is not None and len(s.shape) != 1:
        raise ValueError(f"shape operand must be 1-D, got {s}")
    if s.shape is None or type(s.shape[0]) is not int:
        return [x.with_shape(None)]
    return [x.with_shape([None] * s.shape[0])]


ReshapeOp = define_op("ml.reshape", operands=["x"], attrs={"shape": Ints(), "allowzero": Int(0)},
                      traits=VIEW, infer=_reshape_infer,
                      doc="ONNX Reshape: -1 infers one dim; 0 copies the input dim unless "
                          "allowzero=1.")
ReshapeDynamicOp = define_op("ml.reshape_dynamic", operands=["x", "shape"],
                             attrs={"allowzero": Int(0)}, traits=PURE,
                             infer=_reshape_dynamic_infer,
                             doc="Reshape to a shape computed at run time (a 1-D int tensor).")


def _transpose_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    perm = a["perm"]
    if x.shape is None:
        if perm is not None and sorted(perm) != list(range(len(perm))):
            raise ValueError(f"perm {perm} is not a permutation")
        return [x.with_shape(None if perm is None else [None] * len(perm))]
    r = len(x.shape)
    if perm is None:
        perm = tuple(range(r - 1, -1, -1))
    if sorted(perm) != list(range(r)):
        raise ValueError(f"perm {perm} is not a permutation of the {r} axes")
    return [x.with_shape([x.shape[p] for p in perm])]


TransposeOp = define_op("ml.transpose", operands=["x"], attrs={"perm": Ints(None)},
                        traits=INJECTIVE,
                        infer=_transpose_infer,
                        doc="Permute axes (default: reverse them).")


def _squeeze_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    axes = a["axes"]
    if x.shape is None:
        return [x]
    if axes is None:
        if any(type(d) is not int for d in x.shape):
            return [x.with_shape(None)]  # which dims are 1 is unknown, and so is the rank
        return [x.with_shape([d for d in x.shape if d != 1])]
    ax = norm_axes(axes, len(x.shape))
    for i in ax:
        if type(x.shape[i]) is int and x.shape[i] != 1:
            raise ValueError(f"cannot squeeze axis {i} of size {x.shape[i]}")
    return [x.with_shape([d for i, d in enumerate(x.shape) if i not in ax])]


def _unsqueeze_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is None:
        return [x]
    r = len(x.shape) + len(a["axes"])
    ax = set(norm_axes(a["axes"], r))
    it = iter(x.shape)
    return [x.with_shape([1 if i in ax else next(it) for i in range(r)])]


def _flatten_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is None:
        return [x.with_shape([None, None])]
    r = len(x.shape)
    axis = a["axis"]
    if not -r <= axis <= r:
        raise ValueError(f"axis {axis} is out of range for rank {r}")
    axis = axis + r if axis < 0 else axis
    return [x.with_shape([dim_product(x.shape[:axis]), dim_product(x.shape[axis:])])]


SqueezeOp = define_op("ml.squeeze", operands=["x"], attrs={"axes": Ints(None)}, traits=VIEW,
                      infer=_squeeze_infer, doc="Remove size-1 axes (all of them by default).")
UnsqueezeOp = define_op("ml.unsqueeze", operands=["x"], attrs={"axes": Ints()}, traits=VIEW,
                        infer=_unsqueeze_infer,
                        doc="Insert size-1 axes; `axes` index the output.")
FlattenOp = define_op("ml.flatten", operands=["x"], attrs={"axis": Int(1)}, traits=VIEW,
                      infer=_flatten_infer,
                      doc="Reshape to 2-D: dims before `axis` and from `axis` on.")


def _concat_infer(types: List[Type], a: Attrs) -> List[Type]:
    if not types:
        raise ValueError("concat needs at least one operand")
    ts = [tensor_of(t) for t in types]
    el = ts[0].element
    if any(t.element != el for t in ts):
        raise TypeError("operands have different element types")
    ranked = [t for t in ts if t.shape is not None]
    if not ranked:
        return [ts[0]]
    r = len(ranked[0].dims)
    if any(len(t.dims) != r for t in ranked):
        raise ValueError("operands have different ranks")
    axis = norm_axis(a["axis"], r)
    out = list(ranked[0].dims)
    for t in ranked[1:]:
        for i in range(r):
            if i != axis:
                out[i] = merge_dims(out[i], t.dims[i], f"dims {i} of the operands")
    total: Any = 0
    for t in ts:
        total = None if t.shape is None else dim_add(total, t.shape[axis])
        if t.shape is None:
            break
    out[axis] = total
    return [TensorType(el, tuple(out))]


ConcatOp = define_op("ml.concat", operands=["inputs*"], attrs={"axis": Int()},
                     traits=INJECTIVE,
                     infer=_concat_infer, doc="Concatenate along `axis`.")


def split_sizes(d: Any, split: Optional[tuple], num_outputs: Optional[int]) -> List[Any]:
    """Sizes of the pieces (None where unknown); ONNX's rule for `num_outputs`."""
    if split is not None:
        if any(s < 0 for s in split):
            raise ValueError(f"split sizes {split} must be non-negative")
        if type(d) is int and sum(split) != d:
            raise ValueError(f"split sizes {split} do not add up to the dim {d}")
        return list(split)
    if num_outputs is None or num_outputs < 1:
        raise ValueError("split needs `split` sizes or a positive `num_outputs`")
    if type(d) is not int:
        return [None] * num_outputs
    chunk = -(-d // num_outputs)
    sizes = []
    left = d
    for _ in range(num_outputs):
        sizes.append(max(0, min(chunk, left)))
        left -= sizes[-1]
    return sizes


def _split_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    n = len(a["split"]) if a["split"] is not None else a["num_outputs"]
    if x.shape is None:
        split_sizes(None, a["split"], a["num_outputs"])
        return [x] * (n or 0)
    axis = norm_axis(a["axis"], len(x.shape))
    out: List[Type] = []
    for s in split_sizes(x.shape[axis], a["split"], a["num_outputs"]):
        shp = list(x.shape)
        shp[axis] = s
        out.append(x.with_shape(shp))
    return out


SplitOp = define_op("ml.split", operands=["x"], results=["outputs*"],
                    attrs={"axis": Int(0), "split": Ints(None), "num_outputs": Int(None)},
                    traits=INJECTIVE, infer=_split_infer,
                    doc="Split along `axis` into pieces of `split` sizes (or `num_outputs` "
                        "near-equal pieces, the last one smaller).")


def slice_params(rank: int, a: Attrs) -> List[tuple]:
    """[(axis, start, end, step)] after checking lengths, axes and steps."""
    starts, ends = a["starts"], a["ends"]
    axes = a["axes"] if a["axes"] is not None else tuple(range(len(starts)))
    steps = a["steps"] if a["steps"] is not None else (1,) * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ValueError("starts, ends, axes and steps must have equal lengths")
    if any(s == 0 for s in steps):
        raise ValueError(f"steps {steps} contain 0")
    ax = norm_axes(axes, rank)
    return list(zip(ax, starts, ends, steps))


def _slice_dim(d: Any, start: int, end: int, step: int) -> Any:
    if type(d) is int:
        return slice_len(d, start, end, step)[2]
    if step == 1 and start == 0 and end >= INT_MAX:
        return d
    if step == -1 and (start == -1 or start >= INT_MAX) and end <= -INT_MAX:
        return d
    if step == 1 and type(d) is str:  # clamped as ONNX says, an expression of the symbol
        def at(i: int) -> Any:
            if i >= INT_MAX:
                return d
            return dim_expr.max_(dim_expr.sub(d, -i), 0) if i < 0 else dim_expr.min_(i, d)
        return dim_expr.max_(dim_expr.sub(at(end), at(start)), 0)
    return None


def _slice_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is None:
        return [x]
    out = list(x.shape)
    for axis, s, e, st in slice_params(len(out), a):
        out[axis] = _slice_dim(out[axis], s, e, st)
    return [x.with_shape(out)]


SliceOp = define_op("ml.slice", operands=["x"],
                    attrs={"starts": Ints(), "ends": Ints(), "axes": Ints(None),
                           "steps": Ints(None)},
                    traits=INJECTIVE, infer=_slice_infer,
                    doc="ONNX Slice: starts/ends clamp to the dim; negative steps walk back.")


def _slice_dynamic_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    for t, n in zip(types[1:], ("starts", "ends", "axes", "steps")):
        check_int_tensor(t, n)
    if x.shape is None:
        return [x]
    starts = tensor_of(types[1]).shape
    k = starts[0] if starts else None
    if len(types) > 3 or type(k) is not int:  # run-time axes: any dim may change
        return [x.with_shape([None] * len(x.shape))]
    if k > len(x.shape):
        raise ValueError(f"{k} starts for a rank-{len(x.shape)} input")
    return [x.with_shape([None] * k + list(x.shape[k:]))]


SliceDynamicOp = define_op("ml.slice_dynamic", operands=["x", "starts", "ends", "axes?", "steps?"],
                           traits=PURE, infer=_slice_dynamic_infer,
                           doc="Slice with starts/ends (and axes/steps) known at run time.")


PAD_MODES = ("constant", "reflect", "edge", "wrap")


def pad_widths(rank: int, pads: tuple, axes: Optional[tuple]) -> List[tuple]:
    """[(begin, end)] per axis from ONNX's [b1, b2, ..., e1, e2] layout."""
    ax = list(range(rank)) if axes is None else norm_axes(axes, rank)
    if len(pads) != 2 * len(ax):
        raise ValueError(f"pads {pads} must have 2 entries per padded axis ({len(ax)} axes)")
    widths = [(0, 0)] * rank
    for i, axis in enumerate(ax):
        widths[axis] = (pads[i], pads[len(ax) + i])
    return widths


def _pad_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if a["mode"] not in PAD_MODES:
        raise ValueError(f"mode {a['mode']!r} is not one of {', '.join(PAD_MODES)}")
    if len(types) > 1:
        cv = tensor_of(types[1], "constant_value")
        if cv.element != x.element:
            raise TypeError(f"constant_value {cv} does not match the element type {x.element}")
        if a["mode"] != "constant":
            raise ValueError(f"a constant_value operand needs mode 'constant', not {a['mode']!r}")
    if x.shape is None:
        if a["axes"] is None and len(a["pads"]) % 2:
            raise ValueError(f"pads {a['pads']} must have an even length")
        return [x if a["axes"] is not None else x.with_shape([None] * (len(a["pads"]) // 2))]
    widths = pad_widths(len(x.shape), a["pads"], a["axes"])
    out = []
    for d, (b, e) in zip(x.shape, widths):
        n = dim_add(d, b + e)
        if type(n) is int and n < 0:
            raise ValueError(f"pads ({b}, {e}) crop more than the dim {d}")
        out.append(n)
    return [x.with_shape(out)]


PadOp = define_op("ml.pad", operands=["x", "constant_value?"],
                  attrs={"pads": Ints(), "mode": Str("constant"), "axes": Ints(None)},
                  traits=INJECTIVE, infer=_pad_infer,
                  doc="ONNX Pad: pads = [begins..., ends...] (negative crops); modes constant, "
                      "reflect, edge, wrap.")


def _expand_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if any(s < 0 for s in a["shape"]):
        raise ValueError(f"shape {a['shape']} has negative dims")
    if x.shape is None:
        return [x]
    return [x.with_shape(broadcast_shapes(x.shape, tuple(a["shape"])))]


def _expand_dynamic_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    s = check_int_tensor(types[1], "shape")
    if x.shape is None or s.shape is None or type(s.shape[0]) is not int:
        return [x.with_shape(None)]
    n = s.shape[0]
    r = max(n, len(x.shape))
    padded = [1] * (r - len(x.shape)) + list(x.shape)
    # A static dim other than 1 survives any broadcast; everything else is decided at run time.
    return [x.with_shape([d if type(d) is int and d != 1 else None for d in padded])]


ExpandOp = define_op("ml.expand", operands=["x"], attrs={"shape": Ints()}, traits=INJECTIVE,
                     infer=_expand_infer,
                     doc="Broadcast against `shape` (both ways, as ONNX Expand).")
ExpandDynamicOp = define_op("ml.expand_dynamic", operands=["x", "shape"], traits=PURE,
                            infer=_expand_dynamic_infer,
                            doc="Expand to a shape known at run time (a 1-D int tensor).")


def _tile_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    reps = a["repeats"]
    if any(r < 0 for r in reps):
        raise ValueError(f"repeats {reps} must be non-negative")
    if x.shape is None:
        return [x.with_shape([0 if r == 0 else None for r in reps])]
    if len(reps) != len(x.shape):
        raise ValueError(f"repeats {reps} must have one entry per axis ({len(x.shape)})")
    return [x.with_shape([dim_mul(d, r) for d, r in zip(x.shape, reps)])]


TileOp = define_op("ml.tile", operands=["x"], attrs={"repeats": Ints()}, traits=INJECTIVE,
                   infer=_tile_infer, doc="Repeat the tensor `repeats[i]` times along axis i.")


def shape_range(rank: int, start: int, end: Optional[int]) -> tuple:
    """ONNX Shape's clamped [start, end) over the dims."""
    s = start + rank if start < 0 else start
    e = rank if end is None else (end + rank if end < 0 else end)
    s, e = min(max(s, 0), rank), min(max(e, 0), rank)
    return s, max(s, e)


def _shape_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is None:
        return [TensorType(i64, (None,))]
    s, e = shape_range(len(x.shape), a["start"], a["end"])
    return [TensorType(i64, (e - s,))]


def _size_infer(types: List[Type], a: Attrs) -> List[Type]:
    tensor_of(types[0])
    return [TensorType(i64, ())]


ShapeOp = define_op("ml.shape", operands=["x"], attrs={"start": Int(0), "end": Int(None)},
                    traits=PURE, infer=_shape_infer,
                    doc="The dims of `x` (from `start` to `end`) as a 1-D i64 tensor.")
SizeOp = define_op("ml.size", operands=["x"], traits=PURE, infer=_size_infer,
                   doc="The number of elements of `x` as an i64 scalar.")


def _range_infer(types: List[Type], a: Attrs) -> List[Type]:
    ts = [tensor_of(t) for t in types]
    if any(t.element != ts[0].element for t in ts):
        raise TypeError("start, limit and delta must have the same element type")
    for t, n in zip(ts, ("start", "limit", "delta")):
        if t.shape is not None and t.shape not in ((), (1,)):
            raise ValueError(f"{n} must be a scalar, got {t}")
    return [TensorType(ts[0].element, (None,))]


RangeOp = define_op("ml.range", operands=["start", "limit", "delta"], traits=PURE,
                    infer=_range_infer,
                    doc="[start, start + delta, ...) up to `limit`; its length is a run-time "
                        "value.")


def _cos_value(a: Attrs) -> DenseAttr:
    v = a["value"]
    if v is None:
        import numpy as np
        return DenseAttr(np.zeros((1,), np.float32))
    if v.array.size != 1:
        raise ValueError(f"value must hold one element, got {v.type}")
    return v


def _constant_of_shape_infer(types: List[Type], a: Attrs) -> List[Type]:
    if any(s < 0 for s in a["shape"]):
        raise ValueError(f"shape {a['shape']} has negative dims")
    return [TensorType(_cos_value(a).type.element, tuple(a["shape"]))]


def _constant_of_shape_dynamic_infer(types: List[Type], a: Attrs) -> List[Type]:
    s = check_int_tensor(types[0], "shape")
    el = _cos_value(a).type.element
    if s.shape is None or type(s.shape[0]) is not int:
        return [TensorType(el, None)]
    return [TensorType(el, (None,) * s.shape[0])]


ConstantOfShapeOp = define_op("ml.constant_of_shape", attrs={"shape": Ints(), "value": Dense(None)},
                              traits=PURE, infer=_constant_of_shape_infer,
                              doc="A tensor of `shape` filled with `value` (one element; "
                                  "default f32 0).")
ConstantOfShapeDynamicOp = define_op("ml.constant_of_shape_dynamic", operands=["shape"],
                                     attrs={"value": Dense(None)}, traits=PURE,
                                     infer=_constant_of_shape_dynamic_infer,
                                     doc="constant_of_shape with the shape known at run time.")


def _space_infer(to_depth: bool):
    def infer(types: List[Type], a: Attrs) -> List[Type]:
        x = tensor_of(types[0])
        b = a["blocksize"]
        if b < 1:
            raise ValueError(f"blocksize {b} must be positive")
        if not to_depth and a["mode"] not in ("DCR", "CRD"):
            raise ValueError(f"mode {a['mode']!r} must be DCR or CRD")
        if x.shape is None:
            return [x.with_shape([None] * 4)]
        if len(x.shape) != 4:
            raise ValueError(f"input must be 4-D (N, C, H, W), got {x}")
        n, c, h, w = x.shape

        def div(d: Any, what: str) -> Any:
            if type(d) is int:
                if d % b:
                    raise ValueError(f"{what} {d} is not divisible by {b if to_depth else b * b}")
                return d // b
            return d if b == 1 else None

        if to_depth:
            return [x.with_shape([n, dim_mul(c, b * b), div(h, "height"), div(w, "width")])]
        b2 = b * b
        if type(c) is int and c % b2:
            raise ValueError(f"channels {c} are not divisible by blocksize^2 = {b2}")
        c2 = c // b2 if type(c) is int else (c if b == 1 else None)
        return [x.with_shape([n, c2, dim_mul(h, b), dim_mul(w, b)])]
    return infer


DepthToSpaceOp = define_op("ml.depth_to_space", operands=["x"],
                           attrs={"blocksize": Int(), "mode": Str("DCR")}, traits=INJECTIVE,
                           infer=_space_infer(False),
                           doc="Move channel blocks into space (NCHW; modes DCR and CRD).")
SpaceToDepthOp = define_op("ml.space_to_depth", operands=["x"],
                           attrs={"blocksize": Int(), "mode": Str("DCR")}, traits=INJECTIVE,
                           infer=_space_infer(True),
                           doc="Move spatial blocks into channels (NCHW; modes DCR and CRD).")


RESIZE_MODES = ("nearest", "linear", "cubic")
RESIZE_COORD_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                      "align_corners", "asymmetric", "tf_crop_and_resize")
RESIZE_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
RESIZE_POLICIES = ("stretch", "not_larger", "not_smaller")


def resize_output(in_shape: tuple, a: Attrs) -> tuple:
    """(axes, per-axis scales or None, output dims) of a resize; dims may be None/symbols."""
    r = len(in_shape)
    axes = list(range(r)) if a["axes"] is None else norm_axes(a["axes"], r)
    scales, sizes = a["scales"], a["sizes"]
    if (scales is None) == (sizes is None):
        raise ValueError("resize needs exactly one of `scales` and `sizes`")
    given = scales if scales is not None else sizes
    if len(given) != len(axes):
        raise ValueError(f"{'scales' if scales is not None else 'sizes'} {given} must have one "
                         f"entry per resized axis ({len(axes)})")
    out = list(in_shape)
    if scales is not None:
        if any(s <= 0 for s in scales):
            raise ValueError(f"scales {scales} must be positive")
        for ax, s in zip(axes, scales):
            d = in_shape[ax]
            out[ax] = int(d * s) if type(d) is int else (d if s == 1.0 else None)
        return axes, [float(s) for s in scales], tuple(out)
    if any(s < 0 for s in sizes):
        raise ValueError(f"sizes {sizes} must be non-negative")
    policy = a["keep_aspect_ratio_policy"]
    if policy == "stretch":
        for ax, s in zip(axes, sizes):
            out[ax] = s
        return axes, None, tuple(out)
    if not all(type(in_shape[ax]) is int and in_shape[ax] > 0 for ax in axes):
        for ax in axes:
            out[ax] = None
        return axes, None, tuple(out)
    ratios = [s / in_shape[ax] for ax, s in zip(axes, sizes)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    for ax in axes:
        out[ax] = int(scale * in_shape[ax] + 0.5)
    return axes, [scale] * len(axes), tuple(out)


def _resize_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    for key, allowed in (("mode", RESIZE_MODES),
                         ("coordinate_transformation_mode", RESIZE_COORD_MODES),
                         ("nearest_mode", RESIZE_NEAREST_MODES),
                         ("keep_aspect_ratio_policy", RESIZE_POLICIES)):
        if a[key] not in allowed:
            raise ValueError(f"{key} {a[key]!r} is not one of {', '.join(allowed)}")
    if a["antialias"] and a["mode"] == "nearest":
        raise ValueError("antialias=1 applies to linear and cubic resize only")
    if a["coordinate_transformation_mode"] == "tf_crop_and_resize" and a["roi"] is None:
        raise ValueError("coordinate_transformation_mode tf_crop_and_resize needs `roi`")
    if x.shape is None:
        if a["axes"] is None and (a["scales"] or a["sizes"]):
            return [x.with_shape([None] * len(a["scales"] or a["sizes"]))]
        return [x]
    _, _, out = resize_output(x.shape, a)
    if a["roi"] is not None and len(a["roi"]) != 2 * len(a["axes"] or x.shape):
        raise ValueError(f"roi {a['roi']} must have 2 entries per resized axis")
    return [x.with_shape(out)]


ResizeOp = define_op("ml.resize", operands=["x"],
                     attrs={"scales": Floats(None), "sizes": Ints(None), "axes": Ints(None),
                            "roi": Floats(None), "mode": Str("nearest"),
                            "coordinate_transformation_mode": Str("half_pixel"),
                            "nearest_mode": Str("round_prefer_floor"),
                            "cubic_coeff_a": Float(-0.75), "exclude_outside": Int(0),
                            "extrapolation_value": Float(0.0), "antialias": Int(0),
                            "keep_aspect_ratio_policy": Str("stretch")},
                     traits=PURE, infer=_resize_infer,
                     doc="ONNX Resize (nearest / linear / cubic, every coordinate "
                         "transformation mode, antialias for linear / cubic).")


def _eye_like_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is not None and len(x.shape) != 2:
        raise ValueError(f"input must be 2-D, got {x}")
    el = a["dtype"] if a["dtype"] is not None else x.element
    if not isinstance(el, ElementType):
        raise TypeError(f"dtype must be an element type, got {el}")
    return [TensorType(el, (None, None) if x.shape is None else x.shape)]


EyeLikeOp = define_op("ml.eye_like", operands=["x"], attrs={"k": Int(0), "dtype": TypeAttr(None)},
                      traits=PURE, infer=_eye_like_infer,
                      doc="Ones on diagonal `k` of a matrix shaped like `x`, zeros elsewhere.")
