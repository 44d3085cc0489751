"""The arena plan an execution plan carries: which buffers share memory, and where they go.

    ap = ArenaPlan((Variant(groups, lives, sizes, offsets, arena_bytes), ...))  # by the compiler
    variant, arena_bytes, offsets = ap.choose(sizes_of_groups)   # for one binding of the dims
    arena, offsets = pack(sizes, lives)                           # the packing itself

The compiler (`passes/memory_plan.py`) decides the allocations: each group is one allocation
shared by a value, the views of it and the values written in place of it, live over
`lives[g]` = (first, last) step. Its sizes depend on the symbolic dims, so the compiler packs
them for the binding it knows (`dims`; all of them for a static model) and records the offsets;
for another binding the runtime packs the same groups with the same function `pack` (per shape
bucket, cached), which gives the offsets that `plan_memory(func, dims)` gives for it. A plan
may hold variants (concats written over their first operand or not): the smallest arena for
the binding wins, as in `plan_memory`.

`pack` is greedy with a best-fit gap search (the smallest gap among the allocations live at the
same time), tried in a few orders (size, lifetime length, size x length, start); the smallest
arena wins, ties to the first order. Sizes are in bytes, already aligned by the caller.
This needs only the standard library (it runs in the artifact runtime).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["ALIGNMENT", "ArenaPlan", "Variant", "align", "pack", "arena_plan_to_json",
           "arena_plan_from_json"]

ALIGNMENT = 64


def align(n: int, a: int = ALIGNMENT) -> int:
    """`n` rounded up to a multiple of `a`; an empty buffer still gets `a` bytes."""
    return (max(n, 1) + a - 1) // a * a


def _place(sizes: Sequence[int], lives: Sequence[Tuple[int, int]],
           order: Sequence[int]) -> Tuple[int, List[int]]:
    placed: List[Tuple[int, int, int, int]] = []  # offset, end, first, last
    offsets = [0] * len(sizes)
    arena = 0
    for i in order:
        first, last = lives[i]
        busy = sorted(p for p in placed if not (p[3] < first or last < p[2]))
        best: Optional[Tuple[int, int]] = None
        end = 0
        for off, stop, _, _ in busy:
            gap = off - end
            if gap >= sizes[i] and (best is None or gap < best[1]):
                best = (end, gap)
            end = max(end, stop)
        off = best[0] if best is not None else end
        placed.append((off, off + sizes[i], first, last))
        offsets[i] = off
        arena = max(arena, off + sizes[i])
    return arena, offsets


def pack(sizes: Sequence[int], lives: Sequence[Tuple[int, int]]) -> Tuple[int, List[int]]:
    """(arena bytes, offset of each allocation): no two allocations live at a common step
    share a byte."""
    idx = range(len(sizes))
    orders = [
        sorted(idx, key=lambda i: (-sizes[i], lives[i][0], -lives[i][1])),
        sorted(idx, key=lambda i: (-(lives[i][1] - lives[i][0]), -sizes[i], lives[i][0])),
        sorted(idx, key=lambda i: (-sizes[i] * (lives[i][1] - lives[i][0] + 1), lives[i][0])),
        sorted(idx, key=lambda i: (lives[i][0], -sizes[i])),
    ]
    best: Tuple[int, List[int]] = (0, [])
    for n, order in enumerate(orders):
        res = _place(sizes, lives, order)
        if n == 0 or res[0] < best[0]:
            best = res
    return best


@dataclass(frozen=True)
class Variant:
    """One way to share memory: allocation groups of buffer ids (a group is as large as its
    largest non-view buffer), their (first, last) steps, and their layout for the compiled
    binding (`sizes` empty when a size was unknown at compile time)."""

    groups: Tuple[Tuple[int, ...], ...]
    lives: Tuple[Tuple[int, int], ...]
    sizes: Tuple[int, ...] = ()
    offsets: Tuple[int, ...] = ()
    arena_bytes: int = 0

    def layout(self, sizes: Sequence[int]) -> Tuple[int, Tuple[int, ...]]:
        """(arena bytes, offsets) for these aligned group sizes: the compiled layout when they
        are the compiled sizes, else `pack`ed for them."""
        sizes = tuple(sizes)
        if sizes == self.sizes and len(self.offsets) == len(sizes):
            return self.arena_bytes, self.offsets
        arena, offsets = pack(sizes, self.lives)
        return arena, tuple(offsets)


@dataclass(frozen=True)
class ArenaPlan:
    """The compiler's variants (e.g. with and without concats written over their first
    operand); for each binding the one with the smallest arena runs, ties to the first."""

    variants: Tuple[Variant, ...]
    dims: Dict[str, int] = field(default_factory=dict)
    alignment: int = ALIGNMENT

    def choose(self, sizes_of: Callable[[Tuple[Tuple[int, ...], ...]], Sequence[int]]
               ) -> Tuple[Variant, int, Tuple[int, ...]]:
        """(variant, arena bytes, offsets) of the smallest arena; `sizes_of(groups)` gives the
        aligned size of each group for the binding."""
        best: Optional[Tuple[Variant, int, Tuple[int, ...]]] = None
        for v in self.variants:
            arena, offsets = v.layout(sizes_of(v.groups))
            if best is None or arena < best[1]:
                best = (v, arena, offsets)
        assert best is not None
        return best


def arena_plan_to_json(ap: Optional[ArenaPlan]) -> Optional[Dict[str, Any]]:
    if ap is None:
        return None
    return {"variants": [{"groups": [list(g) for g in v.groups],
                          "lives": [list(t) for t in v.lives], "sizes": list(v.sizes),
                          "offsets": list(v.offsets), "arena_bytes": v.arena_bytes}
                         for v in ap.variants],
            "dims": dict(ap.dims), "alignment": ap.alignment}


def arena_plan_from_json(d: Optional[Dict[str, Any]]) -> Optional[ArenaPlan]:
    if not d:
        return None
    return ArenaPlan(tuple(Variant(tuple(tuple(int(b) for b in g) for g in v["groups"]),
                                   tuple((int(f), int(la)) for f, la in v["lives"]),
                                   tuple(int(x) for x in v.get("sizes", ())),
                                   tuple(int(o) for o in v.get("offsets", ())),
                                   int(v.get("arena_bytes", 0))) for v in d["variants"]),
                     {str(k): int(v) for k, v in d.get("dims", {}).items()},
                     int(d.get("alignment", ALIGNMENT)))
