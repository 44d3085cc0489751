"""The CPU matmul schedule: a register tile of MI rows x NJ columns (NJ = two SIMD vectors),
`k` unrolled by KU, B packed into column panels `[N/NJ, K, NJ]` when its shape allows, the
accumulator tile written back right after it is complete, and the fused (batch, j-panel,
i-tile) loop in parallel (TVM_NOTES.md section 8: about 400 GFLOP/s on 1024^3 with AVX-512).

It works on the stage named `matmul` with loops `(batch..., i, j, k)` (rules_math.py); the
elementwise epilogue (bias, activation, residual add of a fused group) is inlined into the tile
write-back; other stages get the generic schedule.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tvm import tirx
from tvm.s_tir import Schedule

from .cpu import (CpuConfig, _out_dtype, attach_epilogue, epilogue_of, pick_factor,
                  schedule_generic, static_extent)

__all__ = ["schedule_matmul"]


def _ext(s: Schedule, loop: Any) -> Any:
    e = s.get(loop).extent
    return int(e.value) if isinstance(e, tirx.IntImm) else None


def schedule_matmul(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    epi = epilogue_of(s, "matmul")
    done = schedule_generic(s, cfg, skip=("matmul",) + epi)
    blk = s.get_sblock("matmul")
    loops = s.get_loops(blk)
    batch, (i, j, k) = loops[:-3], loops[-3:]
    m, n, kk = _ext(s, i), _ext(s, j), _ext(s, k)
    lanes = cfg.lanes(_out_dtype(s, blk))
    nj = pick_factor(n, (2 * lanes, lanes, 3 * lanes // 2, lanes // 2), 2 * lanes)
    mi = pick_factor(m, (8, 6, 4), 8)
    ku = 4 if kk is None or kk >= 4 else 1
    pack = (hints.get("b_rank") == 2 and n is not None and kk is not None and n % nj == 0
            and (m is None or m >= 16))
    if pack:
        bp = s.cache_read(blk, 1, "global")
        if hints.get("trans_b"):
            s.transform_layout(blk, ("read", 1), lambda jj, kx: (jj // nj, kx, jj % nj))
        else:
            s.transform_layout(blk, ("read", 1), lambda kx, jj: (jj // nj, kx, jj % nj))
    wb = s.cache_write(blk, 0, "global")
    io, ii = s.split(i, [None, mi])
    jo, ji = s.split(j, [None, nj])
    ko, ki = s.split(k, [None, ku])
    s.reorder(*batch, jo, io, ko, ki, ii, ji)
    s.reverse_compute_at(wb, io)
    attached = attach_epilogue(s, wb, epi, cfg)
    if attached:
        done.append(attached)
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
        pk, pj = s.get_loops(bp)[-2:]
        if hints.get("trans_b"):
            pk, pj = pj, pk
        pjo, pji = s.split(pj, [None, nj])
        s.reorder(pjo, pk, pji)
        s.parallel(pjo)
        s.vectorize(pji)
        how += "+packB"
    return done + [how]
