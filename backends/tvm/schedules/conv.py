"""CPU schedules for 2-D NCHW convolutions, chosen by the kind of convolution.

* `oc-vector` (dense convs and grouped ones whose groups hold whole vectors of output channels):
  the in-kernel NCHW[x]c form. The weights are read as `[M/OC, KH, KW, C, OC]` vectors:
  constant weights are stored so at compile time (prepack.py), others are packed by one
  vectorised pass per call. The accumulator tile of OWT output columns x OC output channels
  (OC = one or two SIMD vectors) lives in registers in an `[.., OW, OC]` layout, each FMA
  multiplies a weight vector by a broadcast input value, and the (n, channel-block, row) loops
  run in parallel. The tile is written back to NCHW (transposed) with the fused epilogue.
* `depthwise` (one input channel per group): each (channel, row) accumulates KHxKW vectors of
  output columns; no channel tile, since no two channels share an input.
* `ow-vector` (the rest, e.g. 34 channels per group): an accumulator tile of MF output channels
  x one vector of output columns (the original direct schedule).
* `blocked` (`ml.conv_nchwc`, made by the blocked-layout pass): the `oc-vector` tile on
  `NCHW[b]c` tensors, so the tile is stored without a transpose and a block of input channels
  is contiguous.

All work on the stage named `conv` with loops `(n, m, oh, ow, rc, kh, kw)` (rules_nn.py); the
zero-padding stage stays a separate vectorised pass, so the inner loop reads the input without
bounds tests. Tile sizes come from the target's vector width by rules (no search), so compiling
stays quick. A schedule that does not apply raises; `schedule_cpu` then tries the next one
(`conv_direct`, then the generic schedule).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from tvm import tirx
from tvm.s_tir import Schedule

from .cpu import (
    CpuConfig,
    _out_dtype,
    attach_epilogue,
    epilogue_of,
    pick_factor,
    schedule_generic,
    schedule_injective,
    static_extent,
)

__all__ = ["schedule_conv", "schedule_conv_direct", "conv_plan"]


def _ext(s: Schedule, loop: Any) -> Optional[int]:
    e = s.get(loop).extent
    return int(e.value) if isinstance(e, tirx.IntImm) else None


def _parallel(s: Schedule, cfg: CpuConfig, fused: Any, work: Optional[int]) -> bool:
    """Parallelise `fused` unless the whole conv (`work` multiply-adds) is statically small:
    waking the thread pool would cost more than the work."""
    if work is not None and work < cfg.parallel_min * 32:
        return False
    s.parallel(fused)
    return True


def _prologue(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any], nloops: int = 7) -> tuple:
    """The epilogue's name, the generic schedule of the other stages, the conv block, loops."""
    epi = epilogue_of(s, "conv", keep=("pad",))
    done = schedule_generic(s, cfg, skip=("conv", "pad") + epi)
    blk = s.get_sblock("conv")
    loops = s.get_loops(blk)
    if len(loops) != nloops:
        raise ValueError("the conv schedules handle 2-D convolutions only")
    if hints.get("padded"):
        done.append("pad:" + schedule_injective(s, s.get_sblock("pad"), cfg))
    return epi, done, blk, loops


