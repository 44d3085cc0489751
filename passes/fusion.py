"""`fuse`: group ops into kernels by compute pattern; each group becomes one `ml.fused` op.

    %m = "ml.matmul"(%x, %w) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    %a = "ml.add"(%m, %b) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    %r = "ml.relu"(%a) : (tensor<4x3xf32>) -> tensor<4x3xf32>
  ->
    %r = "ml.fused"(%x, %w, %b) ({
    ^bb0(%x0: tensor<4x8xf32>, %w0: tensor<8x3xf32>, %b0: tensor<3xf32>):
      %m = "ml.matmul"(%x0, %w0) ...
      %a = "ml.add"(%m, %b0) ...
      %r = "ml.relu"(%a) ...
      "ml.yield"(%r) : (tensor<4x3xf32>) -> ()
    }) {kind = "gemm_epilogue", kernel = "fused_matmul_add_relu"} : ...

Every op gets a pattern (`op_pattern`) from the traits declared with it: elementwise (same
shapes), broadcast, injective (reshape, transpose, slice, concat ...), reduction (reduce_*,
softmax, layer_norm ...: a Reduction that is a FusionAnchor), an anchor (matmul/gemm, conv,
pooling: a Gemm/Conv/Pool FusionAnchor) or opaque. Ops are visited in block order and each is
merged with the groups of its producers when every rule of `RULES` agrees; a rule that refuses
says why, and that reason is what the report prints for the pair. The rules allow:
elementwise/broadcast chains; injective ops among them; a reduction with its elementwise
producers; elementwise epilogues of an anchor or a reduction (bias, activation, residual add,
scale) that keep the anchor's output shape. At most one anchor per group; no prologue fusion
into matmul/conv inputs. A merge that would create a cycle (a path between the two groups
through an op outside them) is refused.

Groups of two or more ops become `ml.fused` (`wrap-single=true` wraps single ops too); scalar
constants are cloned into the region, other values come in as operands, and values used outside
the group are yielded. The block is then put back in a topological order (groups are placed
where their last member was, as far as dependencies allow). `report=true` prints the groups and,
for each adjacent producer->consumer pair left apart, the rule that kept them apart.
"""
from __future__ import annotations

import dataclasses
import heapq
import json
import sys
from typing import Callable, Dict, List, Optional, Tuple

from mlir_lite.ir.attributes import NameLoc
from mlir_lite.ir.core import Block, Operation, OpResult, Value
from mlir_lite.ir.dialects.ml.fused import FusedOp
from mlir_lite.ir.opdef import op_kernel_kind
from mlir_lite.ir.types import TensorType

from .manager import Pass, PassContext
from .registry import register_pass
from .rewrite import Decline, PatternRewriter

__all__ = ["Fuse", "FuseOptions", "FusionReport", "GroupInfo", "UnfusedPair", "RULES",
           "op_pattern", "fuse_module", "count_kernels"]

# What fusion knows of an op comes from its declared traits (mlir_lite/ir/opdef.py):
# Elementwise / BroadcastElementwise, Injective (View), and FusionAnchor with the op's kernel
# kind (Reduction, Gemm, Conv, Pool: `op_kernel_kind`), which names the group it anchors.


def _shape(v: Value) -> Optional[tuple]:
    t = v.type
    return t.shape if isinstance(t, TensorType) else None


def op_pattern(op: Operation) -> str:
    """elementwise | broadcast | injective | reduction | anchor | constant | opaque"""
    if op.has_trait("ConstantLike"):
        return "constant"
    if op.regions or not op.has_trait("Pure") or not op.results:
        return "opaque"
    bcast = op.has_trait("BroadcastElementwise")
    if op.has_trait("Elementwise") or bcast:
        out = _shape(op.results[0])
        same = out is not None and None not in out and all(
            _shape(v) == out for v in op.operands)
        return "elementwise" if same and not bcast else "broadcast"
    if op.has_trait("Injective"):
        return "injective"
    if op.has_trait("FusionAnchor"):
        return "reduction" if op.has_trait("Reduction") else "anchor"
    return "opaque"


