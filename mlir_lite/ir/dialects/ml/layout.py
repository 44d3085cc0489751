"""Channel-blocked (`NCHW[b]c`) `ml` ops, made by the `blocked-layout` pass (passes/layout.py).

A blocked tensor `[N, C/b, H, W, b]` holds channel `c` of the NCHW tensor at `[n, c // b, h, w,
c % b]`: the channels of one block are contiguous, so a SIMD vector of output channels is one
load or store. The pass converts values with `ml.reshape` + `ml.transpose` at the edges of a
blocked region; inside it, elementwise ops and channel concats run on the blocked tensors as
they are, and convolutions become `ml.conv_nchwc`:

    %y = "ml.conv_nchwc"(%x, %w, %b) {pads = [1, 1, 1, 1], in_block = 16, out_block = 16}
        : (tensor<1x4x56x56x16xf32>, tensor<64x64x3x3xf32>, tensor<64xf32>)
        -> tensor<1x4x56x56x16xf32>

`w` (`[M, C, KH, KW]`) and `b` (`[M]`) stay in ONNX's layout; `in_block = 0` reads an NCHW `x`
(a first conv whose 3 input channels make no block).
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    check_same_element,
    operand_groups,
    spatial_params,
    window_out_dim,
)
from mlir_lite.ir.opdef import CONV, FUSION_ANCHOR, Int, Ints, define_op
from mlir_lite.ir.types import TensorType, Type

__all__ = ["ConvNchwcOp"]


def _conv_nchwc_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("x", "w", "b?"))
    x, w = as_tensor(g["x"], "x"), as_tensor(g["w"], "w")
    el = check_same_element([x, w])
    ib, ob = attrs["in_block"], attrs["out_block"]
    if attrs["group"] != 1:
        raise ValueError(f"only group 1 is supported, got {attrs['group']}")
    if ib < 0 or ob < 1:
        raise ValueError(f"in_block must be >= 0 and out_block >= 1, got {ib} and {ob}")
    if x.shape is None or w.shape is None:
        return [TensorType(el, None)]
    if len(w.shape) != 4 or any(type(d) is not int for d in w.shape):
        raise ValueError(f"w must be a static (M, C, KH, KW), got {w}")
    m, c, kh, kw = w.shape
    if len(x.shape) != (5 if ib else 4):
        raise ValueError(f"x must be rank {5 if ib else 4} for in_block {ib}, got {x}")
    x_c = x.shape[1] * ib if ib and type(x.shape[1]) is int else x.shape[1]
    if ib and x.shape[4] != ib:
        raise ValueError(f"x's last dim must be in_block {ib}, got {x}")
    if x_c != c:
        raise ValueError(f"x has {x_c} channels but w has {c}")
    if m % ob:
        raise ValueError(f"{m} output channels are not a multiple of out_block {ob}")
    if g["b"] is not None:
        b = as_tensor(g["b"], "b")
        if b.shape is not None and tuple(b.shape) != (m,):
            raise ValueError(f"bias must be ({m},), got {b}")
    strides, pads, dil = spatial_params(attrs, 2)
    sp = tuple(window_out_dim(x.shape[2 + i], (kh, kw)[i], strides[i], pads[i], pads[2 + i],
                              dil[i]) for i in range(2))
    return [TensorType(el, (x.shape[0], m // ob) + sp + (ob,))]


ConvNchwcOp = define_op(
    "ml.conv_nchwc", operands=["x", "w", "b?"],
    attrs={"strides": Ints(()), "pads": Ints(()), "dilations": Ints(()), "group": Int(1),
           "in_block": Int(0), "out_block": Int(16)},
    traits=CONV | FUSION_ANCHOR, infer=_conv_nchwc_infer,
    doc="2-D convolution on channel-blocked tensors: x [N, C/in_block, H, W, in_block] (or NCHW "
        "when in_block is 0), w [M, C, KH, KW] -> [N, M/out_block, OH, OW, out_block].")
