"""Indexing ops of the `ml` dialect: gather / scatter, one_hot, topk, trilu, nonzero, ...

ONNX semantics; value-dependent parameters (`k`, `depth`) are attributes. The interpreter checks
every index against its dim and raises ExecutionError instead of reading or writing out of
bounds (negative indices wrap where ONNX allows them).

    %y = "ml.gather"(%table, %ids) {axis = 0} : (tensor<1000x64xf32>, tensor<?x8xi64, ["B", 8]>)
         -> tensor<?x8x64xf32, ["B", 8, 64]>
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.dialects.ml._shape_infer import check_int_tensor, merge_dims, norm_axis, tensor_of
from mlir_lite.ir.opdef import PURE, REDUCTION, Bool, Int, Str, define_op
from mlir_lite.ir.types import TensorType, Type, i1, i64

__all__ = [
    "GatherOp", "GatherElementsOp", "GatherNdOp", "ScatterNdOp", "ScatterElementsOp", "OneHotOp",
    "TopkOp", "TopkDynamicOp", "TriluOp", "NonzeroOp", "ReverseSequenceOp", "CompressOp",
    "SCATTER_REDUCTIONS",
]

Attrs = Dict[str, Any]
SCATTER_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _gather_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0], "data")
    idx = check_int_tensor(types[1], "indices")
    if x.shape is None or idx.shape is None:
        if x.shape is not None:
            norm_axis(a["axis"], len(x.shape))
        return [x.with_shape(None)]
    axis = norm_axis(a["axis"], len(x.shape))
    return [x.with_shape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])]


GatherOp = define_op("ml.gather", operands=["data", "indices"], attrs={"axis": Int(0)},
                     traits=PURE, infer=_gather_infer,
                     doc="Take entries of `data` along `axis` (ONNX Gather).")


def _gather_elements_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0], "data")
    idx = check_int_tensor(types[1], "indices")
    if x.shape is not None and idx.shape is not None:
        if len(x.shape) != len(idx.shape):
            raise ValueError(f"data {x} and indices {idx} must have the same rank")
    if x.shape is not None:
        norm_axis(a["axis"], len(x.shape))
    elif idx.shape is not None:
        norm_axis(a["axis"], len(idx.shape))
    return [x.with_shape(idx.shape)]


GatherElementsOp = define_op("ml.gather_elements", operands=["data", "indices"],
                             attrs={"axis": Int(0)}, traits=PURE, infer=_gather_elements_infer,
                             doc="out[i][j] = data[indices[i][j]][j] along `axis` "
                                 "(ONNX GatherElements).")


def _gather_nd_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0], "data")
    idx = check_int_tensor(types[1], "indices")
    b = a["batch_dims"]
    if b < 0:
        raise ValueError(f"batch_dims {b} must be non-negative")
    if idx.shape is not None and len(idx.shape) < b + 1:
        raise ValueError(f"indices {idx} need rank > batch_dims = {b}")
    if x.shape is not None and len(x.shape) <= b:
        raise ValueError(f"data {x} needs rank > batch_dims = {b}")
    if x.shape is None or idx.shape is None or type(idx.shape[-1]) is not int:
        return [x.with_shape(None)]
    k = idx.shape[-1]
    if not 1 <= k <= len(x.shape) - b:
        raise ValueError(f"indices last dim {k} must be in [1, {len(x.shape) - b}]")
    batch = [merge_dims(x.shape[i], idx.shape[i], f"batch dim {i}") for i in range(b)]
    return [x.with_shape(batch + list(idx.shape[b:-1]) + list(x.shape[b + k:]))]


GatherNdOp = define_op("ml.gather_nd", operands=["data", "indices"], attrs={"batch_dims": Int(0)},
                       traits=PURE, infer=_gather_nd_infer,
                       doc="Gather slices of `data` addressed by the last axis of `indices` "
                           "(ONNX GatherND).")


def _check_reduction(a: Attrs) -> None:
    if a["reduction"] not in SCATTER_REDUCTIONS:
        raise ValueError(f"reduction {a['reduction']!r} is not one of "
                         f"{', '.join(SCATTER_REDUCTIONS)}")


def _scatter_nd_infer(types: List[Type], a: Attrs) -> List[Type]:
    _check_reduction(a)
    x = tensor_of(types[0], "data")
    idx = check_int_tensor(types[1], "indices")
    upd = tensor_of(types[2], "updates")
    if upd.element != x.element:
        raise TypeError(f"updates {upd} and data {x} have different element types")
    if x.shape is not None and idx.shape is not None and upd.shape is not None:
        k = idx.shape[-1] if idx.shape else None
        if not idx.shape:
            raise ValueError("indices must have rank >= 1")
        if type(k) is int:
            if not 1 <= k <= len(x.shape):
                raise ValueError(f"indices last dim {k} must be in [1, {len(x.shape)}]")
            want = list(idx.shape[:-1]) + list(x.shape[k:])
            if len(upd.shape) != len(want):
                raise ValueError(f"updates {upd} must have shape {tuple(want)}")
            for i, (u, w) in enumerate(zip(upd.shape, want)):
                merge_dims(u, w, f"updates dim {i} and its expected size")
    return [x]


def _scatter_elements_infer(types: List[Type], a: Attrs) -> List[Type]:
    _check_reduction(a)
    x = tensor_of(types[0], "data")
    idx = check_int_tensor(types[1], "indices")
    upd = tensor_of(types[2], "updates")
    if upd.element != x.element:
        raise TypeError(f"updates {upd} and data {x} have different element types")
    ranks = {len(t.shape) for t in (x, idx, upd) if t.shape is not None}
    if len(ranks) > 1:
        raise ValueError("data, indices and updates must have the same rank")
    if ranks:
        norm_axis(a["axis"], ranks.pop())
    if idx.shape is not None and upd.shape is not None:
        for i, (p, q) in enumerate(zip(idx.shape, upd.shape)):
            merge_dims(p, q, f"indices and updates dim {i}")
    return [x]


ScatterNdOp = define_op("ml.scatter_nd", operands=["data", "indices", "updates"],
                        attrs={"reduction": Str("none")}, traits=PURE, infer=_scatter_nd_infer,
                        doc="Copy of `data` with slices at `indices` replaced (or reduced) by "
                            "`updates` (ONNX ScatterND).")
ScatterElementsOp = define_op("ml.scatter_elements", operands=["data", "indices", "updates"],
                              attrs={"axis": Int(0), "reduction": Str("none")}, traits=PURE,
                              infer=_scatter_elements_infer,
                              doc="Copy of `data` with data[indices[i][j]][j] = updates[i][j] "
                                  "along `axis` (ONNX ScatterElements).")


def _one_hot_infer(types: List[Type], a: Attrs) -> List[Type]:
    idx = tensor_of(types[0], "indices")
    vals = tensor_of(types[1], "values")
    if vals.shape is not None and (len(vals.shape) != 1 or vals.shape[0] not in (2, None)
                                   and type(vals.shape[0]) is int):
        raise ValueError(f"values must be [off_value, on_value], got {vals}")
    if a["depth"] < 0:
        raise ValueError(f"depth {a['depth']} must be non-negative")
    if idx.shape is None:
        return [vals.with_shape(None)]
    r = len(idx.shape) + 1
    axis = norm_axis(a["axis"], r)
    out = list(idx.shape)
    out.insert(axis, a["depth"])
    return [vals.with_shape(out)]


OneHotOp = define_op("ml.one_hot", operands=["indices", "values"],
                     attrs={"depth": Int(), "axis": Int(-1)}, traits=PURE, infer=_one_hot_infer,
                     doc="One-hot along a new `axis` of size `depth`; values = [off, on]. "
                         "Indices outside [-depth, depth) give all-off rows, as in ONNX.")


def _topk_shape(x: TensorType, k: Any, a: Attrs) -> List[Type]:
    if x.shape is None:
        return [x, TensorType(i64, None)]
    axis = norm_axis(a["axis"], len(x.shape))
    d = x.shape[axis]
    if type(k) is int and type(d) is int and k > d:
        raise ValueError(f"k = {k} exceeds the dim {d} of axis {axis}")
    out = list(x.shape)
    out[axis] = k
    return [x.with_shape(out), TensorType(i64, tuple(out))]


def _topk_infer(types: List[Type], a: Attrs) -> List[Type]:
    if a["k"] < 0:
        raise ValueError(f"k = {a['k']} must be non-negative")
    return _topk_shape(tensor_of(types[0]), a["k"], a)


def _topk_dynamic_infer(types: List[Type], a: Attrs) -> List[Type]:
    check_int_tensor(types[1], "k")
    return _topk_shape(tensor_of(types[0]), None, a)


_TOPK_ATTRS = {"axis": Int(-1), "largest": Int(1), "sorted": Int(1)}
TopkOp = define_op("ml.topk", operands=["x"], results=["values", "indices"],
                   attrs={"k": Int(), **_TOPK_ATTRS}, traits=REDUCTION, infer=_topk_infer,
                   doc="The k largest (or smallest) entries along `axis` and their i64 indices; "
                       "ties go to the lower index.")
TopkDynamicOp = define_op("ml.topk_dynamic", operands=["x", "k"], results=["values", "indices"],
                          attrs=dict(_TOPK_ATTRS), traits=REDUCTION, infer=_topk_dynamic_infer,
                          doc="topk with k known at run time (a 1-element int tensor).")


def _trilu_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.shape is not None and len(x.shape) < 2:
        raise ValueError(f"input must have rank >= 2, got {x}")
    return [x]


TriluOp = define_op("ml.trilu", operands=["x"], attrs={"upper": Int(1), "k": Int(0)},
                    traits=PURE, infer=_trilu_infer,
                    doc="Keep the upper (or lower) triangle from diagonal k of the last two axes.")


def _nonzero_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    return [TensorType(i64, (None if x.shape is None else len(x.shape), None))]


NonzeroOp = define_op("ml.nonzero", operands=["x"], traits=REDUCTION, infer=_nonzero_infer,
                      doc="Indices of the non-zero entries, one column per entry (rank x ?).")


def _unique_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    if x.element == i1:
        raise TypeError("unique takes numbers, got i1")
    axis = a["axis"]
    u = TensorType(i64, (None,))
    if x.shape is None:
        n = None
        y = TensorType(x.element, None if axis is not None else (None,))
    elif axis is None:
        n = 1
        for d in x.shape:
            n = n * d if type(n) is int and type(d) is int else None
        y = TensorType(x.element, (None,))
    else:
        ax = norm_axis(axis, len(x.shape))
        n = x.shape[ax]
        y = x.with_shape(x.shape[:ax] + (None,) + x.shape[ax + 1:])
    return [y, u, TensorType(i64, (n,)), u]


UniqueOp = define_op("ml.unique", operands=["x"],
                     results=["y", "indices", "inverse_indices", "counts"],
                     attrs={"axis": Int(None), "sorted": Bool(True)}, traits=PURE,
                     infer=_unique_infer,
                     doc="ONNX Unique: the distinct entries of x flattened (or slices along "
                         "`axis`), sorted or in order of first occurrence; the first index of "
                         "each, the position of each input in y, and how often each occurs "
                         "(the count of distinct entries is decided at run time).")


def _reverse_sequence_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    lens = check_int_tensor(types[1], "sequence_lens")
    if lens.shape is not None and len(lens.shape) != 1:
        raise ValueError(f"sequence_lens must be 1-D, got {lens}")
    if x.shape is None:
        return [x]
    if len(x.shape) < 2:
        raise ValueError(f"input must have rank >= 2, got {x}")
    b = norm_axis(a["batch_axis"], len(x.shape), "batch_axis")
    t = norm_axis(a["time_axis"], len(x.shape), "time_axis")
    if b == t:
        raise ValueError("batch_axis and time_axis must differ")
    if lens.shape is not None:
        merge_dims(x.shape[b], lens.shape[0], "batch dim and sequence_lens length")
    return [x]


ReverseSequenceOp = define_op("ml.reverse_sequence", operands=["x", "sequence_lens"],
                              attrs={"batch_axis": Int(1), "time_axis": Int(0)}, traits=PURE,
                              infer=_reverse_sequence_infer,
                              doc="Reverse the first sequence_lens[b] steps of each batch entry.")


def _compress_infer(types: List[Type], a: Attrs) -> List[Type]:
    x = tensor_of(types[0])
    cond = tensor_of(types[1], "condition")
    if cond.element != i1:
        raise TypeError(f"condition must be i1, got {cond}")
    if cond.shape is not None and len(cond.shape) != 1:
        raise ValueError(f"condition must be 1-D, got {cond}")
    if a["axis"] is None:
        return [x.with_shape((None,))]
    if x.shape is None:
        return [x]
    axis = norm_axis(a["axis"], len(x.shape))
    out = list(x.shape)
    out[axis] = None
    return [x.with_shape(out)]


CompressOp = define_op("ml.compress", operands=["x", "condition"], attrs={"axis": Int(None)},
                       traits=REDUCTION, infer=_compress_infer,
                       doc="Keep the slices along `axis` (or the flattened entries) where "
                           "`condition` is true.")
