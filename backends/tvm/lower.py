"""Lowering `ml` ops to TVM tensor expressions: one rule per op, in a table.

    @lower("ml.relu")
    def _relu(ctx, op, x):
        return ctx.elementwise([x], lambda v: tirx.max(v, ctx.zero(v.dtype)))

A rule takes the lowering context, the op (for its attributes) and one `te.Tensor` per operand
that is present, and returns a tensor or a list of tensors (one per result). Shapes are TVM
expressions: static dims are `IntImm`s and symbolic dims are `int64` `tirx.Var`s shared across a
whole function (`ctx.dims`), so one compiled kernel serves every size. Each op's kernel *kind*
(`injective`, `reduction`, `matmul`, `conv`, `pool`, `view`), which picks the schedule, comes
from the traits declared with the op (`declared_kind`: Alias -> view, Gemm -> matmul, Conv,
Pool, Reduction, else injective); `@lower(..., kind=...)` overrides it only where the TVM
schedule genuinely differs from the declaration (each override says why). A rule may refine it
through `ctx.kind` and pass schedule hints in `ctx.hints`.

Index-consuming rules never read out of bounds: they read at a clamped index and also produce an
error-flag tensor (`ctx.add_check`), which the executor reads after the kernel and turns into an
ExecutionError naming the op. So a bad index is always reported, never silently clamped.
"""
from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import tvm_ffi
from tvm import te, tirx
from tvm.ir.expr import Expr as PrimExpr

import mlir_lite.ir.dialects.ml  # noqa: F401  (the op declarations the kinds come from)
from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.opdef import op_has_trait, op_kernel_kind
from mlir_lite.ir.types import ElementType, TensorType

from .narrow_types import check_op, dtype_of, storage_dtype

__all__ = ["LOWERING", "KINDS", "lower", "declared_kind", "LowerContext", "tvm_dtype",
           "value_dtype", "dtype_of", "load", "is_one", "same_dim", "broadcast_shape",
           "broadcast_index", "Check", "BOUND_SYMBOLS", "BOUND_DIMS"]

# The symbols bound before the kernel being lowered runs (name -> the builder's Var): those the
# function's arguments bind and those a shape step bound from run-time values. Set by build.py
# while it lowers: a kernel may size its results with them (the plan knows their values when it
# calls the kernel), not only with the symbols its own inputs carry.
BOUND_SYMBOLS: ContextVar[Mapping[str, Any]] = ContextVar("BOUND_SYMBOLS",
                                                          default=MappingProxyType({}))
# The dims of values whose unknown (`?`) dims a shape step bound (value -> one expression per
# dim), set by build.py: `rules_dynamic.result_shape` reads them before the result type.
BOUND_DIMS: ContextVar[Mapping[Value, Sequence[Any]]] = ContextVar("BOUND_DIMS",
                                                                   default=MappingProxyType({}))


Rule = Callable[..., Union[te.Tensor, Sequence[te.Tensor]]]

LOWERING: Dict[str, Rule] = {}
KINDS: Dict[str, str] = {}

_DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64",
           "i1": "bool", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
           "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64"}


def load(t: te.Tensor, idx: Sequence[Any]) -> PrimExpr:
    """`t[idx]` as an expression (a 0-d tensor is read with no index)."""
    v = t[tuple(idx)] if len(t.shape) else t()
    return v.asobject() if hasattr(v, "asobject") else v


def tvm_dtype(el: ElementType) -> str:
    """The TVM dtype string of an element type (`f32` -> `float32`, `i1` -> `bool`); the 8/4-bit
    floats and 4/2-bit ints are stored as bytes (`uint8`, narrow_types.py)."""
    dt = _DTYPES.get(el.name) or storage_dtype(el)
    if dt is None:
        from mlir_lite.errors import CompileError
        raise CompileError(f"element type {el.name} is not supported by the TVM backend")
    return dt


