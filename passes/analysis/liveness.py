"""Liveness of a function's values at the granularity of its kernel schedule.

    lv = Liveness(func)
    lv.steps                 # the ops that run, in order: one step per top-level op
    lv.interval(v)           # (first_step, last_step) during which v must be kept
    lv.kind(v)               # input | constant | intermediate | output | nested | fused

A step is a top-level op of the function body that runs at run time: constants, ops computed
from constants alone (folded at compile time) and the terminator are not steps. An op with
regions is one step: a value used anywhere inside its regions lives across that whole step, and
the values defined inside control-flow regions (`nested`) are taken to live for the whole step
too (a conservative choice: their buffers are not reused within the step). Values inside
`ml.fused` regions are never materialised (`fused`) and have no interval.

A value lives from the step that defines it (inputs: step 0) to the last step that uses it; a
value used by the terminator is an `output` and lives to the last step; an unused result still
occupies its step. Value ids are the names the printer gives (`%x`, `%3`, `%s#1`), so a plan
reads against the printed IR.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from mlir_lite.ir.core import Block, Operation, OpResult, Value
from mlir_lite.ir.printer import _Namer  # the printer's naming, so ids match the printed IR

__all__ = ["Liveness", "value_ids"]


def value_ids(func: Operation) -> Dict[Value, str]:
    """The printed name (`%name`) of every value of `func`, nested ones included."""
    namer = _Namer()
    body = func.regions[0]
    if not body.blocks:
        return {}
    for a in body.blocks[0].args:
        namer.define(a)

    def region_body(region: object, is_func: bool) -> None:
        for i, b in enumerate(region.blocks):  # type: ignore[attr-defined]
            if i > 0 or (b.args and not is_func):
                for a in b.args:
                    namer.define(a)
            for op in b.ops:
                if op.results:
                    namer.define_group(op.results)
                for r in op.regions:
                    region_body(r, False)
    region_body(body, True)
    return {v: "%" + n for v, n in namer.names.items()}


def _top_ancestor(op: Operation, block: Block) -> Optional[Operation]:
    o: Optional[Operation] = op
    while o is not None and o.parent is not block:
        o = o.parent_op
    return o


class Liveness:
    """Steps, live intervals and kinds of the values of one `func.func`."""

    def __init__(self, func: Operation) -> None:
        if func.name != "func.func" or not func.regions[0].blocks:
            raise ValueError(f"Liveness needs a func.func with a body, got {func.name}")
        self.func = func
        block = func.regions[0].blocks[0]
        self.block = block
        self.ids = value_ids(func)
        self._kind: Dict[Value, str] = {}
        self._interval: Dict[Value, Tuple[int, int]] = {}
        self.steps: List[Operation] = []
        self.step_of: Dict[Operation, int] = {}
        const: set = set()
        for op in block.ops:
            if op.has_trait("Terminator"):
                continue
            if op.has_trait("ConstantLike") or (
                    not op.regions and op.has_trait("Pure") and
                    all(isinstance(v, OpResult) and v.op in const for v in op.operands)):
                const.add(op)
                for r in op.results:
                    self._kind[r] = "constant"
                continue
            self.step_of[op] = len(self.steps)
            self.steps.append(op)
        last = max(len(self.steps) - 1, 0)
        for a in block.args:
            self._kind[a] = "input"
            self._interval[a] = (0, self._last_use(a, 0, last))
        for s, op in enumerate(self.steps):
            for r in op.results:
                self._kind[r] = "intermediate"
                self._interval[r] = (s, self._last_use(r, s, last))
            if op.name == "ml.fused":
                for inner in op.walk():
                    if inner is not op:
                        for r in inner.results:
                            self._kind[r] = "fused"
                    for region in inner.regions:
                        for b in region.blocks:
                            for a in b.args:
                                self._kind[a] = "fused"
            elif op.regions:
                for inner in op.walk():
                    if inner is op:
                        continue
                    for r in inner.results:
                        if inner.has_trait("ConstantLike"):  # a bound tensor, like any constant
                            self._kind.setdefault(r, "constant")
                            continue
                        self._kind.setdefault(r, "nested")
                        self._interval[r] = (s, s)
                for inner in op.walk():
                    for region in inner.regions:
                        for b in region.blocks:
                            for a in b.args:
                                self._kind.setdefault(a, "nested")
                                self._interval[a] = (s, s)
        term = block.terminator
        if term is not None:
            for v in term.operands:
                if self._kind.get(v) == "intermediate":
                    self._kind[v] = "output"
                    self._interval[v] = (self._interval[v][0], last)

    def _last_use(self, v: Value, first: int, last: int) -> int:
        end = first
        for (user, _) in v._uses:
            top = _top_ancestor(user, self.block)
            if top is None:
                continue
            if top.has_trait("Terminator"):
                end = max(end, last)
            elif top in self.step_of:
                end = max(end, self.step_of[top])
        return end

    # -- queries ------------------------------------------------------------------------------
    def kind(self, v: Value) -> str:
        return self._kind.get(v, "fused")

    def interval(self, v: Value) -> Tuple[int, int]:
        """(first_step, last_step) of `v`; KeyError for constants and values inside fused
        kernels, which have none."""
        return self._interval[v]

    def values(self, kinds: Tuple[str, ...] = ("intermediate", "output", "nested")) -> List[Value]:
        """Values of the given kinds, in definition order."""
        return [v for v in self.ids if self._kind.get(v) in kinds]

    def live_at(self, step: int, kinds: Tuple[str, ...] = ("intermediate", "output",
                                                           "nested")) -> List[Value]:
        return [v for v in self.values(kinds)
                if self._interval[v][0] <= step <= self._interval[v][1]]

    def step_label(self, s: int) -> str:
        op = self.steps[s]
        name = op.attributes.get("kernel") if op.name == "ml.fused" else None
        return name if isinstance(name, str) else op.name
