"""Schedules for the kernels of the TVM backend, chosen by kernel kind (a rule table).

    func, applied = schedule_cpu(prim_func, "matmul", hints, cfg)
    mod = schedule_cuda(ir_module, cuda_target)

A specialised CPU schedule that fails on an unusual kernel falls back to the generic one (never
to TVM's unscheduled default); `applied` lists what each stage got, for tests and reports.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import tvm
from tvm.s_tir import Schedule

from .conv import schedule_conv, schedule_conv_direct
from .cpu import CpuConfig, schedule_generic
from .matmul import schedule_matmul
from .pool import schedule_pool
from .reduction import schedule_reduction_kernel

__all__ = ["CPU_SCHEDULES", "CpuConfig", "SerialSchedule", "schedule_cpu", "schedule_cuda"]

CpuSchedule = Callable[[Schedule, CpuConfig, Dict[str, Any]], List[str]]

CPU_SCHEDULES: Dict[str, CpuSchedule] = {
    "injective": lambda s, cfg, hints: schedule_generic(s, cfg, **_generic_hints(hints)),
    "reduction": schedule_reduction_kernel,
    "pool": schedule_pool,
    "matmul": schedule_matmul,
    "conv": schedule_conv,
    "conv_direct": schedule_conv_direct,
}



def _generic_hints(hints: Dict[str, Any]) -> Dict[str, tuple]:
    """What an injective kernel's rule asks of the generic schedule, by stage name: `tables`
    (small per-call tables, e.g. resize's tap indices and weights: not inlined, left as plain
    loops), `stages` (intermediates worth materialising: not inlined) and `gather` (stages that
    read at table-given indices: `schedule_gather_rows`)."""
    return {"skip": tuple(hints.get("tables", ())), "keep": tuple(hints.get("stages", ())),
            "gather": tuple(hints.get("gather", ()))}


# a specialised schedule that fails tries these next, then the generic one
FALLBACKS: Dict[str, Tuple[str, ...]] = {"conv": ("conv_direct",)}
_SCHEDULE_ERRORS = (RuntimeError, ValueError, TypeError, AttributeError, IndexError, KeyError)


class SerialSchedule(Schedule):
    """A schedule whose `parallel` does nothing: the single-threaded variant of a kernel with
    symbolic sizes, which the executor calls when the sizes bound at run time make the work
    too small to pay for waking the thread pool (a few microseconds per call)."""

    def parallel(self, loop: Any) -> None:  # noqa: D102
        return None


def schedule_cpu(func: tvm.tirx.PrimFunc, kind: str, hints: Dict[str, Any],
                 cfg: CpuConfig, serial: bool = False) -> Tuple[tvm.tirx.PrimFunc, List[str]]:
    """`func` scheduled for the CPU as a kernel of `kind`; also what was applied. With
    `serial`, the same schedule without parallel loops."""
    fn = CPU_SCHEDULES.get(kind, CPU_SCHEDULES["injective"])
    make = SerialSchedule if serial else Schedule
    try:
        s = make(func)
        applied = fn(s, cfg, hints)
    except _SCHEDULE_ERRORS as e:
        if fn is CPU_SCHEDULES["injective"]:
            raise
        why = f"fallback({kind}: {str(e).splitlines()[0][:80]})"
        for nxt in FALLBACKS.get(kind, ()):
            try:
                s = make(func)
                return _done(s, CPU_SCHEDULES[nxt](s, cfg, hints) + [why])
            except _SCHEDULE_ERRORS:
                pass
        s = make(func)
        applied = schedule_generic(s, cfg)
        applied.append(why)
    return s.mod["main"], applied


def _done(s: Schedule, applied: List[str]) -> Tuple[tvm.tirx.PrimFunc, List[str]]:
    return s.mod["main"], applied


def schedule_cuda(mod: tvm.IRModule, target: tvm.target.Target) -> tvm.IRModule:
    """Every PrimFunc of `mod` with TVM's dlight GPU rules (thread bindings); the first rule
    that applies wins, Fallback binds any injective kernel."""
    from tvm.s_tir import dlight as dl
    mod = tvm.IRModule(dict(mod.functions))  # ApplyDefaultSchedule works in place
    with target:
        return dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                       dl.gpu.GeneralReduction(), dl.gpu.Fallback())(mod)
