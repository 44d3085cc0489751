"""The one rewrite mechanism: patterns, the rewriter, and the greedy worklist driver.

    @pattern("ml.neg")
    def double_neg(op, rewriter):          # neg(neg(x)) -> x
        inner = producer(op.operand(0), "ml.neg")
        if inner is None:
            return Decline("operand is not ml.neg")
        rewriter.replace_op(op, [inner.operand(0)])
        return True

    apply_patterns_greedily(module, [double_neg])

A pattern looks at an op and either rewrites it (returning True) or declines (returning False
or `Decline("why")`) *without touching the IR*. Every mutation goes through the
`PatternRewriter`, which tells the driver what changed so its worklist stays right. A pattern
that builds more than an op or two takes a builder from it, whose ops go in through it:

    b = rewriter.builder_before(op)                 # at op's location
    y = b.op("ml.relu", b.op("ml.add", x, c))
    rewriter.replace_op(op, [y])

Two drivers: `apply_patterns_greedily` (a worklist, to a fixed point) and
`walk_and_apply_patterns` (one walk in IR order, nothing revisited: for passes whose rewrites
must happen in block order, applying decisions taken beforehand by an analysis).

The driver also folds ops through their `FOLD` hook and erases dead pure ops. The fold contract:

    fold(op, const_operands: list[DenseAttr | None]) -> list[DenseAttr | Value] | None

`const_operands[i]` is the value of operand i when a `ConstantLike` op defines it, else None.
A fold returns None (no fold) or one replacement per result: an existing Value or a DenseAttr
(materialised as `ml.constant`), each of exactly the result's type. A fold never mutates IR.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from mlir_lite.ir.attributes import UNKNOWN_LOC, DenseAttr, Location
from mlir_lite.ir.builder import Builder, InsertionPoint
from mlir_lite.ir.core import OP_REGISTRY, Block, Operation, OpResult, Value
from mlir_lite.ir.opdef import types_compatible
from mlir_lite.ir.types import TensorType, Type

__all__ = ["Decline", "RewritePattern", "pattern", "PatternRewriter", "RewriteListener",
           "RewriterBuilder", "apply_patterns_greedily", "walk_and_apply_patterns",
           "GreedyResult", "PatternDebug", "PatternStats", "constant_value", "producer",
           "is_trivially_dead", "OpSpec"]

OpSpec = Union[str, type]


class Decline:
    """A pattern's "no", with the reason (falsy, so `if not result` works)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Decline({self.reason!r})"


MatchResult = Union[bool, Decline, None]


class RewritePattern:
    """Rewrites ops named in `roots` (None: any op). Higher `benefit` is tried first."""

    roots: Optional[Tuple[str, ...]] = None
    benefit: int = 1

    @property
    def name(self) -> str:
        return type(self).__name__

    def match_and_rewrite(self, op: Operation, rewriter: "PatternRewriter") -> MatchResult:
        raise NotImplementedError


class _FunctionPattern(RewritePattern):
    def __init__(self, fn: Callable[[Operation, "PatternRewriter"], MatchResult],
                 roots: Optional[Tuple[str, ...]], benefit: int, name: Optional[str]) -> None:
        self.fn = fn
        self.roots = roots
        self.benefit = benefit
        self._name = name or fn.__name__
        self.__doc__ = fn.__doc__

    @property
    def name(self) -> str:
        return self._name

    def match_and_rewrite(self, op: Operation, rewriter: "PatternRewriter") -> MatchResult:
        return self.fn(op, rewriter)

    def __call__(self, op: Operation, rewriter: "PatternRewriter") -> MatchResult:
        return self.fn(op, rewriter)

    def __repr__(self) -> str:
        return f"<pattern {self._name} on {', '.join(self.roots or ('*',))}>"


