"""What small integer tensors hold, as dims: the shape computations of exported models.

    %s = ml.shape(%x : tensor<?x3xf32, ["N", 3]>)        holds (N, 3)
    %n = ml.gather(%s, 0) ; %u = ml.unsqueeze(%n)         holds (N,)
    %t = ml.concat(%u, ml.constant([-1]))                 holds (N, -1)
    %y = ml.reshape_dynamic(%z : tensor<..xNx12x64>, %t)  : tensor<?x768xf32, ["N", 768]>

`record(op, held)` adds what `op`'s result holds to `held` (value -> a tuple of dims: static
sizes, symbols, or None for unknown entries) when it is a 0-d or 1-d integer tensor computed
from `ml.shape`, constants, concat, slice, gather, (un)squeeze, integer casts, add/sub/mul/div
(sizes as dim expressions), equal/where (the exporters' `Where(Equal(shape, -1), ones, shape)`)
and constant_of_shape.
`result_types(op, held)` gives the result types of the ops whose result shape is such a tensor
(`ml.constant_of_shape_dynamic`, `ml.expand_dynamic`, `ml.reshape_dynamic`, `ml.slice_dynamic`,
`ml.(un)squeeze_dynamic` / `ml.tile_dynamic` with known sizes, and `ml.range` over held
integers: arange(S) has length S), so the
`shape-inference` pass keeps the inputs' symbols where each op's own inference, which sees
types only, says `?`. The compiled path checks at run time that the computed shape is the
refined type (a mismatch is an ExecutionError), so a refinement is never trusted blindly.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import MlirLiteError
from mlir_lite.ir import dim_expr
from mlir_lite.ir.core import OP_REGISTRY, Operation, OpResult, Value
from mlir_lite.ir.dialects.ml.shape import reshape_target
from mlir_lite.ir.types import Dim, TensorType, Type, broadcast_shapes

__all__ = ["Held", "record", "result_types"]

Held = Dict[Value, Tuple[Dim, ...]]
_MAX_ENTRIES = 16  # shape tensors are short; larger integer tensors are data


def _int_tensor(t: Type) -> Optional[TensorType]:
    if isinstance(t, TensorType) and t.element.is_int and t.shape is not None and \
            len(t.shape) <= 1:  # (i1 included: Equal's results select with Where)
        return t
    return None


def _entries(dims: Sequence[Dim]) -> Tuple[Dim, ...]:
    return tuple(d if type(d) in (int, str) else None for d in dims)


def _positions(n: int, starts: Sequence[int], ends: Sequence[int],
               steps: Sequence[int]) -> Optional[List[int]]:
    if len(starts) != 1 or len(ends) != 1 or len(steps) > 1:
        return None
    return list(range(n))[slice(starts[0], ends[0], steps[0] if steps else 1)]


def _const(op: Operation) -> Optional[np.ndarray]:
    if op.name != "ml.constant":
        return None
    arr = np.asarray(op.attributes["value"].array)
    return arr if arr.dtype.kind in "iu" and arr.ndim <= 1 and arr.size <= _MAX_ENTRIES else None


def _holds(op: Operation, held: Held) -> Optional[Tuple[Dim, ...]]:
    """What `op`'s single result holds, from its operands' contents."""
    name, a = op.name, op.attributes
    ins = [held.get(v) for v in op.operands]
    if name == "ml.shape":
        t = op.operands[0].type
        if not isinstance(t, TensorType) or t.shape is None:
            return None
        r = len(t.shape)
        start, end = a.get("start", 0), a.get("end")
        return _entries(t.shape[slice(start, r if end is None else end)])
    arr = _const(op)
    if arr is not None:
        return tuple(int(x) for x in arr.reshape(-1))
    if name == "ml.concat" and ins:
        out: Tuple[Dim, ...] = ()
        for c in ins:
            if c is None:
                return None
            out += c
        return out
    if name in _ARITH and len(ins) == 2:
        return _elementwise(ins, *_ARITH[name])
    if name == "ml.where" and len(ins) == 3:
        def pick(c: Dim, x: Dim, y: Dim) -> Dim:
            return None if type(c) is not int else x if c else y
        return _elementwise(ins, pick, pick)
    if name == "ml.constant_of_shape" and a.get("value") is not None:
        v = np.asarray(a["value"].array).reshape(-1)
        n = int(np.prod(a.get("shape") or ()))
        if v.dtype.kind in "iub" and n <= _MAX_ENTRIES:
            return (int(v[0]),) * n
        return None
    if not ins or ins[0] is None:
        return None
    src = ins[0]
    if name in ("ml.unsqueeze", "ml.squeeze", "ml.reshape", "ml.identity"):
        return src  # 0-d <-> 1-element 1-d: the same entries
    if name == "ml.cast":
        to = a.get("to")
        return src if to is not None and getattr(to, "is_int", False) else None
    if name == "ml.slice":
        pos = _positions(len(src), a["starts"], a["ends"], a.get("steps") or ())
        return None if pos is None else tuple(src[p] for p in pos)
    if name == "ml.gather" and a.get("axis", 0) == 0 and len(op.operands) == 2:
        ind = op.operands[1]
        idx = _const(ind.op) if isinstance(ind, OpResult) else None
        if idx is None:
            return None
        n = len(src)
        picks = [int(i) + n if int(i) < 0 else int(i) for i in idx.reshape(-1)]
        if not all(0 <= p < n for p in picks):
            return None
        return tuple(src[p] for p in picks)
    return None


def _equal(x: Dim, y: Dim) -> Dim:
    """1/0 when decidable: equal sizes, or a size (>= 0) against a negative constant (the
    exporters' `Equal(shape, -1)`), else None."""
    if type(x) is int and type(y) is int:
        return int(x == y)
    if type(x) is str and type(y) is str and x == y:
        return 1
    if (type(x) is str and type(y) is int and y < 0) or (type(y) is str and type(x) is int
                                                         and x < 0):
        return 0
    return None


def _trunc_div(x: int, y: int) -> Dim:
    return None if y == 0 else int(x / y) if abs(x) < 2 ** 52 else None  # ONNX Div truncates


# op -> (on ints, on sizes that are symbols or expressions)
_ARITH: Dict[str, Tuple[Any, Any]] = {
    "ml.add": (lambda x, y: x + y, dim_expr.add), "ml.sub": (lambda x, y: x - y, dim_expr.sub),
    "ml.mul": (lambda x, y: x * y, dim_expr.mul), "ml.div": (_trunc_div, dim_expr.floordiv),
    "ml.equal": (lambda x, y: int(x == y), lambda x, y: _equal(x, y))}


def _elementwise(ins: Sequence[Optional[Tuple[Dim, ...]]], on_ints: Any,
                 on_sizes: Any) -> Optional[Tuple[Dim, ...]]:
    """The entries of an elementwise op over held operands (one-entry operands broadcast):
    exact integer arithmetic where every entry is an int, else on sizes (>= 0, so division
    is floor division) through dim_expr."""
    if any(v is None for v in ins):
        return None
    vals = [v for v in ins if v is not None]
    n = max(len(v) for v in vals)
    if any(len(v) not in (1, n) for v in vals):
        return None
    out = []
    for k in range(n):
        args = [v[0] if len(v) == 1 else v[k] for v in vals]
        out.append(on_ints(*args) if all(type(x) is int for x in args) else on_sizes(*args))
    return tuple(out)


def record(op: Operation, held: Held) -> None:
    """Remember what `op`'s result holds, when it is a small integer tensor of known entries."""
    if len(op.results) != 1 or _int_tensor(op.results[0].type) is None:
        return
    c = _holds(op, held)
    t = op.results[0].type
    assert isinstance(t, TensorType) and t.shape is not None
    n = 1 if not t.shape else t.shape[0]
    if c is not None and len(c) <= _MAX_ENTRIES and (type(n) is not int or n == len(c)):
        held[op.results[0]] = c


# run-time-parameter op -> (its static op, the attribute each parameter operand becomes)
_STATIC_FORM = {"ml.unsqueeze_dynamic": ("ml.unsqueeze", "axes"),
                "ml.squeeze_dynamic": ("ml.squeeze", "axes"),
                "ml.tile_dynamic": ("ml.tile", "repeats")}


def _static_form(op: Operation, held: Held) -> Optional[List[Type]]:
    """The static op's inference, when every entry of the parameter operand is a known size."""
    static, attr = _STATIC_FORM[op.name]
    p = held.get(op.operands[1])
    if p is None or not all(type(d) is int for d in p):
        return None
    try:
        return list(OP_REGISTRY[static].infer_result_types([op.operands[0].type],
                                                            {attr: tuple(p)}, op.loc))
    except MlirLiteError:
        return None


def _sliced(op: Operation, held: Held) -> Optional[List[Type]]:
    """ml.slice_dynamic whose starts/ends/axes/steps are held: the static slice's dims, and
    where an end is a symbol S (start 0, step 1) the result dim S. On a static dim M that
    assumes S <= M (the exporters' `buffer[:, :seq]`, Min(M, S)): a guard, since the kernel
    checks at run time that the slice gives the result type's shape."""
    x = op.operands[0].type
    if not isinstance(x, TensorType) or x.shape is None:
        return None
    parts = [held.get(v) for v in op.operands[1:]]
    if any(p is None for p in parts):
        return None
    starts, ends = parts[0], parts[1]
    assert starts is not None and ends is not None
    rank = len(x.shape)
    axes = parts[2] if len(parts) > 2 else tuple(range(len(starts)))
    steps = parts[3] if len(parts) > 3 else (1,) * len(starts)
    assert axes is not None and steps is not None
    if not (len(starts) == len(ends) == len(axes) == len(steps)) or \
            not all(type(v) is int for v in tuple(starts) + tuple(axes) + tuple(steps)):
        return None
    out = list(x.shape)
    static: Dict[str, List[int]] = {"starts": [], "ends": [], "axes": [], "steps": []}
    for s, e, a, st in zip(starts, ends, axes, steps):
        assert type(a) is int and type(s) is int and type(st) is int
        a = a + rank if a < 0 else a
        if not 0 <= a < rank:
            return None
        if type(e) is str:
            if s != 0 or st != 1:
                return None
            out[a] = e
        elif type(e) is int:
            static["starts"].append(s)
            static["ends"].append(e)
            static["axes"].append(a)
            static["steps"].append(st)
        else:
            return None
    t = x.with_shape(out)
    if static["axes"]:
        try:
            (t,) = OP_REGISTRY["ml.slice"].infer_result_types(  # type: ignore[assignment]
                [t], {k: tuple(v) for k, v in static.items()}, op.loc)
        except MlirLiteError:
            return None
    return [t]


def _range_length(op: Operation, held: Held) -> Optional[List[Type]]:
    """range(start, limit, delta) over held integers: its length, static or (from 0 in steps of
    1 to a symbol S, the exporters' arange(seq)) S."""
    out = op.results[0].type
    vals = [held.get(v) for v in op.operands]
    if not isinstance(out, TensorType) or any(v is None or len(v) != 1 for v in vals):
        return None
    start, limit, delta = (v[0] for v in vals)  # type: ignore[index]
    if type(start) is int and type(limit) is int and type(delta) is int and delta != 0:
        return [out.with_shape((max(-(-(limit - start) // delta), 0),))]
    if start == 0 and delta == 1 and type(limit) is str:
        return [out.with_shape((limit,))]
    return None


def result_types(op: Operation, held: Held) -> Optional[List[Type]]:
    """The result types of a shape-consuming op from what its shape operand holds."""
    if len(op.results) != 1:
        return None
    if op.name in _STATIC_FORM:
        return _static_form(op, held)
    if op.name == "ml.slice_dynamic":
        return _sliced(op, held)
    if op.name == "ml.range":
        return _range_length(op, held)
    if op.name not in ("ml.constant_of_shape_dynamic", "ml.expand_dynamic",
                       "ml.reshape_dynamic"):
        return None
    out = op.results[0].type
    shape = held.get(op.operands[-1])
    if not isinstance(out, TensorType) or shape is None:
        return None
    if op.name == "ml.constant_of_shape_dynamic":
        return [out.with_shape(shape)]
    x = op.operands[0].type
    if not isinstance(x, TensorType) or x.shape is None:
        return None
    try:
        if op.name == "ml.expand_dynamic":
            return [out.with_shape(broadcast_shapes(x.shape, shape))]
        return [out.with_shape(reshape_target(x.shape, shape,
                                              op.attributes.get("allowzero", 0)))]
    except ValueError:  # shapes that cannot hold: left to the op's run-time check
        return None
