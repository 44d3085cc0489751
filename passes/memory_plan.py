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

Symbolic shapes: the allocation decisions (which values share an allocation: views, in-place
pairs; and each allocation's lifetime) are symbolic, made once from the types (`allocations`);
the offsets are per shape bucket: `dims` binds every symbolic dim to a size and the groups are
packed for those sizes (`mlir_lite.runtime.arena.pack`). The TVM backend records the groups in the
compiled plan and the runtime packs them the same way for each binding it meets (cached), so its
arena equals `plan_memory(func, dims)` for that binding.

Views (reshape/squeeze/unsqueeze/flatten) own no memory: a view shares its source's allocation,
which then lives until the view's last use (`view_of`). A view of an input or constant is not
planned; an allocation reachable from a returned view is left to the runtime (`unplanned`).
In-place: an `Elementwise` op (or a single-result `ml.fused` kernel whose argument is only read
by elementwise ops of the output's shape) may write its result into an operand whose allocation
dies at that op, when their shapes (symbolically) and element sizes are equal and no other
operand shares that allocation; the pair shares one allocation (`inplace_of`).

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
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np

from mlir_lite.errors import MlirLiteError
from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dim_expr import evaluate, is_expression, symbols_of
from mlir_lite.ir.types import TensorType, Type
from mlir_lite.runtime.arena import ArenaPlan, Variant, align, pack

from .analysis.liveness import Liveness
from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["Buffer", "MemoryPlan", "PlanError", "plan_memory", "verify_plan", "value_bytes",
           "inplace_operands", "probe_shapes", "parse_dims", "MemoryPlanPass", "Alloc",
           "allocations", "arena_plan"]

ALIGNMENT = 64
# A view shares its source's allocation: by default the ops declared `Alias` (the reshape-like
# `View`s, identity, dropout: mlir_lite/ir/opdef.py), exactly the ops the TVM backend runs as
# views; `alias_ops` (a set of op names) replaces that choice.


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
    view_of: Dict[str, str] = dataclasses.field(default_factory=dict)

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
            elif is_expression(d) and symbols_of(d) <= set(dims):
                shape.append(evaluate(d, dims))  # 12*N
            else:
                return None
    return int(np.prod(shape, dtype=np.int64)) * t.element.np_dtype.itemsize


def _fused_inplace_args(op: Operation) -> List[int]:
    block = op.regions[0].blocks[0]
    term = block.last_op
    out = term.operands[0] if term is not None and term.operands else None
    ok = []
    for i, a in enumerate(block.args):
        dependents: Set[Value] = set()
        frontier: List[Value] = [a]
        good = True
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
    the planner): elementwise ops and elementwise-safe `ml.fused` arguments."""
    if len(op.results) != 1:
        return []
    if op.name == "ml.fused":
        return _fused_inplace_args(op)
    if op.regions:
        return []
    if op.has_trait("Elementwise"):
        return list(range(op.num_operands))
    return []


def _prefix_concat(c: Operation, x: Value) -> bool:
    """`c` is an ml.concat whose first operand is `x` and whose result holds `x`'s bytes as its
    prefix (every dim before the axis is 1), so writing it over `x` leaves `x` unchanged."""
    if c.name != "ml.concat" or not c.operands or c.operand(0) is not x:
        return False
    shape = getattr(c.results[0].type, "shape", None)
    if shape is None:
        return False
    axis = int(c.attributes.get("axis", 0))
    axis = axis + len(shape) if axis < 0 else axis
    return all(d == 1 for d in shape[:axis])


def prefix_operands(op: Operation) -> List[Tuple[int, int]]:
    """(result, operand) pairs where the result may be written over the operand's memory
    because its value starts with the operand's bytes (a concat along an axis after unit dims,
    also as a result of an `ml.fused` kernel): the operand's value is never changed, so any
    kernel may do this, whatever else it reads."""
    if op.name == "ml.concat":
        return [(0, 0)] if _prefix_concat(op, op.operand(0)) else []
    if op.name != "ml.fused":
        return []
    block = op.regions[0].blocks[0]
    term = block.last_op
    out = []
    for k, y in enumerate(term.operands if term is not None else ()):
        c = getattr(y, "op", None)
        if c is not None and c.name == "ml.concat" and c.operands and \
                c.operand(0) in block.args and _prefix_concat(c, c.operand(0)):
            out.append((k, block.args.index(c.operand(0))))
    return out


def probe_shapes(module: Operation, inputs: Sequence[Any], func: str = "main"
                 ) -> Dict[Value, tuple]:
    """The concrete shape of every value of `func` on these inputs (one interpreter run), for
    planning values whose types have unknown dims."""
    from mlir_lite.ir.interpreter import Interpreter

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


class Alloc:
    """One allocation: the values sharing it (the first one's size is the allocation's), and
    the steps over which any of them is live."""

    __slots__ = ("values", "first", "last")

    def __init__(self, v: Value, first: int, last: int) -> None:
        self.values: List[Value] = [v]
        self.first = first
        self.last = last


def _defined(op: Operation) -> List[Value]:
    """Values defined inside the regions of control-flow op `op`, in definition order."""
    out: List[Value] = []
    for region in op.regions:
        for b in region.blocks:
            out.extend(b.args)
            for inner in b.ops:
                if inner.regions and inner.name != "ml.fused":
                    out.extend(_defined(inner))
                out.extend(inner.results)
    return out


def _shape_key(v: Value, shapes: Mapping[Value, tuple]) -> Optional[tuple]:
    """The shape of `v` as a tuple of ints and symbol names (None when a dim is unknown)."""
    if v in shapes:
        return tuple(shapes[v])
    t = v.type
    if not isinstance(t, TensorType) or t.shape is None or any(d is None for d in t.shape):
        return None
    return tuple(t.shape)


def _itemsize(v: Value) -> int:
    return v.type.element.np_dtype.itemsize  # type: ignore[attr-defined]


def _is_alias(op: Operation, alias_ops: Optional[frozenset]) -> bool:
    """Whether `op`'s result is a view of its operand 0 (declared `Alias`, or in `alias_ops`)."""
    return op.has_trait("Alias") if alias_ops is None else op.name in alias_ops


