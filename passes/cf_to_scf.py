"""`cf-to-scf`: raise TensorFlow-style switch/merge dataflow back to structured control flow.

    %xf, %xt = "cf.switch"(%x, %p)        %yf, %yt = "cf.switch"(%y, %p)
    %a = "ml.add"(%xt, %xt)               %b = "ml.neg"(%yf)
    %r, %i = "cf.merge"(%a, %b)
  ->
    %r = "scf.if"(%p) ({ %a = "ml.add"(%x, %x) ; "scf.yield"(%a) },
                       { %b = "ml.neg"(%y) ; "scf.yield"(%b) })

Conditionals: every value is tagged with the (predicate, side) pairs of the switch outputs it
depends on (a merge whose two inputs sit on opposite sides of a predicate clears that
predicate's tags). The merges joining the two sides of predicate `p` become the results of one
`scf.if(p)`; the ops tagged (p, true) go to its then-region, those tagged (p, false) to its
else-region, with switch outputs replaced by the switched data. This is the shape of TF1 `cond`
graphs and of what `scf-to-cf` emits.

Loops (one frame: enters, merge(enter, next_iteration_source), loop_cond, switches on it, exits,
next_iteration_sinks) become `scf.while`: the before-region computes the predicate and the
switched values from the merged (carried) values, the after-region is the rest of the frame on
the switches' true outputs and yields what the sinks receive; exits become the results.
Constant enters become captured values. Loops are raised innermost first, before conditionals.
Counted loops stay `scf.while` (an `scf.for` lowered by scf-to-cf comes back as a while with its
induction variable carried, and scan outputs as carried `concat` accumulators): the same
values, not the same text. Anything else is left as it is, with the reason in the pattern
debug record.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.interpreter.cf_loops import frames_of_block, used_values

from .manager import PassContext
from .registry import function_pass
from .rewrite import Decline, PatternRewriter, apply_patterns_greedily, pattern

__all__ = ["cf_to_scf", "raise_loop", "raise_cond"]

Tag = Tuple[Value, int]


def _top(op: Optional[Operation], block: Block) -> Optional[Operation]:
    """The ancestor of `op` (or `op`) that sits in `block`."""
    while op is not None and op.parent is not block:
        op = op.parent_op
    return op


def _users_in(v: Value, block: Block) -> List[Operation]:
    out = []
    for u in v.uses:
        t = _top(u.owner, block)
        if t is not None:
            out.append(t)
    return out


def _place(rw: PatternRewriter, block: Block, members: Set[Operation], outs: Sequence[Value],
           new: Operation) -> bool:
    """Insert `new` after every producer of an outside value the members use and before every
    user of `outs`; False when no such point exists."""
    ops = list(block.ops)
    index = {o: i for i, o in enumerate(ops)}
    last_dep = -1
    for m in members:
        for v in used_values(m):
            p = v.owner if isinstance(v.owner, Operation) else None
            if p is not None and p in index and p not in members:
                last_dep = max(last_dep, index[p])
    first_use = len(ops) - 1  # the terminator
    for v in outs:
        for u in _users_in(v, block):
            if u not in members:
                first_use = min(first_use, index[u])
    if last_dep >= first_use:
        return False
    rw.insert_before(ops[first_use], new)
    return True


def _erase(rw: PatternRewriter, block: Block, members: Set[Operation]) -> None:
    for op in reversed(list(block.ops)):
        if op in members:
            rw.erase_op(op)


def _clone_into(block: Block, ops: List[Operation], mapping: Dict[Value, Value]) -> None:
    for op in ops:
        block.append(op.clone(mapping))


def _region(types: List[Any]) -> Tuple[Region, Block]:
    blk = Block(types)
    return Region([blk]), blk


# -- loops --------------------------------------------------------------------------------------
def raise_loop(lc: Operation, rw: PatternRewriter) -> Any:
    block = lc.block
    info = frames_of_block(block)
    fr = info.op_frame.get(lc)
    if fr is None:
        return Decline("cf.loop_cond outside any frame")
    if any(p == fr for p in info.parent.values()):
        return Decline("an inner loop is raised first")
    members = {op for op, f in info.op_frame.items() if f == fr}
    lcv = lc.results[0]
    carried: List[Tuple[Operation, Operation, Operation]] = []  # enter, source, merge
    consts: Dict[Value, Value] = {}
    for op in block.ops:
        if op not in members:
            continue
        if op.name == "cf.enter":
            if op.attributes.get("is_constant"):
                consts[op.results[0]] = op.operands[0]
                continue
            ms = [u.owner for u in op.results[0].uses if u.owner.name == "cf.merge"]
            if len(ms) != 1 or len(ms[0].operands) != 2:
                return Decline("a loop enter must feed one two-input cf.merge")
            m = ms[0]
            src = m.operands[1 - list(m.operands).index(op.results[0])].owner
            if not isinstance(src, Operation) or src.name != "cf.next_iteration_source":
                return Decline("a loop merge must join an enter and a next-iteration source")
            if m.results[1].has_uses():
                return Decline("the merge index of a loop variable is used")
            carried.append((op, src, m))
    sinks: Dict[Operation, Value] = {}
    for op in members:
        if op.name == "cf.next_iteration_sink":
            sinks[op.operands[0].owner] = op.operands[1]
    if len(sinks) != len(carried) or any(s not in sinks for _, s, _ in carried):
        return Decline("every loop variable needs exactly one next-iteration sink")
    switches = [op for op in block.ops if op in members and op.name == "cf.switch"
                and op.operands[1] is lcv]
    fwd_sw = [s for s in switches if s.operands[0] not in consts]
    const_sw = [s for s in switches if s.operands[0] in consts]
    if any(s.results[0].has_uses() for s in const_sw):
        return Decline("the exit side of a switched loop invariant is used")
    exits: Dict[Operation, Operation] = {}
    for op in members:
        if op.name == "cf.exit":
            src = op.operands[0].owner
            if src not in fwd_sw or op.operands[0] is not src.results[0]:
                return Decline("a cf.exit must take the false side of a switch on the loop "
                               "condition")
            exits[src] = op
    for s in fwd_sw:
        if any(u.owner is not exits.get(s) for u in s.results[0].uses):
            return Decline("the false side of a loop switch feeds something else than a cf.exit")
    merged = {m.results[0]: i for i, (_, _, m) in enumerate(carried)}
    # the before set: what the predicate and the switched values are computed from
    before: Set[Operation] = set()
    stack = [lc.operands[0]] + [s.operands[0] for s in fwd_sw]
    while stack:
        v = stack.pop()
        p = v.owner
        if not isinstance(p, Operation) or p not in members or p in before:
            continue
        if p.name in ("cf.merge", "cf.enter") and (v in merged or v in consts):
            continue
        if p.name in ("cf.switch", "cf.exit", "cf.next_iteration_sink",
                      "cf.next_iteration_source", "cf.loop_cond"):
            return Decline(f"the loop condition depends on a {p.name}")
        before.add(p)
        stack.extend(used_values(p))
    frame_ops = {o for t in carried for o in t} | set(switches) | set(exits.values()) | {lc}
    frame_ops |= {op for op in members if op.name == "cf.next_iteration_sink"}
    frame_ops |= {op for op in members if op.name == "cf.enter"}
    after = [op for op in block.ops if op in members and op not in before
             and op not in frame_ops]
    true_of = {s.results[1]: k for k, s in enumerate(fwd_sw)}
    const_true: Dict[Value, Value] = {s.results[1]: consts[s.operands[0]] for s in const_sw}
    for op in after:
        for v in used_values(op):
            if (v in merged or (isinstance(v.owner, Operation) and v.owner in before)):
                return Decline("the loop body uses a loop value that is not switched")
    ordered_before = [op for op in block.ops if op in before]
    res_types = [exits[s].results[0].type if s in exits else s.operands[0].type for s in fwd_sw]
    b_region, b_block = _region([m.results[0].type for _, _, m in carried])
    a_region, a_block = _region([s.results[1].type for s in fwd_sw])
    mp: Dict[Value, Value] = dict(consts)
    mp.update({m.results[0]: b_block.args[i] for i, (_, _, m) in enumerate(carried)})
    _clone_into(b_block, ordered_before, mp)
    b_block.append(Operation.create("scf.condition", [mp.get(lc.operands[0], lc.operands[0])] +
                                    [mp.get(s.operands[0], s.operands[0]) for s in fwd_sw], []))
    ma: Dict[Value, Value] = dict(consts)
    ma.update(const_true)
    ma.update({v: a_block.args[k] for v, k in true_of.items()})
    _clone_into(a_block, after, ma)
    a_block.append(Operation.create("scf.yield", [ma.get(sinks[s], sinks[s])
                                                  for _, s, _ in carried], []))
    loop = Operation.create("scf.while", [], res_types, {}, [b_region, a_region], loc=lc.loc)
    outs = [exits[s].results[0] for s in fwd_sw if s in exits]
    if not _place(rw, block, members, outs, loop):
        return Decline("no point of the block can hold the raised loop")
    inits: List[Value] = []
    for e, _, m in carried:
        v = e.operands[0]
        if v.type != m.results[0].type:  # e.g. an empty scan accumulator entering as tensor<?x..>
            v = rw.create_before(loop, "ml.identity", [v], result_types=[m.results[0].type]
                                 ).results[0]
        inits.append(v)
    loop.set_operands(inits)
    for k, s in enumerate(fwd_sw):
        if s in exits:
            rw.replace_all_uses_with(exits[s].results[0], loop.results[k])
    _erase(rw, block, members)
    return True


# -- conditionals --------------------------------------------------------------------------------
def _tags(block: Block) -> Dict[Value, FrozenSet[Tag]]:
    tags: Dict[Value, FrozenSet[Tag]] = {}
    for op in block.ops:
        if op.name == "cf.switch":
            base = tags.get(op.operands[0], frozenset())
            p = op.operands[1]
            tags[op.results[0]] = base | {(p, 0)}
            tags[op.results[1]] = base | {(p, 1)}
            continue
        ins = [tags.get(v, frozenset()) for v in used_values(op)]
        if op.name == "cf.merge" and len(ins) == 2:
            joined = {p for (p, s) in ins[0] if (p, 1 - s) in ins[1] and (p, s) not in ins[1]}
            t = frozenset(x for x in ins[0] | ins[1] if x[0] not in joined)
        else:
            t = frozenset().union(*ins) if ins else frozenset()
        for r in op.results:
            tags[r] = t
    return tags


def _split_pred(m: Operation, tags: Dict[Value, FrozenSet[Tag]]) -> Optional[Tuple[Value, int]]:
    a, b = (tags.get(v, frozenset()) for v in m.operands)
    for (p, s) in a:
        if (p, 1 - s) in b and (p, s) not in b and (p, 1 - s) not in a:
            return p, s
    return None


def _cone(m: Operation, p: Value, cands: Set[Operation], tags: Dict[Value, FrozenSet[Tag]]
          ) -> Optional[Set[Operation]]:
    """The ops between the switches on `p` and merge `m` (switches included); None when an
    other merge on `p` is among them (a conditional that comes first)."""
    block = m.block
    cone: Set[Operation] = set()
    stack = list(m.operands)
    while stack:
        v = stack.pop()
        if not any(t[0] is p for t in tags.get(v, frozenset())):
            continue
        op = v.owner if isinstance(v.owner, Operation) else None
        op = None if op is None else _top(op, block)
        if op is None or op in cone:
            continue
        if op in cands:
            return None
        cone.add(op)
        if op.name == "cf.switch" and op.operands[1] is p:
            continue
        stack.extend(used_values(op))
    return cone


def raise_cond(m: Operation, rw: PatternRewriter) -> Any:
    if len(m.operands) != 2:
        return Decline("only two-input merges are raised")
    block = m.block
    if any(isinstance(v.owner, Operation) and v.owner.name in ("cf.enter",
                                                                 "cf.next_iteration_source")
           for v in m.operands):
        return Decline("a loop merge (raise loops first)")
    tags = _tags(block)
    got = _split_pred(m, tags)
    if got is None:
        return Decline("the inputs are not on opposite sides of one switch predicate")
    p, _ = got
    if isinstance(p.owner, Operation) and p.owner.name == "cf.loop_cond":
        return Decline("switches on a loop condition belong to the loop")
    cands = [op for op in block.ops if op.name == "cf.merge" and len(op.operands) == 2
             and (_split_pred(op, tags) or (None,))[0] is p]
    cset = set(cands)
    up: Dict[Value, FrozenSet[Operation]] = {}
    for op in block.ops:
        ins = frozenset().union(*(up.get(v, frozenset()) for v in used_values(op)))
        for r in op.results:
            up[r] = ins | ({op} if op in cset else frozenset())
    cones = {c: (None if any(up.get(v, frozenset()) for v in c.operands)
                 else _cone(c, p, cset, tags)) for c in cands}
    if cones[m] is None:
        return Decline("an earlier conditional on the same predicate is raised first")
    group = [c for c in cands if cones[c] is not None]
    if any(g.results[1].has_uses() for g in group):
        return Decline("the merge index is used")
    gset = set(group)
    cone: Set[Operation] = set().union(*(cones[g] or () for g in group))
    sides: Dict[int, List[Operation]] = {0: [], 1: []}
    switches = []
    for op in block.ops:
        if op.name == "cf.switch" and op.operands[1] is p and op in cone:
            switches.append(op)
            continue
        if op not in cone or op in gset:
            continue
        t: FrozenSet[Tag] = frozenset().union(*(tags.get(r, frozenset()) for r in op.results)) \
            if op.results else frozenset().union(*(tags.get(v, frozenset())
                                                    for v in used_values(op)))
        on = [s for s in (0, 1) if (p, s) in t]
        if len(on) == 2:
            return Decline(f"{op.name} depends on both sides of the predicate")
        if on:
            sides[on[0]].append(op)
    members = set(sides[0]) | set(sides[1]) | gset
    for op in sides[0] + sides[1]:
        for r in op.results:
            if any(u not in members for u in _users_in(r, block)):
                return Decline(f"a value of one branch ({op.name}) is used after the merge "
                               "without going through it")
    for s in switches:
        for k in (0, 1):
            if any(u not in members for u in _users_in(s.results[k], block)):
                return Decline("a switch output is used outside the conditional")
    regions = []
    for side in (1, 0):
        region, blk = _region([])
        mp: Dict[Value, Value] = {s.results[side]: s.operands[0] for s in switches}
        _clone_into(blk, sides[side], mp)
        ys = []
        for g in group:
            v = next((x for x in g.operands if (p, side) in tags.get(x, frozenset())), None)
            if v is None:
                return Decline("a merge input is on neither side")
            ys.append(mp.get(v, v))
        blk.append(Operation.create("scf.yield", ys, []))
        regions.append(region)
    new = Operation.create("scf.if", [p], [g.results[0].type for g in group], {}, regions,
                           loc=m.loc)
    if not _place(rw, block, members | set(switches), [g.results[0] for g in group], new):
        return Decline("no point of the block can hold the raised conditional")
    for g, r in zip(group, new.results):
        rw.replace_all_uses_with(g.results[0], r)
    _erase(rw, block, members)
    for s in switches:
        if not any(r.has_uses() for r in s.results):
            rw.erase_op(s)
    return True


@function_pass("cf-to-scf", summary="raise cf switch/merge dataflow to scf.if/scf.while")
def cf_to_scf(module: Operation, ctx: PassContext) -> bool:
    """Raise dataflow control flow (loops first, innermost first; then conditionals)."""
    loops = pattern("cf.loop_cond", name="raise-loop")(raise_loop)
    conds = pattern("cf.merge", name="raise-cond")(raise_cond)
    r1 = apply_patterns_greedily(module, [loops], max_iterations=1000, fold=False,
                                 erase_dead=False)
    r2 = apply_patterns_greedily(module, [conds], max_iterations=1000, fold=False,
                                 erase_dead=False)
    return bool(r1.changed or r2.changed)
