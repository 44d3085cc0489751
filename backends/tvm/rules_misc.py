"""Lowering rules for the remaining fixed-shape ops: einsum, eye_like, hardmax, lrn, lp_pool,
global_lp_pool, nll_loss, reverse_sequence and det (ONNX semantics, as the interpreter's).

All are plain `te.compute` stages. einsum is one stage over the output letters with a reduce
axis per contracted letter (a letter repeated in one operand reads its diagonal; a size-1
ellipsis dim broadcasts). Index-consuming kernels (nll_loss's targets, reverse_sequence's
lengths) clamp their reads and flag bad values through `ctx.add_check`.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Dict, List

from tvm import te, tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axis, operand_groups
from mlir_lite.ir.dialects.ml.linalg import parse_einsum

from .lower import LowerContext, broadcast_shape, dtype_of, is_one, load, lower
from .rules_math import reduce_compute
from .rules_nn import _pool_params, _window

__all__: List[str] = []


def _i64(v: int) -> Any:
    return tirx.IntImm("int64", int(v))


def _acc(dtype: str) -> str:
    return "float32" if dtype in ("float16", "bfloat16") else dtype


@lower("ml.einsum")
def _einsum(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    terms, out, _ = parse_einsum(op.attr("equation"), [len(x.shape) for x in xs])
    dims: Dict[str, List[Any]] = {}
    for t, x in zip(terms, xs):
        for c, d in zip(t, x.shape):
            dims.setdefault(c, []).append(d)
    size = {c: broadcast_shape([[d] for d in ds])[0] for c, ds in dims.items()}
    for c, ds in dims.items():
        ctx.check_broadcast([[d] for d in ds], [size[c]])
    red = [c for c in size if c not in out]
    raxes = {c: te.reduce_axis((0, size[c]), name=f"r_{c}") for c in red}
    acc = _acc(dtype_of(xs[0]))

    def body(*o: Any) -> Any:
        at = dict(zip(out, o))
        at.update(raxes)
        v = None
        for t, x in zip(terms, xs):
            idx = [_i64(0) if is_one(d) and not is_one(size[c]) else at[c]
                   for c, d in zip(t, x.shape)]
            e = load(x, idx).astype(acc)
            v = e if v is None else v * e
        if v is None:
            raise ValueError("einsum needs at least one operand")
        return te.sum(v, axis=list(raxes.values())) if raxes else v
    r = te.compute([size[c] for c in out], body, name=ctx.name("einsum"))
    if acc == dtype_of(xs[0]):
        return r
    return te.compute(r.shape, lambda *o: r[o].astype(dtype_of(xs[0])), name=ctx.name("cast"))


@lower("ml.eye_like")
def _eye_like(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    k, dt = op.attr("k"), ctx.result_dtype()
    one, zero = ctx.const(1, dt), ctx.zero(dt)
    return te.compute(x.shape, lambda i, j: tirx.Select(j.astype("int64") - i.astype("int64")
                                                        == _i64(k), one, zero),
                      name=ctx.name("eye"))


@lower("ml.hardmax")
def _hardmax(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    rank = len(x.shape)
    axis = norm_axis(op.attr("axis"), rank)
    n = x.shape[axis]
    m = reduce_compute(ctx, x, [axis], True, "max", name="max")

    def first(*o: Any) -> Any:
        j = te.reduce_axis((0, n), name="j")
        v = x[tuple(o[:axis]) + (j,) + tuple(o[axis + 1:])]
        hit = v == m[o]
        if dtype_of(x).startswith(("float", "bfloat")):
            hit = tirx.any(hit, tirx.isnan(v))
        return te.min(tirx.Select(hit, j.astype("int64"), n.astype("int64")), axis=j)
    keep = list(x.shape)
    keep[axis] = _i64(1)
    arg = te.compute(keep, first, name=ctx.name("argmax"))
    one, zero = ctx.const(1, dtype_of(x)), ctx.zero(dtype_of(x))

    def body(*o: Any) -> Any:
        at = tuple(o[:axis]) + (_i64(0),) + tuple(o[axis + 1:])
        return tirx.Select(arg[at] == o[axis].astype("int64"), one, zero)
    return te.compute(x.shape, body, name=ctx.name("hardmax"))


@lower("ml.lrn")
def _lrn(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    size = op.attr("size")
    lo = (size - 1) // 2
    c = x.shape[1]
    dt = dtype_of(x)
    acc = _acc(dt)
    alpha = tirx.const(op.attr("alpha") / size, acc)
    beta, bias = tirx.const(op.attr("beta"), acc), tirx.const(op.attr("bias"), acc)

    def sq(nn: Any, ch: Any, *sp: Any) -> Any:
        k = te.reduce_axis((0, size), name="k")
        src = ch.astype("int64") + k.astype("int64") - _i64(lo)
        inb = tirx.all(src >= _i64(0), src < c)
        v = x[(nn, tirx.max(tirx.min(src, c - _i64(1)), _i64(0))) + sp].astype(acc)
        return te.sum(tirx.Select(inb, v * v, tirx.const(0, acc)), axis=k)
    s = te.compute(x.shape, sq, name=ctx.name("lrn_sum"))
    return te.compute(x.shape, lambda *o: (x[o].astype(acc) / tirx.pow(bias + alpha * s[o], beta)
                                           ).astype(dt), name=ctx.name("lrn"))


def _abs_pow(v: Any, p: int) -> Any:
    a = tirx.abs(v)
    if p == 1:
        return a
    if p == 2:
        return v * v
    return tirx.pow(a, tirx.const(float(p), dtype_of(v)))


def _root(v: Any, p: int, dt: str) -> Any:
    if p == 1:
        return v
    if p == 2:
        return tirx.sqrt(v)
    return tirx.pow(v, tirx.const(1.0 / p, dt))


@lower("ml.lp_pool")
def _lp_pool(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    ks, strides, pads, dil, out = _pool_params(op, x)
    p = op.attr("p")
    dt = dtype_of(x)
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(ks)]

    def body(nn: Any, c: Any, *o: Any) -> Any:
        sp, inb = _window(x, o, rk, strides, pads, dil)
        v = x[(nn, c) + tuple(sp)]
        return te.sum(tirx.if_then_else(inb, _abs_pow(v, p), tirx.const(0, dt)), axis=rk)
    s = te.compute([x.shape[0], x.shape[1]] + out, body, name=ctx.name("pool"))
    return te.compute(s.shape, lambda *o: _root(s[o], p, dt), name=ctx.name("lp"))


@lower("ml.global_lp_pool")
def _global_lp_pool(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    p = op.attr("p")
    r = reduce_compute(ctx, x, list(range(2, len(x.shape))), True, "sum",
                       pre=lambda v: _abs_pow(v, p))
    return te.compute(r.shape, lambda *o: _root(r[o], p, dtype_of(x)), name=ctx.name("lp"))


@lower("ml.nll_loss")
def _nll_loss(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("input", "target", "weight?"))
    x, tgt, w = g["input"], g["target"], g["weight"]
    c = x.shape[1]
    ignore = op.attr("ignore_index")
    dt = dtype_of(x)

    def keep(t: Any) -> Any:
        return tirx.const(True, "bool") if ignore is None else t != _i64(ignore)

    def cls(t: Any) -> Any:
        return tirx.max(tirx.min(t, c - _i64(1)), _i64(0))
    ctx.add_check(lambda *j: tirx.all(keep(tgt[j].astype("int64")),
                                      tirx.any(tgt[j].astype("int64") < _i64(0),
                                               tgt[j].astype("int64") >= c)),
                  tgt.shape, f"{op.name}: a target is out of range for the class dim")

    def weight(*j: Any) -> Any:
        t = tgt[j].astype("int64")
        wv = w[(cls(t),)] if w is not None else tirx.const(1, dt)
        return tirx.Select(keep(t), wv, tirx.const(0, dt))
    wt = te.compute(tgt.shape, weight, name=ctx.name("weight"))

    def loss(*j: Any) -> Any:
        t = tgt[j].astype("int64")
        return -x[(j[0], cls(t)) + tuple(j[1:])] * wt[j]
    lo = te.compute(tgt.shape, loss, name=ctx.name("loss"))
    red = op.attr("reduction")
    if red == "none":
        return lo
    axes = list(range(len(tgt.shape)))
    total = reduce_compute(ctx, lo, axes, False, "sum", name="loss_sum")
    if red == "sum":
        return total
    wsum = reduce_compute(ctx, wt, axes, False, "sum", name="weight_sum")
    return te.compute((), lambda: total() / wsum(), name=ctx.name("mean"))


@lower("ml.reverse_sequence")
def _reverse_sequence(ctx: LowerContext, op: Operation, x: te.Tensor,
                      lens: te.Tensor) -> te.Tensor:
    rank = len(x.shape)
    b_axis = norm_axis(op.attr("batch_axis"), rank)
    t_axis = norm_axis(op.attr("time_axis"), rank)
    t = x.shape[t_axis]
    ctx.add_check(lambda: lens.shape[0] != x.shape[b_axis], [],
                  f"{op.name}: sequence_lens does not have one entry per batch element")
    ctx.add_check(lambda j: tirx.any(lens[j].astype("int64") < _i64(0),
                                     lens[j].astype("int64") > t), [lens.shape[0]],
                  f"{op.name}: a sequence length is out of range for axis {t_axis}")

    def body(*o: Any) -> Any:
        b = tirx.min(o[b_axis], lens.shape[0] - _i64(1))
        n = tirx.max(tirx.min(lens[(b,)].astype("int64"), t), _i64(0))
        i = o[t_axis].astype("int64")
        src = tirx.Select(i < n, n - _i64(1) - i, i)
        return x[tuple(src if a == t_axis else o[a] for a in range(rank))]
    return te.compute(x.shape, body, name=ctx.name("reverse_sequence"))


def _det_ir(x: Any, work: Any, det: Any, piv: Any) -> Any:
    """Gaussian elimination with partial pivoting of each matrix of `x` (copied into `work`);
    `det[b]` accumulates the pivots (negated per row swap), `piv[b]` is the pivot row."""
    n = x.shape[-1]
    batch = list(x.shape[:-2])
    with IRBuilder() as ib:
        with ExitStack() as st:
            b = [st.enter_context(T.serial(_i64(0), d)) for d in batch]
            if not batch:  # one statement at the top, as the builder needs
                st.enter_context(T.serial(_i64(0), _i64(1)))

            def w(i: Any, j: Any) -> Any:
                return tirx.BufferLoad(work, b + [i, j])
            with T.serial(_i64(0), n) as i:
                with T.serial(_i64(0), n) as j:
                    T.buffer_store(work, tirx.BufferLoad(x, b + [i, j]).astype(work.dtype),
                                   b + [i, j])
            T.buffer_store(det, tirx.const(1, det.dtype), b)
            with T.serial(_i64(0), n) as k:
                T.buffer_store(piv, k, b)
                with T.serial(k + _i64(1), n) as i:
                    p = tirx.BufferLoad(piv, b)
                    with T.If(tirx.abs(w(i, k)) > tirx.abs(w(p, k))):
                        with T.Then():
                            T.buffer_store(piv, i, b)
                p = T.Bind(tirx.BufferLoad(piv, b))
                with T.If(p != k):
                    with T.Then():
                        with T.serial(_i64(0), n) as j:
                            t = T.Bind(w(k, j))
                            T.buffer_store(work, w(p, j), b + [k, j])
                            T.buffer_store(work, t, b + [p, j])
                        T.buffer_store(det, -tirx.BufferLoad(det, b), b)
                d = T.Bind(w(k, k))
                T.buffer_store(det, tirx.BufferLoad(det, b) * d, b)
                with T.If(d != tirx.const(0, work.dtype)):
                    with T.Then():
                        with T.serial(k + _i64(1), n) as i:
                            f = T.Bind(w(i, k) / d)
                            with T.serial(k, n) as j:
                                T.buffer_store(work, w(i, j) - f * w(k, j), b + [i, j])
    return ib.get()


@lower("ml.det")
def _det(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    """Gaussian elimination with partial pivoting per matrix, an IR-builder kernel (the
    elimination is sequential); computed in f32 for 16-bit floats."""
    dt = dtype_of(x)
    acc = "float32" if dt in ("float16", "bfloat16") else dt
    batch = list(x.shape[:-2])
    _, det, _ = te.extern([x.shape, batch, batch], [x],
                          lambda ins, outs: _det_ir(ins[0], *outs),
                          dtype=[acc, acc, "int64"], name=ctx.name("det_lu"))
    if acc == dt:
        return det
    return te.compute(batch, lambda *b: load(det, b).astype(dt), name=ctx.name("det"))
