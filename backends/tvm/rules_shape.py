"""Lowering rules for the shape, data-movement and indexing `ml` ops.

The ops declared `Alias` (the `View`s reshape, flatten, squeeze, unsqueeze, and identity,
dropout) are of kind `view`: the executor runs them as a re-shaped view of the same buffer, with
no kernel (`reshape_shape` gives the view's shape).
`gather`/`gather_elements` produce an error flag next to their output (see `lower.py`).
Slice bounds may involve symbolic dims; they are clamped with TVM expressions, as ONNX says.
"""
from __future__ import annotations

from typing import Any, List, Sequence, TypeAlias

from tvm import te, tirx, topi
from tvm.ir.expr import Expr as PrimExpr

from mlir_lite.ir import dim_expr
from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._shape_infer import norm_axes, norm_axis, slice_len
from mlir_lite.ir.dialects.ml.shape import pad_widths, resize_output, shape_range, slice_params
from mlir_lite.ir.opdef import ops_with_trait
from mlir_lite.ir.types import TensorType

from .lower import (
    BOUND_DIMS,
    BOUND_SYMBOLS,
    LowerContext,
    broadcast_index,
    broadcast_shape,
    dtype_of,
    lower,
)
from .narrow_types import as_storage
from .resize import ResizeAxis, ResizeMode, resize, static_policy, static_scaled_dim
from .shape_expr import dim_to_tvm

__all__ = ["reshape_shape"]

Expr: TypeAlias = PrimExpr  # tvm has no type information: Any to the checker


def _i64(v: int) -> Expr:
    return tirx.IntImm("int64", int(v))


def _prod(dims: Sequence[Expr]) -> Expr:
    p: Any = _i64(1)
    for d in dims:
        p = p * d
    return p


def reshape_shape(op: Operation, x: te.Tensor) -> List[Expr]:
    """The output shape of a view op, as expressions over the input's dims."""
    s = list(x.shape)
    name = op.name
    if not op.has_trait("View"):  # an Alias of the same shape (identity, dropout)
        return s
    if name == "ml.flatten":
        axis = op.attr("axis")
        axis = axis + len(s) if axis < 0 else axis
        return [_prod(s[:axis]), _prod(s[axis:])]
    if name == "ml.squeeze":
        axes = op.attr("axes")
        if axes is None:
            kept = [d for d in s if not (isinstance(d, tirx.IntImm) and d.value == 1)]
            if any(not isinstance(d, tirx.IntImm) for d in s):
                raise ValueError("squeeze without axes needs a static input shape")
            return kept
        ax = set(norm_axes(axes, len(s)))
        return [d for i, d in enumerate(s) if i not in ax]
    if name == "ml.unsqueeze":
        r = len(s) + len(op.attr("axes"))
        ax = set(norm_axes(op.attr("axes"), r))
        it = iter(s)
        return [_i64(1) if i in ax else next(it) for i in range(r)]
    if name != "ml.reshape":
        raise NotImplementedError(f"reshape_shape: no view shape for {name}")
    # ml.reshape: 0 copies (unless allowzero), -1 takes what is left
    shape = list(op.attr("shape"))
    allowzero = op.attr("allowzero")
    out: List[Any] = []
    for i, v in enumerate(shape):
        out.append(s[i] if v == 0 and not allowzero else (None if v == -1 else _i64(v)))
    holes = [i for i, d in enumerate(out) if d is None]
    if holes:
        k = holes[0]
        out[k] = tirx.floordiv(_prod(s), _prod([d for d in out if d is not None]))
    return out


def _view_rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    return topi.reshape(x, reshape_shape(op, x))


for _n in sorted(ops_with_trait("Alias", "ml")):
    lower(_n)(_view_rule)


