"""`VJPContext`: what a VJP rule builds with. Shape-polymorphic helpers that pick static ops
when the types allow it and run-time shape ops (`ml.shape`, `ml.expand_dynamic`, ...) otherwise.

    g = ctx.unbroadcast(ctx.emit("ml.mul", cot, b), a)   # sum over a's broadcast axes
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from mlir_lite.errors import PassError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Operation, Value
from mlir_lite.ir.opdef import types_compatible
from mlir_lite.ir.types import ElementType, TensorType, Type, i1, i64

__all__ = ["VJPContext", "is_float_type"]


def is_float_type(t: Type) -> bool:
    """A float tensor (or scalar) type: the only values that carry gradients."""
    if isinstance(t, TensorType):
        return t.element.is_float
    return isinstance(t, ElementType) and t.is_float


class VJPContext:
    """Emits backward ops at the end of one block, on behalf of the op being differentiated."""

    def __init__(self, builder: Builder, active: Set[Value],
                 backprop: Callable[..., Any],
                 accumulate: Callable[[Value, Value], None]) -> None:
        self.b = builder
        self.active = active
        self.op: Optional[Operation] = None
        self._backprop = backprop
        self._accumulate = accumulate

    # -- emitting ---------------------------------------------------------------------------------
    def fail(self, message: str) -> PassError:
        name = self.op.name if self.op is not None else "?"
        return PassError(f"autodiff of {name}: {message}", None if self.op is None else self.op.loc)

    def emit(self, name: str, *operands: Value, result_types: Optional[Sequence[Type]] = None,
             **attrs: Any) -> Any:
        """Create op `name` (result types inferred) at the end of the backward code."""
        loc = None if self.op is None else self.op.loc
        return self.b.op(name, *operands, result_types=result_types, loc=loc, **attrs)

    def create(self, name: str, operands: Sequence[Value], attrs: Optional[Dict[str, Any]] = None,
               result_types: Optional[Sequence[Type]] = None, regions: Sequence[Any] = ()
               ) -> Operation:
        loc = None if self.op is None else self.op.loc
        return self.b.create(name, operands, attrs, result_types, regions, loc)

    def wants(self, v: Value) -> bool:
        """Whether `v` needs a cotangent (it is a float value that depends on a wrt param)."""
        return v in self.active and is_float_type(v.type)

    def accumulate(self, v: Value, cot: Value) -> None:
        """Add `cot` to the cotangent of `v` (for values that regions capture)."""
        self._accumulate(v, cot)

    def backprop(self, block: Block, seeds: Sequence[Tuple[Value, Value]],
                 active_in: Set[Value]) -> Tuple[Dict[Value, Value], "VJPContext"]:
        """Differentiate the ops of `block` from `seeds` (pairs of a value and a cotangent for
        it), appending the backward ops to `block`. Returns the cotangents of every value that
        got one (values captured from enclosing blocks included) and a context that emits at
        the end of `block`."""
        return self._backprop(block, seeds, active_in)

    def at(self, block: Block) -> "VJPContext":
        """A context like this one that emits at the end of `block`."""
        sub = VJPContext(Builder.at_end(block), self.active, self._backprop, self._accumulate)
        sub.op = self.op
        return sub

    # -- constants ----------------------------------------------------------------------------
    def const(self, value: Any, element: ElementType, shape: Sequence[int] = ()) -> Value:
        arr = np.full(tuple(shape), value, dtype=element.np_dtype) if np.ndim(value) == 0 \
            else np.asarray(value, dtype=element.np_dtype)
        return self.emit("ml.constant", value=DenseAttr(arr))

    def scalar(self, value: Any, like: Value) -> Value:
        """A rank-0 constant of `like`'s element type."""
        return self.const(value, _element(like))

    def i64s(self, values: Union[int, Sequence[int]]) -> Value:
        return self.const(np.asarray(values, np.int64), i64)

    def element(self, v: Value) -> ElementType:
        return _element(v)

    def zeros_like(self, v: Value) -> Value:
        t = _tensor(v)
        if t.is_static:
            return self.emit("ml.constant_of_shape", shape=t.dims,
                             value=DenseAttr(np.zeros((1,), t.element.np_dtype)))
        z = self.emit("ml.constant_of_shape_dynamic", self.shape_of(v),
                      value=DenseAttr(np.zeros((1,), t.element.np_dtype)))
        return self.refine(z, t)

    def fill_like(self, value: float, v: Value) -> Value:
        return self.broadcast_like(self.scalar(value, v), v)

    # -- shapes -------------------------------------------------------------------------------
    def rank(self, v: Value) -> int:
        t = _tensor(v)
        if t.shape is None:
            raise self.fail(f"needs a ranked operand, got {t}")
        return len(t.shape)

    def shape(self, v: Value) -> tuple:
        self.rank(v)
        return _tensor(v).dims

    def shape_of(self, v: Value) -> Value:
        return self.emit("ml.shape", v)

    def dim(self, v: Value, axis: int) -> Value:
        """Dim `axis` of `v` as a 1-element i64 tensor (a constant when static)."""
        d = self.shape(v)[axis]
        if type(d) is int:
            return self.i64s([d])
        axis = axis % self.rank(v)
        return self.emit("ml.shape", v, start=axis, end=axis + 1)

    def refine(self, v: Value, t: Type) -> Value:
        """`v` retyped as `t` (an `ml.identity` with the declared type) when `t` is more precise;
        `v` itself when the types are equal or incompatible."""
        if v.type == t or not types_compatible(t, v.type):
            return v
        return self.emit("ml.identity", v, result_types=[t])

    def broadcast_like(self, g: Value, like: Value) -> Value:
        """`g` broadcast to the shape of `like` (g's shape must broadcast to it)."""
        gs, ls = self.shape(g), self.shape(like)
        if gs == ls:
            return g
        pad = len(ls) - len(gs)
        if pad < 0:
            raise self.fail(f"cannot broadcast {g.type} to {like.type}")
        target = []
        for i, ld in enumerate(ls):
            gd = gs[i - pad] if i >= pad else 1
            target.append(1 if gd == ld else ld)
        if all(type(d) is int for d in target):
            out = self.emit("ml.expand", g, shape=tuple(target))
        elif None not in ls and _element(like) == _element(g):
            # Symbolic dims: a select that always takes `g` broadcasts it to `like`'s shape with
            # no run-time shape tensor, so compiled backends see the symbols.
            out = self.emit("ml.where", self.const(True, i1), g, like)
        else:
            out = self.emit("ml.expand_dynamic", g, self.shape_of(like))
        return self.refine(out, _tensor(like).with_element(_element(g)))

    def unbroadcast(self, g: Value, like: Value, others: Sequence[Value] = ()) -> Value:
        """Sum `g` (the cotangent of a broadcast result) down to the shape of `like`. Where a dim
        of `like` may or may not be a broadcast 1 (symbolic or unknown), decide at run time,
        unless none of `others` (the operands `like` was broadcast with) can be larger there."""
        gs, ls = self.shape(g), self.shape(like)
        if gs == ls and None not in ls:
            return g
        lead = len(gs) - len(ls)
        if lead < 0:
            raise self.fail(f"cotangent {g.type} has a lower rank than operand {like.type}")
        keep, ambiguous = [], []
        for i, ld in enumerate(ls):
            gd = gs[lead + i]
            if (gd == ld and ld is not None) or gd == 1 or (type(ld) is int and ld != 1):
                continue
            if ld == 1:
                keep.append(lead + i)
            elif not all(_is_one_at(o, len(gs) - lead - i) for o in others) or not others:
                ambiguous.append(i)
        if keep:
            g = self.emit("ml.reduce_sum", g, axes=tuple(keep), keepdims=True)
        if lead:
            g = self.emit("ml.reduce_sum", g, axes=tuple(range(lead)), keepdims=False)
        for i in ambiguous:
            s = self.emit("ml.reduce_sum", g, axes=(i,), keepdims=True)
            d = self.dim(like, i)
            is_one = self.emit("ml.equal", d, self.i64s([1]))
            picked = self.emit("ml.where", is_one, s, g)
            g = self.emit("ml.slice_dynamic", picked, self.i64s([0]), d, self.i64s([i]))
        return self.refine(g, _tensor(like).with_element(_element(g)))

    def reshape_like(self, g: Value, like: Value) -> Value:
        """`g` reshaped to the shape of `like` (same number of elements)."""
        ls = self.shape(like)
        if self.shape(g) == ls:
            return g
        return self.refine(self.reshape(g, list(ls), like), _tensor(like).with_element(_element(g)))

    def reshape(self, g: Value, dims: Sequence[Any], like: Optional[Value] = None) -> Value:
        """Reshape `g` to `dims`: ints, symbols/None (then `like` gives them at run time: dim i of
        `like` for entry i) or 1-element i64 values."""
        unknown = [i for i, d in enumerate(dims) if type(d) is not int]
        zero = any(d == 0 for d in dims)
        if not unknown:
            return self.emit("ml.reshape", g, shape=tuple(dims), allowzero=int(zero))
        if len(unknown) == 1 and not zero and not isinstance(dims[unknown[0]], Value):
            shape = tuple(-1 if i == unknown[0] else d for i, d in enumerate(dims))
            return self.emit("ml.reshape", g, shape=shape)
        parts: List[Value] = []
        for i, d in enumerate(dims):
            if isinstance(d, Value):
                parts.append(d)
            elif type(d) is int:
                parts.append(self.i64s([d]))
            elif like is not None:
                parts.append(self.dim(like, i))
            else:
                raise self.fail(f"cannot reshape to {tuple(dims)} without a shape source")
        dyn = parts[0] if len(parts) == 1 else self.emit("ml.concat", *parts, axis=0)
        return self.emit("ml.reshape_dynamic", g, dyn, allowzero=int(zero))

    def count(self, v: Value, axes: Sequence[int], element: Optional[ElementType] = None
              ) -> Value:
        """The number of elements over `axes` of `v`, as a scalar of `element` (by default
        v's element type)."""
        el = element or _element(v)
        s = self.shape(v)
        dims = [s[a] for a in axes]
        if all(type(d) is int for d in dims):
            return self.const(float(np.prod(dims, dtype=np.float64)), el)
        sh = self.emit("ml.gather", self.shape_of(v), self.i64s(list(axes)), axis=0)
        n = self.emit("ml.reduce_prod", sh, keepdims=False)
        return self.emit("ml.cast", n, to=el)

    def transpose(self, v: Value, perm: Sequence[int]) -> Value:
        if list(perm) == list(range(len(perm))):
            return v
        shape = self.shape(v)
        moved = [a for a in perm if shape[a] != 1]
        unknown = [a for a in perm if type(shape[a]) is not int]
        if moved == sorted(moved) and len(unknown) <= 1 and 0 not in shape:
            # only size-1 dims move: the same data order, so a reshape (a view) suffices
            return self.emit("ml.reshape", v, shape=tuple(
                -1 if type(shape[a]) is not int else shape[a] for a in perm))
        return self.emit("ml.transpose", v, perm=tuple(perm))

    # -- arithmetic shorthands ------------------------------------------------------------------
    def add(self, a: Value, b: Value) -> Value:
        return self.emit("ml.add", a, b)

    def sub(self, a: Value, b: Value) -> Value:
        return self.emit("ml.sub", a, b)

    def mul(self, a: Value, b: Value) -> Value:
        return self.emit("ml.mul", a, b)

    def div(self, a: Value, b: Value) -> Value:
        return self.emit("ml.div", a, b)

    def neg(self, a: Value) -> Value:
        return self.emit("ml.neg", a)

    def scale(self, a: Value, k: float) -> Value:
        return a if k == 1.0 else self.mul(a, self.scalar(k, a))

    def select(self, cond: Value, a: Value, b: Optional[Value] = None) -> Value:
        """where(cond, a, b) with b = 0 by default."""
        return self.emit("ml.where", cond, a, self.scalar(0.0, a) if b is None else b)


def _is_one_at(v: Value, from_end: int) -> bool:
    """Whether `v` has no dim, or a static 1, `from_end` dims from its end (1 = the last)."""
    shape = v.type.shape if isinstance(v.type, TensorType) else None
    return shape is not None and (len(shape) < from_end or shape[-from_end] == 1)


def _tensor(v: Value) -> TensorType:
    t = v.type
    if not isinstance(t, TensorType):
        raise PassError(f"autodiff works on tensors, got a value of type {t}")
    return t


def _element(v: Value) -> ElementType:
    return _tensor(v).element
