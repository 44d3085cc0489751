"""`cse`: common-subexpression elimination of pure ops.

    %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.add"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  ->
    %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.add"(%a, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>

Two ops are the same when they have the same name, operands, attributes and result types.
Only `Pure` ops without regions are merged (an op with side effects is never reused). Scopes
follow the regions: an op may reuse an equal op that precedes it in its block or in an
enclosing block, never one inside a sibling region, and nothing crosses an op that is isolated
from above (`func.func`).
"""
from __future__ import annotations

import dataclasses
from collections import ChainMap
from typing import Any, Hashable, Tuple

from mlir_lite.ir.core import Block, Operation

from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["CSE", "cse", "op_key"]


def _attr_key(v: Any) -> Hashable:
    # Tag by type so that 1, 1.0 and True (equal in Python) stay apart, and -0.0 != 0.0.
    if isinstance(v, float):
        return ("f", v.hex())
    if isinstance(v, tuple):
        return ("t",) + tuple(_attr_key(x) for x in v)
    return (type(v).__name__, v)


def op_key(op: Operation) -> Tuple:
    """What makes two pure ops interchangeable."""
    attrs = tuple(sorted((k, _attr_key(v)) for k, v in op.attributes.items()))
    return (op.name, tuple(id(v) for v in op.operands), attrs, tuple(op.result_types))


def _cse_block(block: Block, scope: ChainMap) -> int:
    merged = 0
    for op in list(block.ops):
        for region in op.regions:
            inner = ChainMap() if op.has_trait("IsolatedFromAbove") else scope.new_child()
            for b in region.blocks:
                merged += _cse_block(b, inner.new_child())
        if not op.has_trait("Pure") or op.regions:
            continue
        key = op_key(op)
        existing = scope.get(key)
        if existing is None:
            scope[key] = op
            continue
        for old, new in zip(op.results, existing.results):
            old.replace_all_uses_with(new)
        op.erase()
        merged += 1
    return merged


def cse(root: Operation) -> int:
    """Merge equal pure ops under `root`; returns how many ops were erased."""
    merged = 0
    for region in root.regions:
        for b in region.blocks:
            merged += _cse_block(b, ChainMap())
    return merged


@register_pass
@dataclasses.dataclass(frozen=True)
class CSE(Pass):
    """Merge identical pure ops.

    One sweep reaches the fixed point (operands are canonicalised before their users are
    looked at); `max-iterations` bounds repeated sweeps for safety."""

    name = "cse"
    summary = "common-subexpression elimination of pure ops, scoped by regions"

    max_iterations: int = 2

    def run(self, module: Operation, ctx: PassContext) -> bool:
        changed = False
        for _ in range(max(1, self.max_iterations)):
            if not cse(module):
                break
            changed = True
        return changed