def pattern(*roots: str, benefit: int = 1,
            name: Optional[str] = None) -> Callable[[Callable], RewritePattern]:
    """Decorator: `def f(op, rewriter) -> True | False | Decline` becomes a pattern on `roots`
    (no roots: every op)."""
    def deco(fn: Callable) -> RewritePattern:
        return _FunctionPattern(fn, tuple(roots) or None, benefit, name)
    return deco


# -- helpers patterns use ----------------------------------------------------------------------
def constant_value(v: Value) -> Optional[DenseAttr]:
    """The DenseAttr of a value defined by a `ConstantLike` op, else None."""
    if isinstance(v, OpResult) and v.op.has_trait("ConstantLike"):
        a = v.op.attributes.get("value")
        return a if isinstance(a, DenseAttr) else None
    return None


def producer(v: Value, name: Optional[str] = None) -> Optional[Operation]:
    """The op defining `v` (only if it is named `name`, when given)."""
    if isinstance(v, OpResult) and (name is None or v.op.name == name):
        return v.op
    return None


def is_trivially_dead(op: Operation) -> bool:
    """A pure op none of whose results is used."""
    return op.has_trait("Pure") and not any(r.has_uses() for r in op.results)


def build_op(spec: OpSpec, operands: Sequence[Value] = (), attrs: Optional[Dict[str, Any]] = None,
             result_types: Optional[Sequence[Type]] = None,
             loc: Optional[Location] = None) -> Operation:
    """A new (unlinked) op from a class or a name; result types are inferred when not given."""
    klass = OP_REGISTRY.get(spec) if isinstance(spec, str) else spec
    kw: Dict[str, Any] = {} if loc is None else {"loc": loc}
    if klass is not None and hasattr(klass, "build"):
        return klass.build(list(operands), dict(attrs or {}), result_types, **kw)
    if result_types is None:
        raise ValueError(f"op {spec} is not registered; pass its result types")
    return Operation.create(spec if isinstance(spec, str) else klass.OP_NAME,  # type: ignore
                            list(operands), list(result_types), attrs, **kw)


# -- the rewriter ------------------------------------------------------------------------------
class RewriteListener:
    """What a driver hears from the rewriter."""

    def notify_op_inserted(self, op: Operation) -> None:
        pass

    def notify_op_modified(self, op: Operation) -> None:
        pass

    def notify_op_replaced(self, op: Operation, new_values: Sequence[Value]) -> None:
        pass

    def notify_op_erased(self, op: Operation) -> None:
        pass


