"""Shape expressions as plain data, so that the execution plan holds no TVM objects.

A dim is an `int`, a symbol name (`str`), or a tuple `(op, *args)` over dims, e.g.
`("floordiv", ("mul", "N", 12), 4)`. `to_data` converts a TVM expression over the function's
shared `int64` vars; `evaluate` computes it for the sizes bound at run time.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping

from tvm import tirx

__all__ = ["to_data", "evaluate", "free_symbols"]

_BINOPS: Dict[type, str] = {
    tirx.Add: "add", tirx.Sub: "sub", tirx.Mul: "mul", tirx.FloorDiv: "floordiv",
    tirx.FloorMod: "floormod", tirx.Div: "truncdiv", tirx.Mod: "truncmod", tirx.Min: "min",
    tirx.Max: "max", tirx.LT: "lt", tirx.LE: "le", tirx.GT: "gt", tirx.GE: "ge", tirx.EQ: "eq",
    tirx.NE: "ne", tirx.And: "and", tirx.Or: "or",
}


def _truncdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_EVAL: Dict[str, Callable[..., int]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "floormod": lambda a, b: a % b, "truncdiv": _truncdiv,
    "truncmod": lambda a, b: a - _truncdiv(a, b) * b, "min": min, "max": max,
    "lt": lambda a, b: int(a < b), "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b),
    "ge": lambda a, b: int(a >= b), "eq": lambda a, b: int(a == b),
    "ne": lambda a, b: int(a != b), "and": lambda a, b: int(bool(a and b)),
    "or": lambda a, b: int(bool(a or b)),
}


def to_data(e: Any) -> Any:
    """A TVM shape expression as data (raises ValueError for what a shape cannot hold)."""
    if isinstance(e, int):
        return e
    if isinstance(e, tirx.IntImm):
        return int(e.value)
    if isinstance(e, tirx.Var):
        return e.name
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


def evaluate(d: Any, env: Mapping[str, int]) -> int:
    """The value of shape expression `d` with symbols bound by `env`."""
    if type(d) is int:
        return d
    if type(d) is str:
        return env[d]
    op = d[0]
    if op == "select":
        return evaluate(d[2], env) if evaluate(d[1], env) else evaluate(d[3], env)
    if op == "not":
        return int(not evaluate(d[1], env))
    return _EVAL[op](evaluate(d[1], env), evaluate(d[2], env))


def free_symbols(d: Any) -> set:
    if type(d) is int:
        return set()
    if type(d) is str:
        return {d}
    out: set = set()
    for a in d[1:]:
        out |= free_symbols(a)
    return out
