"""VJP rules of structured control flow: `scf.if` and `scf.for`.

scf.if: the backward code is an `scf.if` on the same condition whose branches recompute their
forward branch and differentiate it; it yields the cotangents of the values the branches capture.

scf.for: the forward loop also scans the carried values each iteration starts from; a second
loop runs the iterations in reverse (j = T-1 ... 0, T the trip count computed from the bounds),
recomputes iteration j from its recorded carried values, differentiates it, and carries the
cotangents of the carried values and of the captured values.

    %r = scf.for %i = lb to ub step s iter(%c = %x) { ... yield %c2 }
  ->
    %r, %cs = scf.for ... iter(%c = %x) { ... yield %c2, %c }          // %cs: the c_j
    %dx = scf.for %k = 0 to T iter(%dc = %dr) { j = T-1-k; c = %cs[j]; recompute; yield dc' }
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set

from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.types import TensorType, Type

from .context import VJPContext, is_float_type
from .table import vjp

__all__ = ["free_values"]

Cots = Sequence[Optional[Value]]


def free_values(op: Operation) -> List[Value]:
    """The values that `op`'s regions use but do not define, in first-use order."""
    defined: Set[Value] = set()
    used: Dict[Value, None] = {}
    for region in op.regions:
        for block in region.blocks:
            for inner in _walk_block(block):
                if isinstance(inner, Block):
                    defined.update(inner.args)
                    continue
                for v in inner.operands:
                    used.setdefault(v, None)
                defined.update(inner.results)
    return [v for v in used if v not in defined]


def _walk_block(block: Block):
    yield block
    for op in block.ops:
        yield op
        for region in op.regions:
            for b in region.blocks:
                yield from _walk_block(b)


def _clone_body(dst: Block, src: Block, mapping: Dict[Value, Value]) -> List[Value]:
    """Clone the ops of `src` (its terminator left out) into `dst`; returns what the terminator
    yields, mapped."""
    for o in src.ops:
        if o.has_trait("Terminator"):
            return [mapping.get(v, v) for v in o.operands]
        dst.append(o.clone(mapping))
    return []


@vjp("scf.if")
def _if(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    free = [v for v in free_values(op) if ctx.wants(v)]
    if not free:
        return [None]
    back = ctx.create("scf.if", [op.operands[0]], result_types=[v.type for v in free],
                      regions=[Region([Block()]), Region([Block()])])
    for fwd, bwd in zip(op.regions, back.regions):
        block = bwd.blocks[0]
        yielded = _clone_body(block, fwd.blocks[0], {})
        seeds = [(y, c) for y, c in zip(yielded, cots) if c is not None and is_float_type(y.type)]
        grads, sub = ctx.backprop(block, seeds, ctx.active)
        outs = [sub.refine(grads[v], v.type) if v in grads else sub.zeros_like(v) for v in free]
        sub.emit("scf.yield", *outs)
    for v, r in zip(free, back.results):
        ctx.accumulate(v, r)
    return [None]


def _stacked(t: Type) -> Type:
    if isinstance(t, TensorType) and t.shape is not None:
        return TensorType(t.element, (None,) + t.shape)
    return t


def _record_carried(op: Operation) -> Operation:
    """Rebuild forward loop `op` so that it also scans the carried values each iteration
    starts from (as its last scan outputs); `op` is replaced and erased."""
    body = op.regions[0].blocks[0]
    carried = body.args[1:]
    term = body.last_op
    assert term is not None  # verified: the body ends with its yield
    term.set_operands(list(term.operands) + list(carried))
    attrs = dict(op.attributes)
    attrs["num_scan_outputs"] = op.attributes.get("num_scan_outputs", 0) + len(carried)
    new = Operation.create("scf.for", list(op.operands),
                           [r.type for r in op.results] + [_stacked(a.type) for a in carried],
                           attrs, loc=op.loc)
    regions = list(op.regions)
    op.regions = []
    for region in regions:
        region.parent = None
        new.add_region(region)
    op.block.insert_before(op, new)
    for old, repl in zip(op.results, new.results):
        repl.name_hint = old.name_hint
        old.replace_all_uses_with(repl)
    op.erase()
    return new


@vjp("scf.for")
def _for(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    n_c = op.num_operands - 3
    n_s = op.attributes.get("num_scan_outputs", 0)
    lb, ub, step = op.operands[:3]
    inits = list(op.operands[3:])
    free = [v for v in free_values(op) if ctx.wants(v)]
    floats = [k for k in range(n_c) if is_float_type(inits[k].type)]
    fwd = _record_carried(op)
    body = fwd.regions[0].blocks[0]
    stacks = fwd.results[n_c + n_s:]

    one = ctx.scalar(1, lb)
    trips = ctx.div(ctx.sub(ctx.add(ub, step), ctx.add(lb, one)), step)
    trips = ctx.emit("ml.max", trips, ctx.scalar(0, lb))

    init_cts = []
    for k in floats:
        ck = cots[k]
        c = ck if ck is not None else ctx.zeros_like(fwd.results[k])
        init_cts.append(ctx.refine(c, inits[k].type))
    init_accs = [ctx.zeros_like(v) for v in free]
    carried_types = [inits[k].type for k in floats] + [v.type for v in free]
    rev = ctx.create("scf.for", [ctx.scalar(0, lb), trips, one] + init_cts + init_accs,
                     result_types=carried_types,
                     regions=[Region([Block([body.args[0].type] + carried_types)])])
    rb = rev.regions[0].blocks[0]
    sub = ctx.at(rb)
    k_arg, ct_args, acc_args = rb.args[0], rb.args[1:1 + len(floats)], rb.args[1 + len(floats):]
    j = sub.sub(sub.sub(trips, one), k_arg)
    iv = sub.refine(sub.add(lb, sub.mul(j, step)), body.args[0].type)
    mapping: Dict[Value, Value] = {body.args[0]: iv}
    for k in range(n_c):
        cj = sub.emit("ml.gather", stacks[k], j, axis=0)
        mapping[body.args[1 + k]] = sub.refine(cj, inits[k].type)
    yielded = _clone_body(rb, body, mapping)[:n_c + n_s]
    seeds = [(yielded[k], ct) for k, ct in zip(floats, ct_args)]
    for s in range(n_s):
        cs = cots[n_c + s]
        if cs is not None and is_float_type(yielded[n_c + s].type):
            seeds.append((yielded[n_c + s], sub.emit("ml.gather", cs, j, axis=0)))
    active = set(ctx.active) | {mapping[body.args[1 + k]] for k in floats}
    grads, sub = ctx.backprop(rb, seeds, active)
    outs = []
    for k in floats:
        cj = mapping[body.args[1 + k]]
        outs.append(sub.refine(grads[cj], inits[k].type) if cj in grads else sub.zeros_like(cj))
    for v, acc in zip(free, acc_args):
        outs.append(sub.refine(sub.add(acc, grads[v]), v.type) if v in grads else acc)
    sub.emit("scf.yield", *outs)

    for v, r in zip(free, rev.results[len(floats):]):
        ctx.accumulate(v, r)
    out: List[Optional[Value]] = [None] * (3 + n_c)
    for i, k in enumerate(floats):
        out[3 + k] = rev.results[i]
    return out