@lower("ml.transpose")
def _transpose(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    r = len(x.shape)
    perm = op.attr("perm") or tuple(range(r - 1, -1, -1))
    inv = [perm.index(i) for i in range(r)]
    return te.compute([x.shape[p] for p in perm], lambda *o: x[tuple(o[inv[i]] for i in range(r))],
                      name="transpose")


@lower("ml.concat")
def _concat(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    axis = norm_axis(op.attr("axis"), len(xs[0].shape))
    offsets: List[Expr] = [_i64(0)]
    for t in xs:
        offsets.append(offsets[-1] + t.shape[axis])
    shape = list(xs[0].shape)
    shape[axis] = offsets[-1]

    def body(*o: Expr) -> Expr:
        val = None
        for t, off in zip(xs, offsets):
            idx = o[:axis] + (o[axis] - off,) + o[axis + 1:]
            v = t[idx]
            val = v if val is None else tirx.if_then_else(o[axis] >= off, v, val)
        return val
    return te.compute(shape, body, name="concat")


def _clamp(v: Expr, lo: Expr, hi: Expr) -> Expr:
    return tirx.min(tirx.max(v, lo), hi)


def _slice_bounds(d: Expr, start: int, end: int, step: int) -> tuple:
    """(first index, length) of ONNX Slice on a dim `d` that may be symbolic."""
    if isinstance(d, tirx.IntImm):
        s, _, n = slice_len(d.value, start, end, step)
        return _i64(s), _i64(n)
    big = 2 ** 62

    def norm(v: int) -> Expr:
        v = max(min(v, big), -big)
        return d + _i64(v) if v < 0 else _i64(v)
    s, e = norm(start), norm(end)
    if step > 0:
        s, e = _clamp(s, _i64(0), d), _clamp(e, _i64(0), d)
        n = tirx.max(_i64(0), tirx.floordiv(e - s + _i64(step - 1), _i64(step)))
    else:
        s, e = _clamp(s, _i64(0), d - _i64(1)), _clamp(e, _i64(-1), d - _i64(1))
        n = tirx.max(_i64(0), tirx.floordiv(s - e + _i64(-step - 1), _i64(-step)))
    return s, n


@lower("ml.slice")
def _slice(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    r = len(x.shape)
    attrs = {k: op.attr(k) for k in ("starts", "ends", "axes", "steps")}
    params = {ax: (s, e, st) for ax, s, e, st in slice_params(r, attrs)}
    begin, step, shape = [_i64(0)] * r, [1] * r, list(x.shape)
    for ax, (s, e, st) in params.items():
        begin[ax], shape[ax] = _slice_bounds(x.shape[ax], s, e, st)
        step[ax] = st
    return te.compute(shape, lambda *o: x[tuple(begin[i] + o[i] * _i64(step[i])
                                                 for i in range(r))], name="slice")


@lower("ml.pad")
def _pad(ctx: LowerContext, op: Operation, x: te.Tensor, *cv: te.Tensor) -> te.Tensor:
    r = len(x.shape)
    widths = pad_widths(r, op.attr("pads"), op.attr("axes"))
    mode = op.attr("mode")
    shape = [x.shape[i] + _i64(b + e) for i, (b, e) in enumerate(widths)]

    def body(*o: Expr) -> Expr:
        src = [o[i] - _i64(widths[i][0]) for i in range(r)]
        if mode == "constant":
            inb = tirx.all(*[tirx.all(v >= _i64(0), v < x.shape[i]) for i, v in enumerate(src)])
            fill = cv[0]() if cv and not cv[0].shape else (
                cv[0][(_i64(0),) * len(cv[0].shape)] if cv else tirx.const(0, dtype_of(x)))
            clamped = tuple(_clamp(v, _i64(0), x.shape[i] - _i64(1)) for i, v in enumerate(src))
            return tirx.if_then_else(inb, x[clamped], fill)
        idx = []
        for i, v in enumerate(src):
            d = x.shape[i]
            if mode == "edge":
                idx.append(_clamp(v, _i64(0), d - _i64(1)))
            elif mode == "wrap":
                idx.append(tirx.floormod(v, d))
            else:  # reflect: period 2(d-1), mirrored without repeating the edge
                per = tirx.max(_i64(2) * (d - _i64(1)), _i64(1))
                m = tirx.floormod(v, per)
                idx.append(tirx.Select(m < d, m, per - m))
        return x[tuple(idx)]
    return te.compute(shape, body, name="pad")


@lower("ml.expand")
def _expand(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    target = [_i64(v) for v in op.attr("shape")]
    shape = broadcast_shape([list(x.shape), target])
    ctx.check_broadcast([list(x.shape), target], shape)
    r = len(shape)
    return te.compute(shape,
                      lambda *o: x[broadcast_index(x.shape, o, r, shape)] if x.shape else x(),
                      name="expand")


def _vars_in(shapes: Sequence[Sequence[Expr]]) -> dict:
    """The symbolic dims (by name) that appear in `shapes`."""
    found: dict = {}
    for shape in shapes:
        for d in shape:
            for v in tirx.analysis.undefined_vars(d):
                found.setdefault(v.name, v)
    return found


def _typed_dim(d: Any, known: dict) -> Any:
    """A type's dim as an expression: static, a symbol that the kernel's inputs bind or that
    is bound before the kernel runs (lower.BOUND_SYMBOLS: by the function's arguments or a shape
    step), or None (a symbol nothing binds before the kernel runs: decided by run-time values)."""
    if type(d) is int:
        return _i64(d)
    if type(d) is str and d in known:
        return known[d]
    if type(d) is str and d.isidentifier():
        return BOUND_SYMBOLS.get().get(d)
    if type(d) is str:  # an expression (12*N): known when every symbol of it is
        vals = {n: known.get(n, BOUND_SYMBOLS.get().get(n)) for n in dim_expr.symbols_of(d)}
        if any(v is None for v in vals.values()):
            return None
        try:
            return dim_to_tvm(d, vals.__getitem__)
        except ValueError:
            return None
    return None


def _shape_operand_dims(v: Any, known: dict) -> List[Any]:
    """What is known at compile time of a 1-D shape tensor `v`: one expression (or None) per
    entry, from a constant or `ml.shape` of a typed value; [] when nothing is."""
    owner = v.owner
    if not isinstance(owner, Operation):
        return []
    if owner.name == "ml.constant":
        return [_i64(int(d)) for d in owner.attr("value").array.reshape(-1)]
    if owner.name == "ml.shape":
        t = owner.operands[0].type
        if getattr(t, "shape", None) is None:
            return []
        s, e = shape_range(len(t.shape), owner.attr("start"), owner.attr("end"))
        return [_typed_dim(d, known) for d in t.shape[s:e]]
    return []


@lower("ml.expand_dynamic")
def _expand_dynamic(ctx: LowerContext, op: Operation, x: te.Tensor, s: te.Tensor) -> te.Tensor:
    """Expand to a run-time shape whose dims are known at compile time as expressions (from the
    result type, or the `ml.shape` / constant producing `s`); the kernel checks that `s` holds
    exactly that shape and flags anything else."""
    if len(s.shape) != 1 or not isinstance(s.shape[0], tirx.IntImm):
        raise NotImplementedError("ml.expand_dynamic needs a shape operand of static length")
    n, xr = int(s.shape[0].value), len(x.shape)
    r = max(n, xr)
    known = _vars_in([x.shape])
    traced = _shape_operand_dims(op.operands[1], known)
    rt = op.results[0].type
    rtype = (rt.shape if isinstance(rt, TensorType) else None) or [None] * r
    bound = BOUND_DIMS.get().get(op.results[0])  # dims a shape step bound at run time
    out: List[Expr] = []
    for i in range(r):
        d = bound[i] if bound is not None else _typed_dim(rtype[i], known)
        if d is None and traced:
            sd = traced[i - (r - n)] if i >= r - n else _i64(1)
            xd = x.shape[i - (r - xr)] if i >= r - xr else _i64(1)
            if sd is not None:
                d = broadcast_shape([[xd], [sd]])[0]
        if d is None:
            raise NotImplementedError(f"ml.expand_dynamic: dim {i} of the result is not known at "
                                      f"compile time (the shape must come from ml.shape of a "
                                      f"value typed with the input's dims, or a constant)")
        out.append(d)

    def bad() -> Expr:
        conds = []
        for i in range(r):
            sv = s[i - (r - n)] if i >= r - n else _i64(1)
            xd = tirx.Cast("int64", x.shape[i - (r - xr)]) if i >= r - xr else _i64(1)
            conds.append(tirx.all(xd != 1, sv != 1, xd != sv))
            conds.append(tirx.Select(sv == 1, xd, sv) != tirx.Cast("int64", out[i]))
            conds.append(sv < 0)
        return tirx.any(*conds) if conds else tirx.const(False, "bool")
    ctx.add_check(bad, [], f"{op.name}: the run-time shape does not broadcast with the input "
                           f"to the shape its type promises")
    return te.compute(out, lambda *o: x[broadcast_index(x.shape, o, r, out)] if x.shape else x(),
                      name="expand")


@lower("ml.tile")
def _tile(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    reps = op.attr("repeats")
    shape = [d * _i64(k) for d, k in zip(x.shape, reps)]
    return te.compute(shape, lambda *o: x[tuple(tirx.floormod(v, d) for v, d in
                                                 zip(o, x.shape))], name="tile")


@lower("ml.split")
def _split(ctx: LowerContext, op: Operation, x: te.Tensor) -> List[te.Tensor]:
    axis = norm_axis(op.attr("axis"), len(x.shape))
    d = x.shape[axis]
    split, nout = op.attr("split"), op.attr("num_outputs")
    if split is not None:
        sizes: List[Expr] = [_i64(s) for s in split]
    else:
        chunk = tirx.floordiv(d + _i64(nout - 1), _i64(nout))
        sizes, left = [], d
        for _ in range(nout):
            sizes.append(tirx.max(_i64(0), tirx.min(chunk, left)))
            left = left - sizes[-1]
    outs, off = [], _i64(0)
    for k, s in enumerate(sizes):
        shape = list(x.shape)
        shape[axis] = s

        outs.append(te.compute(shape, _shifted(x, axis, off), name=f"split{k}"))
        off = off + s
    return outs


def _shifted(x: te.Tensor, axis: int, off: Expr) -> Any:
    return lambda *o: x[o[:axis] + (o[axis] + off,) + o[axis + 1:]]


def _checked_index(i: Expr, d: Expr) -> Expr:
    """A negative index wrapped, then clamped into [0, d) so that the read stays in bounds;
    the check stage reports the indices that needed clamping."""
    i = i.astype("int64")
    w = tirx.Select(i < _i64(0), i + d, i)
    return _clamp(w, _i64(0), d - _i64(1))


def _bad_index(i: Expr, d: Expr) -> Expr:
    i = i.astype("int64")
    return tirx.any(i < -d, i >= d)


@lower("ml.gather")
def _gather(ctx: LowerContext, op: Operation, data: te.Tensor, idx: te.Tensor) -> te.Tensor:
    axis = norm_axis(op.attr("axis"), len(data.shape))
    d = data.shape[axis]
    ir = len(idx.shape)
    shape = list(data.shape[:axis]) + list(idx.shape) + list(data.shape[axis + 1:])

    def at(*j: Expr) -> Expr:
        return idx[j] if ir else idx()

    def body(*o: Expr) -> Expr:
        k = _checked_index(at(*o[axis:axis + ir]), d)
        return data[o[:axis] + (k,) + o[axis + ir:]]
    ctx.add_check(lambda *j: _bad_index(at(*j), d), idx.shape,
                  f"{op.name}: an index is out of range for axis {axis}")
    return te.compute(shape, body, name="gather")


@lower("ml.gather_elements")
def _gather_elements(ctx: LowerContext, op: Operation, data: te.Tensor,
                     idx: te.Tensor) -> te.Tensor:
    axis = norm_axis(op.attr("axis"), len(data.shape))
    d = data.shape[axis]

    def body(*o: Expr) -> Expr:
        k = _checked_index(idx[o], d)
        return data[o[:axis] + (k,) + o[axis + 1:]]
    ctx.add_check(lambda *j: _bad_index(idx[j], d), idx.shape,
                  f"{op.name}: an index is out of range for axis {axis}")
    return te.compute(idx.shape, body, name="gather_elements")


@lower("ml.shape")
def _shape(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    s, e = shape_range(len(x.shape), op.attr("start"), op.attr("end"))
    dims = [tirx.Cast("int64", d) for d in x.shape[s:e]]

    def body(i: Expr) -> Expr:
        v = _i64(0)
        for k, dv in enumerate(dims):
            v = tirx.Select(i == _i64(k), dv, v)
        return v
    return te.compute((_i64(e - s),), body, name="shape")


@lower("ml.size")
def _size(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    n = _prod(list(x.shape))
    return te.compute((), lambda: n.astype("int64"), name="size")


@lower("ml.constant_of_shape")
def _constant_of_shape(ctx: LowerContext, op: Operation) -> te.Tensor:
    v = op.attr("value")
    dt = ctx.result_dtype()
    val = 0 if v is None else as_storage(v.array).reshape(-1)[0].item()
    c = ctx.const(val, dt)
    return te.compute([_i64(s) for s in op.attr("shape")], lambda *o: c, name="fill")


@lower("ml.resize")
def _resize(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    """Resize with the scales or sizes (and roi) known at compile time: every mode, coordinate
    transformation and keep_aspect_ratio_policy (backends/tvm/resize.py). Input dims may be
    symbolic: the output dim is then an integer shape expression (d * 2 for a scale of 2)."""
    m = ResizeMode.of(op)
    r = len(x.shape)
    in_shape = tuple(int(d) if isinstance(d, tirx.IntImm) else None for d in x.shape)
    attrs = {k: op.attr(k) for k in op.ATTRS}
    axes, scales, out = resize_output(in_shape, attrs)
    sizes, policy = op.attr("sizes"), op.attr("keep_aspect_ratio_policy")
    dims = [x.shape[a] for a in axes]
    shape: List[Expr] = list(x.shape)
    scale_of: List[Any] = []
    if scales is not None and sizes is not None:  # a policy over static dims (resize_output)
        scale_of = list(scales)
    elif scales is not None:
        scale_of = list(scales)
        for a, sc in zip(axes, scales):
            if out[a] is None:
                shape[a] = static_scaled_dim(x.shape[a], sc)
    elif policy == "stretch":
        for a, sz in zip(axes, sizes):  # the reference's out / in
            d = in_shape[a]
            scale_of.append(_i64(sz).astype("float64") / x.shape[a].astype("float64")
                            if d is None else sz / d if d else 1.0)
    else:
        outs, sc_expr = static_policy(list(sizes), dims, policy)
        scale_of = [sc_expr] * len(axes)
        for a, d in zip(axes, outs):
            shape[a] = d
    for a in axes:
        if out[a] is not None:
            shape[a] = _i64(out[a])
    roi = op.attr("roi") if m.ctm == "tf_crop_and_resize" else None
    n = len(axes)
    plan = [ResizeAxis(a, x.shape[a], shape[a], scale_of[k],
                       None if roi is None else (roi[k], roi[n + k]))
            for k, a in enumerate(axes)]
    if r == 0:
        raise NotImplementedError("resize of a 0-d tensor")
    return resize(ctx, x, shape, plan, m)
