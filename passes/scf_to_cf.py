"""`scf-to-cf`: structured control flow to TensorFlow-style dataflow (switch / merge / frames).

    %r = "scf.if"(%p) ({ %a = "ml.add"(%x, %z) ; "scf.yield"(%a) },
                       { %b = "ml.mul"(%y, %y) ; "scf.yield"(%b) })
  ->
    %xf, %xt = "cf.switch"(%x, %p)        %zf, %zt = "cf.switch"(%z, %p)
    %a = "ml.add"(%xt, %zt)
    %yf, %yt = "cf.switch"(%y, %p)
    %b = "ml.mul"(%yf, %yf)
    %r, %i = "cf.merge"(%a, %b)

Every value a branch uses but does not compute (a captured value, or a branch-local constant)
flows through a `cf.switch` on the predicate, so the untaken branch is dead; the results are
`cf.merge`d. Loops become TensorFlow's dataflow loops (frame `loopN`):

    for each carried value c:   %e = cf.enter(c)   %s, %tok = cf.next_iteration_source()
                                %m = cf.merge(%e, %s)
    %lc = cf.loop_cond(<condition on the merged values>)
    for each value v going on:  %f, %t = cf.switch(v, %lc)      %r = cf.exit(%f)
    <body on the %t values>     cf.next_iteration_sink(%tok, <next value of c>)

`scf.for` carries its induction variable (condition `iv < ub`, next `iv + step`); `scf.while`
runs its before-region on the merged values (its `scf.condition` gives the predicate and the
switched values) and its after-region on the switch outputs. Loop invariants enter the frame
with `cf.enter {is_constant = 1}`; those the body uses are switched on the loop condition too,
so that every body value is dead in the last iteration. Scan outputs become carried
accumulators, `concat(acc, unsqueeze(elem))` from an empty tensor (element shapes must be
static). Nested ops are lowered innermost first, with the greedy pattern driver.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Set

import numpy as np

from mlir_lite.errors import CompileError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.cf import TOKEN
from mlir_lite.ir.types import TensorType, i32

from .manager import PassContext
from .registry import function_pass
from .rewrite import Decline, PatternRewriter, apply_patterns_greedily, pattern

__all__ = ["scf_to_cf", "scf_to_cf_patterns"]

_SCF = ("scf.if", "scf.for", "scf.while")
_MERGE_INDEX = TensorType(i32, ())


def _has_nested_scf(op: Operation) -> bool:
    return any(o is not op and o.name in _SCF for o in op.walk())


class _Tie:
    """Makes the ops moved out of a region depend on it: operands that are not already
    dependent are replaced by `wrap(v)` (a switch output, or an entered value)."""

    def __init__(self, rw: PatternRewriter, dep: Set[Value], wrap: Any) -> None:
        self.rw = rw
        self.dep = dep
        self.wrap = wrap
        self.cache: Dict[Value, Value] = {}

    def value(self, v: Value, anchor: Operation) -> Value:
        if v in self.dep:
            return v
        got = self.cache.get(v)
        if got is None:
            got = self.cache[v] = self.wrap(v, anchor)
            self.dep.add(got)
        return got

    def ops(self, ops: List[Operation]) -> None:
        for m in ops:
            if m.name == "cf.next_iteration_source":
                self.dep.update(m.results)
                continue
            for i, v in enumerate(m.operands):
                w = self.value(v, m)
                if w is not v:
                    self.rw.set_operand(m, i, w)
            if m.operands:
                self.dep.update(m.results)


def _move(rw: PatternRewriter, op: Operation, region: int, args: List[Value]
          ) -> "tuple[List[Operation], Operation]":
    block = op.regions[region].blocks[0]
    moved = list(block.ops)
    term = rw.inline_block_before(block, op, args)
    assert term is not None
    return moved[:-1], term


def _lower_if(op: Operation, rw: PatternRewriter) -> Any:
    if _has_nested_scf(op):
        return Decline("lowering nested scf ops first")
    pred = op.operands[0]
    picked: List[List[Value]] = []
    for region, side in ((0, 1), (1, 0)):
        def wrap(v: Value, anchor: Operation, side: int = side) -> Value:
            return rw.create_before(anchor, "cf.switch", [v, pred]).results[side]
        tie = _Tie(rw, set(), wrap)
        moved, term = _move(rw, op, region, [])
        tie.ops(moved)
        picked.append([tie.value(v, op) for v in term.operands])
        rw.erase_op(term)
    merged = [rw.create_before(op, "cf.merge", [a, b], result_types=[r.type, _MERGE_INDEX])
              .results[0] for a, b, r in zip(picked[0], picked[1], op.results)]
    rw.replace_op(op, merged)
    return True


class _Loop:
    """The frame of one loop being built before `op`."""

    def __init__(self, rw: PatternRewriter, op: Operation, frame: str) -> None:
        self.rw, self.op, self.frame = rw, op, frame
        self.tokens: List[Value] = []
        self.entered: Dict[Value, Value] = {}

    def carry(self, inits: List[Value], types: List[Any]) -> List[Value]:
        rw, op, fr = self.rw, self.op, {"frame_name": self.frame}
        merged: List[Value] = []
        for v, t in zip(inits, types):
            e = rw.create_before(op, "cf.enter", [v], dict(fr), result_types=[t]).results[0]
            s = rw.create_before(op, "cf.next_iteration_source", [], dict(fr),
                                 result_types=[t, TOKEN])
            self.tokens.append(s.results[1])
            merged.append(rw.create_before(op, "cf.merge", [e, s.results[0]],
                                           result_types=[t, _MERGE_INDEX]).results[0])
        return merged

    def enter_const(self, v: Value, anchor: Operation) -> Value:
        got = self.entered.get(v)
        if got is None:
            got = self.entered[v] = self.rw.create_before(
                anchor, "cf.enter", [v], {"frame_name": self.frame, "is_constant": 1},
                result_types=[v.type]).results[0]
        return got

    def body_tie(self, lc: Value, dep: Set[Value]) -> _Tie:
        def wrap(v: Value, anchor: Operation) -> Value:
            e = self.enter_const(v, anchor)
            return self.rw.create_before(anchor, "cf.switch", [e, lc]).results[1]
        return _Tie(self.rw, dep, wrap)

    def switch_exit(self, values: List[Value], lc: Value, types: List[Any]) -> List[Value]:
        """Switch `values` on the loop condition; returns the true sides, replaces nothing."""
        trues: List[Value] = []
        self.exits = []
        for v, t in zip(values, types):
            sw = self.rw.create_before(self.op, "cf.switch", [v, lc])
            trues.append(sw.results[1])
            self.exits.append(self.rw.create_before(self.op, "cf.exit", [sw.results[0]],
                                                    result_types=[t]).results[0])
        return trues

    def sinks(self, values: List[Value]) -> None:
        for tok, v in zip(self.tokens, values):
            self.rw.create_before(self.op, "cf.next_iteration_sink", [tok, v], result_types=[])


def _scan_types(op: Operation, elems: List[Value]) -> List[TensorType]:
    out = []
    for v in elems:
        t = v.type
        if not (isinstance(t, TensorType) and t.is_static):
            raise CompileError(f"{op.name}: scf-to-cf needs static shapes for scan elements, "
                               f"got {t}", op.loc)
        out.append(TensorType(t.element, (None,) + t.dims))
    return out


def _scan_inits(rw: PatternRewriter, op: Operation, types: List[TensorType]) -> List[Value]:
    return [rw.materialize_constant(op, DenseAttr(np.zeros((0,) + tuple(t.dims[1:]),
                                                           t.element.np_dtype)))
            for t in types]


def _append(rw: PatternRewriter, anchor: Operation, acc: Value, elem: Value) -> Value:
    one = rw.create_before(anchor, "ml.unsqueeze", [elem], {"axes": (0,)}).results[0]
    return rw.create_before(anchor, "ml.concat", [acc, one], {"axis": 0},
                            result_types=[acc.type]).results[0]


def _lower_for(op: Operation, rw: PatternRewriter, frame: str) -> Any:
    lb, ub, step = op.operands[:3]
    inits = list(op.operands[3:])
    n = len(inits)
    body = op.regions[0].blocks[0]
    term = body.last_op
    assert term is not None  # verified: the body ends with its yield
    elems = list(term.operands[n:])
    scan_t = _scan_types(op, elems)
    loop = _Loop(rw, op, frame)
    acc0 = _scan_inits(rw, op, scan_t)
    types = [lb.type] + [v.type for v in inits] + scan_t
    merged = loop.carry([lb] + inits + acc0, types)
    less = rw.create_before(op, "ml.less", [merged[0], loop.enter_const(ub, op)]).results[0]
    lc = rw.create_before(op, "cf.loop_cond", [less]).results[0]
    trues = loop.switch_exit(merged, lc, [lb.type] + [r.type for r in op.results])
    exits = loop.exits[1:]
    dep = set(trues)
    tie = loop.body_tie(lc, dep)
    moved, term = _move(rw, op, 0, trues[:1 + n])
    tie.ops(moved)
    ys = [tie.value(v, op) for v in term.operands]
    rw.erase_op(term)
    step_t = tie.value(step, op)
    nxt = rw.create_before(op, "ml.add", [trues[0], step_t]).results[0]
    accs = [_append(rw, op, a, e) for a, e in zip(trues[1 + n:], ys[n:])]
    loop.sinks([nxt] + ys[:n] + accs)
    rw.replace_op(op, exits)
    return True


def _lower_while(op: Operation, rw: PatternRewriter, frame: str) -> Any:
    inits = list(op.operands)
    n = len(inits)
    after = op.regions[1].blocks[0]
    term = after.last_op
    assert term is not None  # verified: the body ends with its yield
    elems = list(term.operands[n:])
    scan_t = _scan_types(op, elems)
    loop = _Loop(rw, op, frame)
    acc0 = _scan_inits(rw, op, scan_t)
    merged = loop.carry(inits + acc0, [v.type for v in inits] + scan_t)
    before_tie = _Tie(rw, set(merged), loop.enter_const)
    moved, cond = _move(rw, op, 0, merged[:n])
    before_tie.ops(moved)
    vals = [before_tie.value(v, op) for v in cond.operands]
    rw.erase_op(cond)
    lc = rw.create_before(op, "cf.loop_cond", [vals[0]]).results[0]
    fwd = vals[1:]
    trues = loop.switch_exit(fwd + merged[n:], lc, [r.type for r in op.results])
    tie = loop.body_tie(lc, set(trues))
    moved, term = _move(rw, op, 1, trues[:len(fwd)])
    tie.ops(moved)
    ys = [tie.value(v, op) for v in term.operands]
    rw.erase_op(term)
    accs = [_append(rw, op, a, e) for a, e in zip(trues[len(fwd):], ys[n:])]
    loop.sinks(ys[:n] + accs)
    rw.replace_op(op, loop.exits)
    return True


def scf_to_cf_patterns(module: Optional[Operation] = None) -> list:
    """The lowering patterns; frame names avoid those already in `module`."""
    taken = set()
    if module is not None:
        taken = {o.attributes.get("frame_name") for o in module.walk()
                 if o.name.startswith("cf.")}
    counter = itertools.count()

    def fresh() -> str:
        while True:
            name = f"loop{next(counter)}"
            if name not in taken:
                return name

    @pattern("scf.if")
    def lower_if(op: Operation, rw: PatternRewriter) -> Any:
        return _lower_if(op, rw)

    @pattern("scf.for", "scf.while")
    def lower_loop(op: Operation, rw: PatternRewriter) -> Any:
        if _has_nested_scf(op):
            return Decline("lowering nested scf ops first")
        if op.name == "scf.for":
            return _lower_for(op, rw, fresh())
        return _lower_while(op, rw, fresh())

    return [lower_if, lower_loop]


@function_pass("scf-to-cf", summary="lower scf.if/for/while to cf switch/merge dataflow")
def scf_to_cf(module: Operation, ctx: PassContext) -> bool:
    """Lower structured control flow to TensorFlow-style dataflow control flow."""
    before = sum(1 for o in module.walk() if o.name in _SCF)
    if not before:
        return False
    apply_patterns_greedily(module, scf_to_cf_patterns(module), max_iterations=1000,
                            fold=False, erase_dead=False)
    left = [o for o in module.walk() if o.name in _SCF]
    if left:
        raise CompileError(f"scf-to-cf left {len(left)} {left[0].name} op(s) unlowered",
                           left[0].loc)
    return True