def value_dtype(v: Value) -> str:
    """The TVM dtype of a tensor value's elements (`tvm_dtype` of its element type)."""
    t = v.type
    if not isinstance(t, TensorType):
        raise TypeError(f"the TVM backend lowers tensors, got a value of type {t}")
    return tvm_dtype(t.element)


# declared kernel kind (opdef.op_kernel_kind) -> the TVM schedule kind
_SCHEDULE_OF_KERNEL = {"gemm": "matmul", "conv": "conv", "pool": "pool", "reduction": "reduction"}


def declared_kind(name: str) -> str:
    """The kernel kind op `name` gets from its declared traits: `view` for an Alias (run as a
    view of its operand's buffer, no kernel), `matmul`/`conv`/`pool`/`reduction` for its kernel
    kind, else `injective`."""
    if op_has_trait(name, "Alias"):
        return "view"
    return _SCHEDULE_OF_KERNEL.get(op_kernel_kind(name) or "", "injective")


def lower(*names: str, kind: Optional[str] = None) -> Callable[[Rule], Rule]:
    """Register `fn(ctx, op, *tensors)` as the lowering of the named ops, scheduled as the kind
    their declaration gives (`declared_kind`), or as `kind`: an override, for a TVM schedule
    that differs from the declaration (a `kind` equal to the declared one is refused). The
    registered rule first refuses an op that would compute on 8/4/2-bit values, which only
    the conversions and the byte-moving ops may see (`narrow_types.check_op`)."""
    def deco(fn: Rule) -> Rule:
        for n in names:
            if n in LOWERING:
                raise ValueError(f"lowering rule for {n} is registered twice")
            if kind is not None and kind == declared_kind(n):
                raise ValueError(f"lowering rule for {n}: kind={kind!r} is what its declaration "
                                 "gives; drop the override")
            LOWERING[n] = _checked(fn)
            KINDS[n] = kind or declared_kind(n)
        return fn
    return deco


def _checked(fn: Rule) -> Rule:
    @functools.wraps(fn)
    def rule(ctx: "LowerContext", op: Operation, *tensors: Any) -> Any:
        check_op(op)
        return fn(ctx, op, *tensors)
    return rule


@dataclass
class Check:
    """An error flag computed by a kernel: nonzero means `message` applies (e.g. a bad index)."""

    flag: te.Tensor
    message: str


@dataclass
class LowerContext:
    """What a rule may use and report while lowering one op."""

    op: Operation
    kind: str = "injective"
    hints: Dict[str, Any] = field(default_factory=dict)
    checks: List[Check] = field(default_factory=list)
    _n: int = 0

    # -- names and constants ------------------------------------------------------------------
    def name(self, base: str) -> str:
        """A stage name unique within this op's kernel."""
        self._n += 1
        return base if self._n == 1 else f"{base}_{self._n}"

    @staticmethod
    def const(value: Any, dtype: str) -> PrimExpr:
        if dtype == "bool":
            return tirx.const(bool(value), "bool")
        return tirx.const(value, dtype)

    def zero(self, dtype: str) -> PrimExpr:
        return self.const(0, dtype)

    def result_dtype(self, i: int = 0) -> str:
        return value_dtype(self.op.results[i])

    # -- compute helpers ----------------------------------------------------------------------
    def elementwise(self, inputs: Sequence[te.Tensor], fn: Callable[..., PrimExpr],
                    name: Optional[str] = None) -> te.Tensor:
        """`fn` applied to the broadcast scalars of `inputs` (numpy broadcasting)."""
        shape = broadcast_shape([t.shape for t in inputs])
        rank = len(shape)
        self.check_broadcast([t.shape for t in inputs], shape)

        def body(*idx: PrimExpr) -> PrimExpr:
            return fn(*[load(t, broadcast_index(t.shape, idx, rank, shape)) for t in inputs])
        return te.compute(shape, body, name=self.name(name or _short(self.op.name)))

    def check_broadcast(self, shapes: Sequence[Sequence[Any]], out: Sequence[Any]) -> None:
        """Flag, at run time, a symbolic dim that is neither 1 nor the broadcast dim it meets
        (types assume it is one of the two; anything else would read out of bounds)."""
        rank = len(out)
        for k, shape in enumerate(shapes):
            off = rank - len(shape)
            for i, d in enumerate(shape):
                o = out[off + i]
                if isinstance(d, (int, tirx.IntImm)) or same_dim(d, o):
                    continue
                self.add_check(lambda d=d, o=o: tirx.all(d != 1, d != o), [],
                               f"{self.op.name}: dim {i} of operand #{k} ({_dim_text(d)}) must "
                               f"be 1 or equal to {_dim_text(o)} to broadcast")

    def add_check(self, bad: Callable[..., PrimExpr], shape: Sequence[PrimExpr],
                  message: str) -> None:
        """Record an error flag: 1 when `bad(*idx)` holds for some index of `shape`."""
        axes = [te.reduce_axis((0, d), name=f"chk{i}") for i, d in enumerate(shape)]
        if axes:
            flag = te.compute((1,), lambda _: _ANY(bad(*axes).astype("int32"), axis=axes),
                              name=self.name("check"))
        else:
            flag = te.compute((1,), lambda _: bad().astype("int32"), name=self.name("check"))
        self.checks.append(Check(flag, message))