@dataclasses.dataclass(frozen=True)
class FuseOptions:
    max_ops: int = 64
    injective: bool = True
    reductions: bool = True
    epilogues: bool = True
    inline_constant_elements: int = 1
    wrap_single: bool = False


class _Group:
    __slots__ = ("ops", "anchor", "anchor_kind")

    def __init__(self, op: Operation, pattern: str) -> None:
        self.ops: List[Operation] = [op]
        self.anchor: Optional[Operation] = None
        self.anchor_kind: Optional[str] = None
        if pattern in ("anchor", "reduction"):  # "gemm", "conv", "pool" or "reduction"
            self.anchor, self.anchor_kind = op, op_kernel_kind(op.name)

    def kind(self, patterns: Dict[Operation, str]) -> str:
        if self.anchor_kind == "reduction":
            return "reduction"
        if self.anchor_kind is not None:
            return f"{self.anchor_kind}_epilogue"
        if all(patterns[o] in ("elementwise", "broadcast") for o in self.ops):
            return "elementwise"
        if all(patterns[o] in ("elementwise", "broadcast", "injective") for o in self.ops):
            return "injective"
        return "opaque"


@dataclasses.dataclass
class _Edge:
    """What a rule sees: producer op/group, consumer op/group, the options."""

    producer: Operation
    consumer: Operation
    pg: _Group
    cg: _Group
    patterns: Dict[Operation, str]
    options: FuseOptions

    @property
    def pp(self) -> str:
        return self.patterns[self.producer]

    @property
    def cp(self) -> str:
        return self.patterns[self.consumer]


Rule = Callable[[_Edge], Optional[Decline]]


def _label(op: Operation) -> str:
    return f"{op.name}@{op.loc.name}" if isinstance(op.loc, NameLoc) and op.loc.name else op.name


def _rule_fusible(e: _Edge) -> Optional[Decline]:
    for op, p in ((e.producer, e.pp), (e.consumer, e.cp)):
        if p == "opaque":
            why = "has regions" if op.regions else (
                "has side effects" if not op.has_trait("Pure") else "has no fusion pattern")
            return Decline(f"{op.name} is opaque to fusion ({why})")
    return None


def _rule_max_ops(e: _Edge) -> Optional[Decline]:
    n = len(e.pg.ops) + len(e.cg.ops)
    if n > e.options.max_ops:
        return Decline(f"the fused group would have {n} ops, more than max-ops="
                       f"{e.options.max_ops}")
    return None


def _rule_one_anchor(e: _Edge) -> Optional[Decline]:
    if e.pg.anchor is not None and e.cg.anchor is not None:
        return Decline(f"one anchor per kernel: {e.pg.anchor.name} and {e.cg.anchor.name} "
                       "would share a group")
    return None


def _rule_no_prologue(e: _Edge) -> Optional[Decline]:
    if e.cp == "anchor":
        return Decline(f"no prologue fusion: {e.consumer.name} reads its inputs from memory")
    return None


def _rule_reduction_input(e: _Edge) -> Optional[Decline]:
    if e.cp != "reduction":
        return None
    if not e.options.reductions:
        return Decline("reduction fusion is off (reductions=false)")
    if e.consumer.operand(0) not in e.producer.results:
        return Decline(f"{e.producer.name} feeds a parameter of {e.consumer.name}, not the "
                       "reduced input")
    return None


def _rule_epilogue(e: _Edge) -> Optional[Decline]:
    anchor = e.pg.anchor
    if anchor is None or e.cg.anchor is not None:
        return None
    if e.cp == "injective":
        return Decline(f"no injective epilogue: {e.consumer.name} would re-index the "
                       f"{anchor.name} output")
    if e.cp not in ("elementwise", "broadcast"):
        return None
    if not e.options.epilogues:
        return Decline("epilogue fusion is off (epilogues=false)")
    want = _shape(anchor.results[0])
    got = _shape(e.consumer.results[0])
    if want is None or got is None or None in want or None in got:
        return Decline("unknown dims: cannot prove the epilogue keeps the anchor's shape")
    if got != want:
        return Decline(f"{e.consumer.name} broadcasts the {anchor.name} output to another "
                       "shape")
    return None


