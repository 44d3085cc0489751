"""`dce`: dead-code elimination, through regions.

    %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>          // unused
    %r:2 = "scf.if"(%c) ({ ... "scf.yield"(%p, %q) ... }, { ... "scf.yield"(%s, %t) ... })
    "func.return"(%r#0) : (tensor<4xf32>) -> ()
  ->
    %r = "scf.if"(%c) ({ ... "scf.yield"(%p) ... }, { ... "scf.yield"(%s) ... })
    "func.return"(%r) : (tensor<4xf32>) -> ()

Erased: `Pure` ops with no used result, and `scf.if` / `scf.for` ops with no used result whose
bodies have no side effects (an `scf.while` may not terminate, so it stays). Unused results of
the region ops that are kept are dropped when that is safe: any unused `scf.if` result; an
unused `scf.for` scan output; an unused `scf.for` carried value whose body argument feeds
only pure ops of the body that feed nothing but its own yield slot (those ops go too).
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Set

from mlir_lite.ir.core import Block, Operation, Region, Value

from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["DCE", "dce", "is_side_effect_free"]

_ERASABLE_REGION_OPS = {"scf.if", "scf.for"}
_SCF_TERMINATORS = {"scf.yield", "scf.condition"}


def is_side_effect_free(op: Operation) -> bool:
    """Pure, or an scf.if/scf.for whose nested ops are all side-effect free."""
    if op.has_trait("Pure"):
        return True
    if op.name in _SCF_TERMINATORS:
        return True
    if op.name not in _ERASABLE_REGION_OPS:
        return False
    return all(is_side_effect_free(o) for r in op.regions for b in r.blocks for o in b.ops)


def _is_dead(op: Operation) -> bool:
    return (not op.has_trait("Terminator") and not any(r.has_uses() for r in op.results)
            and is_side_effect_free(op))


def _rebuild(op: Operation, operands: list, keep: List[int], attrs: dict) -> Operation:
    """A copy of `op` with the kept results, taking over its regions; `op` is erased."""
    new = Operation.create(op.name, operands, [op.results[i].type for i in keep], attrs,
                           loc=op.loc)
    for r_old in keep:
        new.results[keep.index(r_old)].name_hint = op.results[r_old].name_hint
    regions: List[Region] = list(op.regions)
    op.regions = []
    for region in regions:
        region.parent = None
        new.add_region(region)
    op.block.insert_before(op, new)
    for j, i in enumerate(keep):
        op.results[i].replace_all_uses_with(new.results[j])
    op.erase()
    return new


def _prune_if(op: Operation) -> bool:
    keep = [i for i, r in enumerate(op.results) if r.has_uses()]
    if len(keep) == len(op.results):
        return False
    for region in op.regions:
        term = region.blocks[0].last_op
        assert term is not None  # verified: the region ends with its yield
        term.set_operands([term.operands[i] for i in keep])
    _rebuild(op, list(op.operands), keep, dict(op.attributes))
    return True


def _carried_slice(body: Block, arg: Value, term: Operation, slot: int) -> Optional[Set]:
    """The pure ops of `body` that only compute the next value of carried `slot` from its
    argument, or None when the argument (or what it feeds) is used for anything else."""
    ops: Set[Operation] = set()
    work = [arg]
    while work:
        for use in work.pop().uses:
            o = use.owner
            if o is term:
                if use.index != slot:
                    return None
                continue
            if o.parent is not body or not o.has_trait("Pure"):
                return None
            if o not in ops:
                ops.add(o)
                work.extend(o.results)
    return ops


def _prune_for(op: Operation) -> bool:
    n_init = op.num_operands - 3
    n_scan = op.attributes.get("num_scan_outputs", 0)
    body = op.regions[0].blocks[0]
    term = body.last_op
    assert term is not None  # verified: the body ends with its yield
    drop_carried = []
    dead_ops: Set[Operation] = set()
    for i in range(n_init):
        if op.results[i].has_uses():
            continue
        sl = _carried_slice(body, body.args[i + 1], term, i)
        if sl is not None:
            drop_carried.append(i)
            dead_ops |= sl
    drop_scan = [k for k in range(n_scan) if not op.results[n_init + k].has_uses()]
    if not drop_carried and not drop_scan:
        return False
    keep = [i for i in range(n_init) if i not in drop_carried] + \
           [n_init + k for k in range(n_scan) if k not in drop_scan]
    term.set_operands([term.operands[i] for i in keep])
    for o in body.ops_reversed():
        if o in dead_ops:
            o.erase()
    for i in reversed(drop_carried):
        body.erase_arg(i + 1)
    operands = list(op.operands[:3]) + [op.operands[3 + i] for i in range(n_init)
                                        if i not in drop_carried]
    attrs = dict(op.attributes)
    if n_scan or "num_scan_outputs" in attrs:
        attrs["num_scan_outputs"] = n_scan - len(drop_scan)
    _rebuild(op, operands, keep, attrs)
    return True


def _dce_block(block: Block) -> bool:
    changed = False
    op = block.last_op
    while op is not None:
        prev = op.prev_op
        if _is_dead(op):
            op.erase()
            changed = True
        else:
            for region in op.regions:
                for b in region.blocks:
                    changed |= _dce_block(b)
            if op.name == "scf.if":
                changed |= _prune_if(op)
            elif op.name == "scf.for":
                while _prune_for(op):
                    changed = True
                    op = prev.next_op if prev is not None else block.first_op
                    assert op is not None  # the rebuilt loop, where the old one was
                    for b in op.regions[0].blocks:
                        _dce_block(b)
        op = prev
    return changed


def dce(root: Operation) -> bool:
    """Erase dead code nested in `root`; True when something was erased."""
    changed = False
    for region in root.regions:
        for b in region.blocks:
            changed |= _dce_block(b)
    return changed


@register_pass
@dataclasses.dataclass(frozen=True)
class DCE(Pass):
    """Erase ops whose results are unused and that have no side effects."""

    name = "dce"
    summary = "dead-code elimination through regions, pruning unused scf results"

    def run(self, module: Operation, ctx: PassContext) -> bool:
        changed = False
        while dce(module):  # pruning a region op can kill ops before it in its block only
            changed = True
        return changed
