"""`*_dynamic` variants of `ml` ops whose ONNX parameters are run-time tensors.

Most models pass axes, pads, repeats, `k` or resize scales as constants, and the importer turns
them into attributes of the static ops. When they are computed (or are graph inputs), these ops
take them as operands; their meaning is the static op's with the attribute read from the
operand, and they infer the right rank with unknown (`None`) dims where the values decide.

    %y = "ml.pad_dynamic"(%x, %pads) {mode = "reflect"} : (tensor<3x4xf32>, tensor<4xi64>)
         -> tensor<?x?xf32>
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from mlir_lite.ir.dialects.ml._shape_infer import check_int_tensor, norm_axis, tensor_of
from mlir_lite.ir.dialects.ml.reduce import CUMULATIVE_OPS
from mlir_lite.ir.dialects.ml.shape import PAD_MODES, ResizeOp
from mlir_lite.ir.opdef import PURE, REDUCTION, Bool, Int, Str, define_op
from mlir_lite.ir.types import TensorType, Type

__all__ = ["DYNAMIC_OF"]

Attrs = Dict[str, Any]

# dynamic op -> the static op whose semantics it shares
DYNAMIC_OF = {
    "ml.trilu_dynamic": "ml.trilu", "ml.cumsum_dynamic": "ml.cumsum",
    "ml.cumprod_dynamic": "ml.cumprod", "ml.pad_dynamic": "ml.pad",
    "ml.split_dynamic": "ml.split", "ml.unsqueeze_dynamic": "ml.unsqueeze",
    "ml.squeeze_dynamic": "ml.squeeze", "ml.tile_dynamic": "ml.tile",
    "ml.one_hot_dynamic": "ml.one_hot", "ml.resize_dynamic": "ml.resize",
}


def _vector_len(t: Type, what: str) -> Optional[int]:
    v = check_int_tensor(t, what)
    if v.shape is None:
        return None
    if len(v.shape) > 1:
        raise ValueError(f"{what} must be a scalar or 1-D, got {v}")
    if len(v.shape) == 0:
        return 1
    return v.shape[0] if type(v.shape[0]) is int else None


def _same_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    check_int_tensor(types[1], "parameter")
    return [x]


def _unknown_dims(x: TensorType, rank: Optional[int]) -> TensorType:
    return x.with_shape(None if rank is None else (None,) * rank)


def _trilu_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is not None and len(x.shape) < 2:
        raise ValueError(f"input must have rank >= 2, got {x}")
    return _same_infer(types, a)


define_op("ml.trilu_dynamic", operands=["x", "k"], attrs={"upper": Int(1)}, traits=PURE,
          infer=_trilu_infer, doc="ml.trilu with k a run-time scalar.")
for _n in CUMULATIVE_OPS:
    define_op(f"ml.{_n}_dynamic", operands=["x", "axis"],
              attrs={"exclusive": Bool(False), "reverse": Bool(False)}, traits=REDUCTION,
              infer=_same_infer,
              doc=f"ml.{_n} with the axis a run-time scalar.")


def _pad_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if a["mode"] not in PAD_MODES:
        raise ValueError(f"mode {a['mode']!r} is not one of {', '.join(PAD_MODES)}")
    _vector_len(types[1], "pads")
    rank = None if x.shape is None else len(x.shape)
    return [_unknown_dims(x, rank)]


define_op("ml.pad_dynamic", operands=["x", "pads", "constant_value?", "axes?"],
          attrs={"mode": Str("constant")}, traits=PURE, infer=_pad_infer,
          doc="ml.pad with pads (and axes) as run-time 1-D int tensors.")


def _split_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    _vector_len(types[1], "split")
    n = a["num_outputs"]
    if n < 1:
        raise ValueError(f"num_outputs must be >= 1, got {n}")
    if x.shape is None:
        return [x] * n
    axis = norm_axis(a["axis"], len(x.shape))
    shp = list(x.shape)
    shp[axis] = None
    return [x.with_shape(shp)] * n


define_op("ml.split_dynamic", operands=["x", "split"], results=["outputs*"],
          attrs={"axis": Int(0), "num_outputs": Int()}, traits=PURE, infer=_split_infer,
          doc="ml.split with the sizes a run-time 1-D int tensor.")


def _unsqueeze_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    n = _vector_len(types[1], "axes")
    return [_unknown_dims(x, None if x.shape is None or n is None else len(x.shape) + n)]


def _squeeze_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    n = _vector_len(types[1], "axes")
    return [_unknown_dims(x, None if x.shape is None or n is None else len(x.shape) - n)]


def _tile_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    _vector_len(types[1], "repeats")
    return [_unknown_dims(x, None if x.shape is None else len(x.shape))]


define_op("ml.unsqueeze_dynamic", operands=["x", "axes"], traits=PURE, infer=_unsqueeze_infer,
          doc="ml.unsqueeze with the axes a run-time 1-D int tensor.")
define_op("ml.squeeze_dynamic", operands=["x", "axes"], traits=PURE, infer=_squeeze_infer,
          doc="ml.squeeze with the axes a run-time 1-D int tensor.")
define_op("ml.tile_dynamic", operands=["x", "repeats"], traits=PURE, infer=_tile_infer,
          doc="ml.tile with the repeats a run-time 1-D int tensor.")


def _one_hot_infer(types: List[Type], a: Attrs) -> List[Type]:
    idx = tensor_of(types[0], "indices")
    depth = tensor_of(types[1], "depth")
    if depth.shape is not None and len(depth.shape) > 1:
        raise ValueError(f"depth must be a scalar, got {depth}")
    vals = tensor_of(types[2], "values")
    if idx.shape is None:
        return [vals.with_shape(None)]
    r = len(idx.shape) + 1
    axis = norm_axis(a["axis"], r)
    out: List[Any] = list(idx.shape)
    out.insert(axis, None)
    return [vals.with_shape(out)]


define_op("ml.one_hot_dynamic", operands=["indices", "depth", "values"],
          attrs={"axis": Int(-1)}, traits=PURE, infer=_one_hot_infer,
          doc="ml.one_hot with the depth a run-time scalar.")

_RESIZE_ATTRS = {k: v for k, v in ResizeOp.ATTRS.items() if k not in ("scales", "sizes", "roi")}


def _resize_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    seg = a.get("operandSegmentSizes") or (1, 0, 0, 0)
    if len(seg) != 4 or seg[0] != 1 or (seg[2] == 0) == (seg[3] == 0):
        raise ValueError(f"resize_dynamic takes x, roi?, and exactly one of scales? / sizes? "
                         f"(operandSegmentSizes {seg})")
    rank = None if x.shape is None else len(x.shape)
    if rank is None or a["axes"] is None:
        return [_unknown_dims(x, rank)]
    axes = {norm_axis(ax, rank) for ax in a["axes"]}
    return [x.with_shape(tuple(None if i in axes else d for i, d in enumerate(x.dims)))]


define_op("ml.resize_dynamic", operands=["x", "roi?", "scales?", "sizes?"],
          attrs=dict(_RESIZE_ATTRS), traits=PURE, infer=_resize_infer,
          doc="ml.resize with roi / scales / sizes as run-time 1-D tensors.")
