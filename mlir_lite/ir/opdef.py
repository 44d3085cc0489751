"""Declare an op once: operands, results, attributes, traits, regions, type inference, checks.

    define_op("ml.softmax", operands=["x"], attrs={"axis": Int(-1)},
              traits=PURE, infer=same_as_operand(0))

One declaration yields the registered `Operation` subclass with typed accessors (`op.x`,
`op.axis`), the structural verifier (operand counts, attribute kinds, result types against
`infer`), and `build()` which infers result types for builders and frontends.

Operand and result specs are names with an optional suffix: `"bias?"` is optional, `"inputs*"`
variadic. With more than one optional/variadic operand the op carries `operandSegmentSizes`, as
in MLIR.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Self, Sequence

from mlir_lite.errors import InferenceError, VerifyError
from mlir_lite.ir.attributes import UNKNOWN_LOC, DenseAttr, Location, SymbolRef, UnitAttr
from mlir_lite.ir.core import OP_REGISTRY, Operation, Region, Value
from mlir_lite.ir.types import TensorType, Type

__all__ = [
    "OperandDef", "AttrDef", "define_op", "DIALECTS", "ops_of_dialect", "types_compatible",
    "Int", "Float", "Bool", "Str", "Ints", "Floats", "Strs", "TypeAttr", "Dense", "Sym",
    "Unit", "AnyAttr", "REQUIRED", "PURE", "ELEMENTWISE", "TERMINATOR", "InferFn",
    "BROADCAST_ELEMENTWISE", "INJECTIVE", "VIEW", "ALIAS", "REDUCTION", "GEMM", "CONV", "POOL",
    "FUSION_ANCHOR", "KERNEL_KIND_TRAITS", "op_traits", "op_has_trait", "op_kernel_kind",
    "ops_with_trait",
]

InferFn = Callable[[List[Type], Dict[str, Any]], List[Type]]

# -- traits ------------------------------------------------------------------------------------
# What passes and backends know about an op, declared once with it (`define_op(traits=...)`) and
# read through `op.has_trait(...)` / the queries below, never retyped as lists of op names:
#   Pure                  no side effects (may be removed, reordered, fused)
#   Elementwise           each result element from the same-index operand elements (numpy
#                         broadcasting); fusion: elementwise/broadcast
#   BroadcastElementwise  elementwise on operand 0, the other operands broadcast parameters
#                         (batch_norm); fusion: broadcast
#   Injective             each result element is a copy of one operand element (reshape,
#                         transpose, slice, concat, pad ...); fusion inlines it into consumers
#   View                  the result is operand 0's data seen with another shape, no copy
#                         (reshape, squeeze, ...); implies Injective and Alias
#   Alias                 the result may be operand 0's buffer (the views, identity, dropout):
#                         memory planning shares it, the TVM backend runs it as a view, no kernel
#   Reduction, Gemm, Conv, Pool
#                         the op's kernel kind (at most one): it reduces/scans along axes, is a
#                         matrix product, a convolution or a windowed pooling; the TVM backend
#                         schedules it by this kind (lower.py)
#   FusionAnchor          (with a kernel kind) the fuser builds a kernel around it: elementwise
#                         epilogues of the same shape, and for a Reduction the elementwise
#                         producers of its operand 0; the group's kind is the anchor's
#                         ("gemm_epilogue", "conv_epilogue", "pool_epilogue", "reduction")
#   ConstantLike, Terminator
PURE = frozenset({"Pure"})
ELEMENTWISE = frozenset({"Pure", "Elementwise"})
TERMINATOR = frozenset({"Terminator"})
BROADCAST_ELEMENTWISE = frozenset({"Pure", "BroadcastElementwise"})
INJECTIVE = frozenset({"Pure", "Injective"})
VIEW = frozenset({"Pure", "Injective", "View", "Alias"})
ALIAS = frozenset({"Alias"})  # added to the op's other traits (identity, dropout)
REDUCTION = frozenset({"Pure", "Reduction"})
GEMM = frozenset({"Pure", "Gemm"})
CONV = frozenset({"Pure", "Conv"})
POOL = frozenset({"Pure", "Pool"})
FUSION_ANCHOR = frozenset({"FusionAnchor"})  # added to a kernel kind: GEMM | FUSION_ANCHOR
# kernel-kind trait -> the kind `op_kernel_kind` names
KERNEL_KIND_TRAITS: Dict[str, str] = {"Gemm": "gemm", "Conv": "conv", "Pool": "pool",
                                      "Reduction": "reduction"}


def _check_traits(name: str, traits: frozenset) -> None:
    kinds = sorted(t for t in traits if t in KERNEL_KIND_TRAITS)
    if len(kinds) > 1:
        raise ValueError(f"{name}: at most one kernel kind trait, got {', '.join(kinds)}")
    if "FusionAnchor" in traits and not kinds:
        raise ValueError(f"{name}: FusionAnchor needs a kernel kind trait "
                         f"({', '.join(KERNEL_KIND_TRAITS)})")
    if "View" in traits and not {"Injective", "Alias"} <= traits:
        raise ValueError(f"{name}: View implies Injective and Alias (use VIEW)")
    if "Elementwise" in traits and ("Injective" in traits or kinds):
        raise ValueError(f"{name}: Elementwise excludes Injective and kernel kinds")


def op_traits(name: str) -> frozenset:
    """The declared traits of registered op `name` (empty for an unknown op)."""
    cls = OP_REGISTRY.get(name)
    return cls.TRAITS if cls is not None else frozenset()


def op_has_trait(name: str, trait: str) -> bool:
    """Whether registered op `name` declares `trait`."""
    return trait in op_traits(name)


def op_kernel_kind(name: str) -> Optional[str]:
    """The declared kernel kind of op `name`: "gemm", "conv", "pool", "reduction", or None (an
    elementwise/injective/other op)."""
    for t in op_traits(name):
        if t in KERNEL_KIND_TRAITS:
            return KERNEL_KIND_TRAITS[t]
    return None


def ops_with_trait(trait: str, dialect: Optional[str] = None) -> frozenset:
    """The names of the registered ops (of `dialect`, when given) that declare `trait`."""
    return frozenset(n for n, cls in OP_REGISTRY.items()
                     if trait in cls.TRAITS and (dialect is None or n.split(".", 1)[0] == dialect))


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class OperandDef:
    name: str
    kind: str  # "single" | "optional" | "variadic"


@dataclass(frozen=True)
class AttrDef:
    """An attribute declaration: its kind (checked by `check`), and a default or REQUIRED."""

    kind: str
    check: Callable[[Any], bool]
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_float(v: Any) -> bool:
    return type(v) in (float, int)


def _tuple_of(pred: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, tuple) and all(pred(x) for x in v)


def Int(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("int", _is_int, default)


def Float(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("float", _is_float, default)


def Bool(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("bool", lambda v: type(v) is bool, default)


def Str(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("string", lambda v: type(v) is str, default)


def Ints(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("array of ints", _tuple_of(_is_int), default)


def Floats(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("array of floats", _tuple_of(_is_float), default)


def Strs(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("array of strings", _tuple_of(lambda v: type(v) is str), default)


def TypeAttr(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("type", lambda v: isinstance(v, Type), default)


def Dense(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("dense tensor", lambda v: isinstance(v, DenseAttr), default)


def Sym(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("symbol reference", lambda v: isinstance(v, SymbolRef), default)


def Unit() -> AttrDef:
    return AttrDef("unit", lambda v: isinstance(v, UnitAttr), None)


def AnyAttr(default: Any = REQUIRED) -> AttrDef:
    return AttrDef("attribute", lambda v: True, default)


DIALECTS: Dict[str, Dict[str, type]] = {}


def ops_of_dialect(dialect: str) -> Dict[str, type]:
    """Registered op classes of a dialect, by op name."""
    return dict(DIALECTS.get(dialect, {}))


def _parse_specs(specs: Sequence[str]) -> tuple:
    out = []
    for s in specs:
        if s.endswith("?"):
            out.append(OperandDef(s[:-1], "optional"))
        elif s.endswith("*"):
            out.append(OperandDef(s[:-1], "variadic"))
        else:
            out.append(OperandDef(s, "single"))
    return tuple(out)


def _dims_compatible(a: Any, b: Any) -> bool:
    # Only two different static sizes are a proven contradiction; symbols may be bound to any
    # size, and unknown dims to anything.
    return a == b or type(a) is not int or type(b) is not int


def types_compatible(declared: Type, inferred: Type) -> bool:
    """Whether a declared type can be the inferred one (unknown/symbolic dims may be refined)."""
    if declared == inferred:
        return True
    if isinstance(declared, TensorType) and isinstance(inferred, TensorType):
        if declared.element != inferred.element:
            return False
        if declared.shape is None or inferred.shape is None:
            return True
        if len(declared.shape) != len(inferred.shape):
            return False
        return all(_dims_compatible(a, b) for a, b in zip(declared.shape, inferred.shape))
    return False


class DeclaredOp(Operation):
    """Base of ops declared through `define_op`."""

    __slots__ = ()
    INFER: Optional[InferFn] = None
    VERIFY: Optional[Callable[[Operation], None]] = None
    FOLD: Optional[Callable[..., Any]] = None
    DOC: str = ""

    @classmethod
    def build(cls, operands: Sequence[Value] = (), attrs: Optional[Dict[str, Any]] = None,
              result_types: Optional[Sequence[Type]] = None, regions: Sequence[Region] = (),
              loc: Location = UNKNOWN_LOC) -> Self:
        """Make the op; result types are inferred when not given."""
        attrs = dict(attrs or {})
        for k, v in list(attrs.items()):
            if isinstance(v, list):
                attrs[k] = tuple(v)
        operands = list(operands)
        if result_types is None and not cls.RESULTS:
            result_types = []
        if result_types is None:
            if cls.INFER is None:
                raise InferenceError(f"{cls.OP_NAME} cannot infer its result types; pass them",
                                     loc)
            result_types = cls.infer_result_types([v.type for v in operands], attrs, loc)
        op = cls.__new__(cls)
        Operation.__init__(op, cls.OP_NAME, operands, result_types, attrs, regions, loc,
                           num_regions=cls.NUM_REGIONS or 0)
        return op

    @classmethod
    def infer_result_types(cls, operand_types: List[Type], attrs: Dict[str, Any],
                           loc: Location = UNKNOWN_LOC) -> List[Type]:
        full = cls.attrs_with_defaults(attrs)
        try:
            return list(cls.INFER(operand_types, full))  # type: ignore[misc]
        except InferenceError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError) as e:
            types = ", ".join(str(t) for t in operand_types)
            raise InferenceError(f"{cls.OP_NAME}: cannot infer result types from ({types}): {e}",
                                 loc) from None

    # attr() and attrs_with_defaults() (the declared defaults) are Operation's

    def operand_groups(self) -> Dict[str, List[Value]]:
        """Operands by declared name (lists, for optional and variadic operands too)."""
        sizes = self._segment_sizes()
        out, pos = {}, 0
        for d, n in zip(self.OPERANDS, sizes):
            out[d.name] = list(self._operands[pos:pos + n])
            pos += n
        return out

    def _segment_sizes(self) -> List[int]:
        defs = self.OPERANDS
        n = len(self._operands)
        flexible = [i for i, d in enumerate(defs) if d.kind != "single"]
        if len(flexible) > 1:
            seg = self.attributes.get("operandSegmentSizes")
            if seg is None:
                # Without segment sizes, optional operands are filled from the front.
                sizes, left = [], n
                for d in defs:
                    k = 1 if d.kind == "single" else (min(1, max(0, left - _singles_after(defs, d)))
                                                      if d.kind == "optional" else
                                                      max(0, left - _singles_after(defs, d)))
                    sizes.append(k)
                    left -= k
                return sizes
            return list(seg)
        sizes = [1] * len(defs)
        if flexible:
            sizes[flexible[0]] = n - (len(defs) - 1)
        return sizes

    def verify_op(self) -> None:
        where = self.loc
        defs = self.OPERANDS
        n = len(self._operands)
        singles = sum(1 for d in defs if d.kind == "single")
        optionals = sum(1 for d in defs if d.kind == "optional")
        variadic = any(d.kind == "variadic" for d in defs)
        if "operandSegmentSizes" in self.attributes:
            seg = self.attributes["operandSegmentSizes"]
            if (not isinstance(seg, tuple) or len(seg) != len(defs) or sum(seg) != n
                    or any(type(s) is not int or s < 0 for s in seg)):
                raise VerifyError(f"{self.name}: operandSegmentSizes {seg} does not fit "
                                  f"{n} operands and {len(defs)} operand groups", where)
        elif n < singles or (not variadic and n > singles + optionals):
            want = f"{singles}" if not optionals and not variadic else (
                f"at least {singles}" if variadic else f"{singles} to {singles + optionals}")
            raise VerifyError(f"{self.name} expects {want} operands, got {n}", where)
        if self.RESULTS and not any(d.kind != "single" for d in self.RESULTS):
            if len(self.results) != len(self.RESULTS):
                raise VerifyError(f"{self.name} expects {len(self.RESULTS)} results, "
                                  f"got {len(self.results)}", where)
        if self.NUM_REGIONS is not None and len(self.regions) != self.NUM_REGIONS:
            raise VerifyError(f"{self.name} expects {self.NUM_REGIONS} regions, "
                              f"got {len(self.regions)}", where)
        for aname, d in self.ATTRS.items():
            v = self.attributes.get(aname)
            if v is None:
                if d.required:
                    raise VerifyError(f"{self.name} requires attribute '{aname}' ({d.kind})", where)
                continue
            if not d.check(v):
                raise VerifyError(f"{self.name}: attribute '{aname}' must be {d.kind}, "
                                  f"got {_short(v)}", where)
        if self.INFER is not None:
            inferred = self.infer_result_types([v.type for v in self._operands], self.attributes,
                                               where)
            if len(inferred) != len(self.results):
                raise VerifyError(f"{self.name} infers {len(inferred)} results but has "
                                  f"{len(self.results)}", where)
            for i, (r, t) in enumerate(zip(self.results, inferred)):
                if not types_compatible(r.type, t):
                    raise VerifyError(f"{self.name}: result #{i} has type {r.type} but its "
                                      f"operands give {t}", where)
        if self.VERIFY is not None:
            type(self).VERIFY(self)  # type: ignore[misc]


def _singles_after(defs: tuple, d: OperandDef) -> int:
    return sum(1 for x in defs[defs.index(d) + 1:] if x.kind == "single")


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."


_RESERVED = set(dir(DeclaredOp))


def _operand_accessor(index: int, name: str, kind: str, single_layout: bool) -> property:
    if single_layout and kind == "single":
        return property(lambda self: self._operands[index], doc=f"operand '{name}'")
    if kind == "optional":
        def get_opt(self: DeclaredOp) -> Optional[Value]:
            g = self.operand_groups()[name]
            return g[0] if g else None
        return property(get_opt, doc=f"optional operand '{name}' (None when absent)")
    if kind == "variadic":
        return property(lambda self: self.operand_groups()[name], doc=f"variadic operand '{name}'")
    return property(lambda self: self.operand_groups()[name][0], doc=f"operand '{name}'")


def _attr_accessor(name: str) -> property:
    return property(lambda self: self.attr(name), doc=f"attribute '{name}'")


def define_op(name: str, *, operands: Sequence[str] = (), results: Sequence[str] = ("result",),
              attrs: Optional[Dict[str, AttrDef]] = None, traits: frozenset = frozenset(),
              regions: Optional[int] = 0, infer: Optional[InferFn] = None,
              verify: Optional[Callable[[Operation], None]] = None,
              fold: Optional[Callable[..., Any]] = None, doc: str = "",
              base: type[DeclaredOp] = DeclaredOp) -> type[DeclaredOp]:
    """Declare and register op `name` ("dialect.op"); returns its class."""
    if name in OP_REGISTRY:
        raise ValueError(f"op {name} is declared twice")
    dialect, _, short = name.partition(".")
    traits = frozenset(traits)
    _check_traits(name, traits)
    odefs = _parse_specs(operands)
    rdefs = _parse_specs(results)
    attrs = dict(attrs or {})
    flexible_before = False
    ns: Dict[str, Any] = {
        "__slots__": (), "OP_NAME": name, "DIALECT": dialect, "OPERANDS": odefs,
        "RESULTS": rdefs, "ATTRS": attrs, "TRAITS": frozenset(traits),
        "NUM_REGIONS": regions, "INFER": staticmethod(infer) if infer else None,
        "VERIFY": staticmethod(verify) if verify else None,
        "FOLD": staticmethod(fold) if fold else None, "DOC": doc, "__doc__": doc or name,
    }
    for i, d in enumerate(odefs):
        if d.name in _RESERVED:
            raise ValueError(f"{name}: operand name '{d.name}' clashes with an Operation member")
        ns[d.name] = _operand_accessor(i, d.name, d.kind, not flexible_before)
        flexible_before = flexible_before or d.kind != "single"
    for aname in attrs:
        if aname in _RESERVED or aname in ns:
            raise ValueError(f"{name}: attribute name '{aname}' clashes with another member")
        ns[aname] = _attr_accessor(aname)
    cls_name = "".join(p.capitalize() for p in short.replace(".", "_").split("_")) + "Op"
    cls = type(cls_name, (base,), ns)
    cls.__module__ = f"mlir_lite.ir.dialects.{dialect}"
    OP_REGISTRY[name] = cls
    DIALECTS.setdefault(dialect, {})[name] = cls
    return cls
