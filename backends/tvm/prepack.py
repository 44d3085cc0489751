"""Constant weights stored in the layout the CPU conv and matmul schedules read, at compile time.

    views = prepack_weights(builder, op, holders)   # buffer id -> the tensor the rule reads
    views.update(prepack_matmul_weights(builder, op, holders, in_ids))

The `oc-vector` conv schedule (schedules/conv.py) reads the weights as `[M/OC, KH, KW, C, OC]`
vectors. When the weight of a 2-D `ml.conv` (alone or inside an `ml.fused` group) is an
`ml.constant` used by that op only, its buffer is rewritten once here into that layout, the
kernel takes the packed buffer, and the rule reads it through an `OIHW` view (`wunpack`) that
the schedule inlines, so no packing runs per call. Anything else is left as it is (the
schedule then packs inside the kernel). A blocked `ml.conv_nchwc` gets its weight packed with
`oc = out_block` and reads the packed buffer directly (no view).

Likewise the constant B (rank 2, float32) of an `ml.matmul` / `ml.gemm` (alone or the anchor
of an `ml.fused` group) that takes the register-tile schedule is stored as the column panels
`[ceil(N/nj), K, nj]` the tile reads (schedules/matmul.py; N padded with zeros to whole
panels, trans_b folded in), read through the view `bunpack`. A constant used by other ops too
gets a packed copy of its own (one per layout, shared by the matmuls that want it).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tvm import te, tirx

from mlir_lite.ir.core import Operation, Value

from .lower import KINDS
from .schedules.conv import conv_plan
from .schedules.matmul import PACKED_B, panel_width, takes_dot_rows

__all__ = ["prepack_weights", "pack_oihw", "PACKED_WEIGHT", "prepack_matmul_weights",
           "pack_panels"]

PACKED_WEIGHT = "wunpack"  # the name of the view stage


def pack_oihw(w: np.ndarray, oc: int) -> np.ndarray:
    """`w[M, C, KH, KW]` as `[M/oc, KH, KW, C, oc]` (M divisible by oc)."""
    m, c, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(m // oc, oc, c, kh, kw).transpose(0, 3, 4, 2, 1))


def _static(shape: Any) -> Optional[tuple]:
    if shape is None or not all(type(d) is int for d in shape):
        return None
    return tuple(shape)


def _is_conv(name: str) -> bool:
    """An op scheduled as a conv (its declared kind; the integer conv's weights are never f32,
    so they are never packed)."""
    return KINDS.get(name) == "conv"


def _conv_weight(op: Operation) -> Optional[tuple]:
    """(operand index of `op` that is the weight, the conv op) for a conv or a fused group whose
    conv reads a block argument (used only there) as its weight."""
    if _is_conv(op.name):
        return 1, op
    if op.name != "ml.fused":
        return None
    block = op.regions[0].blocks[0]
    for inner in block.ops:
        if _is_conv(inner.name) and len(inner.operands) > 1:
            w = inner.operands[1]
            if w in block.args and len(list(w.uses)) == 1:
                return list(block.args).index(w), inner
    return None


def _plan(conv: Operation, lanes: int) -> Optional[int]:
    """The vector block `oc` when the conv gets the `oc-vector` schedule (or is blocked: its
    `out_block`), else None."""
    if conv.name == "ml.conv_nchwc":
        return int(conv.attr("out_block"))
    w = _static(getattr(conv.operands[1].type, "shape", None))
    out = getattr(conv.results[0].type, "shape", None) if conv.results else None
    if w is None or len(w) != 4 or out is None or len(out) != 4 or type(out[3]) is not int:
        return None  # (a symbolic batch is fine: the plan needs M, C and OW)
    p = conv_plan(w[0], w[1], out[3], int(conv.attr("group") or 1), lanes)
    return p["oc"] if p["kind"] == "oc-vector" else None


def _constant_operand(builder: Any, op: Operation, idx: int) -> Optional[Tuple[Value, int]]:
    """Operand `idx` of `op` and its buffer id when it is an `ml.constant` the CPU build holds
    and `op` reads it only there; else None."""
    if getattr(builder, "is_cuda", False) or idx >= len(op.operands):
        return None
    v: Value = op.operands[idx]
    bid = builder.value_ids.get(v)
    if (bid is None or bid not in builder.constants or v.owner is None
            or getattr(v.owner, "name", "") != "ml.constant"
            or list(op.operands).count(v) != 1):
        return None
    return v, bid


def prepack_weights(builder: Any, op: Operation, holders: Dict[int, te.Tensor]
                    ) -> Dict[int, te.Tensor]:
    """Pack the constant conv weight of `op` in place (buffer, constant, placeholder in
    `holders`); returns {buffer id: the OIHW view the lowering rule reads}."""
    found = _conv_weight(op)
    if found is None:
        return {}
    idx, conv = found
    const = _constant_operand(builder, op, idx)
    if const is None or len(list(const[0].uses)) != 1:
        return {}
    v, bid = const
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
    if conv.name == "ml.conv_nchwc":
        return {bid: wp}  # its rule reads the packed layout itself
    i64 = lambda k: tirx.IntImm("int64", k)  # noqa: E731
    view = te.compute([i64(d) for d in arr.shape],
                      lambda m, c, y, x: wp[m // i64(oc), y, x, c, m % i64(oc)],
                      name=PACKED_WEIGHT)
    return {bid: view}


# -- matmul B ------------------------------------------------------------------------------------
def _is_matmul(name: str) -> bool:
    """An op scheduled as a matmul (its declared kind; the integer matmul's B is never f32)."""
    return KINDS.get(name) == "matmul"


def pack_panels(b: np.ndarray, nj: int, trans_b: bool = False) -> np.ndarray:
    """`b[K, N]` (`[N, K]` when trans_b) as panels `[ceil(N/nj), K, nj]`, N zero-padded."""
    bk = b.T if trans_b else b
    k, n = bk.shape
    npan = -(-n // nj)
    padded = np.zeros((k, npan * nj), b.dtype)
    padded[:, :n] = bk
    return np.ascontiguousarray(padded.reshape(k, npan, nj).transpose(1, 0, 2))


def _matmul_b(op: Operation) -> Optional[tuple]:
    """(operand index of `op` that is B, the matmul op) for a matmul/gemm, or a fused group
    whose matmul reads a block argument (used only there) as B."""
    if _is_matmul(op.name):
        return 1, op
    if op.name != "ml.fused":
        return None
    block = op.regions[0].blocks[0]
    for inner in block.ops:
        if _is_matmul(inner.name) and len(inner.operands) > 1:
            b = inner.operands[1]
            if b in block.args and len(list(b.uses)) == 1 and inner.operands[0] is not b:
                return list(block.args).index(b), inner
    return None


def _transposes(mm: Operation) -> tuple:
    if mm.name != "ml.gemm":
        return False, False
    return bool(mm.attr("trans_a")), bool(mm.attr("trans_b"))


def _tile_width(mm: Operation, arr: np.ndarray, lanes: int) -> Optional[int]:
    """nj when `mm` (B = arr) gets the register-tile schedule, else None."""
    trans_a, trans_b = _transposes(mm)
    a = getattr(mm.operands[0].type, "shape", None)
    if a is None or len(a) < 1:
        return None
    m = 1 if len(a) == 1 else a[-1] if trans_a else a[-2]
    n, kk = (arr.shape[0], arr.shape[1]) if trans_b else (arr.shape[1], arr.shape[0])
    if takes_dot_rows(m if type(m) is int else None, kk, lanes, trans_a, trans_b):
        return None
    return panel_width(n, lanes)


def prepack_matmul_weights(builder: Any, op: Operation, holders: Dict[int, te.Tensor],
                           in_ids: List[int]) -> Dict[int, te.Tensor]:
    """Pack the constant B of the matmul of `op` (in place when `op` is its only user, else into
    a copy whose buffer replaces it in `in_ids` and `holders`); returns {buffer id of the
    operand: the `[K, N]` (or `[N, K]`) view the lowering rule reads}."""
    found = _matmul_b(op)
    if found is None:
        return {}
    idx, mm = found
    const = _constant_operand(builder, op, idx)
    if const is None or const[1] not in in_ids:
        return {}
    v, bid = const
    arr = builder.constants[bid]
    if arr.ndim != 2 or arr.dtype != np.float32 or 0 in arr.shape:
        return {}
    nj = _tile_width(mm, arr, builder.cfg.lanes("float32"))
    if nj is None:
        return {}
    trans_b = _transposes(mm)[1]
    n, kk = (arr.shape[0], arr.shape[1]) if trans_b else (arr.shape[1], arr.shape[0])
    shape = [tirx.IntImm("int64", d) for d in (-(-n // nj), kk, nj)]
    name = holders[bid].op.name
    if len(list(v.uses)) == 1:
        builder.constants[bid] = pack_panels(arr, nj, trans_b)
        builder.shapes[bid] = shape
        builder.buffers[bid] = replace(builder.buffers[bid],
                                       shape=tuple(int(d) for d in shape))
        pid = bid
    else:  # shared: a packed copy per layout, made once
        copies = builder.__dict__.setdefault("_packed_b", {})
        pid = copies.get((bid, nj, trans_b))
        if pid is None:
            pid = builder.add_buffer(shape, "float32", "const")
            builder.constants[pid] = pack_panels(arr, nj, trans_b)
            copies[(bid, nj, trans_b)] = pid
        in_ids[in_ids.index(bid)] = pid
    wp = te.placeholder(shape, "float32", name=name)
    holders[pid] = wp
    i64 = lambda k: tirx.IntImm("int64", k)  # noqa: E731
    if trans_b:
        view = te.compute([i64(d) for d in arr.shape],
                          lambda j, k: wp[j // i64(nj), k, j % i64(nj)], name=PACKED_B)
    else:
        view = te.compute([i64(d) for d in arr.shape],
                          lambda k, j: wp[j // i64(nj), k, j % i64(nj)], name=PACKED_B)
    return {bid: view}
