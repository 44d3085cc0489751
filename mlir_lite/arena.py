"""The runtime memory plan of an execution plan: intermediate buffers packed into one arena.

    lives = arena_lifetimes(plan)                 # once per plan: which buffers, and when
    layout = pack_arena(lives, nbytes_of_buffer)   # per shape bucket (a binding of the symbols)
    layout.arena_bytes, layout.offsets[bid]

The buffers planned are the intermediates (`temp` buffers of static size for the binding) that
only top-level kernel calls and views touch; views share their source's allocation and extend
its lifetime. Not planned (allocated on their own, as before): inputs, constants, outputs (the
caller gets them), buffers that control-flow steps touch (they may outlive the step through a
result), buffers sized inside loops (`dynamic`), and bool/bfloat16 buffers (numpy exports them
poorly). A buffer is live from the first step that touches it to the last, both included, so a
kernel never writes over one of its own inputs. Packing is greedy, largest first, at the
lowest 64-byte-aligned offset free for the buffer's whole lifetime (best fit among the gaps).
This needs only numpy and the standard library (it runs in the artifact runtime).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

__all__ = ["ALIGNMENT", "ArenaLayout", "arena_lifetimes", "pack_arena", "live_peak_bytes"]

ALIGNMENT = 64
_SKIP_DTYPES = frozenset({"bool", "bfloat16"})


@dataclass
class ArenaLayout:
    """Offsets (bytes) of the planned buffers in one arena of `arena_bytes`."""

    arena_bytes: int
    offsets: Dict[int, int] = field(default_factory=dict)
    sizes: Dict[int, int] = field(default_factory=dict)       # aligned bytes per buffer
    lives: Dict[int, Tuple[int, int]] = field(default_factory=dict)


def _touched(step: Any) -> List[int]:
    """Every buffer id a step (and the steps nested in it) names."""
    out: List[int] = []
    for name, val in vars(step).items():
        if name in ("symbol", "scalars", "op", "loc", "n_scan", "lb", "ub", "step"):
            continue
        if name == "checks":
            out.extend(fid for fid, _ in val)
        elif isinstance(val, int) and not isinstance(val, bool):
            out.append(val)
        elif isinstance(val, tuple):
            for v in val:
                if isinstance(v, int) and not isinstance(v, bool):
                    out.append(v)
                elif hasattr(v, "__dataclass_fields__"):
                    out.extend(_touched(v))
    return out


def arena_lifetimes(plan: Any) -> Dict[int, Tuple[int, int]]:
    """The arena-planned buffers of `plan` (roots of view chains) and their (first, last) step."""
    from .plan import KernelCall, ViewStep  # noqa: PLC0415 - plan imports this module lazily
    root: Dict[int, int] = {}
    excluded = set(plan.outputs) | set(plan.inputs)
    life: Dict[int, List[int]] = {}
    for t, step in enumerate(plan.steps):
        if type(step) is ViewStep:
            root[step.dst] = root.get(step.src, step.src)
            ids = [step.src]
        elif type(step) is KernelCall:
            ids = list(step.args)
        else:
            excluded.update(root.get(b, b) for b in _touched(step))
            continue
        for b in ids:
            r = root.get(b, b)
            span = life.setdefault(r, [t, t])
            span[0], span[1] = min(span[0], t), max(span[1], t)
    excluded |= {root.get(b, b) for b in plan.outputs}
    out = {}
    for b, (first, last) in life.items():
        spec = plan.buffers[b]
        if b in excluded or spec.kind != "temp" or spec.dynamic or spec.dtype in _SKIP_DTYPES:
            continue
        out[b] = (first, last)
    return out


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def pack_arena(lives: Dict[int, Tuple[int, int]], nbytes: Callable[[int], int]) -> ArenaLayout:
    """Offsets for the buffers of `lives` (sizes from `nbytes(bid)`), no two live ones
    overlapping; empty buffers get no space."""
    sizes = {b: _align(nbytes(b)) for b in lives}
    layout = ArenaLayout(0, sizes=sizes, lives=dict(lives))
    placed: List[Tuple[int, int, int, int]] = []  # (offset, end, first, last)
    for b in sorted(lives, key=lambda b: (-sizes[b], lives[b][0], b)):
        size, (first, last) = sizes[b], lives[b]
        if size == 0:
            layout.offsets[b] = 0
            continue
        busy = sorted((o, e) for o, e, f, la in placed if f <= last and first <= la)
        best, best_gap, cur = None, None, 0
        for o, e in busy:
            gap = o - cur
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = cur, gap
            cur = max(cur, e)
        off = cur if best is None else best
        layout.offsets[b] = off
        placed.append((off, off + size, first, last))
        layout.arena_bytes = max(layout.arena_bytes, off + size)
    return layout


def live_peak_bytes(layout: ArenaLayout) -> int:
    """The largest total of aligned planned buffers live at one step: no layout is smaller."""
    steps = {t for f, la in layout.lives.values() for t in (f, la)}
    return max((sum(layout.sizes[b] for b, (f, la) in layout.lives.items() if f <= t <= la)
                for t in steps), default=0)
