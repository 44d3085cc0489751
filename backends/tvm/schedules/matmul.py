"""The CPU matmul schedule: a register tile of MI rows x NJ columns (NJ = two SIMD vectors),
`k` unrolled by KU, B packed into column panels `[batch..., N/NJ, K, NJ]` when its shape
allows (also a batched B, as in attention, and a transposed one, as in Gemm transB), the
accumulator tile written back right after it is complete, and the fused (batch, j-panel,
i-tile) loop in parallel (TVM_NOTES.md section 8: about 400 GFLOP/s on 1024^3 with AVX-512).

It works on the stage named `matmul` with loops `(batch..., i, j, k)` (rules_math.py); the
elementwise epilogue (bias, activation, residual add of a fused group) is inlined into the tile
write-back; other stages get the generic schedule.

A constant B packed at compile time (prepack.py) arrives as a view stage `bunpack` over the
panels `[ceil(N/nj), K, nj]`: it is inlined, the tile uses that nj, and no packing runs.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from tvm import tirx
from tvm.s_tir import Schedule
from tvm.tirx import IndexMap

from ..lower import dtype_of
from .cpu import (
    CpuConfig,
    _out_dtype,
    attach_epilogue,
    blocks,
    epilogue_of,
    pick_factor,
    schedule_generic,
    static_extent,
)

__all__ = ["schedule_matmul", "PACK_MIN_BYTES", "PACKED_B", "panel_width", "takes_dot_rows"]

PACKED_B = "bunpack"  # the view stage over a B packed at compile time (prepack.py)

# A B (per batch) smaller than this stays in L2 between the i-tiles that use it: packing it
# costs a second parallel pass for little gain (128x256x256: 102 vs 88 GFLOP/s unpacked, 1
# thread). A transposed B is always packed (unpacked, the SIMD loop would gather).
PACK_MIN_BYTES = 512 * 1024


def _ext(s: Schedule, loop: Any) -> Any:
    e = s.get(loop).extent
    return int(e.value) if isinstance(e, tirx.IntImm) else None


def panel_width(n: Optional[int], lanes: int) -> int:
    """The tile's column count nj (the width of a B panel) for N = n."""
    return pick_factor(n, (2 * lanes, lanes, 3 * lanes // 2, lanes // 2), 2 * lanes)


def takes_dot_rows(m: Optional[int], kk: Optional[int], lanes: int, trans_a: bool,
                   trans_b: bool) -> bool:
    """Whether the matmul gets the dot-product schedule (a few rows times a transposed B)."""
    return (trans_b and not trans_a and m is not None and m <= 4
            and _dot_width(kk, lanes) is not None)


def _prepacked_width(s: Schedule) -> Optional[int]:
    """nj of a B packed at compile time (the last dim of the panels the view reads)."""
    for blk in blocks(s):
        if s.get(blk).name_hint == PACKED_B:
            return int(s.get(blk).reads[0].source.shape[-1])
    return None


def schedule_matmul(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    prepacked = _prepacked_width(s)  # (epilogue_of inlines the view)
    epi = epilogue_of(s, "matmul")
    done = schedule_generic(s, cfg, skip=("matmul",) + epi)
    blk = s.get_sblock("matmul")
    loops = s.get_loops(blk)
    batch, (i, j, k) = loops[:-3], loops[-3:]
    m, n, kk = _ext(s, i), _ext(s, j), _ext(s, k)
    lanes = cfg.lanes(_out_dtype(s, blk))
    nj = prepacked or panel_width(n, lanes)
    mi = pick_factor(m, (8, 6, 4), 8)
    ku = 4 if kk is None or kk >= 4 else 1
    b_rank = hints.get("b_rank", 2)
    trans_b = bool(hints.get("trans_b"))
    if not prepacked and takes_dot_rows(m, kk, lanes, bool(hints.get("trans_a")), trans_b):
        return done + _schedule_dot_rows(s, blk, cfg, epi, _dot_width(kk, lanes))
    pack = (not prepacked and b_rank >= 2 and n is not None and kk is not None and n % nj == 0
            and (m is None or m >= 16)
            and (trans_b or (n > nj and kk * n * 4 > PACK_MIN_BYTES)))
    if pack:
        bp = s.cache_read(blk, 1, "global")
        s.transform_layout(blk, ("read", 1),
                           _panel_map(b_rank, nj, trans_b, dtype_of(s.get(j).loop_var)))
    wb = s.cache_write(blk, 0, "global")
    io, ii = s.split(i, [None, mi])
    jo, ji = s.split(j, [None, nj])
    ko, ki = s.split(k, [None, ku])
    s.reorder(*batch, jo, io, ko, ki, ii, ji)
    attach_epilogue(s, wb, io, epi, cfg, done)
    s.vectorize(ji)
    if mi > 1:
        s.unroll(ii)
    outer = [*batch, jo, io]
    fused = s.fuse(*outer) if len(outer) > 1 else outer[0]
    total = static_extent(s, [fused])
    flops = None if total is None or m is None else total * mi * nj * (kk or 1)
    if flops is None or flops >= cfg.parallel_min * 8:
        s.parallel(fused)
        how = "matmul:tile+parallel"
    else:
        how = "matmul:tile"
    s.decompose_reduction(blk, ko)
    s.vectorize(s.get_loops(wb)[-1])
    if pack:
        ploops = s.get_loops(bp)
        pb, (pk, pj) = ploops[:-2], ploops[-2:]
        if trans_b:
            pk, pj = pj, pk
        pjo, pji = s.split(pj, [None, nj])
        s.reorder(pjo, pk, pji)
        s.parallel(s.fuse(*pb, pjo) if pb else pjo)
        s.vectorize(pji)
        how += "+packB"
    elif prepacked:
        how += "+prepackedB"
    return done + [how]


def _dot_width(kk: Any, lanes: int) -> Any:
    """The SIMD width (up to four vectors) that divides a static contraction length."""
    if kk is None:
        return None
    return next((w for w in (4 * lanes, 2 * lanes, lanes, lanes // 2)
                 if w > 1 and kk % w == 0 and kk >= 2 * w), None)


def _schedule_dot_rows(s: Schedule, blk: Any, cfg: CpuConfig, epi: tuple,
                       width: int) -> List[str]:
    """A few rows times a transposed B (a dense layer at batch 1: `[1, K] x [N, K]^T`): both
    operands are contiguous along k, so each output is a dot product, vectorised along k with
    `rfactor` (four SIMD accumulators), in parallel over the outputs. The register tile would
    gather B with a stride of K instead (VGG-19's 25088x4096 layer ran at 1.7 GFLOP/s)."""
    loops = s.get_loops(blk)
    _, ki = s.split(loops[-1], [None, width])
    rf = s.rfactor(ki, len(loops) - 1)
    rl = s.get_loops(rf)
    outer = s.fuse(*rl[:-2]) if len(rl) > 3 else rl[0]
    s.parallel(outer)
    s.vectorize(s.get_loops(rf)[-1])
    s.decompose_reduction(rf, s.get_loops(rf)[-2])
    fl = s.get_loops(blk)
    s.parallel(s.fuse(*fl[:-1]) if len(fl) > 2 else fl[0])
    done = ["matmul:dot-rows(rfactor+vector)+parallel"]
    if epi:
        from .cpu import schedule_injective
        done.append(f"{epi[0]}:" + schedule_injective(s, s.get_sblock(epi[0]), cfg))
    return done


def _panel_map(rank: int, nj: int, trans_b: bool, dtype: str = "int64") -> IndexMap:
    """B (`[batch..., K, N]`, or `[batch..., N, K]` transposed) as column panels
    `[batch..., N/nj, K, nj]`: the inner loop reads nj consecutive floats for each k."""
    def fn(*ix: Any) -> tuple:
        kx, jj = (ix[-1], ix[-2]) if trans_b else (ix[-2], ix[-1])
        return (*ix[:-2], jj // nj, kx, jj % nj)
    return IndexMap.from_func(fn, ndim=rank, index_dtype=dtype)
