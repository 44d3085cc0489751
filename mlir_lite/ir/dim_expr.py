"""Symbolic dims that are expressions of symbols: `12*N`, `seq - 1`, `floor((H - 1)/2) + 1`,
`Min(256, seq)`.

A dim is an `int`, `None` (unknown) or a `str`: a symbol name (`N`, `unk__3`) or an expression
over symbol names in sympy's syntax, kept in sympy's canonical printed form so that equal
expressions are equal strings (`N*12` and `12*N` are both `12*N`). torch's dynamo exporter
writes such dim_params (`s0 + 1`, `2*s1`); type inference builds them where shapes are
arithmetic of other shapes (flatten, concat, conv/pool windows, slices, shape computations).

    mul("N", 12) == "12*N";  sub("seq", 1) == "seq - 1";  add(2, 3) == 5;  add("N", None) is None
    evaluate("12*N", {"N": 2}) == 24;  symbols_of("seq - 1") == {"seq"}

Symbols stand for sizes: integers >= 1, so `Max(seq - 1, 0)` is `seq - 1`. sympy is imported
on first use, only by graphs that do arithmetic on symbols.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, FrozenSet, Mapping, Union

__all__ = ["Dim", "is_expression", "symbols_of", "evaluate", "add", "sub", "mul", "floordiv",
           "ceildiv", "exact_div", "min_", "max_", "to_sympy", "from_sympy"]

Dim = Union[int, str, None]


def is_expression(d: Any) -> bool:
    """Whether `d` is a dim that is an expression (not a plain symbol name or a size)."""
    return type(d) is str and not d.isidentifier()


@lru_cache(maxsize=4096)
def to_sympy(d: Union[int, str]) -> Any:
    """The sympy expression of a dim (symbols: positive integers)."""
    import sympy
    if type(d) is int:
        return sympy.Integer(d)
    assert isinstance(d, str)
    if d.isidentifier():
        return sympy.Symbol(d, integer=True, positive=True)
    names = _names(d)
    local = {n: sympy.Symbol(n, integer=True, positive=True) for n in names}
    local.update({"Min": sympy.Min, "Max": sympy.Max, "floor": sympy.floor,
                  "ceiling": sympy.ceiling, "Mod": sympy.Mod})
    try:
        return sympy.sympify(d, locals=local)
    except (sympy.SympifyError, SyntaxError, TypeError) as e:
        raise ValueError(f"dim {d!r} is neither a symbol name nor a size expression") from e


def _names(d: str) -> FrozenSet[str]:
    return frozenset(n for n in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", d)
                     if n not in ("Min", "Max", "floor", "ceiling", "Mod"))


def from_sympy(e: Any) -> Dim:
    """A sympy expression as a dim: a size, or the expression's canonical text (None for a
    negative constant or what is not an integer)."""
    if e.is_Integer:
        return int(e) if int(e) >= 0 else None
    if e.is_Symbol:
        return str(e.name)
    if e.is_integer is False or e.is_number:
        return None
    return str(e)


def symbols_of(d: Dim) -> FrozenSet[str]:
    """The symbol names dim `d` uses."""
    if type(d) is not str:
        return frozenset()
    return frozenset({d}) if d.isidentifier() else _names(d)


def evaluate(d: Dim, env: Mapping[str, int]) -> int:
    """The size of dim `d` with its symbols bound by `env` (KeyError for an unbound one)."""
    if type(d) is int:
        return d
    if d is None:
        raise KeyError("an unknown dim has no size")
    assert isinstance(d, str)
    if d.isidentifier():
        return int(env[d])
    e = to_sympy(d)
    missing = symbols_of(d) - set(env)
    if missing:
        raise KeyError(sorted(missing)[0])
    return int(e.subs({s: int(env[s.name]) for s in e.free_symbols}))


def _combine(fn: Callable[..., Any], on_ints: Callable[..., int], *dims: Dim) -> Dim:
    if any(d is None for d in dims):
        return None
    if all(type(d) is int for d in dims):
        v = on_ints(*dims)
        return v if v >= 0 else None
    return from_sympy(fn(*[to_sympy(d) for d in dims if d is not None]))


def add(a: Dim, b: Dim) -> Dim:
    return _combine(lambda x, y: x + y, lambda x, y: x + y, a, b)


def sub(a: Dim, b: Dim) -> Dim:
    return _combine(lambda x, y: x - y, lambda x, y: x - y, a, b)


def mul(a: Dim, b: Dim) -> Dim:
    return _combine(lambda x, y: x * y, lambda x, y: x * y, a, b)


def floordiv(a: Dim, b: Dim) -> Dim:
    import sympy
    if b == 0:
        return None
    return _combine(lambda x, y: sympy.floor(x / y), lambda x, y: x // y, a, b)


def ceildiv(a: Dim, b: Dim) -> Dim:
    import sympy
    if b == 0:
        return None
    return _combine(lambda x, y: sympy.ceiling(x / y), lambda x, y: -(-x // y), a, b)


def exact_div(a: Dim, b: Dim) -> Dim:
    """a / b when b divides a for every value of the symbols (Reshape's -1: `batch*seq*64 / 64`
    is `batch*seq`), else None."""
    import sympy
    if a is None or b is None or b == 0:
        return None
    if type(a) is int and type(b) is int:
        return a // b if a % b == 0 else None
    num, den = sympy.fraction(sympy.cancel(to_sympy(a) / to_sympy(b)))
    return from_sympy(num) if den == 1 else None


def min_(a: Dim, b: Dim) -> Dim:
    import sympy
    return _combine(sympy.Min, min, a, b)


def max_(a: Dim, b: Dim) -> Dim:
    import sympy
    return _combine(sympy.Max, max, a, b)