def allocations(lv: Liveness, *, include_outputs: bool = False, inplace: bool = True,
                shapes: Optional[Mapping[Value, tuple]] = None,
                alias_ops: Optional[frozenset] = None, prefix: bool = True
                ) -> Tuple[List[Alloc], Dict[Value, Alloc], Dict[Value, Value],
                           Dict[Value, Value], Dict[Value, str]]:
    """The allocation decisions, independent of the sizes the symbols take: (allocations,
    allocation of each value, in-place pairs result -> operand, views -> source, unplanned
    values -> why). A view (reshape, squeeze, ...) shares its source's allocation, which then
    lives as long as the view; an in-place result shares its operand's allocation when that
    allocation dies at the op and the shapes and element sizes are equal (symbolically)."""
    shapes = shapes or {}
    kinds = ("intermediate", "nested") + (("output",) if include_outputs else ())
    allocs: List[Alloc] = []
    alloc_of: Dict[Value, Alloc] = {}
    inplace_of: Dict[Value, Value] = {}
    view_of: Dict[Value, Value] = {}
    unplanned: Dict[Value, str] = {}
    escaped: set = set()
    taken: set = set()  # allocations written in place at the current step

    def _free_at(u: Value, s: int) -> Optional[Alloc]:
        """The allocation of `u` when it dies at step `s` and holds no returned value."""
        a = alloc_of.get(u)
        # A returned value outlives the last step, so it is never overwritten.
        if a is None or a.last != s or id(a) in taken or \
                any(lv.kind(w) == "output" for w in a.values):
            return None
        return a

    def _inplace_target(op: Operation, v: Value, s: int, key: tuple) -> Optional[Value]:
        if len(op.results) == 1:
            ok = inplace_operands(op)
            for i in ok:
                u = op.operand(i)
                a = _free_at(u, s)
                if a is None or _shape_key(u, shapes) != key or _itemsize(u) != _itemsize(v) \
                        or any(w is u and j not in ok for j, w in enumerate(op.operands)) or \
                        any(w is not u and alloc_of.get(w) is a for w in op.operands):
                    continue
                return u
        results: List[Value] = list(op.results)
        k = results.index(v)
        for r, i in (prefix_operands(op) if prefix else ()):
            u = op.operand(i)
            if r == k and _free_at(u, s) is not None and _itemsize(u) == _itemsize(v):
                return u
        return None

    def place(v: Value, s: int, op: Optional[Operation], top: bool) -> None:
        kind = lv.kind(v)
        if op is not None and _is_alias(op, alias_ops) and v is op.results[0]:
            src = op.operand(0)
            a = alloc_of.get(src)
            if kind not in kinds or a is None:
                if a is not None:
                    escaped.add(id(a))  # a returned (unplanned) view of an arena value
                if kind in kinds:
                    unplanned[v] = "a view of memory outside the arena"
                return
            a.values.append(v)
            a.last = max(a.last, lv.interval(v)[1])
            alloc_of[v] = a
            view_of[v] = src
            return
        if kind not in kinds:
            return
        key = _shape_key(v, shapes)
        if key is None:
            unplanned[v] = f"unknown size: {v.type}"
            return
        first, last = lv.interval(v)
        if top and inplace and op is not None:
            u = _inplace_target(op, v, s, key)
            if u is not None:
                a = alloc_of[u]
                a.values.append(v)
                a.last = max(a.last, last)
                alloc_of[v] = a
                inplace_of[v] = u
                taken.add(id(a))
                return
        a = Alloc(v, first, last)
        allocs.append(a)
        alloc_of[v] = a

    for s, op in enumerate(lv.steps):
        taken.clear()
        for r in op.results:
            place(r, s, op, True)
        if op.regions and op.name != "ml.fused":
            for v in _defined(op):
                place(v, s, getattr(v, "op", None), False)
    if escaped:
        keep = []
        for a in allocs:
            if id(a) in escaped:
                for v in a.values:
                    del alloc_of[v]
                    inplace_of.pop(v, None)
                    view_of.pop(v, None)
                    unplanned[v] = "its memory is returned through a view"
            else:
                keep.append(a)
        allocs = keep
    return allocs, alloc_of, inplace_of, view_of, unplanned


