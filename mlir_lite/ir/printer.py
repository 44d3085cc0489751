"""Print IR as MLIR generic syntax (with the custom `module` and `func.func` headers).

    module {
      func.func @main(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
        %y = "ml.relu"(%x) : (tensor<4x?xf32>) -> tensor<4x?xf32> loc("relu1")
        "func.return"(%y) : (tensor<4x?xf32>) -> ()
      }
    }

Value names come from name hints (made unique per function, like MLIR's numbering), or are
numbered. The parser reads this text back into an identical module.
"""
from __future__ import annotations

import math
import re
import struct
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from mlir_lite.ir.attributes import (
    UNKNOWN_LOC,
    DenseAttr,
    Location,
    SymbolRef,
    UnitAttr,
    _escape,
    _quote_symbol,
)
from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.types import ElementType, FunctionType, Type

__all__ = ["print_module", "print_op", "print_attribute", "print_type", "print_location",
           "format_float", "DENSE_HEX_THRESHOLD"]

DENSE_HEX_THRESHOLD = 16  # dense constants with more elements print as exact hex bytes

_IDENT = re.compile(r"[A-Za-z_$.][\w$.-]*\Z")
_BAD_NAME_CHARS = re.compile(r"[^\w$.-]")


def print_type(t: Type) -> str:
    return str(t)


def format_float(x: float) -> str:
    """A float literal MLIR accepts (it needs a '.'); inf/nan become hex bit patterns."""
    if math.isfinite(x):
        s = repr(float(x))
        if "." not in s:
            mant, _, exp = s.partition("e")
            s = mant + ".0" + ("e" + exp if exp else "")
        return s
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def print_location(loc: Location) -> str:
    return str(loc)


def _dense_literal(arr: np.ndarray, el: ElementType) -> str:
    if el.name == "i1":
        fmt = lambda v: "true" if v else "false"  # noqa: E731
    elif el.is_float:
        fmt = lambda v: format_float(float(v))  # noqa: E731
    else:
        fmt = lambda v: str(int(v))  # noqa: E731
    if arr.ndim == 0:
        return fmt(arr[()])

    def rec(a: np.ndarray) -> str:
        if a.ndim == 1:
            return "[" + ", ".join(fmt(v) for v in a.tolist()) + "]"
        return "[" + ", ".join(rec(s) for s in a) + "]"
    return rec(arr)


def _print_dense(d: DenseAttr) -> str:
    arr = d.array
    el = d.type.element
    flat = arr.reshape(-1)
    if flat.size == 0:
        return f"dense<> : {d.type}"
    if flat.size > 1 and d.is_splat and (not el.is_float
                                         or np.isfinite(flat[0].astype(np.float64))):
        return f"dense<{_dense_literal(flat[:1].reshape(()), el)}> : {d.type}"
    finite = not el.is_float or bool(np.isfinite(arr.astype(np.float64)).all())
    if flat.size <= DENSE_HEX_THRESHOLD and finite:
        return f"dense<{_dense_literal(arr, el)}> : {d.type}"
    data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    return f'dense<"0x{data.hex().upper()}"> : {d.type}'


