"""Generic CPU schedules: injective stages are fused, split for SIMD, parallel on the outside;
reduction stages run in parallel over their spatial loops.

    s = Schedule(func); schedule_generic(s, cfg)   # every stage gets one of the two

Small stages (under `cfg.parallel_min` iterations, when the size is static) stay serial: waking
the thread pool costs more than they do. Intermediate injective stages are inlined into their
consumers first where TVM allows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple

from tvm import tirx
from tvm.s_tir import SBlockRealize, Schedule

__all__ = ["CpuConfig", "pick_factor", "blocks", "is_reduction", "static_extent",
           "inline_injective", "schedule_injective", "schedule_reduction", "schedule_generic",
           "schedule_gather_rows", "epilogue_of", "attach_epilogue", "has_zero_loop",
           "hoist_reduction_inits", "with_hoisted_inits"]


@dataclass(frozen=True)
class CpuConfig:
    """What the schedules need to know of the target."""

    vector_bytes: int = 64          # 64 with AVX-512, 32 with AVX2
    num_cores: int = 1
    parallel_min: int = 16384       # iterations below which a stage stays serial

    def lanes(self, dtype: str) -> int:
        bits = 8 if dtype == "bool" else int("".join(c for c in dtype if c.isdigit()) or 32)
        return max(1, self.vector_bytes * 8 // bits)


def blocks(s: Schedule) -> List[Any]:
    """The top-level stages of the function, in order."""
    return list(s.get_child_blocks(s.get_sblock("root")))


def is_reduction(s: Schedule, blk: Any) -> bool:
    return any(iv.iter_type != tirx.IterVar.DataPar for iv in s.get(blk).iter_vars)


def static_extent(s: Schedule, loops: List[Any]) -> Optional[int]:
    """The product of the loops' extents, or None when one is symbolic."""
    n = 1
    for lp in loops:
        ext = s.get(lp).extent
        if not isinstance(ext, tirx.IntImm):
            return None
        n *= int(ext.value)
    return n


def has_zero_loop(s: Schedule, blk: Any) -> bool:
    """Whether a loop of the stage has a static extent of 0 (an empty tensor): fusing or
    splitting such a loop divides by zero, and the stage does no work to schedule."""
    return any(isinstance(s.get(lp).extent, tirx.IntImm) and int(s.get(lp).extent.value) == 0
               for lp in s.get_loops(blk))


def _reduce_loop_vars(s: Schedule, blk: Any) -> List[Any]:
    """The loop variables that the stage's reduction iterators are bound to."""
    block = s.get(blk)
    body = s.get_sref(blk).parent.stmt.body
    for r in (list(body.seq) if hasattr(body, "seq") else [body]):
        if isinstance(r, SBlockRealize) and r.block.same_as(block):
            return [v for iv, e in zip(block.iter_vars, r.iter_values)
                    if iv.iter_type != tirx.IterVar.DataPar
                    for v in tirx.analysis.undefined_vars(e)]
    return []


def hoist_reduction_inits(s: Schedule) -> List[str]:
    """Give every reduction stage whose reduction loops may run zero times (a static extent 0
    or a symbolic one) an init stage of its own, before those loops (`decompose_reduction`).
    TVM lowers an undecomposed init to `if k == 0: init` inside the reduction loop, so over an
    empty set the output would never be initialised to the reduction's identity."""
    done = []
    for blk in list(s.get_child_blocks(s.get_sblock("root"))):
        block = s.get(blk)
        if block.init is None:
            continue
        red_vars = _reduce_loop_vars(s, blk)
        red = [lp for lp in s.get_loops(blk)
               if any(s.get(lp).loop_var.same_as(v) for v in red_vars)]
        if not red or all(isinstance(s.get(lp).extent, tirx.IntImm) and
                          int(s.get(lp).extent.value) > 0 for lp in red):
            continue
        try:
            s.decompose_reduction(blk, red[0])
            done.append(f"{block.name_hint}:init-hoisted")
        except (RuntimeError, ValueError):
            pass  # (left as it was: correct for every non-empty set)
    return done


def with_hoisted_inits(func: tirx.PrimFunc) -> Tuple[tirx.PrimFunc, List[str]]:
    """`func` (scheduled or not) after `hoist_reduction_inits`, and what that did."""
    s = Schedule(func)
    done = hoist_reduction_inits(s)
    return (s.mod["main"], done) if done else (func, [])


def pick_factor(extent: Optional[int], preferred: Iterable[int], default: int) -> int:
    """The first of `preferred` that divides a static `extent` (no predicate in the tile);
    the whole extent when it is smaller than `default`; else `default` (with a predicate)."""
    if extent is None:
        return default
    for f in preferred:
        if f > 0 and extent % f == 0 and f <= extent:
            return f
    return extent if extent < default else default


def _out_dtype(s: Schedule, blk: Any) -> str:
    writes = s.get(blk).writes
    return str(writes[0].source.dtype) if writes else "float32"


def inline_injective(s: Schedule, keep: tuple = ()) -> None:
    """Inline every injective stage that is not an output (and not named in `keep`)."""
    outputs = {s.get(b).name_hint for b in s.get_output_blocks(s.get_sblock("root"))}
    for blk in blocks(s):
        name = s.get(blk).name_hint
        if name in outputs or name in keep or is_reduction(s, blk):
            continue
        try:
            s.compute_inline(blk)
        except (RuntimeError):
            pass