def _rule_injective(e: _Edge) -> Optional[Decline]:
    if e.options.injective:
        return None
    for op, p in ((e.producer, e.pp), (e.consumer, e.cp)):
        if p == "injective" and not op.has_trait("View"):
            return Decline(f"injective fusion is off (injective=false): {op.name}")
    return None


RULES: Tuple[Tuple[str, Rule], ...] = (
    ("fusible-ops", _rule_fusible),
    ("max-ops", _rule_max_ops),
    ("one-anchor", _rule_one_anchor),
    ("no-prologue", _rule_no_prologue),
    ("reduction-input", _rule_reduction_input),
    ("epilogue-shape", _rule_epilogue),
    ("injective", _rule_injective),
)


@dataclasses.dataclass
class GroupInfo:
    name: str
    kind: str
    ops: List[str]
    num_inputs: int
    num_outputs: int


@dataclasses.dataclass
class UnfusedPair:
    producer: str
    consumer: str
    rule: str
    reason: str


@dataclasses.dataclass
class FusionReport:
    """Groups formed, pairs left apart (and why), kernel counts before and after."""

    groups: List[GroupInfo] = dataclasses.field(default_factory=list)
    unfused: List[UnfusedPair] = dataclasses.field(default_factory=list)
    kernels_before: int = 0
    kernels_after: int = 0

    def to_text(self) -> str:
        lines = [f"// fusion report: {self.kernels_before} kernels -> {self.kernels_after}, "
                 f"{len(self.groups)} fused group(s)"]
        for g in self.groups:
            lines.append(f"group {g.name} [{g.kind}] ({g.num_inputs} in, {g.num_outputs} out): "
                         + ", ".join(g.ops))
        for u in self.unfused:
            lines.append(f"unfused {u.producer} -> {u.consumer}: [{u.rule}] {u.reason}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)


def count_kernels(root: Operation) -> int:
    """How many kernels run: every op except modules, functions, terminators, constants and
    host control flow (whose nested ops are counted); an `ml.fused` op is one kernel."""
    n = 0
    for region in root.regions:
        for block in region.blocks:
            for op in block.ops:
                if op.name == "ml.fused":
                    n += 1
                elif op.regions:
                    n += count_kernels(op)
                elif not (op.has_trait("Terminator") or op.has_trait("ConstantLike")):
                    n += 1
    return n


def _top_ancestor(op: Operation, block: Block) -> Optional[Operation]:
    o: Optional[Operation] = op
    while o is not None and o.parent is not block:
        o = o.parent_op
    return o


class _BlockFuser:
    def __init__(self, block: Block, options: FuseOptions, report: FusionReport) -> None:
        self.block = block
        self.options = options
        self.report = report
        self.ops = [op for op in block.ops if not op.has_trait("Terminator")]
        self.pos = {op: i for i, op in enumerate(self.ops)}
        self.patterns = {op: op_pattern(op) for op in self.ops}
        self.group: Dict[Operation, _Group] = {op: _Group(op, self.patterns[op])
                                               for op in self.ops}
        self.users: Dict[Operation, List[Operation]] = {}
        for op in self.ops:
            us: List[Operation] = []
            for r in op.results:
                for u in r.users:
                    t = _top_ancestor(u, block)
                    if t is not None and t in self.pos and t not in us:
                        us.append(t)
            self.users[op] = us
        self.decisions: Dict[Tuple[Operation, Operation], Tuple[str, str]] = {}

    # -- grouping ---------------------------------------------------------------------------
    def run(self) -> None:
        for c in self.ops:
            if self.patterns[c] in ("constant",):
                continue
            producers: List[Operation] = []
            for v in c.operands:
                if isinstance(v, OpResult) and v.op in self.pos and v.op not in producers:
                    producers.append(v.op)
            for p in producers:
                if self.patterns[p] == "constant":
                    continue
                self.try_merge(p, c)
        self.nested_pairs()

    def nested_pairs(self) -> None:
        for c in self.ops:
            if not c.regions:
                continue
            for inner in c.walk():
                for v in inner.operands:
                    if isinstance(v, OpResult) and v.op in self.pos and \
                            self.patterns[v.op] != "constant" and (v.op, c) not in self.decisions:
                        self.decisions[(v.op, c)] = (
                            "fusible-ops", f"{c.name} is opaque to fusion (has regions)")

    def try_merge(self, p: Operation, c: Operation) -> None:
        pg, cg = self.group[p], self.group[c]
        if pg is cg:
            return
        edge = _Edge(p, c, pg, cg, self.patterns, self.options)
        for name, rule in RULES:
            d = rule(edge)
            if d is not None:
                self.decisions[(p, c)] = (name, d.reason)
                return
        if self.creates_cycle(pg, cg):
            self.decisions[(p, c)] = ("acyclic", "an op outside both groups lies on a path "
                                      "between them; fusing would create a cycle")
            return
        self.merge(pg, cg)

    def creates_cycle(self, a: _Group, b: _Group) -> bool:
        members = set(a.ops) | set(b.ops)
        limit = max(self.pos[o] for o in members)
        seen: set = set()
        stack = [self.group[u] for o in members for u in self.users[o] if u not in members]
        while stack:
            g = stack.pop()
            if id(g) in seen:
                continue
            seen.add(id(g))
            if min(self.pos[o] for o in g.ops) > limit:
                continue
            for o in g.ops:
                for u in self.users[o]:
                    if u in members:
                        return True
                    stack.append(self.group[u])
        return False

    def merge(self, a: _Group, b: _Group) -> None:
        big, small = (a, b) if len(a.ops) >= len(b.ops) else (b, a)
        big.ops = sorted(big.ops + small.ops, key=self.pos.__getitem__)
        if big.anchor is None:
            big.anchor, big.anchor_kind = small.anchor, small.anchor_kind
        for o in small.ops:
            self.group[o] = big

    # -- rewriting --------------------------------------------------------------------------
    def units(self) -> List[List[Operation]]:
        """Groups and single ops, in a topological order close to the original one."""
        unit_of: Dict[Operation, int] = {}
        units: List[List[Operation]] = []
        for op in self.ops:
            g = self.group[op]
            if g.ops[0] is op:
                unit_of.update({o: len(units) for o in g.ops})
                units.append(g.ops)
        n = len(units)
        succ: List[set] = [set() for _ in range(n)]
        indeg = [0] * n
        prev_effect: Optional[int] = None
        for op in self.ops:
            k = unit_of[op]
            for u in self.users[op]:
                j = unit_of[u]
                if j != k and j not in succ[k]:
                    succ[k].add(j)
                    indeg[j] += 1
            if (op.regions or not op.has_trait("Pure")) and op.name != "ml.fused":
                if prev_effect is not None and prev_effect != k and k not in succ[prev_effect]:
                    succ[prev_effect].add(k)
                    indeg[k] += 1
                prev_effect = k
        key = [self.pos[u[-1]] for u in units]
        heap = [(key[i], i) for i in range(n) if indeg[i] == 0]
        heapq.heapify(heap)
        order: List[List[Operation]] = []
        while heap:
            _, i = heapq.heappop(heap)
            order.append(units[i])
            for j in succ[i]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, (key[j], j))
        if len(order) != n:  # pragma: no cover - the cycle check makes this unreachable
            raise RuntimeError("fusion produced a cyclic group graph")
        return order

    def materialize(self, rewriter: PatternRewriter) -> None:
        term = self.block.terminator
        anchor_op: Optional[Operation] = term
        for unit in self.units():
            wrap = len(unit) > 1 or (self.options.wrap_single and
                                      self.patterns[unit[0]] not in ("constant", "opaque"))
            if wrap:
                self.build_fused(unit, rewriter, anchor_op)
            else:
                op = unit[0]
                if anchor_op is None:
                    rewriter.move_op_to_end(op, self.block)
                else:
                    rewriter.move_op_before(op, anchor_op)

    def build_fused(self, members: List[Operation], rewriter: PatternRewriter,
                    before: Optional[Operation]) -> Operation:
        from mlir_lite.ir.core import Region
        inside = set(members)
        inputs: List[Value] = []
        inlined: List[Operation] = []
        for op in members:
            for v in op.operands:
                if isinstance(v, OpResult) and v.op in inside:
                    continue
                if v in inputs or (isinstance(v, OpResult) and v.op in inlined):
                    continue
                if self.inlinable(v):
                    inlined.append(v.op)
                else:
                    inputs.append(v)
        outputs: List[Value] = []
        for op in members:
            for r in op.results:
                if any(u not in inside for u in r.users):
                    outputs.append(r)
        block = Block([v.type for v in inputs],
                      [getattr(v, "name_hint", None) for v in inputs])
        mapping: Dict[Value, Value] = dict(zip(inputs, block.args))
        for c in inlined:
            block.append(c.clone(mapping))
        for op in members:
            block.append(op.clone(mapping))
        block.append(Operation.create("ml.yield", [mapping[r] for r in outputs]))
        region = Region()
        region.add_block(block)
        g = self.group[members[0]]
        kind = g.kind(self.patterns)
        names = [o.name.split(".", 1)[1] for o in members]
        name = "fused_" + "_".join(names[:6]) + (f"_and_{len(names) - 6}_more"
                                                 if len(names) > 6 else "")
        loc = (g.anchor or members[-1]).loc
        fused = FusedOp.build(inputs, {"kind": kind, "kernel": name},
                              [r.type for r in outputs], [region], loc)
        for r_old, r_new in zip(outputs, fused.results):
            r_new.name_hint = r_old.name_hint
        if before is None:
            rewriter.insert_at_end(self.block, fused)
        else:
            rewriter.insert_before(before, fused)
        for r_old, r_new in zip(outputs, fused.results):
            rewriter.replace_all_uses_with(r_old, r_new)
        for op in reversed(members):
            rewriter.erase_op(op)
        for c in inlined:
            if not any(r.has_uses() for r in c.results):
                rewriter.erase_op(c)
        self.report.groups.append(GroupInfo(name, kind, [_label(o) for o in members],
                                            len(inputs), len(outputs)))
        return fused

    def inlinable(self, v: Value) -> bool:
        if not (isinstance(v, OpResult) and v.op.has_trait("ConstantLike")):
            return False
        t = v.type
        n = t.num_elements if isinstance(t, TensorType) else 1
        return n is not None and n <= self.options.inline_constant_elements

    def record_unfused(self) -> None:
        for (p, c), (rule, reason) in self.decisions.items():
            if self.group[p] is not self.group[c]:
                self.report.unfused.append(UnfusedPair(_label(p), _label(c), rule, reason))


