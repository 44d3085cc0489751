"""Parse MLIR generic syntax (plus the `module` and `func.func` headers) into IR.

The text is tokenized in one pass by a single regular expression, then read by recursive
descent. Errors are `ParseError`s located at `file:line:col` that say what was expected.
Tensor types are single tokens whose parsed values are cached, which keeps 100,000-op files fast.
"""
from __future__ import annotations

import gc
import re
import struct
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import ParseError
from mlir_lite.ir.attributes import (
    UNIT,
    UNKNOWN_LOC,
    DenseAttr,
    FileLineColLoc,
    Location,
    NameLoc,
    SymbolRef,
)
from mlir_lite.ir.core import Block, BlockArgument, Operation, Region, Value
from mlir_lite.ir.types import (
    ElementType,
    FunctionType,
    IndexType,
    NoneType,
    TensorType,
    TupleType,
    Type,
    element_type,
)

if TYPE_CHECKING:
    from mlir_lite.ir.dialects.builtin import ModuleOp

__all__ = ["parse_module", "parse_type", "parse_attribute"]

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<value>%[A-Za-z0-9$._-]+(?:\#[0-9]+)?)
  | (?P<caret>\^[A-Za-z0-9$._-]+)
  | (?P<sym>@[A-Za-z0-9$._-]+|@"(?:[^"\\\n]|\\.)*")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<tensor>tensor<[^<>]*>)
  | (?P<array>array<[^<>]*>)
  | (?P<float>[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)
  | (?P<hex>0x[0-9A-Fa-f]+)
  | (?P<int>[-+]?[0-9]+)
  | (?P<ident>[A-Za-z_][\w$.]*)
  | (?P<arrow>->)
  | (?P<punct>[(){}\[\]<>:,=?*])
  | (?P<bad>.)
""", re.VERBOSE)

# The same tokens as _TOKEN_RE, as one group, with whitespace and comments skipped.
# Possessive quantifiers: a trailing comment must never be backtracked into to find a token.
_FAST_RE = re.compile(r"""(?:\s++|//[^\n]*+)*+(
    %[A-Za-z0-9$._-]+(?:\#[0-9]+)?
  | \^[A-Za-z0-9$._-]+
  | @[A-Za-z0-9$._-]+|@"(?:[^"\\\n]|\\.)*"
  | "(?:[^"\\\n]|\\.)*"
  | tensor<[^<>]*>
  | array<[^<>]*>
  | [-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?
  | 0x[0-9A-Fa-f]+
  | [-+]?[0-9]+
  | [A-Za-z_][\w$.]*
  | ->
  | [(){}\[\]<>:,=?*]
  | \S
  | \Z)""", re.VERBOSE)
_FIRST_KIND = {"%": "value", "^": "caret", "@": "sym", '"': "string"}
for _c in "(){}[]<>:,=?*":
    _FIRST_KIND[_c] = _c


def _classify(t: str) -> str:
    m = _TOKEN_RE.fullmatch(t)
    if m is None:
        return "bad"
    k = m.lastgroup or "bad"
    return t if k in ("punct", "arrow") else k


_ESCAPE_RE = re.compile(r'\\(?:([\\"nt])|([0-9A-Fa-f]{2}))')
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}

_TYPE_CACHE: Dict[str, Type] = {}


def _unescape(s: str) -> str:
    body = s[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(
        lambda m: _ESCAPES[m.group(1)] if m.group(1) else chr(int(m.group(2), 16)), body)


class _Tokens:
    __slots__ = ("kinds", "texts", "starts", "text", "filename", "line_starts")

    def __init__(self, text: str, filename: str) -> None:
        # findall over one capturing group is C-speed; token kinds come from the first
        # character, and positions are recomputed only when an error needs them.
        texts: List[str] = _FAST_RE.findall(text)
        while texts and not texts[-1]:
            texts.pop()  # the end-of-input match after trailing comments
        kinds = [_FIRST_KIND.get(t[0]) or _classify(t) for t in texts]
        kinds.append("eof")
        texts.append("<end of input>")
        self.kinds, self.texts = kinds, texts
        self.starts: Optional[List[int]] = None
        self.text, self.filename = text, filename
        self.line_starts: Optional[List[int]] = None

    def _positions(self) -> List[int]:
        if self.starts is None:
            self.starts = [m.start() for m in _TOKEN_RE.finditer(self.text)
                           if m.lastgroup != "ws"] + [len(self.text)]
        return self.starts

    def where(self, i: int) -> str:
        import bisect
        if self.line_starts is None:
            self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", self.text)]
        starts = self._positions()
        pos = starts[min(i, len(starts) - 1)]
        line = bisect.bisect_right(self.line_starts, pos)
        col = pos - self.line_starts[line - 1] + 1
        return f"{self.filename}:{line}:{col}"


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.toks = _Tokens(text, filename)
        self.kinds = self.toks.kinds
        self.texts = self.toks.texts
        self.i = 0
        # Value scopes: one dict per isolated-from-above op (func.func), name -> values.
        self.scopes: List[Dict[str, Any]] = [{}]
        self.block_scopes: List[Dict[str, Block]] = [{}]
        self.pending_blocks: List[Dict[str, int]] = [{}]

    # -- token helpers --------------------------------------------------------------------------
    def error(self, msg: str, at: Optional[int] = None) -> ParseError:
        i = self.i if at is None else at
        return ParseError(msg, self.toks.where(i))

    def peek(self) -> str:
        return self.kinds[self.i]

    def peek_text(self) -> str:
        return self.texts[self.i]

    def expect(self, kind: str, what: Optional[str] = None) -> str:
        if self.kinds[self.i] != kind:
            raise self.error(f"expected {what or repr(kind)}, found '{self.texts[self.i]}'")
        t = self.texts[self.i]
        self.i += 1
        return t

    def accept(self, kind: str) -> bool:
        if self.kinds[self.i] == kind:
            self.i += 1
            return True
        return False

    def accept_ident(self, word: str) -> bool:
        if self.kinds[self.i] == "ident" and self.texts[self.i] == word:
            self.i += 1
            return True
        return False

    # -- types ----------------------------------------------------------------------------------
    def parse_type(self) -> Type:
        k = self.kinds[self.i]
        t = self.texts[self.i]
        if k == "tensor":
            self.i += 1
            ty = _TYPE_CACHE.get(t)
            if ty is None:
                ty = self._tensor_type(t, self.i - 1)
                if len(_TYPE_CACHE) < 100_000:
                    _TYPE_CACHE[t] = ty
            return ty
        if k == "ident":
            self.i += 1
            if t == "index":
                return IndexType()
            if t == "none":
                return NoneType()
            if t == "tuple":
                self.expect("<")
                items: List[Type] = []
                if not self.accept(">"):
                    items.append(self.parse_type())
                    while self.accept(","):
                        items.append(self.parse_type())
                    self.expect(">", "'>' closing tuple type")
                return TupleType(tuple(items))
            try:
                return element_type(t)
            except KeyError:
                raise self.error(f"unknown type '{t}' (expected tensor<...>, an element type such "
                                 f"as f32 or i64, index, none, tuple<...> or a function type)",
                                 self.i - 1) from None
        if k == "(":
            return self.parse_function_type()
        raise self.error(f"expected a type, found '{t}'")

    def _tensor_type(self, text: str, at: int) -> TensorType:
        body = text[len("tensor<"):-1].strip()
        enc = None
        if "," in body:
            body, _, enc_text = body.partition(",")
            enc = enc_text.strip()
        body = body.strip()
        if body.startswith("*x"):
            return TensorType(self._elem(body[2:], at), None)
        parts = body.split("x")
        el = self._elem(parts[-1].strip(), at)
        dims: List[Any] = []
        for p in parts[:-1]:
            p = p.strip()
            if p == "?":
                dims.append(None)
            elif p.isdigit():
                dims.append(int(p))
            else:
                raise self.error(f"bad dimension '{p}' in {text}", at)
        if enc is not None:
            names = self._dims_encoding(enc, text, at)
            if len(names) != len(dims):
                raise self.error(f"{text}: the dim encoding has {len(names)} entries for "
                                 f"{len(dims)} dims", at)
            for j, (d, n) in enumerate(zip(dims, names)):
                if isinstance(n, str) and n != "?":
                    if d is not None:
                        raise self.error(f"{text}: dim #{j} is static but named '{n}'", at)
                    dims[j] = n
                elif isinstance(n, int) and n != d:
                    raise self.error(f"{text}: dim #{j} is {d} but the encoding says {n}", at)
        return TensorType(el, tuple(dims))

    def _dims_encoding(self, enc: str, text: str, at: int) -> List[Any]:
        if not (enc.startswith("[") and enc.endswith("]")):
            raise self.error(f"{text}: expected a dim-name list like [\"N\", 4] as the encoding",
                             at)
        out: List[Any] = []
        for item in re.findall(r'"(?:[^"\\]|\\.)*"|[^,\s\[\]]+', enc):
            if item.startswith('"'):
                out.append(_unescape(item))
            elif item.isdigit():
                out.append(int(item))
            else:
                raise self.error(f"{text}: bad entry '{item}' in the dim encoding", at)
        return out

    def _elem(self, name: str, at: int) -> ElementType:
        try:
            return element_type(name)
        except KeyError:
            raise self.error(f"unknown element type '{name}' in {self.texts[at]} (expected one "
                             "of f16, bf16, f32, f64, i1, i8, i16, i32, i64, u8, u16, u32, u64)",
                             at) from None

    def parse_type_list_parens(self) -> List[Type]:
        self.expect("(")
        types: List[Type] = []
        if not self.accept(")"):
            types.append(self.parse_type())
            while self.accept(","):
                types.append(self.parse_type())
            self.expect(")", "')' or ',' in a type list")
        return types

    def parse_function_type(self) -> FunctionType:
        ins = self.parse_type_list_parens()
        self.expect("->", "'->' in a function type")
        if self.peek() == "(":
            save = self.i
            try:
                outs = self.parse_type_list_parens()
            except ParseError:
                self.i = save
                outs = [self.parse_type()]
        else:
            outs = [self.parse_type()]
        return FunctionType(tuple(ins), tuple(outs))

    # -- attributes -----------------------------------------------------------------------------
    def parse_attribute(self) -> Any:
        k = self.kinds[self.i]
        t = self.texts[self.i]
        if k == "int":
            self.i += 1
            v = int(t)
            if self.accept(":"):
                ty = self.parse_type()
                if isinstance(ty, ElementType) and ty.is_float:
                    return float(v)
            return v
        if k == "float":
            self.i += 1
            f = float(t)
            if self.accept(":"):
                self.parse_type()
            return f
        if k == "hex":
            self.i += 1
            bits = int(t, 16)
            if self.accept(":"):
                ty = self.parse_type()
                if isinstance(ty, ElementType) and ty.is_float:
                    return _float_from_bits(bits, ty.bitwidth)
            return bits
        if k == "string":
            self.i += 1
            return _unescape(t)
        if k == "sym":
            self.i += 1
            return SymbolRef(_unescape(t[1:]) if t[1] == '"' else t[1:])
        if k == "[":
            self.i += 1
            items = []
            if not self.accept("]"):
                items.append(self.parse_attribute())
                while self.accept(","):
                    items.append(self.parse_attribute())
                self.expect("]", "']' or ',' in an array attribute")
            return tuple(items)
        if k == "array":
            self.i += 1
            return self._array_attr(t, self.i - 1)
        if k == "ident":
            if t == "true" or t == "false":
                self.i += 1
                return t == "true"
            if t == "unit":
                self.i += 1
                return UNIT
            if t == "dense":
                return self._dense()
            return self.parse_type()
        if k in ("tensor", "("):
            return self.parse_type()
        raise self.error(f"expected an attribute value, found '{t}'")

    def _array_attr(self, text: str, at: int) -> tuple:
        body = text[len("array<"):-1]
        el, _, rest = body.partition(":")
        el = el.strip()
        items = [x.strip() for x in rest.split(",") if x.strip()]
        try:
            if el.startswith("i"):
                return tuple(int(x) for x in items)
            if el.startswith("f"):
                return tuple(float(x) for x in items)
        except ValueError:
            raise self.error(f"bad element in {text}", at) from None
        raise self.error(f"unsupported array attribute element type '{el}'", at)

    def _dense(self) -> DenseAttr:
        start = self.i
        self.i += 1
        self.expect("<", "'<' after dense")
        if self.peek() == "string":
            payload: Any = ("hex", self.expect("string"))
        elif self.peek() == ">":
            payload = ("list", [])
        else:
            payload = ("list", self._dense_elements())
        self.expect(">", "'>' closing dense<...>")
        self.expect(":", "':' and the type of a dense attribute")
        ty = self.parse_type()
        if not isinstance(ty, TensorType) or not ty.is_static:
            raise self.error(f"a dense attribute needs a static tensor type, got {ty}", start)
        dt = ty.element.np_dtype
        shape = ty.dims
        if payload[0] == "hex":
            s = _unescape(payload[1])
            if not s.startswith("0x"):
                raise self.error("a dense string payload must be hex bytes '0x...'", start)
            try:
                raw = bytes.fromhex(s[2:])
            except ValueError:
                raise self.error("bad hex digits in a dense attribute", start) from None
            n = int(np.prod(shape)) if shape else 1
            if len(raw) != n * dt.itemsize:
                raise self.error(f"dense payload has {len(raw)} bytes; {ty} needs "
                                 f"{n * dt.itemsize}", start)
            arr = np.frombuffer(raw, dtype=dt.newbyteorder("<")).astype(dt).reshape(shape)
            return DenseAttr(arr, ty)
        data = payload[1]
        try:
            arr = np.array(data, dtype=np.float64 if ty.element.is_float else object)
            if not ty.element.is_float:
                arr = np.array(data, dtype=dt)
            else:
                arr = arr.astype(dt)
        except (ValueError, OverflowError, TypeError) as e:
            raise self.error(f"dense elements do not fit {ty}: {e}", start) from None
        if arr.shape != shape:
            if arr.size == 0 and 0 in shape:
                arr = np.zeros(shape, dtype=dt)
            elif arr.ndim == 0:
                arr = np.broadcast_to(arr, shape).copy()  # splat
            else:
                raise self.error(f"dense literal has shape {list(arr.shape)} but the type is {ty}",
                                 start)
        return DenseAttr(arr, ty)

    def _dense_elements(self) -> Any:
        k = self.kinds[self.i]
        if k == "[":
            self.i += 1
            items = []
            if not self.accept("]"):
                items.append(self._dense_elements())
                while self.accept(","):
                    items.append(self._dense_elements())
                self.expect("]", "']' or ',' in a dense literal")
            return items
        t = self.texts[self.i]
        self.i += 1
        if k == "int":
            return int(t)
        if k == "float":
            return float(t)
        if k == "hex":
            return _float_from_bits(int(t, 16), 64)
        if k == "ident" and t in ("true", "false"):
            return t == "true"
        raise self.error(f"expected a number in a dense literal, found '{t}'", self.i - 1)

    def parse_attr_dict(self) -> Dict[str, Any]:
        self.expect("{")
        attrs: Dict[str, Any] = {}
        if self.accept("}"):
            return attrs
        while True:
            k = self.kinds[self.i]
            if k == "ident":
                key = self.texts[self.i]
            elif k == "string":
                key = _unescape(self.texts[self.i])
            else:
                raise self.error(f"expected an attribute name, found '{self.texts[self.i]}'")
            self.i += 1
            if key in attrs:
                raise self.error(f"attribute '{key}' appears twice", self.i - 1)
            attrs[key] = self.parse_attribute() if self.accept("=") else UNIT
            if self.accept("}"):
                return attrs
            self.expect(",", "',' or '}' in an attribute dictionary")

    # -- locations ------------------------------------------------------------------------------
    def parse_opt_loc(self) -> Location:
        if not (self.kinds[self.i] == "ident" and self.texts[self.i] == "loc"):
            return UNKNOWN_LOC
        self.i += 1
        self.expect("(", "'(' after loc")
        if self.accept_ident("unknown"):
            self.expect(")")
            return UNKNOWN_LOC
        s = _unescape(self.expect("string", "a location string"))
        if self.accept(":"):
            line = int(self.expect("int", "a line number"))
            self.expect(":", "':' and a column number")
            col = int(self.expect("int", "a column number"))
            self.expect(")", "')' closing loc(...)")
            return FileLineColLoc(s, line, col)
        self.expect(")", "')' closing loc(...)")
        return NameLoc(s)

    # -- values ---------------------------------------------------------------------------------
    def define(self, name: str, values: Sequence[Value], at: int) -> None:
        scope = self.scopes[-1]
        if name in scope:
            raise self.error(f"value %{name} is defined twice", at)
        scope[name] = values
        hint = None if name.isdigit() else name
        if values:
            values[0].name_hint = hint

    def lookup(self, token: str, at: int) -> Value:
        name, _, idx = token[1:].partition("#")
        vals = self.scopes[-1].get(name)
        if vals is None:
            raise self.error(f"use of undefined value %{name}", at)
        if idx:
            j = int(idx)
            if j >= len(vals):
                raise self.error(f"%{name} has {len(vals)} results; #{j} does not exist", at)
            return vals[j]
        if len(vals) != 1:
            raise self.error(f"%{name} has {len(vals)} results: write %{name}#N", at)
        return vals[0]

    # -- ops ------------------------------------------------------------------------------------
    def parse_top(self) -> ModuleOp:
        from mlir_lite.ir.dialects.builtin import ModuleOp
        if self.peek() == "ident" and self.peek_text() == "module":
            m = self.parse_op()
            if self.peek() != "eof":
                raise self.error(f"unexpected '{self.peek_text()}' after the module")
            assert isinstance(m, ModuleOp)  # `module` is parse_module_op's keyword
            return m
        module = ModuleOp.empty()
        while self.peek() != "eof":
            module.append(self.parse_op())
        return module

    def parse_op(self) -> Operation:
        start = self.i
        groups: List[Tuple[str, int, int]] = []
        if self.kinds[self.i] == "value":
            while True:
                at = self.i
                tok = self.expect("value", "a result name")
                if "#" in tok:
                    raise self.error("a result name cannot have a #index", at)
                count = 1
                if self.accept(":"):
                    count = int(self.expect("int", "a result count"))
                groups.append((tok[1:], count, at))
                if not self.accept(","):
                    break
            self.expect("=", "'=' after the result names")
        k = self.kinds[self.i]
        t = self.texts[self.i]
        if k == "string":
            op = self.parse_generic()
        elif k == "ident" and t == "func.func":
            op = self.parse_func()
        elif k == "ident" and t == "module":
            op = self.parse_module_op()
        else:
            raise self.error(f"expected an operation (a quoted op name such as \"ml.add\", "
                             f"func.func or module), found '{t}'")
        n_named = sum(c for _, c, _ in groups)
        if groups and n_named != len(op.results):
            raise self.error(f"{n_named} result names for an op with {len(op.results)} results",
                             start)
        pos = 0
        for name, count, at in groups:
            self.define(name, op.results[pos:pos + count], at)
            pos += count
        return op

    def parse_generic(self) -> Operation:
        at = self.i
        name = _unescape(self.expect("string"))
        self.expect("(", "'(' and the operand list")
        operand_toks: List[Tuple[str, int]] = []
        if not self.accept(")"):
            while True:
                operand_toks.append((self.expect("value", "an operand (%name)"), self.i - 1))
                if self.accept(")"):
                    break
                self.expect(",", "',' or ')' in the operand list")
        if self.peek() == "[":
            raise self.error("block successors are not supported (regions are structured)")
        attrs: Dict[str, Any] = {}
        if self.peek() == "<" and self.kinds[self.i + 1] == "{":
            self.i += 1
            attrs.update(self.parse_attr_dict())
            self.expect(">", "'>' closing the properties")
        operands = [self.lookup(t, a) for t, a in operand_toks]
        regions: List[Region] = []
        if self.peek() == "(" and self.kinds[self.i + 1] == "{":
            self.i += 1
            while True:
                regions.append(self.parse_region(isolated=False))
                if self.accept(")"):
                    break
                self.expect(",", "',' or ')' after a region")
        if self.peek() == "{":
            dup = set(attrs)
            more = self.parse_attr_dict()
            if dup & set(more):
                raise self.error(f"attribute '{sorted(dup & set(more))[0]}' appears twice", at)
            attrs.update(more)
        self.expect(":", "':' and the op's function type")
        ftype_at = self.i
        ftype = self.parse_function_type()
        if len(ftype.inputs) != len(operands):
            raise self.error(f"\"{name}\" has {len(operands)} operands but its type lists "
                             f"{len(ftype.inputs)}", ftype_at)
        for j, (v, ty) in enumerate(zip(operands, ftype.inputs)):
            if v.type is not ty and v.type != ty:
                raise self.error(f"\"{name}\": operand #{j} ({operand_toks[j][0]}) has type "
                                 f"{v.type}, but the op's type says {ty}", operand_toks[j][1])
        loc = self.parse_opt_loc()
        return Operation.create(name, operands, ftype.results, attrs, regions, loc)

    def parse_region(self, isolated: bool,
                     entry_args: Optional[List[BlockArgument]] = None) -> Region:
        """`{ ops }` or `{ ^bb0(%a: T): ops ^bb1: ... }`; `{}` is an empty region, except a
        function body (entry_args given), which always has its entry block."""
        self.expect("{", "'{' opening a region")
        blocks: List[Block] = []
        block = Block()
        if entry_args is not None:
            block.args = list(entry_args)
            for j, a in enumerate(block.args):
                a.block = block
                a.index = j
        implicit = entry_args is None  # an unlabeled entry block that a label may replace
        while True:
            k = self.kinds[self.i]
            if k == "}":
                self.i += 1
                break
            if k == "caret":
                if not (implicit and not blocks and not block._len):
                    blocks.append(block)
                block = self.parse_block_header()
                implicit = False
                continue
            if k == "eof":
                raise self.error("expected '}' closing a region")
            block.append(self.parse_op())
        if not (implicit and not blocks and not block._len):
            blocks.append(block)
        return Region(blocks)

    def parse_block_header(self) -> Block:
        self.expect("caret")
        block = Block()
        if self.accept("("):
            if not self.accept(")"):
                while True:
                    at = self.i
                    name = self.expect("value", "a block argument (%name: type)")
                    self.expect(":", "':' and the argument type")
                    arg = block.add_arg(self.parse_type())
                    self.parse_opt_loc()
                    self.define(name[1:], [arg], at)
                    if self.accept(")"):
                        break
                    self.expect(",", "',' or ')' in the block arguments")
        self.expect(":", "':' after the block label")
        return block

    def parse_func(self) -> Operation:
        from mlir_lite.ir.dialects.func import FuncOp
        at = self.i
        self.i += 1
        attrs: Dict[str, Any] = {}
        if self.peek() == "ident" and self.peek_text() in ("private", "public", "nested"):
            attrs["sym_visibility"] = self.peek_text()
            self.i += 1
        sym = self.expect("sym", "the function name (@name)")
        name = _unescape(sym[1:]) if sym[1] == '"' else sym[1:]
        self.scopes.append({})
        try:
            self.expect("(", "'(' and the parameter list")
            args: List[BlockArgument] = []
            arg_types: List[Type] = []
            decl_only = False
            if not self.accept(")"):
                while True:
                    if self.peek() == "value":
                        aat = self.i
                        aname = self.expect("value")
                        self.expect(":", "':' and the parameter type")
                        ty = self.parse_type()
                        self.parse_opt_loc()
                        arg = BlockArgument(ty, None, len(args))  # type: ignore[arg-type]
                        self.define(aname[1:], [arg], aat)
                        args.append(arg)
                    else:
                        decl_only = True
                        ty = self.parse_type()
                    arg_types.append(ty)
                    if self.accept(")"):
                        break
                    self.expect(",", "',' or ')' in the parameter list")
            results: List[Type] = []
            if self.accept("->"):
                if self.peek() == "(":
                    results = self.parse_type_list_parens()
                else:
                    results = [self.parse_type()]
            if self.accept_ident("attributes"):
                extra = self.parse_attr_dict()
                attrs.update(extra)
            attrs["sym_name"] = name
            attrs["function_type"] = FunctionType(tuple(arg_types), tuple(results))
            if self.peek() == "{":
                if decl_only and arg_types:
                    raise self.error("a function with a body needs named parameters (%x: type)")
                body = self.parse_region(isolated=True, entry_args=args)
            else:
                body = Region()
        finally:
            self.scopes.pop()
        ordered = {"sym_name": attrs.pop("sym_name"), "function_type": attrs.pop("function_type")}
        ordered.update(attrs)
        loc = self.parse_opt_loc()
        op = FuncOp.build(attrs=ordered, result_types=[], regions=[body], loc=loc)
        del at
        return op

    def parse_module_op(self) -> Operation:
        from mlir_lite.ir.dialects.builtin import ModuleOp
        self.i += 1
        attrs: Dict[str, Any] = {}
        if self.peek() == "sym":
            sym = self.expect("sym")
            attrs["sym_name"] = _unescape(sym[1:]) if sym[1] == '"' else sym[1:]
        if self.accept_ident("attributes"):
            attrs.update(self.parse_attr_dict())
        self.scopes.append({})
        try:
            body = self.parse_region(isolated=True)
        finally:
            self.scopes.pop()
        if not body.blocks:
            body.add_block(Block())
        loc = self.parse_opt_loc()
        return ModuleOp.build(attrs=attrs, result_types=[], regions=[body], loc=loc)


def _float_from_bits(bits: int, width: int) -> float:
    if width == 64:
        return struct.unpack("<d", struct.pack("<Q", bits & (2**64 - 1)))[0]
    if width == 32:
        return struct.unpack("<f", struct.pack("<I", bits & (2**32 - 1)))[0]
    if width == 16:
        return float(np.frombuffer(struct.pack("<H", bits & 0xFFFF), dtype=np.float16)[0])
    raise ValueError(f"no float of width {width}")


def parse_module(text: str, filename: str = "<string>") -> ModuleOp:
    """Parse a module (or a list of top-level ops, wrapped in an implicit module)."""
    # The parse allocates millions of objects and frees none of them: the cyclic collector
    # would rescan them again and again for nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Parser(text, filename).parse_top()
    finally:
        if was_enabled:
            gc.enable()


def parse_type(text: str) -> Type:
    p = _Parser(text, "<type>")
    t = p.parse_type()
    if p.peek() != "eof":
        raise p.error(f"unexpected '{p.peek_text()}' after the type")
    return t


def parse_attribute(text: str) -> Any:
    p = _Parser(text, "<attribute>")
    a = p.parse_attribute()
    if p.peek() != "eof":
        raise p.error(f"unexpected '{p.peek_text()}' after the attribute")
    return a