class PatternRewriter:
    """All IR mutation done by patterns goes through here."""

    def __init__(self, listener: Optional[RewriteListener] = None) -> None:
        self.listener = listener or RewriteListener()
        self.num_changes = 0

    # -- creating -------------------------------------------------------------------------------
    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        anchor.block.insert_before(anchor, op)
        self.num_changes += 1
        self.listener.notify_op_inserted(op)
        return op

    def insert_at_end(self, block: Block, op: Operation) -> Operation:
        """Insert the (unlinked) `op` as the last op of `block`."""
        block.append(op)
        self.num_changes += 1
        self.listener.notify_op_inserted(op)
        return op

    def move_op_before(self, op: Operation, anchor: Operation) -> None:
        """Move `op` (already in the IR) just before `anchor`; the driver sees it re-inserted."""
        op.detach()
        self.insert_before(anchor, op)

    def move_op_to_end(self, op: Operation, block: Block) -> None:
        """Move `op` (already in the IR) to the end of `block`."""
        op.detach()
        self.insert_at_end(block, op)

    def builder_before(self, op: Operation, loc: Optional[Location] = None) -> "RewriterBuilder":
        """A `Builder` creating ops before `op` (at `op`'s location unless `loc` is given),
        each inserted through this rewriter."""
        if op.parent is None:
            raise ValueError(f"{op.name} is not in a block")
        return RewriterBuilder(self, _TrackedInsertionPoint(self, op.parent, op),
                               op.loc if loc is None else loc)

    def builder_after(self, op: Operation, loc: Optional[Location] = None) -> "RewriterBuilder":
        """A `Builder` creating ops right after `op` (in creation order), through this
        rewriter."""
        if op.parent is None:
            raise ValueError(f"{op.name} is not in a block")
        return RewriterBuilder(self, _TrackedInsertionPoint(self, op.parent, op.next_op),
                               op.loc if loc is None else loc)

    def builder_at_end(self, block: Block, loc: Location = UNKNOWN_LOC) -> "RewriterBuilder":
        """A `Builder` appending ops to `block`, through this rewriter."""
        return RewriterBuilder(self, _TrackedInsertionPoint(self, block), loc)

    def create_before(self, anchor: Operation, spec: OpSpec, operands: Sequence[Value] = (),
                      attrs: Optional[Dict[str, Any]] = None,
                      result_types: Optional[Sequence[Type]] = None,
                      loc: Optional[Location] = None) -> Operation:
        """Build an op (from a class or a name) and insert it before `anchor` (its location
        by default)."""
        op = build_op(spec, operands, attrs, result_types, anchor.loc if loc is None else loc)
        return self.insert_before(anchor, op)

    def materialize_constant(self, anchor: Operation, value: DenseAttr,
                             loc: Optional[Location] = None) -> Value:
        """An `ml.constant` holding `value`, inserted before `anchor`."""
        return self.create_before(anchor, "ml.constant", [], {"value": value},
                                  [value.type], loc).results[0]

    # -- replacing and erasing -------------------------------------------------------------------
    def replace_op(self, op: Operation,
                   new_values: Union[Value, Operation, Sequence[Value]]) -> None:
        """Replace every result of `op` by the new values (same types) and erase `op`."""
        if isinstance(new_values, Operation):
            new_values = new_values.results
        elif isinstance(new_values, Value):
            new_values = [new_values]
        new_values = list(new_values)
        if len(new_values) != len(op.results):
            raise ValueError(f"replace_op: {op.name} has {len(op.results)} results, "
                             f"got {len(new_values)} replacements")
        for r, v in zip(op.results, new_values):
            if r.type != v.type:
                raise TypeError(f"replace_op: result of {op.name} has type {r.type}, its "
                                f"replacement has {v.type}; insert a cast or check the types "
                                "before rewriting")
        self.listener.notify_op_replaced(op, new_values)
        for r, v in zip(op.results, new_values):
            r.replace_all_uses_with(v)
        self.erase_op(op)

    def replace_op_with(self, op: Operation, spec: OpSpec, operands: Sequence[Value],
                        attrs: Optional[Dict[str, Any]] = None,
                        result_types: Optional[Sequence[Type]] = None) -> Operation:
        """Build a new op before `op` and replace `op` by it. Inferred result types that are
        more precise than `op`'s are widened back to `op`'s, so users see the same types."""
        new = build_op(spec, operands, attrs, result_types, op.loc)
        if len(new.results) == len(op.results):
            for r_new, r_old in zip(new.results, op.results):
                if r_new.type != r_old.type and types_compatible(r_old.type, r_new.type):
                    r_new.type = r_old.type
        self.insert_before(op, new)
        self.replace_op(op, new.results)
        return new

    def replace_all_uses_with(self, old: Value, new: Value) -> None:
        users = old.users
        old.replace_all_uses_with(new)
        self.num_changes += 1
        for u in users:
            self.listener.notify_op_modified(u)

    def erase_op(self, op: Operation) -> None:
        """Erase `op` (its results must be unused) and everything nested in it."""
        self.listener.notify_op_erased(op)
        op.erase()
        self.num_changes += 1

    # -- in-place changes ------------------------------------------------------------------------
    @contextlib.contextmanager
    def modify_op_in_place(self, op: Operation) -> Iterator[Operation]:
        """`with rewriter.modify_op_in_place(op): op.attributes[...] = ...`"""
        yield op
        self.num_changes += 1
        self.listener.notify_op_modified(op)

    def set_operand(self, op: Operation, index: int, value: Value) -> None:
        with self.modify_op_in_place(op):
            op.set_operand(index, value)

    def set_attribute(self, op: Operation, name: str, value: Any) -> None:
        with self.modify_op_in_place(op):
            op.attributes[name] = value

    def inline_block_before(self, block: Block, anchor: Operation,
                            arg_values: Sequence[Value] = ()) -> Optional[Operation]:
        """Move the ops of `block` before `anchor`, with its arguments replaced by
        `arg_values`. Returns the moved terminator (the caller uses and erases it)."""
        if len(arg_values) != len(block.args):
            raise ValueError(f"inline_block_before: block has {len(block.args)} arguments, "
                             f"got {len(arg_values)} values")
        for a, v in zip(block.args, arg_values):
            self.replace_all_uses_with(a, v)
        last = None
        for op in list(block.ops):
            op.detach()
            self.insert_before(anchor, op)
            last = op
        return last if last is not None and last.has_trait("Terminator") else None


