"""The verifier: structure, dominance, use lists, types, and each op's own rules.

`verify(op)` walks `op` and everything nested in it once and raises `VerifyError` located at the
offending op. It checks that:
* parents are consistent (each op's block, each block's region, each region's op);
* every operand is defined before its use, in the same block or an enclosing region, and never
  across an op that is isolated from above (func.func, builtin.module);
* use lists are exact (every operand appears in its value's uses, and nothing else does);
* registered ops satisfy their declaration (operand counts, attributes, result types against
  their type inference, op-specific checks); terminators end their blocks.
"""
from __future__ import annotations

from typing import Set

from mlir_lite.errors import MlirLiteError, VerifyError
from mlir_lite.ir.core import Block, Operation, Value

__all__ = ["verify"]


def verify(root: Operation) -> None:
    """Raise VerifyError if `root` or anything nested in it is malformed."""
    _Verifier().run(root)


class _Verifier:
    def __init__(self) -> None:
        self.visible: Set[Value] = set()

    def run(self, root: Operation) -> None:
        self.op(root)

    def op(self, op: Operation) -> None:
        visible = self.visible
        for i, v in enumerate(op._operands):
            if v not in visible:
                raise VerifyError(f"{op.name}: operand #{i} ({_describe(v)}) does not dominate "
                                  "this use (it is defined later, in another region, or outside "
                                  "an isolated op)", op.loc)
            if (op, i) not in v._uses:
                raise VerifyError(f"{op.name}: operand #{i} is missing from its value's use list",
                                  op.loc)
        for r in op.results:
            for (user, j) in r._uses:
                if j >= len(user._operands) or user._operands[j] is not r:
                    raise VerifyError(f"{op.name}: result #{r.index} has a stale use by "
                                      f"{user.name} (operand #{j})", op.loc)
        if op.is_registered:
            try:
                op.verify_op()
            except VerifyError:
                raise
            except MlirLiteError as e:
                raise VerifyError(e.message, op.loc) from None
            except Exception as e:  # a checker that trips on odd input is still a verify error
                raise VerifyError(f"{op.name}: malformed op ({type(e).__name__}: {e})",
                                  op.loc) from None
        if op.regions:
            isolated = op.has_trait("IsolatedFromAbove")
            saved = self.visible
            for region in op.regions:
                if region.parent is not op:
                    raise VerifyError(f"{op.name}: a region has the wrong parent", op.loc)
                # Values defined in a region are visible only inside it.
                self.visible = set() if isolated else set(saved)
                for block in region.blocks:
                    if block.parent is not region:
                        raise VerifyError(f"{op.name}: a block has the wrong parent", op.loc)
                    self.block(block, op)
            self.visible = saved
        visible.update(op.results)

    def block(self, block: Block, parent: Operation) -> None:
        for a in block.args:
            if a.block is not block:
                raise VerifyError(f"{parent.name}: block argument #{a.index} has the wrong owner",
                                  parent.loc)
            for (user, j) in a._uses:
                if user._operands[j] is not a:
                    raise VerifyError(f"block argument #{a.index} has a stale use by {user.name}",
                                      user.loc)
        self.visible.update(block.args)
        n = 0
        prev = None
        op = block._first
        while op is not None:
            if op.parent is not block or op._prev is not prev:
                raise VerifyError(f"{op.name}: broken block links", op.loc)
            if op.has_trait("Terminator") and op._next is not None:
                raise VerifyError(f"{op.name} must be the last op of its block", op.loc)
            self.op(op)
            prev = op
            op = op._next
            n += 1
        if n != block._len:
            raise VerifyError(f"{parent.name}: block length is out of date", parent.loc)
        if _needs_terminator(parent) and (block._last is None
                                          or not block._last.has_trait("Terminator")):
            raise VerifyError(f"{parent.name}: a block of its region must end with a terminator",
                              parent.loc if block._last is None else block._last.loc)


def _needs_terminator(op: Operation) -> bool:
    return op.is_registered and not op.has_trait("NoTerminator")


def _describe(v: Value) -> str:
    from mlir_lite.ir.core import OpResult
    if isinstance(v, OpResult):
        return f"result #{v.index} of {v.op.name}"
    return f"block argument #{getattr(v, 'index', '?')}"
