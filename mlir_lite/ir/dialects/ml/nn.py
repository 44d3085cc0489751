"""Neural-network `ml` ops: convolutions, pooling, normalizations, softmax family, dropout.

Layouts are ONNX's (NCHW, N-d). Window ops take `strides`, `pads` (`begin_1..begin_n,
end_1..end_n`) and `dilations`; an empty tuple means the default (ones / zeros). `auto_pad` is
resolved into `pads` by the frontend.

    %y = "ml.conv"(%x, %w, %b) {pads = [1, 1, 1, 1], group = 1}
        : (tensor<"N"x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>)
        -> tensor<"N"x16x32x32xf32>
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    check_same_element,
    dim_mul,
    dims_equal_or_unknown,
    norm_axis,
    operand_groups,
    require_float,
    spatial_params,
    window_out_dim,
)
from mlir_lite.ir.opdef import (
    ALIAS,
    BROADCAST_ELEMENTWISE,
    CONV,
    FUSION_ANCHOR,
    POOL,
    PURE,
    REDUCTION,
    Bool,
    Float,
    Int,
    Ints,
    Str,
    define_op,
)
from mlir_lite.ir.types import TensorType, Type, i64

__all__ = ["ConvOp", "ConvTransposeOp", "POOL_OPS", "NORM_OPS"]


def _window_input(x: TensorType, what: str = "x") -> int:
    if x.shape is None:
        return -1
    if len(x.shape) < 3:
        raise ValueError(f"{what} must be (N, C, spatial...), got rank {len(x.shape)}")
    return len(x.shape) - 2


def _conv_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("x", "w", "b?"))
    x, w = as_tensor(g["x"], "x"), as_tensor(g["w"], "w")
    el = check_same_element([x, w])
    group = attrs["group"]
    if group < 1:
        raise ValueError(f"group must be >= 1, got {group}")
    n = _window_input(x)
    if n < 0 and w.shape is not None:
        n = len(w.shape) - 2
    if w.shape is not None and n >= 0 and len(w.shape) != n + 2:
        raise ValueError(f"w must have rank {n + 2}, got {w}")
    m = w.shape[0] if w.shape is not None else None
    if g["b"] is not None:
        b = as_tensor(g["b"], "b")
        if b.shape is not None and (len(b.shape) != 1 or not dims_equal_or_unknown(b.shape[0], m)):
            raise ValueError(f"bias must be ({m},), got {b}")
    if n < 0:
        return [TensorType(el, None)]
    strides, pads, dil = spatial_params(attrs, n)
    ks = w.shape[2:] if w.shape is not None else (None,) * n
    if x.shape is not None and w.shape is not None:
        c, cw = x.shape[1], w.shape[1]
        if not dims_equal_or_unknown(c, dim_mul(cw, group)):
            raise ValueError(f"x has {c} channels but w expects {cw} x group {group}")
        if type(m) is int and m % group:
            raise ValueError(f"{m} output channels are not divisible by group {group}")
    if x.shape is None:
        return [TensorType(el, None)]
    sp = tuple(window_out_dim(x.shape[2 + i], ks[i], strides[i], pads[i], pads[n + i], dil[i])
               for i in range(n))
    return [TensorType(el, (x.shape[0], m) + sp)]


_WINDOW_ATTRS = {"strides": Ints(()), "pads": Ints(()), "dilations": Ints(())}

ConvOp = define_op("ml.conv", operands=["x", "w", "b?"],
                   attrs={**_WINDOW_ATTRS, "group": Int(1)}, traits=CONV | FUSION_ANCHOR,
                   infer=_conv_infer,
                   doc="N-d convolution (cross-correlation), NCHW, w: (M, C/group, k...).")


def _conv_transpose_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("x", "w", "b?"))
    x, w = as_tensor(g["x"], "x"), as_tensor(g["w"], "w")
    el = check_same_element([x, w])
    group = attrs["group"]
    if group < 1:
        raise ValueError(f"group must be >= 1, got {group}")
    if x.shape is None or w.shape is None:
        return [TensorType(el, None)]
    n = _window_input(x)
    if len(w.shape) != n + 2:
        raise ValueError(f"w must have rank {n + 2}, got {w}")
    if not dims_equal_or_unknown(x.shape[1], w.shape[0]):
        raise ValueError(f"x has {x.shape[1]} channels but w has {w.shape[0]} input channels")
    strides, pads, dil = spatial_params(attrs, n)
    opad = tuple(attrs["output_padding"] or (0,) * n)
    if len(opad) != n:
        raise ValueError(f"output_padding {opad} needs {n} values")
    sp = []
    for i in range(n):
        d, k = x.shape[2 + i], w.shape[2 + i]
        if type(d) is int and type(k) is int:
            o = strides[i] * (d - 1) + opad[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[n + i]
            if o <= 0:
                raise ValueError(f"spatial dim {i} would have size {o}")
            sp.append(o)
        elif (type(d) is str and type(k) is int and strides[i] == 1
              and opad[i] + (k - 1) * dil[i] == pads[i] + pads[n + i]):
            sp.append(d)  # a length-preserving window keeps the symbol
        else:
            sp.append(None)
    return [TensorType(el, (x.shape[0], dim_mul(w.shape[1], group)) + tuple(sp))]


ConvTransposeOp = define_op(
    "ml.conv_transpose", operands=["x", "w", "b?"],
    attrs={**_WINDOW_ATTRS, "group": Int(1), "output_padding": Ints(())},
    traits=CONV | FUSION_ANCHOR, infer=_conv_transpose_infer,
    doc="N-d transposed convolution, w: (C, M/group, k...); output_shape resolved into pads.")


def _pool_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    ks = attrs["kernel_shape"]
    n = len(ks)
    if x.shape is None:
        return [x]
    if len(x.shape) != n + 2:
        raise ValueError(f"kernel_shape {ks} needs an input of rank {n + 2}, got {x}")
    if any(k < 1 for k in ks):
        raise ValueError(f"kernel_shape {ks} must be positive")
    strides, pads, dil = spatial_params(attrs, n)
    for i in range(n):
        if pads[i] >= ks[i] * dil[i] or pads[n + i] >= ks[i] * dil[i]:
            raise ValueError(f"pads {pads} must be smaller than the kernel {ks}")
    sp = tuple(window_out_dim(x.shape[2 + i], ks[i], strides[i], pads[i], pads[n + i], dil[i],
                              attrs["ceil_mode"]) for i in range(n))
    return [x.with_shape(x.shape[:2] + sp)]


_POOL_ATTRS = {"kernel_shape": Ints(), **_WINDOW_ATTRS, "ceil_mode": Bool(False)}
POOL_OPS = ("max_pool", "avg_pool", "lp_pool", "global_avg_pool", "global_max_pool",
            "global_lp_pool")
define_op("ml.max_pool", operands=["x"], attrs=dict(_POOL_ATTRS), traits=POOL | FUSION_ANCHOR,
          infer=_pool_infer,
          doc="Max pooling (padding never wins; ceil_mode drops windows starting in the end pad).")


def _pool_indices_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    if attrs["storage_order"] not in (0, 1):
        raise ValueError(f"storage_order must be 0 or 1, got {attrs['storage_order']}")
    return [TensorType(i64, as_tensor(_pool_infer(types, attrs)[0]).shape)]


define_op("ml.max_pool_indices", operands=["x"], attrs={**_POOL_ATTRS, "storage_order": Int(0)},
          traits=POOL, infer=_pool_indices_infer,
          doc="Where ml.max_pool's maximum of each window is (ONNX MaxPool's Indices): the "
              "flat index into x (i64), the spatial part row-major (storage_order 0) or "
              "column-major (1); the first maximum of a window wins, padding never does.")
define_op("ml.avg_pool", operands=["x"], attrs={**_POOL_ATTRS, "count_include_pad": Bool(False)},
          traits=POOL | FUSION_ANCHOR, infer=_pool_infer, doc="Average pooling.")
define_op("ml.lp_pool", operands=["x"], attrs={**_POOL_ATTRS, "p": Int(2)},
          traits=POOL | FUSION_ANCHOR,
          infer=_pool_infer, doc="(sum |x|^p)^(1/p) over each window.")


def _global_pool_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    if x.shape is None:
        return [x]
    if len(x.shape) < 2:
        raise ValueError(f"input must be (N, C, ...), got {x}")
    return [x.with_shape(x.shape[:2] + (1,) * (len(x.shape) - 2))]


for _n in ("global_avg_pool", "global_max_pool"):
    define_op(f"ml.{_n}", operands=["x"], traits=REDUCTION | FUSION_ANCHOR,
              infer=_global_pool_infer,
              doc=f"{_n}: reduce every spatial dim, keeping them as 1.")
define_op("ml.global_lp_pool", operands=["x"], attrs={"p": Int(2)},
          traits=REDUCTION | FUSION_ANCHOR,
          infer=_global_pool_infer, doc="Lp norm over every spatial dim.")


# -- normalizations ----------------------------------------------------------------------------
def _channel_params_infer(n_params: int):
    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        x = as_tensor(types[0])
        require_float(x)
        c = x.shape[1] if x.shape is not None and len(x.shape) >= 2 else None
        if x.shape is not None and len(x.shape) < 2:
            raise ValueError(f"input must be (N, C, ...), got {x}")
        for i, t in enumerate(types[1:1 + n_params]):
            p = as_tensor(t, f"parameter #{i + 1}")
            if p.shape is not None and (len(p.shape) != 1 or not
                                        dims_equal_or_unknown(p.shape[0], c)):
                raise ValueError(f"parameter #{i + 1} must be ({c},), got {p}")
        return [x]
    return infer


define_op("ml.batch_norm", operands=["x", "scale", "bias", "mean", "var"],
          attrs={"epsilon": Float(1e-5)}, traits=BROADCAST_ELEMENTWISE,
          infer=_channel_params_infer(4),
          doc="Inference batch norm: (x - mean) / sqrt(var + eps) * scale + bias per channel.")
define_op("ml.instance_norm", operands=["x", "scale", "bias"], attrs={"epsilon": Float(1e-5)},
          traits=REDUCTION | FUSION_ANCHOR, infer=_channel_params_infer(2),
          doc="Normalize each (n, c) over the spatial dims, then scale/bias per channel.")


def _group_norm_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = _channel_params_infer(2)(types, attrs)[0]
    ng = attrs["num_groups"]
    c = x.shape[1] if x.shape is not None else None
    if ng < 1 or (type(c) is int and c % ng):
        raise ValueError(f"{c} channels are not divisible into {ng} groups")
    return [x]


define_op("ml.group_norm", operands=["x", "scale", "bias"],
          attrs={"num_groups": Int(), "epsilon": Float(1e-5)},
          traits=REDUCTION | FUSION_ANCHOR,
          infer=_group_norm_infer,
          doc="ONNX GroupNormalization (opset 21): statistics per group, scale/bias per channel.")


def _last_axes_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    require_float(x)
    if x.shape is None:
        return [x]
    axis = norm_axis(attrs["axis"], len(x.shape))
    norm_shape = x.shape[axis:]
    for i, t in enumerate(types[1:]):
        p = as_tensor(t, f"parameter #{i + 1}")
        if p.element != x.element:
            raise TypeError(f"parameter #{i + 1} has element type {p.element}, x has {x.element}")
        if p.shape is not None:
            if len(p.shape) > len(norm_shape) or not all(
                    d == 1 or dims_equal_or_unknown(d, e)
                    for d, e in zip(p.shape[::-1], norm_shape[::-1])):
                raise ValueError(f"parameter #{i + 1} {p} must broadcast to {norm_shape}")
    return [x]


define_op("ml.layer_norm", operands=["x", "scale", "bias?"],
          attrs={"axis": Int(-1), "epsilon": Float(1e-5)}, traits=REDUCTION | FUSION_ANCHOR,
          infer=_last_axes_infer,
          doc="Normalize over dims [axis, rank), then * scale + bias (ONNX LayerNormalization).")
define_op("ml.rms_norm", operands=["x", "scale"],
          attrs={"axis": Int(-1), "epsilon": Float(1e-5)}, traits=REDUCTION | FUSION_ANCHOR,
          infer=_last_axes_infer,
          doc="x / sqrt(mean(x^2 over [axis, rank)) + eps) * scale (ONNX RMSNormalization).")


def _lrn_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    require_float(x)
    if attrs["size"] < 1:
        raise ValueError(f"size must be >= 1, got {attrs['size']}")
    if x.shape is not None and len(x.shape) < 3:
        raise ValueError(f"input must be (N, C, spatial...), got {x}")
    return [x]


define_op("ml.lrn", operands=["x"],
          attrs={"size": Int(), "alpha": Float(1e-4), "beta": Float(0.75), "bias": Float(1.0)},
          traits=REDUCTION, infer=_lrn_infer,
          doc="Local response normalization across channels.")
NORM_OPS = ("batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm", "lrn")


def _axis_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    require_float(x)
    if x.shape is not None:
        norm_axis(attrs["axis"], max(len(x.shape), 1))
    return [x]


for _n, _d in (("softmax", "exp(x) / sum(exp(x)) along axis"),
               ("log_softmax", "log of softmax along axis"),
               ("hardmax", "1 at the first maximum along axis, 0 elsewhere")):
    # hardmax is a reduction kernel the fuser leaves alone (not a FusionAnchor)
    define_op(f"ml.{_n}", operands=["x"], attrs={"axis": Int(-1)},
              traits=REDUCTION if _n == "hardmax" else REDUCTION | FUSION_ANCHOR,
              infer=_axis_infer, doc=f"{_n}: {_d} (ONNX opset 13+).")


def _dropout_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [as_tensor(types[0])]


define_op("ml.dropout", operands=["x"], attrs={"ratio": Float(0.5)}, traits=PURE | ALIAS,
          infer=_dropout_infer, doc="Dropout at inference: the identity (ratio is kept for "
                                    "training transforms).")


def _nll_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("input", "target", "weight?"))
    x, t = as_tensor(g["input"], "input"), as_tensor(g["target"], "target")
    require_float(x)
    if not t.element.is_int:
        raise TypeError(f"target must hold integers, got {t.element}")
    if attrs["reduction"] not in ("none", "sum", "mean"):
        raise ValueError(f"reduction must be none, sum or mean, got {attrs['reduction']!r}")
    if x.shape is not None and len(x.shape) < 2:
        raise ValueError(f"input must be (N, C, ...), got {x}")
    if x.shape is not None and t.shape is not None and (
            len(t.shape) != len(x.shape) - 1
            or not all(dims_equal_or_unknown(a, b)
                       for a, b in zip(t.shape, x.shape[:1] + x.shape[2:]))):
        raise ValueError(f"target {t} does not fit input {x} (N, d1, ...)")
    if g["weight"] is not None:
        w = as_tensor(g["weight"], "weight")
        if w.element != x.element:
            raise TypeError(f"weight has element type {w.element}, input has {x.element}")
    if attrs["reduction"] != "none":
        return [TensorType(x.element, ())]
    return [TensorType(x.element, t.shape)]


define_op("ml.nll_loss", operands=["input", "target", "weight?"],
          attrs={"reduction": Str("mean"), "ignore_index": Int(None)}, traits=REDUCTION,
          infer=_nll_infer,
          doc="ONNX NegativeLogLikelihoodLoss: -input[n, target[n, d...], d...] * weight[target], "
              "0 where target == ignore_index; mean divides by the summed weights.")


GRID_SAMPLE_MODES = ("linear", "nearest", "cubic")
GRID_PADDING_MODES = ("zeros", "border", "reflection")


def _grid_sample_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x, grid = as_tensor(types[0], "x"), as_tensor(types[1], "grid")
    el = check_same_element([x, grid])
    require_float(x)
    if attrs["mode"] not in GRID_SAMPLE_MODES:
        raise ValueError(f"mode {attrs['mode']!r} is not one of {', '.join(GRID_SAMPLE_MODES)}")
    if attrs["padding_mode"] not in GRID_PADDING_MODES:
        raise ValueError(f"padding_mode {attrs['padding_mode']!r} is not one of "
                         f"{', '.join(GRID_PADDING_MODES)}")
    if x.shape is None or grid.shape is None:
        return [TensorType(el, None)]
    n = _window_input(x)
    if len(grid.shape) != n + 2 or not dims_equal_or_unknown(grid.shape[-1], n):
        raise ValueError(f"grid must be (N, out..., {n}) for an input of rank {n + 2}, "
                         f"got {grid}")
    if not dims_equal_or_unknown(x.shape[0], grid.shape[0]):
        raise ValueError(f"x and grid have different batch sizes: {x}, {grid}")
    return [TensorType(el, (x.shape[0], x.shape[1]) + tuple(grid.shape[1:-1]))]


define_op("ml.grid_sample", operands=["x", "grid"],
          attrs={"mode": Str("linear"), "padding_mode": Str("zeros"),
                 "align_corners": Bool(False)},
          traits=PURE, infer=_grid_sample_infer,
          doc="ONNX GridSample: x (N, C, D...) sampled at the normalized positions of grid "
              "(N, out..., n; the last entry is the first spatial dim's), linear / nearest / "
              "cubic (Keys, a = -0.75), out-of-range reads as zeros / the border / reflected.")