class _TrackedInsertionPoint(InsertionPoint):
    """An insertion point that inserts through a rewriter (so its listener hears of it)."""

    __slots__ = ("rewriter",)

    def __init__(self, rewriter: PatternRewriter, block: Block,
                 before: Optional[Operation] = None) -> None:
        super().__init__(block, before)
        self.rewriter = rewriter

    def insert(self, op: Operation) -> Operation:
        if self.before is None:
            return self.rewriter.insert_at_end(self.block, op)
        return self.rewriter.insert_before(self.before, op)


class RewriterBuilder(Builder):
    """A `Builder` whose ops all go in through a `PatternRewriter` (get one from
    `rewriter.builder_before(op)` / `builder_after` / `builder_at_end`); moving its insertion
    point keeps it so."""

    def __init__(self, rewriter: PatternRewriter, ip: InsertionPoint,
                 loc: Location = UNKNOWN_LOC) -> None:
        super().__init__(ip, loc)
        self.rewriter = rewriter

    def set_insertion_point_to_end(self, block: Block) -> None:
        self.ip = _TrackedInsertionPoint(self.rewriter, block)

    def set_insertion_point_before(self, op: Operation) -> None:
        self.ip = _TrackedInsertionPoint(self.rewriter, op.parent, op)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def at(self, block: Block) -> Iterator["Builder"]:
        saved = self.ip
        self.ip = _TrackedInsertionPoint(self.rewriter, block)
        try:
            yield self
        finally:
            self.ip = saved


# -- debugging record ---------------------------------------------------------------------------
@dataclass
class PatternStats:
    attempts: int = 0
    matches: int = 0
    declines: Counter = field(default_factory=Counter)


@dataclass
class PatternDebug:
    """How each pattern fared in a greedy run: matches, and the reasons of its declines."""

    patterns: Dict[str, PatternStats] = field(default_factory=dict)
    folds: Counter = field(default_factory=Counter)
    fold_rejections: Counter = field(default_factory=Counter)
    dead_erased: int = 0
    iterations: int = 0
    converged: bool = True

    def stats(self, name: str) -> PatternStats:
        return self.patterns.setdefault(name, PatternStats())

    def report(self) -> str:
        lines = [f"greedy rewrite: {self.iterations} iteration(s), "
                 f"{'converged' if self.converged else 'NOT converged'}, "
                 f"{self.dead_erased} dead op(s) erased"]
        for name, s in sorted(self.patterns.items()):
            lines.append(f"  {name}: {s.matches} match(es) in {s.attempts} attempt(s)")
            for reason, n in s.declines.most_common():
                lines.append(f"    declined {n}x: {reason}")
        for name, n in sorted(self.folds.items()):
            lines.append(f"  fold {name}: {n}")
        for reason, n in self.fold_rejections.most_common():
            lines.append(f"  fold rejected {n}x: {reason}")
        return "\n".join(lines) + "\n"

    __str__ = report