def plan_memory(func: Operation, dims: Optional[Mapping[str, int]] = None, *,
                alignment: int = ALIGNMENT, include_outputs: bool = False,
                inplace: bool = True, shapes: Optional[Mapping[Value, tuple]] = None,
                liveness: Optional[Liveness] = None,
                alias_ops: Optional[frozenset] = None) -> MemoryPlan:
    """A static arena plan for `func` with symbolic dims bound by `dims`: the smaller of the
    plans with and without concats written over their first operand (ties: with)."""
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"alignment must be a power of two, got {alignment}")
    dims = dict(dims or {})
    shapes = shapes or {}
    lv = liveness or Liveness(func)
    best: Optional[MemoryPlan] = None
    for prefix in ((True, False) if inplace else (False,)):
        plan = _plan(func, lv, dims, shapes, alignment, include_outputs, inplace, alias_ops,
                     prefix)
        if best is None or plan.arena_bytes < best.arena_bytes:
            best = plan
    assert best is not None
    return best


def _plan(func: Operation, lv: Liveness, dims: Dict[str, int], shapes: Mapping[Value, tuple],
          alignment: int, include_outputs: bool, inplace: bool, alias_ops: Optional[frozenset],
          prefix: bool) -> MemoryPlan:
    ids = lv.ids
    allocs, alloc_of, inplace_v, view_v, unplanned_v = allocations(
        lv, include_outputs=include_outputs, inplace=inplace, shapes=shapes, alias_ops=alias_ops,
        prefix=prefix)
    unplanned = {ids[v]: why for v, why in unplanned_v.items()}
    sized: List[Alloc] = []
    sizes: List[int] = []
    for a in allocs:
        ns = [value_bytes(v.type, dims, shapes.get(v)) for v in a.values if v not in view_v]
        n = None if any(x is None for x in ns) else max(ns)  # type: ignore[type-var]
        if n is None:
            for v in a.values:
                unplanned[ids[v]] = f"unknown size: {v.type} (bind its symbols with dims, " \
                                    f"e.g. {_symbols(v.type) or 'N'}=8)"
            continue
        sized.append(a)
        sizes.append(align(n, alignment))
    lives = [(a.first, a.last) for a in sized]
    arena, offsets = pack(sizes, lives)
    offset_of = {id(a): o for a, o in zip(sized, offsets)}
    rank = {k: i for i, k in enumerate(ids.values())}
    buffers: Dict[str, Buffer] = {}
    raw: Dict[Value, int] = {}
    for a in sized:
        for v in a.values:
            first, last = lv.interval(v)
            n = value_bytes(v.type, dims, shapes.get(v))
            raw[v] = int(n or 0)
            buffers[ids[v]] = Buffer(offset_of[id(a)], raw[v], first, last)
    buffers = {k: buffers[k] for k in sorted(buffers, key=lambda k: (buffers[k].first_step,
                                                                       rank.get(k, 0)))}
    planned = {v for a in sized for v in a.values}
    nsteps = len(lv.steps)
    lower = 0
    live_peak = 0
    tensors = [v for v in planned if v not in view_v]
    for s in range(nsteps):
        lower = max(lower, sum(z for a, z in zip(sized, sizes) if a.first <= s <= a.last))
        live_peak = max(live_peak, sum(raw[v] for v in tensors
                                       if lv.interval(v)[0] <= s <= lv.interval(v)[1]))
    return MemoryPlan(arena_bytes=arena, buffers=buffers,
                      steps=[lv.step_label(s) for s in range(nsteps)], alignment=alignment,
                      inplace_of={ids[r]: ids[u] for r, u in inplace_v.items() if r in planned},
                      dims=dims, lower_bound_bytes=lower, live_tensor_peak_bytes=live_peak,
                      no_reuse_bytes=sum(raw[v] for v in tensors), unplanned=unplanned,
                      func=str(func.attributes.get("sym_name", "main")),
                      view_of={ids[r]: ids[u] for r, u in view_v.items() if r in planned})


