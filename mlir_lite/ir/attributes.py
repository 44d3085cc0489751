"""Attribute values and source locations, all immutable.

Attributes are plain Python values where one fits: `bool`, `int` (printed `3 : i64`), `float`
(printed `0.5 : f64`), `str`, `tuple` (an array), a `Type`. The rest are small frozen classes:
`DenseAttr` (a read-only numpy array: weights and constants, shared without copies),
`SymbolRef` (`@name`) and `UNIT` (a flag that is present or absent).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from mlir_lite.ir.types import TensorType, element_type_from_numpy

__all__ = ["DenseAttr", "SymbolRef", "UnitAttr", "UNIT", "Location", "UNKNOWN_LOC",
           "NameLoc", "FileLineColLoc", "is_attribute"]


class DenseAttr:
    """A constant tensor. Holds a read-only numpy array; equality and hash go by dtype, shape and
    bytes (the hash is computed once, lazily, so large weights cost nothing until compared)."""

    __slots__ = ("array", "type", "_hash")

    def __init__(self, array: Any, type: Optional[TensorType] = None) -> None:
        arr = np.asarray(array)
        if arr.flags.writeable:
            arr = arr.view()
            arr.flags.writeable = False
        self.array = arr
        self.type = type if type is not None else TensorType(element_type_from_numpy(arr.dtype),
                                                             tuple(arr.shape))
        self._hash: Optional[int] = None

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, DenseAttr):
            return NotImplemented
        a, b = self.array, other.array
        return (self.type == other.type and a.shape == b.shape and a.dtype == b.dtype
                and (a.tobytes() == b.tobytes()))

    def __hash__(self) -> int:
        if self._hash is None:
            a = self.array
            head = a.ravel()[:64].tobytes()
            self._hash = hash((self.type, head, a.size))
        return self._hash

    def __repr__(self) -> str:
        return f"DenseAttr({self.type})"

    @property
    def is_splat(self) -> bool:
        a = self.array
        return a.size > 0 and bool((a.ravel() == a.ravel()[0]).all())


@dataclass(frozen=True, slots=True)
class SymbolRef:
    """A reference to a symbol (a function) by name: `@main`."""

    name: str

    def __str__(self) -> str:
        return "@" + _quote_symbol(self.name)


@dataclass(frozen=True, slots=True)
class UnitAttr:
    """An attribute that means something by being present (`{inplace}`)."""


UNIT = UnitAttr()


def _quote_symbol(name: str) -> str:
    import re
    return name if re.fullmatch(r"[A-Za-z_$.][\w$.-]*", name) else '"' + name + '"'


class Location:
    """Where an op came from: an ONNX node name, a DSL source line, or nowhere."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _UnknownLoc(Location):
    def __str__(self) -> str:
        return "loc(unknown)"


@dataclass(frozen=True, slots=True)
class NameLoc(Location):
    """A named location, e.g. the ONNX node name: `loc("conv1")`."""

    name: str

    def __str__(self) -> str:
        return f"loc({_escape(self.name)})"


@dataclass(frozen=True, slots=True)
class FileLineColLoc(Location):
    """A source position: `loc("model.py":12:4)`."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"loc({_escape(self.file)}:{self.line}:{self.col})"


UNKNOWN_LOC = _UnknownLoc()


def _escape(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\%02X" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def is_attribute(value: object) -> bool:
    """True when `value` is something an op attribute may hold."""
    from mlir_lite.ir.types import Type
    if isinstance(value, (bool, int, float, str, DenseAttr, SymbolRef, UnitAttr, Type)):
        return True
    if isinstance(value, tuple):
        return all(is_attribute(v) for v in value)
    return False