@dataclass
class GreedyResult:
    """What a greedy run did; truthy when it changed the IR."""

    changed: bool
    converged: bool
    iterations: int

    def __bool__(self) -> bool:
        return self.changed


# -- applying patterns to one op (both drivers) -------------------------------------------------
class _PatternSet:
    """Patterns indexed by root name, each op's candidates highest benefit first."""

    def __init__(self, patterns: Sequence[RewritePattern]) -> None:
        self.by_name: Dict[str, List[RewritePattern]] = {}
        self.generic: List[RewritePattern] = []
        for p in sorted(patterns, key=lambda p: -p.benefit):
            if p.roots is None:
                self.generic.append(p)
            else:
                for r in p.roots:
                    self.by_name.setdefault(r, []).append(p)

    def candidates(self, op: Operation) -> List[RewritePattern]:
        specific = self.by_name.get(op.name, [])
        if not self.generic:
            return specific
        return sorted(specific + self.generic, key=lambda p: -p.benefit)

    def apply(self, op: Operation, rewriter: PatternRewriter, debug: PatternDebug) -> bool:
        """Try the candidates of `op` until one rewrites it; record matches and declines."""
        for p in self.candidates(op):
            stats = debug.stats(p.name)
            stats.attempts += 1
            before = rewriter.num_changes
            result = p.match_and_rewrite(op, rewriter)
            if result is not None and not isinstance(result, Decline) and result:
                stats.matches += 1
                return True
            if rewriter.num_changes != before:
                raise RuntimeError(f"pattern {p.name} changed the IR at {op.name} but returned "
                                   f"{result!r}; a pattern must not mutate before it matches and "
                                   "must return True after rewriting")
            stats.declines[result.reason if isinstance(result, Decline) else "no match"] += 1
        return False


# -- the greedy driver --------------------------------------------------------------------------
class _Driver(RewriteListener):
    def __init__(self, root: Operation, patterns: Sequence[RewritePattern], fold: bool,
                 erase_dead: bool, debug: PatternDebug) -> None:
        self.root = root
        self.fold = fold
        self.erase_dead = erase_dead
        self.debug = debug
        self.patterns = _PatternSet(patterns)
        self.rewriter = PatternRewriter(self)
        self.stack: List[Operation] = []
        self.queued: set = set()
        self.erased: set = set()

    def push(self, op: Operation) -> None:
        if op not in self.queued and op is not self.root and op not in self.erased:
            self.queued.add(op)
            self.stack.append(op)

    def push_tree(self, op: Operation) -> None:
        for o in reversed(list(op.walk())):
            self.push(o)

    # listener
    def notify_op_inserted(self, op: Operation) -> None:
        self.erased.discard(op)
        self.push_tree(op)

    def notify_op_modified(self, op: Operation) -> None:
        self.push(op)
        for r in op.results:
            for u in r.users:
                self.push(u)

    def notify_op_replaced(self, op: Operation, new_values: Sequence[Value]) -> None:
        for r in op.results:
            for u in r.users:
                self.push(u)

    def notify_op_erased(self, op: Operation) -> None:
        nested = list(op.walk())
        for o in nested:
            self.erased.add(o)
            self.queued.discard(o)
        for o in nested:  # producers may have lost their last use
            for v in o.operands:
                if isinstance(v, OpResult) and v.op not in self.erased:
                    self.push(v.op)

    def run_sweep(self, max_rewrites: int) -> Tuple[bool, bool]:
        """One worklist sweep over everything under root; (changed, hit the rewrite limit)."""
        ops = [o for o in self.root.walk() if o is not self.root]
        self.stack = ops[::-1]
        self.queued = set(ops)
        changed = False
        rewrites = 0
        while self.stack:
            op = self.stack.pop()
            self.queued.discard(op)
            if op in self.erased:
                continue
            if self._process(op):
                changed = True
                rewrites += 1
                if rewrites > max_rewrites:
                    return True, True
        return changed, False

    def _process(self, op: Operation) -> bool:
        if self.erase_dead and is_trivially_dead(op):
            self.rewriter.erase_op(op)
            self.debug.dead_erased += 1
            return True
        fold_fn = getattr(type(op), "FOLD", None)
        if self.fold and fold_fn is not None and not op.has_trait("ConstantLike"):
            if self._try_fold(op, fold_fn):
                return True
        return self.patterns.apply(op, self.rewriter, self.debug)

    def _try_fold(self, op: Operation, fold_fn: Callable) -> bool:
        consts = [constant_value(v) for v in op.operands]
        out = fold_fn(op, consts)
        if out is None:
            return False
        if isinstance(out, (Value, DenseAttr)):
            out = [out]
        out = list(out)
        if len(out) != len(op.results):
            raise RuntimeError(f"fold of {op.name} returned {len(out)} values for "
                               f"{len(op.results)} results")
        if all(v is r for v, r in zip(out, op.results)):
            return False
        values: List[Union[Value, DenseAttr]] = []
        for r, v in zip(op.results, out):
            if isinstance(v, DenseAttr) and v.type != r.type:
                arr = v.array
                rt = r.type
                if (isinstance(rt, TensorType) and rt.is_static and tuple(arr.shape) == rt.shape
                        and arr.dtype == rt.element.np_dtype):
                    v = DenseAttr(arr, rt)
            vt = v.type
            if vt != r.type:
                self.debug.fold_rejections[f"{op.name}: folded value has type {vt}, "
                                           f"the result has {r.type}"] += 1
                return False
            values.append(v)
        new_values = [self.rewriter.materialize_constant(op, v) if isinstance(v, DenseAttr) else v
                      for v in values]
        self.rewriter.replace_op(op, new_values)
        self.debug.folds[op.name] += 1
        return True