def arena_plan(func: Operation, value_ids: Mapping[Value, int], skip: Any = (),
               dims: Optional[Mapping[str, int]] = None,
               alias_ops: Optional[frozenset] = None) -> ArenaPlan:
    """The plan that a compiled function carries: for each variant that `plan_memory` weighs
    (concats written over their first operand or not), the allocation groups of `allocations`
    as buffer ids (`value_ids`; a group with a buffer in `skip`, e.g. one sized inside a loop,
    is left out), their lifetimes, and their layout for `dims` when every group's size is known
    (always for a static function). The runtime picks the variant as `plan_memory` does."""
    lv = Liveness(func)
    dims = dict(dims or {})
    skip = set(skip)
    variants = []
    for prefix in (True, False):
        allocs, _, _, view_v, _ = allocations(lv, alias_ops=alias_ops, prefix=prefix)
        kept = [a for a in allocs if all(v in value_ids and value_ids[v] not in skip
                                         for v in a.values)]
        groups = tuple(tuple(dict.fromkeys(value_ids[v] for v in a.values)) for a in kept)
        lives = tuple((a.first, a.last) for a in kept)
        sizes = []
        for a in kept:
            ns = [value_bytes(v.type, dims) for v in a.values if v not in view_v]
            sizes.append(None if any(x is None for x in ns) else max(ns))  # type: ignore
        if any(n is None for n in sizes):
            variants.append(Variant(groups, lives))
            continue
        aligned = tuple(align(int(n or 0)) for n in sizes)
        arena, offsets = pack(aligned, lives)
        variants.append(Variant(groups, lives, aligned, tuple(offsets), arena))
    if variants[0].groups == variants[1].groups:
        variants.pop()
    return ArenaPlan(tuple(variants), dims)


def _symbols(t: Type) -> str:
    shape = t.shape if isinstance(t, TensorType) else None
    return ",".join(f"{d}=8" for d in (shape or ()) if isinstance(d, str))


def verify_plan(plan: MemoryPlan) -> None:
    """Raise PlanError unless every buffer fits the arena, is aligned, and no two buffers live
    at the same step share a byte (except a value and the one written in place of it, at the
    step where one dies and the other is born, at the same offset; and a view and its source,
    which are one tensor, at the same offset)."""
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
    for k, src in list(plan.inplace_of.items()) + list(plan.view_of.items()):
        if k not in plan.buffers or src not in plan.buffers:
            raise PlanError(f"pair {k} <- {src} names a buffer that is not planned")
    items.sort(key=lambda kv: kv[1].first_step)
    for i, (k1, b1) in enumerate(items):
        for k2, b2 in items[i + 1:]:
            if b2.first_step > b1.last_step:
                break
            if b1.offset + b1.size <= b2.offset or b2.offset + b2.size <= b1.offset:
                continue
            if b1.size == 0 or b2.size == 0:
                continue
            if _inplace_pair(plan, k1, b1, k2, b2) or (
                    b1.offset == b2.offset and _view_root(plan, k1) == _view_root(plan, k2)):
                continue
            raise PlanError(f"buffers {k1} (steps {b1.first_step}-{b1.last_step}, bytes "
                            f"{b1.offset}-{b1.offset + b1.size}) and {k2} (steps "
                            f"{b2.first_step}-{b2.last_step}, bytes {b2.offset}-"
                            f"{b2.offset + b2.size}) overlap while both are live")


def _view_root(plan: MemoryPlan, k: str) -> str:
    seen = set()
    while k in plan.view_of and k not in seen:
        seen.add(k)
        k = plan.view_of[k]
    return k


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
        from mlir_lite.ir.dialects.builtin import ModuleOp
        f = module.lookup(self.func) if isinstance(module, ModuleOp) else module
        if f is None:
            raise PlanError(f"no function @{self.func} to plan")
        plan = plan_memory(f, parse_dims(self.dims), include_outputs=self.include_outputs)
        verify_plan(plan)
        ctx.stats[self.name] = plan
        sys.stderr.write(plan.to_json() + "\n" if self.json else
                         f"// memory plan @{self.func}: {plan.summary()}\n")
        return False
