"""Static memory planning: pack a function's intermediate tensors into one arena.

    plan = plan_memory(module["main"], dims={"N": 8})
    plan.arena_bytes                      # the one allocation the runtime makes
    plan.buffers["%h"]                    # Buffer(offset, size, first_step, last_step)
    plan.inplace_of                       # {"%h3": "%h2"}: %h3 overwrites %h2 where it dies
    verify_plan(plan)                     # independent check: no two live buffers overlap
    MemoryPlan.from_json(plan.to_json())

What is planned: the results of the steps of `Liveness` (intermediates; values inside control
flow regions, conservatively live for their whole step). Not planned: inputs, constants (and
values computed from constants alone, which are folded at compile time), values inside
`ml.fused` kernels (never materialised), and by default the function's outputs, which the
runtime hands to the caller (`include_outputs=True` plans them too). Values whose size is
unknown (a `?` dim) are listed in `unplanned` and left to the runtime, unless their shapes are
given (`shapes`, e.g. from `probe_shapes`).

Symbolic shapes: plans are made per shape bucket. `dims` binds every symbolic dim to a size;
since every buffer size is a product of dims, a plan made for a binding is also valid for any
binding that is smaller or equal in every dim (offsets fixed, buffers only shrink), so a runtime
can keep one plan per bucket (e.g. powers of two) and use the smallest bucket that covers the
actual sizes.

In-place: an `Elementwise` op (or a view: reshape/squeeze/unsqueeze/flatten, or a single-result
`ml.fused` kernel whose argument is only read by elementwise ops of the output's shape) may
write its result into an operand that dies at that op and has the same shape and size; the pair
shares one allocation (`inplace_of`).

Packing: greedy by size with a best-fit offset search (the smallest gap among the buffers live
at the same time), tried under a few orders (size, lifetime length, size x length, start); the
smallest arena wins. Offsets and sizes in the arena are aligned to `alignment` (64) bytes.
`lower_bound_bytes` is the largest total of aligned allocations live at one step (in-place pairs
counted once), which no plan can beat; `live_tensor_peak_bytes` counts every live tensor on its
own, unaligned, as the issue defines it.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.core import Operation, Value
from mlir_lite.errors import MlirLiteError
from mlir_lite.types import TensorType

from .analysis.liveness import Liveness
from .fusion import VIEW_OPS
from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["Buffer", "MemoryPlan", "PlanError", "plan_memory", "verify_plan", "value_bytes",
           "inplace_operands", "probe_shapes", "parse_dims", "MemoryPlanPass"]

ALIGNMENT = 64


class PlanError(MlirLiteError):
    """A memory plan that cannot be made, or one that is wrong."""


class Buffer(NamedTuple):
    offset: int
    size: int
    first_step: int
    last_step: int


@dataclasses.dataclass
class MemoryPlan:
    """Where each intermediate tensor lives in the arena, and when."""

    arena_bytes: int
    buffers: Dict[str, Buffer]
    steps: List[str]
    alignment: int = ALIGNMENT
    inplace_of: Dict[str, str] = dataclasses.field(default_factory=dict)
    dims: Dict[str, int] = dataclasses.field(default_factory=dict)
    lower_bound_bytes: int = 0
    live_tensor_peak_bytes: int = 0
    no_reuse_bytes: int = 0
    unplanned: Dict[str, str] = dataclasses.field(default_factory=dict)
    func: str = "main"

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["buffers"] = {k: list(b) for k, b in self.buffers.items()}
        return d

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MemoryPlan":
        d = dict(d)
        d["buffers"] = {k: Buffer(*map(int, b)) for k, b in d["buffers"].items()}
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "MemoryPlan":
        return cls.from_dict(json.loads(text))

    def summary(self) -> str:
        lb = self.lower_bound_bytes or 1
        return (f"arena {self.arena_bytes} B for {len(self.buffers)} buffers over "
                f"{len(self.steps)} steps; lower bound {self.lower_bound_bytes} B "
                f"({self.arena_bytes / lb:.3f}x), live-tensor peak {self.live_tensor_peak_bytes}"
                f" B, no reuse {self.no_reuse_bytes} B; {len(self.inplace_of)} in place; "
                f"{len(self.unplanned)} unplanned")


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def value_bytes(t: object, dims: Mapping[str, int],
                shape: Optional[Sequence[int]] = None) -> Optional[int]:
    """Bytes of a tensor of type `t` with symbols bound by `dims` (or of the given concrete
    shape); None when a dim is unknown or a symbol unbound."""
    if not isinstance(t, TensorType):
        return None
    if shape is None:
        if t.shape is None:
            return None
        shape = []
        for d in t.shape:
            if type(d) is int:
                shape.append(d)
            elif isinstance(d, str) and d in dims:
                shape.append(int(dims[d]))
            else:
                return None
    return int(np.prod(shape, dtype=np.int64)) * t.element.np_dtype.itemsize


def _shape_of(v: Value, dims: Mapping[str, int]) -> Optional[tuple]:
    t = v.type
    if not isinstance(t, TensorType) or t.shape is None:
        return None
    out = []
    for d in t.shape:
        if type(d) is int:
            out.append(d)
        elif isinstance(d, str) and d in dims:
            out.append(int(dims[d]))
        else:
            return None
    return tuple(out)


def _fused_inplace_args(op: Operation) -> List[int]:
    block = op.regions[0].blocks[0]
    term = block.last_op
    out = term.operands[0] if term is not None and term.operands else None
    ok = []
    for i, a in enumerate(block.args):
        dependents, frontier, good = set(), [a], True
        while frontier and good:
            v = frontier.pop()
            for u in v.users:
                if u.name == "ml.yield":
                    continue
                if not u.has_trait("Elementwise") or any(
                        r.type.shape != a.type.shape for r in u.results):  # type: ignore
                    good = False
                    break
                for r in u.results:
                    if r not in dependents:
                        dependents.add(r)
                        frontier.append(r)
        if good and out is not None and (out is a or out in dependents) and \
                a.type.shape == out.type.shape:  # type: ignore[attr-defined]
            ok.append(i)
    return ok


def inplace_operands(op: Operation) -> List[int]:
    """Operand indices whose buffer `op`'s single result may overwrite (same shape checked by
    the planner): elementwise ops, views, and elementwise-safe `ml.fused` arguments."""
    if len(op.results) != 1:
        return []
    if op.name == "ml.fused":
        return _fused_inplace_args(op)
    if op.regions:
        return []
    if op.name in VIEW_OPS:
        return [0]
    if op.has_trait("Elementwise"):
        return list(range(op.num_operands))
    return []


def probe_shapes(module: Operation, inputs: Sequence[Any], func: str = "main"
                 ) -> Dict[Value, tuple]:
    """The concrete shape of every value of `func` on these inputs (one interpreter run), for
    planning values whose types have unknown dims."""
    from mlir_lite.interpreter import Interpreter

    shapes: Dict[Value, tuple] = {}

    class _Probe(Interpreter):
        def eval_op(self, op: Operation, env: Dict[Value, Any]) -> List[Any]:
            outs = super().eval_op(op, env)
            for r, v in zip(op.results, outs):
                if hasattr(v, "shape"):
                    shapes[r] = tuple(v.shape)
            return outs
    _Probe(module).run(func, *inputs)
    return shapes


def parse_dims(text: str) -> Dict[str, int]:
    """`"N=8,seq=16"` (or a list of `N=8` items) -> {"N": 8, "seq": 16}."""
    out: Dict[str, int] = {}
    for item in [s for part in (text if isinstance(text, list) else [text])
                 for s in str(part).replace(" ", ",").split(",") if s]:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise PlanError(f"a dim binding must be NAME=SIZE, got {item!r}")
        try:
            out[name] = int(value)
        except ValueError:
            raise PlanError(f"dim {name!r}: {value!r} is not an integer") from None
        if out[name] < 0:
            raise PlanError(f"dim {name!r} must not be negative, got {out[name]}")
    return out


class _Alloc:
    __slots__ = ("values", "size", "first", "last", "offset")

    def __init__(self, v: str, size: int, first: int, last: int) -> None:
        self.values = [v]
        self.size = size
        self.first = first
        self.last = last
        self.offset = -1


def _pack(allocs: List[_Alloc], order: List[_Alloc]) -> Tuple[int, Dict[int, int]]:
    """Greedy placement in `order` with best-fit gaps; returns (arena, offsets by index)."""
    placed: List[Tuple[int, int, int, int]] = []  # offset, end, first, last
    offsets: Dict[int, int] = {}
    arena = 0
    index = {id(a): i for i, a in enumerate(allocs)}
    for a in order:
        busy = sorted((p for p in placed if not (p[3] < a.first or a.last < p[2])))
        best: Optional[Tuple[int, int]] = None
        end = 0
        for off, stop, _, _ in busy:
            gap = off - end
            if gap >= a.size and (best is None or gap < best[1]):
                best = (end, gap)
            end = max(end, stop)
        off = best[0] if best is not None else end
        placed.append((off, off + a.size, a.first, a.last))
        offsets[index[id(a)]] = off
        arena = max(arena, off + a.size)
    return arena, offsets


def plan_memory(func: Operation, dims: Optional[Mapping[str, int]] = None, *,
                alignment: int = ALIGNMENT, include_outputs: bool = False,
                inplace: bool = True, shapes: Optional[Mapping[Value, tuple]] = None,
                liveness: Optional[Liveness] = None) -> MemoryPlan:
    """A static arena plan for `func` with symbolic dims bound by `dims`."""
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"alignment must be a power of two, got {alignment}")
    dims = dict(dims or {})
    shapes = shapes or {}
    lv = liveness or Liveness(func)
    kinds = ("intermediate", "nested") + (("output",) if include_outputs else ())
    ids = lv.ids
    sizes: Dict[Value, int] = {}
    shape_of: Dict[Value, Optional[tuple]] = {}
    unplanned: Dict[str, str] = {}
    for v in lv.values(kinds):
        shp = shapes.get(v) or _shape_of(v, dims)
        n = value_bytes(v.type, dims, shp)
        if n is None:
            unplanned[ids[v]] = f"unknown size: {v.type}" + (
                "" if not isinstance(v.type, TensorType) else
                f" (bind its symbols with dims, e.g. {_symbols(v.type) or 'N'}=8)")
            continue
        sizes[v] = n
        shape_of[v] = shp
    allocs: List[_Alloc] = []
    alloc_of: Dict[Value, _Alloc] = {}
    inplace_of: Dict[str, str] = {}
    taken: set = set()
    for s, op in enumerate(lv.steps):
        for r in op.results:
            if r not in sizes:
                continue
            first, last = lv.interval(r)
            target = None
            if inplace and len(op.results) == 1:
                for i in inplace_operands(op):
                    v = op.operand(i)
                    # A returned value outlives the last step, so it is never overwritten.
                    if v in alloc_of and v not in taken and lv.interval(v)[1] == s and \
                            lv.kind(v) != "output" and \
                            sizes[v] == sizes[r] and (shape_of[v] == shape_of[r] or
                                                      op.name in VIEW_OPS):
                        target = v
                        break
            if target is not None:
                a = alloc_of[target]
                a.values.append(ids[r])
                a.last = max(a.last, last)
                alloc_of[r] = a
                taken.add(target)
                inplace_of[ids[r]] = ids[target]
            else:
                a = _Alloc(ids[r], _align(max(sizes[r], 1), alignment), first, last)
                allocs.append(a)
                alloc_of[r] = a
    for v in sizes:  # nested values (inside control flow) are not step results
        if v not in alloc_of:
            first, last = lv.interval(v)
            a = _Alloc(ids[v], _align(max(sizes[v], 1), alignment), first, last)
            allocs.append(a)
            alloc_of[v] = a
    orders = [
        sorted(allocs, key=lambda a: (-a.size, a.first, -a.last)),
        sorted(allocs, key=lambda a: (-(a.last - a.first), -a.size, a.first)),
        sorted(allocs, key=lambda a: (-a.size * (a.last - a.first + 1), a.first)),
        sorted(allocs, key=lambda a: (a.first, -a.size)),
    ]
    best: Optional[Tuple[int, Dict[int, int]]] = None
    for order in orders:
        res = _pack(allocs, order)
        if best is None or res[0] < best[0]:
            best = res
    arena, offsets = best if best is not None else (0, {})
    for i, a in enumerate(allocs):
        a.offset = offsets[i]
    buffers: Dict[str, Buffer] = {}
    rank = {ids[v]: i for i, v in enumerate(sizes)}
    for v, a in alloc_of.items():
        first, last = lv.interval(v)
        buffers[ids[v]] = Buffer(a.offset, sizes[v], first, last)
    buffers = {k: buffers[k] for k in sorted(buffers, key=lambda k: (buffers[k].first_step,
                                                                       rank[k]))}
    nsteps = len(lv.steps)
    lower = 0
    live_peak = 0
    for s in range(nsteps):
        lower = max(lower, sum(a.size for a in allocs if a.first <= s <= a.last))
        live_peak = max(live_peak, sum(sizes[v] for v in sizes
                                       if lv.interval(v)[0] <= s <= lv.interval(v)[1]))
    return MemoryPlan(arena_bytes=arena, buffers=buffers,
                      steps=[lv.step_label(s) for s in range(nsteps)], alignment=alignment,
                      inplace_of=inplace_of, dims=dims, lower_bound_bytes=lower,
                      live_tensor_peak_bytes=live_peak, no_reuse_bytes=sum(sizes.values()),
                      unplanned=unplanned, func=str(func.attributes.get("sym_name", "main")))


def _symbols(t: TensorType) -> str:
    return ",".join(f"{d}=8" for d in (t.shape or ()) if isinstance(d, str))


def verify_plan(plan: MemoryPlan) -> None:
    """Raise PlanError unless every buffer fits the arena, is aligned, and no two buffers live
    at the same step share a byte (except a value and the one written in place of it, at the
    step where one dies and the other is born, at the same offset)."""
    a = plan.alignment
    n = len(plan.steps)
    items = list(plan.buffers.items())
    for k, b in items:
        if b.offset < 0 or b.size < 0 or b.offset + b.size > plan.arena_bytes:
            raise PlanError(f"buffer {k} [{b.offset}, {b.offset + b.size}) is outside the arena "
                            f"of {plan.arena_bytes} bytes")
        if b.offset % a:
            raise PlanError(f"buffer {k} at offset {b.offset} is not {a}-byte aligned")
        if not 0 <= b.first_step <= b.last_step or (n and b.last_step >= n):
            raise PlanError(f"buffer {k} has steps [{b.first_step}, {b.last_step}] outside the "
                            f"{n} steps")
    for k, src in plan.inplace_of.items():
        if k not in plan.buffers or src not in plan.buffers:
            raise PlanError(f"in-place pair {k} <- {src} names a buffer that is not planned")
    items.sort(key=lambda kv: kv[1].first_step)
    for i, (k1, b1) in enumerate(items):
        for k2, b2 in items[i + 1:]:
            if b2.first_step > b1.last_step:
                break
            if b1.offset + b1.size <= b2.offset or b2.offset + b2.size <= b1.offset:
                continue
            if b1.size == 0 or b2.size == 0:
                continue
            if _inplace_pair(plan, k1, b1, k2, b2):
                continue
            raise PlanError(f"buffers {k1} (steps {b1.first_step}-{b1.last_step}, bytes "
                            f"{b1.offset}-{b1.offset + b1.size}) and {k2} (steps "
                            f"{b2.first_step}-{b2.last_step}, bytes {b2.offset}-"
                            f"{b2.offset + b2.size}) overlap while both are live")


def _inplace_pair(plan: MemoryPlan, k1: str, b1: Buffer, k2: str, b2: Buffer) -> bool:
    for (src, sb), (dst, db) in (((k1, b1), (k2, b2)), ((k2, b2), (k1, b1))):
        if plan.inplace_of.get(dst) == src and sb.last_step == db.first_step and \
                sb.offset == db.offset:
            return True
    return False


@register_pass
@dataclasses.dataclass(frozen=True)
class MemoryPlanPass(Pass):
    """Plan the arena of a function and print the plan (the IR is not changed)."""

    name = "memory-plan"
    summary = "plan intermediate tensors into one arena; print a summary or the JSON plan"

    func: str = "main"
    dims: str = ""
    json: bool = False
    include_outputs: bool = False

    def run(self, module: Operation, ctx: PassContext) -> bool:
        from mlir_lite.dialects.builtin import ModuleOp
        f = module.lookup(self.func) if isinstance(module, ModuleOp) else module
        if f is None:
            raise PlanError(f"no function @{self.func} to plan")
        plan = plan_memory(f, parse_dims(self.dims), include_outputs=self.include_outputs)
        verify_plan(plan)
        ctx.stats[self.name] = plan
        sys.stderr.write(plan.to_json() + "\n" if self.json else
                         f"// memory plan @{self.func}: {plan.summary()}\n")
        return False