def schedule_injective(s: Schedule, blk: Any, cfg: CpuConfig) -> str:
    """Fuse all loops, split off a SIMD-wide inner loop, parallelise the outer one."""
    loops = s.get_loops(blk)
    if not loops:
        return "scalar"
    n = static_extent(s, loops)
    lanes = cfg.lanes(_out_dtype(s, blk))
    inner = static_extent(s, loops[-1:])
    if len(loops) > 1 and (inner is None or inner >= lanes):
        # Rows: a vectorised innermost loop (its tail predicated) under parallel outer loops.
        # Fusing everything instead costs a vector int64 division per element to recover the
        # indices: measured 240x slower on a 64x58x58 zero-padding (2.7 ms vs 11 us).
        outer = s.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
        _, vec = s.split(loops[-1], [None, lanes])
        s.vectorize(vec)
        if n is None or n >= cfg.parallel_min:
            s.parallel(outer)
            return "rows:parallel+vector"
        return "rows:vector"
    fused = s.fuse(*loops) if len(loops) > 1 else loops[0]
    if n is not None and n <= lanes:
        if n > 1:
            s.vectorize(fused)
        return "vector"
    outer, inner = s.split(fused, [None, lanes])
    s.vectorize(inner)
    if n is None or n >= cfg.parallel_min:
        s.parallel(outer)
        return "parallel+vector"
    return "vector"


def schedule_reduction(s: Schedule, blk: Any, cfg: CpuConfig) -> str:
    """Parallelise over the fused spatial loops; the reduction loops stay inside."""
    loops = s.get_loops(blk)
    ivs = s.get(blk).iter_vars
    nsp = 0
    for iv in ivs:
        if iv.iter_type != tirx.IterVar.DataPar:
            break
        nsp += 1
    spatial = loops[:nsp]
    if not spatial:
        return "serial"
    n = static_extent(s, loops)
    fused = s.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    if n is None or n >= cfg.parallel_min:
        m = static_extent(s, [fused])
        if m is None or m > 1:
            s.parallel(fused)
            return "parallel"
    return "serial"


def schedule_gather_rows(s: Schedule, blk: Any, cfg: CpuConfig) -> str:
    """Parallel rows whose innermost loop is left to LLVM's loop vectoriser: for a stage that
    reads its input at indices it loads from a table (resize's taps), TVM's `vectorize` emits
    one scalar load per lane, LLVM's vectoriser hardware gathers (a bilinear x2 upsample of
    1x64x56x56 f32 on AVX-512: 3.2 ms vectorised by TVM, 0.84 ms by LLVM)."""
    loops = s.get_loops(blk)
    if not loops:
        return "scalar"
    n = static_extent(s, loops)
    big = n is None or n >= cfg.parallel_min
    if len(loops) > 1:
        outer = s.fuse(*loops[:-1]) if len(loops) > 2 else loops[0]
    elif big:
        outer, _ = s.split(loops[0], [None, 1024])
    else:
        return "rows:llvm-vector"
    if big:
        s.parallel(outer)
        return "rows:parallel+llvm-vector"
    return "rows:llvm-vector"


def schedule_generic(s: Schedule, cfg: CpuConfig, skip: tuple = (), keep: tuple = (),
                     gather: tuple = ()) -> List[str]:
    """Inline what can be inlined, then schedule every remaining stage by its kind. Stages
    named in `skip` are neither inlined nor scheduled, those in `keep` are not inlined, those
    in `gather` are scheduled by `schedule_gather_rows`."""
    inline_injective(s, keep=tuple(skip) + tuple(keep))
    done = []
    for blk in blocks(s):
        name = s.get(blk).name_hint
        if name in skip:
            continue
        if has_zero_loop(s, blk):
            done.append(f"{name}:empty")  # no iterations (or none that reach the output)
            continue
        if name in gather and not is_reduction(s, blk):
            done.append(f"{name}:{schedule_gather_rows(s, blk, cfg)}")
            continue
        how = (schedule_reduction if is_reduction(s, blk) else schedule_injective)(s, blk, cfg)
        done.append(f"{name}:{how}")
    return done


def epilogue_of(s: Schedule, anchor: str, keep: tuple = ()) -> tuple:
    """The name of the elementwise epilogue of stage `anchor` (bias, activation, residual add
    ... after inlining the chain into one stage), when it is the anchor's only consumer."""
    inline_injective(s, keep=(anchor,) + keep)
    cons = s.get_consumers(s.get_sblock(anchor))
    if len(cons) != 1 or is_reduction(s, cons[0]) or s.get_consumers(cons[0]):
        return ()
    return (s.get(cons[0]).name_hint,)


def attach_epilogue(s: Schedule, writeback: Any, at: Any, epilogue: tuple, cfg: CpuConfig,
                    done: List[str]) -> None:
    """Write the anchor's tile back inside loop `at` (`reverse_compute_at`) and inline the
    epilogue stage into that write-back (`reverse_compute_inline`), so it runs on the tile while
    it is in cache; a separate loop nest when that fails. What was done is appended to `done`."""
    s.reverse_compute_at(writeback, at)
    if not epilogue:
        return
    blk = s.get_sblock(epilogue[0])
    try:
        s.reverse_compute_inline(blk)
        done.append(f"{epilogue[0]}:into-tile")
    except (RuntimeError, ValueError):
        done.append(f"{epilogue[0]}:" + schedule_injective(s, blk, cfg))