def apply_patterns_greedily(root: Operation, patterns: Iterable[RewritePattern], *,
                            max_iterations: int = 10, fold: bool = True, erase_dead: bool = True,
                            debug: Optional[PatternDebug] = None) -> GreedyResult:
    """Apply patterns (and folds, and dead-op erasure) to every op nested in `root` until
    nothing changes, at most `max_iterations` full sweeps."""
    debug = debug if debug is not None else PatternDebug()
    driver = _Driver(root, list(patterns), fold, erase_dead, debug)
    changed = False
    converged = False
    iterations = 0
    while iterations < max(1, max_iterations):
        iterations += 1
        limit = 64 * (sum(1 for _ in root.walk()) + 16)
        swept, runaway = driver.run_sweep(limit)
        changed |= swept
        if runaway:
            break
        if not swept:
            converged = True
            break
    debug.iterations += iterations
    debug.converged = converged
    return GreedyResult(changed, converged, iterations)


# -- the walk driver ----------------------------------------------------------------------------
class _WalkListener(RewriteListener):
    def __init__(self) -> None:
        self.erased: set = set()

    def notify_op_erased(self, op: Operation) -> None:
        self.erased.update(op.walk())


def walk_and_apply_patterns(root: Operation, patterns: Iterable[RewritePattern], *,
                            debug: Optional[PatternDebug] = None) -> bool:
    """One walk over the ops nested in `root`, in pre-order as they were when it started: each
    op still in the IR gets the patterns (highest benefit first) until one rewrites it. Ops the
    patterns create or modify are not revisited; no folds, no dead-op erasure, no fixed point.
    Returns whether anything was rewritten."""
    debug = debug if debug is not None else PatternDebug()
    pset = _PatternSet(list(patterns))
    listener = _WalkListener()
    rewriter = PatternRewriter(listener)
    changed = False
    for op in [o for o in root.walk() if o is not root]:
        if op not in listener.erased and pset.apply(op, rewriter, debug):
            changed = True
    debug.iterations += 1
    return changed
