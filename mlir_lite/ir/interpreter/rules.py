"""The interpreter's rule table: what each op means, as a numpy function.

    @rule("ml.relu")
    def _relu(op, x):
        return np.maximum(x, 0)

A rule takes the op (for its attributes: `op.attr("axis")` gives declared defaults) and the
operand values (numpy arrays), and returns one array or a tuple/list of arrays (one per result).
Ops with regions (scf) get the interpreter as well: declare them with `@region_rule`.
"""
from __future__ import annotations

from typing import Callable, Dict

__all__ = ["RULES", "REGION_RULES", "BLOCK_SCHEDULERS", "rule", "region_rule"]

RULES: Dict[str, Callable] = {}
REGION_RULES: Dict[str, Callable] = {}
# op name -> fn(block) giving the run order of a block holding that op: ops and items with
# `.run(interp, env)` (dataflow loop frames, see cf_loops.py).
BLOCK_SCHEDULERS: Dict[str, Callable] = {}


def rule(*names: str) -> Callable[[Callable], Callable]:
    """Register `fn(op, *operand_values)` as the meaning of the named ops."""
    def deco(fn: Callable) -> Callable:
        for n in names:
            if n in RULES or n in REGION_RULES:
                raise ValueError(f"interpreter rule for {n} is registered twice")
            RULES[n] = fn
        return fn
    return deco


def region_rule(*names: str) -> Callable[[Callable], Callable]:
    """Register `fn(interp, op, operand_values, env)` for ops whose meaning involves regions."""
    def deco(fn: Callable) -> Callable:
        for n in names:
            if n in RULES or n in REGION_RULES:
                raise ValueError(f"interpreter rule for {n} is registered twice")
            REGION_RULES[n] = fn
        return fn
    return deco