# max from 0, not te.max's INT_MIN: over no index at all (an empty tensor) the flag is clear
_ANY = te.comm_reducer(lambda a, b: tirx.max(a, b), lambda t: tirx.const(0, t), name="any")


def _dim_text(d: Any) -> str:
    return str(d.value) if isinstance(d, tirx.IntImm) else str(d)


def _short(name: str) -> str:
    return name.split(".", 1)[-1]


def is_one(d: Any) -> bool:
    return isinstance(d, tirx.IntImm) and d.value == 1 or (isinstance(d, int) and d == 1)


def same_dim(a: Any, b: Any) -> bool:
    """Structural equality of two dims (ints, IntImms or expressions over the shared vars)."""
    if isinstance(a, (int, tirx.IntImm)) and isinstance(b, (int, tirx.IntImm)):
        return int(a) == int(b)
    return bool(tvm_ffi.structural_equal(a, b))


def broadcast_shape(shapes: Sequence[Sequence[Any]]) -> List[Any]:
    """Numpy broadcasting of shapes of TVM dims. A static dim wins over a symbolic one (the
    symbol must be 1 or equal to it); two different symbols give their maximum."""
    rank = max((len(s) for s in shapes), default=0)
    out: List[Any] = []
    for p in range(rank):
        dims = [s[p - (rank - len(s))] for s in shapes if p >= rank - len(s)]
        big = [d for d in dims if not is_one(d)]
        if not big:
            out.append(tirx.IntImm("int64", 1))
            continue
        static = [d for d in big if isinstance(d, tirx.IntImm)]
        if static:
            out.append(static[0])
            continue
        d0 = big[0]
        for d in big[1:]:
            if not same_dim(d0, d):
                d0 = tirx.max(d0, d)
        out.append(d0)
    return out


def broadcast_index(shape: Sequence[Any], idx: Sequence[PrimExpr], rank: int,
                    out_shape: Optional[Sequence[Any]] = None) -> Tuple[PrimExpr, ...]:
    """The index into a tensor of `shape` for output index `idx` (of length `rank`, over an
    output of `out_shape` when known)."""
    off = rank - len(shape)
    out = []
    for i, d in enumerate(shape):
        j = idx[off + i]
        if is_one(d):
            out.append(tirx.const(0, dtype_of(j)))
        elif isinstance(d, (int, tirx.IntImm)) or (
                out_shape is not None and same_dim(d, out_shape[off + i])):
            out.append(j)
        else:
            # A symbolic dim may be 1 at run time and then broadcasts.
            out.append(tirx.if_then_else(d == 1, tirx.const(0, dtype_of(j)), j))
    return tuple(out)
