"""Shape expressions as plain data, so that the execution plan holds no TVM objects.

A dim is an `int`, a symbol name (`str`), or a tuple `(op, *args)` over dims, e.g.
`("floordiv", ("mul", "N", 12), 4)`. `to_data` converts a TVM expression over the function's
shared `int64` vars; `evaluate` computes it for the sizes bound at run time.
"""
from __future__ import annotations

from typing import Any, Dict

from tvm import tirx

from mlir_lite.runtime.plan import evaluate, free_symbols  # noqa: F401  (one definition)

__all__ = ["to_data", "evaluate", "free_symbols"]

_BINOPS: Dict[type, str] = {
    tirx.Add: "add", tirx.Sub: "sub", tirx.Mul: "mul", tirx.FloorDiv: "floordiv",
    tirx.FloorMod: "floormod", tirx.Div: "truncdiv", tirx.Mod: "truncmod", tirx.Min: "min",
    tirx.Max: "max", tirx.LT: "lt", tirx.LE: "le", tirx.GT: "gt", tirx.GE: "ge", tirx.EQ: "eq",
    tirx.NE: "ne", tirx.And: "and", tirx.Or: "or",
}


def to_data(e: Any) -> Any:
    """A TVM shape expression as data (raises ValueError for what a shape cannot hold)."""
    if isinstance(e, int):
        return e
    if isinstance(e, tirx.IntImm):
        return int(e.value)
    if isinstance(e, tirx.Var):
        return str(e.name)  # a plain str (TVM's name is a subclass), as the plan expects
    if isinstance(e, tirx.Cast):
        return to_data(e.value)
    if isinstance(e, tirx.Select):
        return ("select", to_data(e.condition), to_data(e.true_value), to_data(e.false_value))
    if isinstance(e, tirx.Not):
        return ("not", to_data(e.a))
    name = _BINOPS.get(type(e))
    if name is None:
        raise ValueError(f"cannot express shape {e} ({type(e).__name__}) as data")
    return (name, to_data(e.a), to_data(e.b))