def conv_plan(m: Optional[int], cg: Optional[int], ow: Optional[int], groups: int,
              lanes: int) -> Dict[str, Any]:
    """The schedule kind and tile sizes for a conv with `m` output channels, `cg` input
    channels per group, `ow` output columns (None when symbolic) and `lanes` SIMD lanes."""
    if groups > 1 and cg == 1:
        return {"kind": "depthwise"}
    mg = None if m is None else m // groups
    if m is None or ow is None or mg is None or mg % lanes:
        return {"kind": "ow-vector"}
    oc = 2 * lanes if mg % (2 * lanes) == 0 else lanes
    return {"kind": "oc-vector", "oc": oc, "owt": tile_columns(ow, oc // lanes)}


def tile_columns(ow: Optional[int], vectors: int) -> int:
    """Output columns of a register tile `vectors` SIMD vectors wide: up to ~28 accumulators
    out of 32 vector registers, a divisor of `ow` (no predicate), or the most columns when the
    best divisor is poor (e.g. a prime OW) or OW is symbolic (predicated instead)."""
    most = 28 // vectors
    if ow is None:
        return most
    owt = next(f for f in range(min(most, ow), 0, -1) if ow % f == 0)
    return most if owt < most // 2 and ow > most else owt


def _weight_read(s: Schedule, blk: Any, oc: int) -> Optional[int]:
    """The read index of the OIHW weight to pack, or None when it is packed already (a
    `[M/oc, KH, KW, C, oc]` constant read through the inlined view, prepack.py)."""
    reads = s.get(blk).reads
    if len(reads) != 2:
        raise ValueError("unexpected reads in the conv stage")
    shape = reads[1].source.shape
    if len(shape) == 5 and isinstance(shape[4], tirx.IntImm) and int(shape[4]) == oc:
        return None
    if len(shape) != 4:
        raise ValueError("unexpected weight layout in the conv stage")
    return 1


def _schedule_oc_vector(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any],
                        plan: Dict[str, Any]) -> List[str]:
    epi, done, blk, loops = _prologue(s, cfg, hints)
    n, f, oh, ow, rc, kh, kw = loops
    oc, owt = plan["oc"], plan["owt"]
    work = static_extent(s, loops)
    wi = _weight_read(s, blk, oc)
    if wi is not None:
        wp = s.cache_read(blk, wi, "global")
        s.transform_layout(blk, ("read", wi), lambda m, c, y, x: (m // oc, y, x, c, m % oc))
    wb = s.cache_write(blk, 0, "global")
    s.transform_layout(blk, ("write", 0), lambda a, m, y, x: (a, m // oc, y, x, m % oc))
    fo, fi = s.split(f, [None, oc])
    owo, owi = s.split(ow, [None, owt])
    # rc innermost of the reduction: the accumulators stay in registers over a simple loop
    s.reorder(n, fo, oh, owo, kh, kw, rc, owi, fi)
    attach_epilogue(s, wb, owo, epi, cfg, done)
    s.vectorize(fi)
    s.unroll(owi)
    par = _parallel(s, cfg, s.fuse(n, fo, oh), work)
    s.decompose_reduction(blk, kh)
    wl = s.get_loops(wb)
    s.vectorize(wl[-1])
    how = f"conv:oc-vector(oc={oc},owt={owt})" + ("" if par else "+serial")
    if wi is None:
        return done + [how + "+prepackedW"]
    # the weight packing: parallel over output-channel blocks, vectorised over the block
    pm, pc, py, px = s.get_loops(wp)[-4:]
    pmo, pmi = s.split(pm, [None, oc])
    s.reorder(pmo, py, px, pc, pmi)
    s.parallel(pmo)
    s.vectorize(pmi)
    return done + [how + "+packW"]


def _schedule_depthwise(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    epi, done, blk, loops = _prologue(s, cfg, hints)
    n, f, oh, ow, rc, kh, kw = loops
    work = static_extent(s, loops)
    lanes = cfg.lanes(_out_dtype(s, blk))
    w_out = _ext(s, ow)
    # one or two vectors of a row, dividing it (no predicate)
    owv = pick_factor(w_out, range(2 * lanes, lanes // 2 - 1, -1), lanes)
    wb = s.cache_write(blk, 0, "global")
    owo, owi = s.split(ow, [None, owv])
    s.reorder(n, f, oh, owo, rc, kh, kw, owi)
    attach_epilogue(s, wb, owo, epi, cfg, done)
    s.vectorize(owi)
    for lp in (kh, kw):
        if (_ext(s, lp) or 99) <= 7:
            s.unroll(lp)
    par = _parallel(s, cfg, s.fuse(n, f, oh), work)
    s.decompose_reduction(blk, rc)
    s.vectorize(s.get_loops(wb)[-1])
    return done + [f"conv:depthwise(ow={owv})" + ("" if par else "+serial")]


def schedule_conv_direct(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    """The `ow-vector` schedule: MF output channels x one vector of output columns."""
    epi, done, blk, loops = _prologue(s, cfg, hints)
    n, f, oh, ow, rc, kh, kw = loops
    lanes = cfg.lanes(_out_dtype(s, blk))
    w_out, m = _ext(s, ow), _ext(s, f)
    # Splits that divide the extent keep the inner loops free of predicates, which would
    # otherwise stop vectorisation (measured 2.5x on a 56x56 3x3 conv).
    owv = pick_factor(w_out, range(lanes, lanes // 2 - 1, -1), lanes)
    mf = pick_factor(m, (16, 8, 12, 4, 2), 8)
    wb = s.cache_write(blk, 0, "global")
    fo, fi = s.split(f, [None, mf])
    owo, owi = s.split(ow, [None, owv])
    s.reorder(n, fo, oh, owo, rc, kh, kw, fi, owi)
    attach_epilogue(s, wb, owo, epi, cfg, done)
    s.vectorize(owi)
    if mf > 1:
        s.unroll(fi)
    s.parallel(s.fuse(n, fo, oh))
    s.decompose_reduction(blk, rc)
    s.vectorize(s.get_loops(wb)[-1])
    return done + ["conv:ow-vector"]


def _schedule_blocked(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    """`ml.conv_nchwc` (rules_nn.py): the `oc-vector` tile with nothing to transpose. The
    output block is the SIMD vector, two blocks share a tile when they can (as oc = 2 vectors
    does), a blocked input is read a block of channels at a time, and the tile's write-back
    (with the fused epilogue) stores whole vectors."""
    ib = int(hints.get("in_block", 0))
    epi, done, blk, loops = _prologue(s, cfg, hints, 9 if ib else 8)
    n, mo, oh, ow, mi = loops[:5]
    red, (kh, kw) = loops[5:-2], loops[-2:]
    blocks_out, w_out = _ext(s, mo), _ext(s, ow)
    mt = 2 if blocks_out is not None and blocks_out % 2 == 0 else 1
    owt = tile_columns(w_out, mt)
    work = static_extent(s, loops)
    wb = s.cache_write(blk, 0, "global")
    moo, moi = s.split(mo, [None, mt])
    owo, owi = s.split(ow, [None, owt])
    s.reorder(n, moo, oh, owo, kh, kw, *red, owi, moi, mi)
    attach_epilogue(s, wb, owo, epi, cfg, done)
    s.vectorize(mi)
    s.unroll(moi)
    s.unroll(owi)
    par = _parallel(s, cfg, s.fuse(n, moo, oh), work)
    s.decompose_reduction(blk, kh)
    s.vectorize(s.get_loops(wb)[-1])
    return done + [f"conv:blocked(in={ib},tile={mt}x{owt})" + ("" if par else "+serial")]


def schedule_conv(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    """The conv schedule that `conv_plan` picks for this kernel."""
    if hints.get("blocked"):
        return _schedule_blocked(s, cfg, hints)
    blk = s.get_sblock("conv")
    loops = s.get_loops(blk)
    if len(loops) != 7:
        raise ValueError("the conv schedules handle 2-D convolutions only")
    lanes = cfg.lanes(_out_dtype(s, blk))
    plan = conv_plan(_ext(s, loops[1]), _ext(s, loops[4]), _ext(s, loops[3]),
                     int(hints.get("groups", 1)), lanes)
    if plan["kind"] == "depthwise":
        return _schedule_depthwise(s, cfg, hints)
    if plan["kind"] == "oc-vector":
        return _schedule_oc_vector(s, cfg, hints, plan)
    return schedule_conv_direct(s, cfg, hints)
