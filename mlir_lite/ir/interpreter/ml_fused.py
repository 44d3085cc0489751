"""Interpreter rule for `ml.fused`: run the region on the operands, return what it yields.

The region is isolated from above, so it runs in an environment of its own."""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.core import Operation
from mlir_lite.ir.interpreter.rules import region_rule, rule

__all__: List[str] = []


@region_rule("ml.fused")
def _fused(interp: Any, op: Operation, ins: list, env: Dict[Any, Any]) -> list:
    _, outs = interp.run_region(op.regions[0], ins, {})
    return outs


@rule("ml.yield")
def _yield(op: Operation, *values: Any) -> tuple:
    """Never evaluated (a block stops at its terminator); listed so the table covers ml."""
    return ()
