"""Shape expressions as plain data, so that the execution plan holds no TVM objects.

A dim is an `int`, a symbol name (`str`), or a tuple `(op, *args)` over dims, e.g.
`("floordiv", ("mul", "N", 12), 4)`. `to_data` converts a TVM expression over the function's
shared `int64` vars; `evaluate` computes it for the sizes bound at run time.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

from tvm import tirx

from mlir_lite.runtime.plan import evaluate, free_symbols  # noqa: F401  (one definition)

__all__ = ["to_data", "evaluate", "free_symbols", "dim_to_tvm"]

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


def dim_to_tvm(d: Any, var: Callable[[str], Any]) -> Any:
    """A type's dim (an int, a symbol name or an expression: mlir_lite.ir.dim_expr) as an int64
    TVM expression, its symbols made by `var(name)`."""
    if type(d) is int:
        return tirx.IntImm("int64", d)
    if d.isidentifier():
        return var(d)
    from mlir_lite.ir.dim_expr import to_sympy
    return _from_sympy(to_sympy(d), var)


def _from_sympy(e: Any, var: Callable[[str], Any]) -> Any:
    import sympy

    def i64(v: int) -> Any:
        return tirx.IntImm("int64", int(v))
    if e.is_Integer:
        return i64(int(e))
    if e.is_Symbol:
        return var(str(e.name))
    args = [a for a in e.args]
    if isinstance(e, sympy.Add):
        out = _from_sympy(args[0], var)
        for a in args[1:]:
            out = out + _from_sympy(a, var)
        return out
    if isinstance(e, sympy.Mul):
        out = _from_sympy(args[0], var)
        for a in args[1:]:
            out = out * _from_sympy(a, var)
        return out
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(args[0]))
        if not den.is_Integer:
            raise ValueError(f"cannot lower the size {e}")
        n, q = _from_sympy(sympy.expand(num), var), int(den)
        return tirx.floordiv(n, i64(q)) if isinstance(e, sympy.floor) else \
            tirx.floordiv(n + i64(q - 1), i64(q))
    if isinstance(e, (sympy.Min, sympy.Max)):
        pick = tirx.min if isinstance(e, sympy.Min) else tirx.max
        out = _from_sympy(args[0], var)
        for a in args[1:]:
            out = pick(out, _from_sympy(a, var))
        return out
    if isinstance(e, sympy.Mod):
        return tirx.floormod(_from_sympy(args[0], var), _from_sympy(args[1], var))
    if isinstance(e, sympy.Pow) and args[1].is_Integer and int(args[1]) > 0:
        base = _from_sympy(args[0], var)
        out = base
        for _ in range(int(args[1]) - 1):
            out = out * base
        return out
    raise ValueError(f"cannot lower the size {e} ({type(e).__name__})")