def print_attribute(v: Any) -> str:
    t = type(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return f"{v} : i64"
    if t is float:
        return f"{format_float(v)} : f64"
    if t is str:
        return _escape(v)
    if t is tuple:
        if v and all(type(x) is int for x in v):
            return "array<i64: " + ", ".join(str(x) for x in v) + ">"
        if v and all(type(x) is float for x in v) and all(math.isfinite(x) for x in v):
            return "array<f64: " + ", ".join(format_float(x) for x in v) + ">"
        return "[" + ", ".join(print_attribute(x) for x in v) + "]"
    if isinstance(v, DenseAttr):
        return _print_dense(v)
    if isinstance(v, SymbolRef):
        return str(v)
    if isinstance(v, UnitAttr):
        return "unit"
    if isinstance(v, Type):
        return str(v)
    raise TypeError(f"cannot print attribute value {v!r} of type {t.__name__}")


def _attr_dict(attrs: Dict[str, Any], skip: tuple = (), elide_over: Optional[int] = None) -> str:
    parts = []
    for k, v in attrs.items():
        if k in skip:
            continue
        key = k if _IDENT.match(k) else _escape(k)
        if isinstance(v, UnitAttr):
            parts.append(key)
        elif elide_over is not None and isinstance(v, DenseAttr) and v.array.size > elide_over:
            # MLIR's spelling for elided data: readable, and deliberately not parseable back.
            parts.append(f"{key} = dense_resource<__elided__> : {v.type}")
        else:
            parts.append(f"{key} = {print_attribute(v)}")
    return "{" + ", ".join(parts) + "}"


class _Namer:
    """Assigns unique printed names to the values and blocks of one isolated scope."""

    __slots__ = ("names", "taken", "counter", "block_names", "block_counter")

    def __init__(self) -> None:
        self.names: Dict[Value, str] = {}
        self.taken: set = set()
        self.counter = 0
        self.block_names: Dict[Block, str] = {}
        self.block_counter = 0

    def _fresh(self, hint: Optional[str]) -> str:
        if hint:
            base = _BAD_NAME_CHARS.sub("_", hint)
            if base and not base.isdigit():
                name, k = base, 0
                while name in self.taken:
                    k += 1
                    name = f"{base}_{k}"
                self.taken.add(name)
                return name
        while str(self.counter) in self.taken:
            self.counter += 1
        name = str(self.counter)
        self.counter += 1
        self.taken.add(name)
        return name

    def define(self, v: Value) -> str:
        n = self._fresh(v.name_hint)
        self.names[v] = n
        return n

    def define_group(self, results: Sequence[Value]) -> str:
        n = self._fresh(results[0].name_hint)
        if len(results) == 1:
            self.names[results[0]] = n
        else:
            for i, r in enumerate(results):
                self.names[r] = f"{n}#{i}"
        return n

    def use(self, v: Value) -> str:
        n = self.names.get(v)
        if n is None:
            # A value defined outside what is printed (or not yet defined): still printable.
            n = self.define(v)
            return "%" + n + "<<UNDEFINED>>"
        return "%" + n

    def block(self, b: Block) -> str:
        n = self.block_names.get(b)
        if n is None:
            n = f"bb{self.block_counter}"
            self.block_counter += 1
            self.block_names[b] = n
        return "^" + n


class _Printer:
    def __init__(self, elide_over: Optional[int] = None) -> None:
        self.elide_over = elide_over
        self.out: List[str] = []
        self.namer = _Namer()

    def op(self, op: Operation, indent: str) -> None:
        if op.name == "builtin.module":
            self._module(op, indent)
        elif op.name == "func.func":
            self._func(op, indent)
        else:
            self._generic(op, indent)

    def _loc_suffix(self, loc: Location) -> str:
        return "" if loc is UNKNOWN_LOC or loc == UNKNOWN_LOC else " " + str(loc)

    def _module(self, op: Operation, indent: str) -> None:
        out = self.out
        head = indent + "module"
        name = op.attributes.get("sym_name")
        if isinstance(name, str):
            head += " @" + _quote_symbol(name)
        rest = {k: v for k, v in op.attributes.items() if k != "sym_name"}
        if rest:
            head += " attributes " + _attr_dict(rest)
        out.append(head + " {\n")
        for r in op.regions:
            for b in r.blocks:
                for child in b.ops:
                    self.op(child, indent + "  ")
        out.append(indent + "}" + self._loc_suffix(op.loc) + "\n")

    def _func(self, op: Operation, indent: str) -> None:
        saved = self.namer
        self.namer = _Namer()  # func.func is isolated from above: names restart
        ftype = op.attributes.get("function_type")
        head = indent + "func.func "
        vis = op.attributes.get("sym_visibility")
        if isinstance(vis, str):
            head += vis + " "
        head += "@" + _quote_symbol(str(op.attributes.get("sym_name", "")))
        body = op.regions[0] if op.regions else Region()
        if body.blocks:
            args = []
            for a in body.blocks[0].args:
                args.append(f"%{self.namer.define(a)}: {a.type}")
            head += "(" + ", ".join(args) + ")"
        else:
            head += "(" + ", ".join(str(t) for t in op.attributes["function_type"].inputs) + ")"
        if isinstance(ftype, FunctionType) and ftype.results:
            rs = ftype.results
            head += " -> " + (str(rs[0]) if len(rs) == 1 and not isinstance(rs[0], FunctionType)
                              else "(" + ", ".join(str(t) for t in rs) + ")")
        rest = {k: v for k, v in op.attributes.items()
                if k not in ("sym_name", "function_type", "sym_visibility")}
        if rest:
            head += " attributes " + _attr_dict(rest)
        if body.blocks:
            self.out.append(head + " {\n")
            self._region_body(body, indent + "  ", is_func=True)
            self.out.append(indent + "}" + self._loc_suffix(op.loc) + "\n")
        else:
            self.out.append(head + self._loc_suffix(op.loc) + "\n")
        self.namer = saved

    def _region_body(self, region: Region, indent: str, is_func: bool) -> None:
        for i, b in enumerate(region.blocks):
            # A function's entry block arguments are printed in its header.
            if i > 0 or (b.args and not is_func):
                label = self.namer.block(b)
                if b.args:
                    args = ", ".join(f"%{self.namer.define(a)}: {a.type}" for a in b.args)
                    label += f"({args})"
                self.out.append(indent[:-2] + label + ":\n")
            for op in b.ops:
                self.op(op, indent)

    def _generic(self, op: Operation, indent: str) -> None:
        namer = self.namer
        res = op.results
        if res:
            n = namer.define_group(res)
            line = f"{indent}%{n}{':' + str(len(res)) if len(res) > 1 else ''} = \"{op.name}\"("
        else:
            line = f'{indent}"{op.name}"('
        names = namer.names
        ops_str = []
        for v in op._operands:
            s = names.get(v)
            ops_str.append("%" + s if s is not None else namer.use(v))
        line += ", ".join(ops_str) + ")"
        out = self.out
        if op.regions:
            out.append(line + " (")
            for k, r in enumerate(op.regions):
                out.append("{\n")
                self._region_body(r, indent + "  ", is_func=False)
                out.append(indent + ("}, " if k + 1 < len(op.regions) else "}"))
            line = ")"
        if op.attributes:
            line += " " + _attr_dict(op.attributes, elide_over=self.elide_over)
        ins = ", ".join([str(v.type) for v in op._operands])
        if len(res) == 1 and not isinstance(res[0].type, FunctionType):
            line += f" : ({ins}) -> {res[0].type}"
        else:
            line += f" : ({ins}) -> (" + ", ".join([str(r.type) for r in res]) + ")"
        if op.loc is not UNKNOWN_LOC:
            line += " " + str(op.loc)
        out.append(line + "\n")


def print_op(op: Operation, elide_constants_over: Optional[int] = None) -> str:
    """The text of one op (and everything nested in it). With `elide_constants_over=N`, dense
    constants of more than N elements print as `dense_resource<__elided__>` (for reading only)."""
    p = _Printer(elide_constants_over)
    p.op(op, "")
    return "".join(p.out)


def print_module(module: Operation, elide_constants_over: Optional[int] = None) -> str:
    """The text of a module; `parse_module` reads it back into an identical module (unless
    constants were elided)."""
    return print_op(module, elide_constants_over)
