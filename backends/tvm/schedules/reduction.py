"""The CPU schedule of row reductions (softmax, log-softmax, layer norm, RMS norm, a reduce
over the trailing axes): one parallel loop over the rows of the output, and under it, per row,
every stage of the kernel in order (max, exp, sum, ..., the output), so a row is read from cache
and the row statistics (max, sum, mean, variance) are computed once per row, never per element.
The row reductions are vectorised with `rfactor` (a SIMD-wide partial result, then a scalar
combine), the elementwise stages with a SIMD-wide inner loop.

    applied = schedule_row_reduction(s, cfg, hints)    # ValueError: not a row reduction

An intermediate elementwise stage used by two later stages (the `exp` of a softmax) is kept,
computed once per row into a row buffer; one used once is inlined into its consumer. A kernel
that is not a reduction over the trailing axes of its single output raises ValueError, and the
caller (schedules/__init__.py) falls back to the generic schedule.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tvm import tirx
from tvm.s_tir import Schedule

from .cpu import (
    CpuConfig,
    _out_dtype,
    blocks,
    has_zero_loop,
    is_reduction,
    pick_factor,
    schedule_generic,
    static_extent,
)

__all__ = ["schedule_row_reduction", "schedule_reduction_kernel"]


# "reinterpret": the bit-level scaling of fast_exp.py, the tail of an inlined exp
_COSTLY = ("exp", "log", "tanh", "erf", "sigmoid", "pow", "sqrt", "sin", "cos", "reinterpret")


def _costly(s: Schedule, blk: Any) -> bool:
    """Whether the stage calls a transcendental function (worth computing once)."""
    text = str(s.get(blk).body)
    return any(f"T.{fn}(" in text for fn in _COSTLY)


def _inline(s: Schedule) -> None:
    """Inline the injective stages, except those with a call (exp, log...) that two later
    stages read: the `exp` of a softmax is computed once per row into a row buffer."""
    root = s.get_sblock("root")
    outputs = {s.get(b).name_hint for b in s.get_output_blocks(root)}
    for blk in blocks(s):
        if s.get(blk).name_hint in outputs or is_reduction(s, blk):
            continue
        if len(s.get_consumers(blk)) > 1 and _costly(s, blk):
            continue
        try:
            s.compute_inline(blk)
        except RuntimeError:
            pass


def _n_reduce(s: Schedule, blk: Any) -> int:
    return sum(iv.iter_type != tirx.IterVar.DataPar for iv in s.get(blk).iter_vars)


def _below(s: Schedule, blk: Any, row: Any) -> List[Any]:
    loops = s.get_loops(blk)
    at = [s.get(lp).same_as(s.get(row)) for lp in loops].index(True)
    return list(loops[at + 1:])


def _vector_tail(s: Schedule, blk: Any, row: Any, cfg: CpuConfig) -> str:
    """Vectorise the loops of an injective stage under the row loop."""
    inner = _below(s, blk, row)
    if not inner:
        return "scalar"
    fused = s.fuse(*inner) if len(inner) > 1 else inner[0]
    lanes = cfg.lanes(_out_dtype(s, blk))
    n = static_extent(s, [fused])
    if n is not None and n <= lanes:
        s.vectorize(fused)
        return "vector"
    # a width that divides the row keeps the vector loop free of masked tails
    width = pick_factor(n, (lanes, lanes // 2, lanes // 4), lanes) if n else lanes
    _, vi = s.split(fused, [None, max(width, 1)])
    s.vectorize(vi)
    return "vector"


def _rfactor(s: Schedule, blk: Any, t: int, cfg: CpuConfig) -> Any:
    """Split the (fused) reduction loops of a root-level reduction stage into SIMD-wide partial
    results (`rfactor`); the rf stage, or None when the row length does not allow it."""
    loops = s.get_loops(blk)[-t:]
    n = static_extent(s, loops)
    lanes = cfg.lanes(_out_dtype(s, blk))
    width = next((w for w in (lanes, lanes // 2, lanes // 4) if w > 1 and n is not None
                  and n % w == 0 and n >= 2 * w), None)
    if width is None:
        return None  # no predicated rfactor: the tail test would stop vectorisation
    fused = s.fuse(*loops) if len(loops) > 1 else loops[0]
    _, ki = s.split(fused, [None, width])
    try:
        return s.rfactor(ki, len(s.get(blk).iter_vars) - t)
    except RuntimeError:  # a reducer rfactor does not know (max from -inf): a scalar loop
        return None


def schedule_row_reduction(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    _inline(s)
    root = s.get_sblock("root")
    outs = s.get_output_blocks(root)
    if len(outs) != 1:
        raise ValueError("a row reduction has one output stage")
    out = outs[0]
    reds = [b for b in blocks(s) if is_reduction(s, b)]
    if not reds or is_reduction(s, out):
        raise ValueError("no reduction stage before the output stage")
    t = _n_reduce(s, reds[0])
    nloops = len(s.get_loops(out))
    if any(_n_reduce(s, b) != t for b in reds):
        raise ValueError("the reductions do not share their axes")
    keep = []
    for b in reds:
        ivs = [iv for iv in s.get(b).iter_vars if iv.iter_type == tirx.IterVar.DataPar]
        unit = [isinstance(iv.dom.extent, tirx.IntImm) and iv.dom.extent.value == 1
                for iv in ivs]
        if len(ivs) == nloops and t < nloops and all(unit[nloops - t:]):
            keep.append(True)    # keepdims: the rows are the leading dims of the output
        elif len(ivs) == nloops:
            keep.append(False)   # dims dropped: the rows are all of the output
        else:
            raise ValueError("not a reduction over the trailing axes of the output")
    if len(set(keep)) != 1:
        raise ValueError("mixed keepdims")
    rfs = {s.get(b).name_hint: _rfactor(s, b, t, cfg) for b in reds}
    loops = s.get_loops(out)
    rows = loops[:nloops - t] if keep[0] else loops
    row = s.fuse(*rows) if len(rows) > 1 else rows[0]
    for b in reversed([b for b in blocks(s) if not s.get(b).same_as(s.get(out))]):
        s.compute_at(b, row, preserve_unit_loops=False)
    total = static_extent(s, s.get_loops(out))
    nrows = static_extent(s, [row])
    par = (total is None or total >= cfg.parallel_min // 4) and (nrows is None or nrows > 1)
    if par:
        s.parallel(row)  # before decompose_reduction, which parallel() would refuse
    done = []
    rf_names = {s.get(rf).name_hint: n for n, rf in rfs.items() if rf is not None}
    for b in list(s.get_child_blocks(row)):
        name = s.get(b).name_hint
        if name in rf_names:
            # compute_at made the loops (lane, reduce...): put the lane loop innermost
            lane, *red = _below(s, b, row)
            s.reorder(*red, lane)
            s.vectorize(lane)
            s.decompose_reduction(b, red[0])
            done.append(f"{rf_names[name]}:rfactor+vector")
        elif not is_reduction(s, b):
            done.append(f"{name}:{_vector_tail(s, b, row, cfg)}")
    return done + ["rows:parallel" if par else "rows:serial"]


def schedule_reduction_kernel(s: Schedule, cfg: CpuConfig, hints: Dict[str, Any]) -> List[str]:
    """A kernel of kind "reduction": the row schedule when its output is an elementwise stage
    after reductions over trailing axes (softmax, norms); the generic one (parallel over the
    kept axes) for a plain reduce or a pool."""
    outs = s.get_output_blocks(s.get_sblock("root"))
    if len(outs) != 1 or is_reduction(s, outs[0]) or any(has_zero_loop(s, b) for b in blocks(s)):
        return schedule_generic(s, cfg)  # (an empty row or no rows: nothing worth a row loop)
    return schedule_row_reduction(s, cfg, hints)
