"""The CPU schedule for 2-D windowed pooling (max / average, NCHW; rules_nn.py).

The `pool` stage has loops `(n, c, oh, ow, rk0, rk1)`. Each (n, c, output row) is one parallel
task; in it a vector of output columns accumulates the window (unrolled) in registers and is
written back with the elementwise epilogue (the division by the window count of an average pool,
an activation of a fused group). Global pooling is a plain reduction (`reduction` kind).
A pool that is not 2-D raises, and `schedule_cpu` falls back to the generic schedule.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tvm import tirx
from tvm.s_tir import Schedule

from .cpu import (
    CpuConfig,
    _out_dtype,
    attach_epilogue,
    epilogue_of,
    pick_factor,
    schedule_generic,
    static_extent,
)

__all__ = ["schedule_pool"]


def _ext(s: Schedule, loop: Any) -> Any:
    e = s.get(loop).extent
    return int(e.value) if isinstance(e, tirx.IntImm) else None


def schedule_pool(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    epi = epilogue_of(s, "pool")
    done = schedule_generic(s, cfg, skip=("pool",) + epi)
    blk = s.get_sblock("pool")
    loops = s.get_loops(blk)
    if len(loops) != 6:
        raise ValueError("the pool schedule handles 2-D windows only")
    n, c, oh, ow, r0, r1 = loops
    work = static_extent(s, loops)
    lanes = cfg.lanes(_out_dtype(s, blk))
    w_out = _ext(s, ow)
    owv = pick_factor(w_out, range(lanes, lanes // 2 - 1, -1), lanes)
    wb = s.cache_write(blk, 0, "global")
    owo, owi = s.split(ow, [None, owv])
    s.reorder(n, c, oh, owo, r0, r1, owi)
    attach_epilogue(s, wb, owo, epi, cfg, done)
    if owv > 1:
        s.vectorize(owi)
    for lp in (r0, r1):
        if (_ext(s, lp) or 99) <= 8:
            s.unroll(lp)
    rows = s.fuse(n, c, oh)
    small = work is not None and work < cfg.parallel_min * 4  # the pool wake-up costs more
    if not small:
        s.parallel(rows)
    s.decompose_reduction(blk, r0)
    if owv > 1:
        s.vectorize(s.get_loops(wb)[-1])
    return done + [f"pool:rows(ow={owv})" + ("+serial" if small else "")]
