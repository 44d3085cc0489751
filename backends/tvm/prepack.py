"""Constant convolution weights stored in the layout the CPU conv schedule reads, at compile time.

    views = prepack_weights(builder, op, holders)   # buffer id -> the tensor the rule reads

The `oc-vector` conv schedule (schedules/conv.py) reads the weights as `[M/OC, KH, KW, C, OC]`
vectors. When the weight of a 2-D `ml.conv` (alone or inside an `ml.fused` group) is an
`ml.constant` used by that op only, its buffer is rewritten once here into that layout, the
kernel takes the packed buffer, and the rule reads it through an `OIHW` view (`wunpack`) that
the schedule inlines, so no packing runs per call. Anything else is left as it is (the
schedule then packs inside the kernel).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, Optional

import numpy as np
from tvm import te, tirx

from mlir_lite.core import Operation, Value

from .schedules.conv import conv_plan

__all__ = ["prepack_weights", "pack_oihw", "PACKED_WEIGHT"]

PACKED_WEIGHT = "wunpack"  # the name of the view stage


def pack_oihw(w: np.ndarray, oc: int) -> np.ndarray:
    """`w[M, C, KH, KW]` as `[M/oc, KH, KW, C, oc]` (M divisible by oc)."""
    m, c, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(m // oc, oc, c, kh, kw).transpose(0, 3, 4, 2, 1))


def _static(shape: Any) -> Optional[tuple]:
    if shape is None or not all(type(d) is int for d in shape):
        return None
    return tuple(shape)


def _conv_weight(op: Operation) -> Optional[tuple]:
    """(operand index of `op` that is the weight, the conv op) for a conv or a fused group whose
    conv reads a block argument (used only there) as its weight."""
    if op.name == "ml.conv":
        return 1, op
    if op.name != "ml.fused":
        return None
    block = op.regions[0].blocks[0]
    for inner in block.ops:
        if inner.name == "ml.conv" and len(inner.operands) > 1:
            w = inner.operands[1]
            if w in block.args and len(list(w.uses)) == 1:
                return list(block.args).index(w), inner
    return None


def _plan(conv: Operation, lanes: int) -> Optional[int]:
    """The vector block `oc` when the conv gets the `oc-vector` schedule, else None."""
    w = _static(getattr(conv.operands[1].type, "shape", None))
    out = getattr(conv.results[0].type, "shape", None) if conv.results else None
    if w is None or len(w) != 4 or out is None or len(out) != 4 or type(out[3]) is not int:
        return None  # (a symbolic batch is fine: the plan needs M, C and OW)
    p = conv_plan(w[0], w[1], out[3], int(conv.attr("group") or 1), lanes)
    return p["oc"] if p["kind"] == "oc-vector" else None


def prepack_weights(builder: Any, op: Operation, holders: Dict[int, te.Tensor]
                    ) -> Dict[int, te.Tensor]:
    """Pack the constant conv weight of `op` in place (buffer, constant, placeholder in
    `holders`); returns {buffer id: the OIHW view the lowering rule reads}."""
    found = _conv_weight(op)
    if found is None or getattr(builder, "is_cuda", False):
        return {}
    idx, conv = found
    if idx >= len(op.operands):
        return {}
    v: Value = op.operands[idx]
    bid = builder.value_ids.get(v)
    if (bid is None or bid not in builder.constants or v.owner is None
            or getattr(v.owner, "name", "") != "ml.constant" or len(list(v.uses)) != 1
            or list(op.operands).count(v) != 1):
        return {}
    arr = builder.constants[bid]
    if arr.ndim != 4 or arr.dtype != np.float32:
        return {}
    oc = _plan(conv, builder.cfg.lanes("float32"))
    if oc is None or arr.shape[0] % oc:
        return {}
    packed = pack_oihw(arr, oc)
    shape = [tirx.IntImm("int64", d) for d in packed.shape]
    builder.constants[bid] = packed
    builder.shapes[bid] = shape
    builder.buffers[bid] = replace(builder.buffers[bid], shape=tuple(packed.shape))
    wp = te.placeholder(shape, "float32", name=holders[bid].op.name)
    holders[bid] = wp
    i64 = lambda k: tirx.IntImm("int64", k)  # noqa: E731
    view = te.compute([i64(d) for d in arr.shape],
                      lambda m, c, y, x: wp[m // i64(oc), y, x, c, m % i64(oc)],
                      name=PACKED_WEIGHT)
    return {bid: view}