def _blocks_to_fuse(root: Operation) -> List[Block]:
    """Function bodies and the blocks of nested control flow; never inside `ml.fused`."""
    out: List[Block] = []

    def visit(op: Operation) -> None:
        if op.name == "ml.fused":
            return
        for region in op.regions:
            for b in region.blocks:
                if op.name != "builtin.module":
                    out.append(b)
                for inner in list(b.ops):
                    visit(inner)
    visit(root)
    return out


def fuse_module(module: Operation, options: FuseOptions = FuseOptions()) -> FusionReport:
    """Fuse every block of `module` (outside existing `ml.fused` regions); the report says
    what was grouped and what was not."""
    report = FusionReport(kernels_before=count_kernels(module))
    rewriter = PatternRewriter()
    for block in _blocks_to_fuse(module):
        f = _BlockFuser(block, options, report)
        f.run()
        f.record_unfused()
        f.materialize(rewriter)
    report.kernels_after = count_kernels(module)
    return report


@register_pass
@dataclasses.dataclass(frozen=True)
class Fuse(Pass):
    """Group ops into kernels (`ml.fused`) by compute pattern."""

    name = "fuse"
    summary = "group elementwise chains, reductions and matmul/conv epilogues into ml.fused ops"

    max_ops: int = 64
    injective: bool = True
    reductions: bool = True
    epilogues: bool = True
    inline_constant_elements: int = 1
    wrap_single: bool = False
    report: bool = False

    def run(self, module: Operation, ctx: PassContext) -> bool:
        opts = FuseOptions(self.max_ops, self.injective, self.reductions, self.epilogues,
                           self.inline_constant_elements, self.wrap_single)
        if self.max_ops < 1:
            raise ValueError(f"max-ops must be at least 1, got {self.max_ops}")
        rep = fuse_module(module, opts)
        ctx.stats[self.name] = rep
        if self.report:
            sys.stderr.write(rep.to_text())
        return bool(rep.groups)
