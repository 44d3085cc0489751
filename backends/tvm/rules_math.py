"""Lowering rules for elementwise, linear-algebra and reduction `ml` ops.

Semantics are the interpreter's (mlir_lite/interpreter/ml_math.py): integer division truncates,
`mod` follows the divisor's sign unless `fmod`, casts from float to int truncate, `round` is
half-to-even; casts to or from the 8/4/2-bit types convert their stored bytes (narrow_types.py).
Matmul and gemm produce a stage named `matmul` whose loops are
`(batch..., i, j, k)`: the matmul schedule finds it by that name.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Sequence, TypeAlias

from tvm import te, tirx, topi
from tvm.ir.expr import Expr as PrimExpr

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import norm_axes, norm_axis, operand_groups
from mlir_lite.ir.dialects.ml.math import ACTIVATION_ATTRS
from mlir_lite.ir.dialects.ml.reduce import REDUCE_OPS

from . import narrow_types
from .fast_exp import fast_exp
from .lower import LowerContext, broadcast_index, broadcast_shape, dtype_of, lower, same_dim

__all__: List[str] = []

Expr: TypeAlias = PrimExpr  # tvm has no type information: Any to the checker


def _c(v: Any, like: Expr) -> Expr:
    return LowerContext.const(v, dtype_of(like))


def _is_float(x: Expr) -> bool:
    return dtype_of(x).startswith(("float", "bfloat"))


# -- binary ----------------------------------------------------------------------------------
def _div(a: Expr, b: Expr) -> Expr:
    return a / b if _is_float(a) else tirx.truncdiv(a, b)


def _signbit(v: Expr) -> Expr:
    """Whether float `v` is negative, -0.0 included (1 / -0.0 is -inf)."""
    zero = _c(0, v)
    return (v < zero) | (_c(1, v) / v < zero)


def _mod(fmod: bool) -> Callable[[Expr, Expr], Expr]:
    def fn(a: Expr, b: Expr) -> Expr:
        if _is_float(a):
            r = a - tirx.trunc(a / b) * b
            if fmod:
                return r
            # numpy's mod: fmod (x for a finite x over +-inf), then the sign of the divisor (a
            # zero result too), so x mod +-inf is x or +-inf
            f = tirx.Select(tirx.isinf(b) & tirx.isfinite(a), a, r)
            zero = _c(0, f)
            neg = _signbit(b)
            flip = _signbit(f).astype("int8") != neg.astype("int8")
            return tirx.Select(f == zero, tirx.Select(flip, f * _c(-1, f), f),
                               tirx.Select((f < zero).astype("int8") != neg.astype("int8"),
                                           f + b, f))
        return tirx.truncmod(a, b) if fmod else tirx.floormod(a, b)
    return fn


def _pow(a: Expr, b: Expr) -> Expr:
    if _is_float(a) and isinstance(b, (tirx.FloatImm, tirx.IntImm)) and \
            float(b.value) in (1.0, 2.0, 3.0, 4.0):
        r = a  # x**3 of a GELU: multiplications, not a libm pow per element
        for _ in range(int(b.value) - 1):
            r = r * a
        return r
    if _is_float(a):
        return tirx.power(a, b.astype(dtype_of(a)))
    return tirx.power(a.astype("float64"), b.astype("float64")).astype(dtype_of(a))


_BINARY: Dict[str, Callable[[Expr, Expr], Expr]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": _div, "pow": _pow,
    "bitwise_and": lambda a, b: a & b, "bitwise_or": lambda a, b: a | b,
    "bitwise_xor": lambda a, b: a ^ b,
    "logical_and": lambda a, b: tirx.all(a, b), "logical_or": lambda a, b: tirx.any(a, b),
    "logical_xor": lambda a, b: a.astype("int8") != b.astype("int8"),
    "equal": lambda a, b: a == b, "less": lambda a, b: a < b, "less_equal": lambda a, b: a <= b,
    "greater": lambda a, b: a > b, "greater_equal": lambda a, b: a >= b,
}


def _binary_rule(fn: Callable[[Expr, Expr], Expr]) -> Callable[..., te.Tensor]:
    return lambda ctx, op, a, b: ctx.elementwise([a, b], fn)


for _n, _f in _BINARY.items():
    lower(f"ml.{_n}")(_binary_rule(_f))


@lower("ml.mod")
def _mod_rule(ctx: LowerContext, op: Operation, a: te.Tensor, b: te.Tensor) -> te.Tensor:
    return ctx.elementwise([a, b], _mod(op.attr("fmod")))


@lower("ml.bit_shift")
def _shift(ctx: LowerContext, op: Operation, a: te.Tensor, b: te.Tensor) -> te.Tensor:
    left = op.attr("direction") == "LEFT"
    return ctx.elementwise([a, b], lambda x, y: x << y if left else x >> y)


_VARIADIC = {"sum": lambda a, b: a + b, "max": tirx.max, "min": tirx.min}


def _variadic_rule(name: str) -> Callable[..., te.Tensor]:
    def rule(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
        def body(*vals: Expr) -> Expr:
            acc = vals[0]
            for v in vals[1:]:
                acc = (tirx.max(acc, v) if name == "max" else tirx.min(acc, v)
                       if name == "min" else acc + v)
            return acc / _c(len(vals), acc) if name == "mean" else acc
        return ctx.elementwise(xs, body)
    return rule


for _n in ("sum", "max", "min", "mean"):
    lower(f"ml.{_n}")(_variadic_rule(_n))


# -- unary -----------------------------------------------------------------------------------
def _softplus(x: Expr) -> Expr:
    return tirx.max(x, _c(0, x)) + tirx.log1p(tirx.exp(-tirx.abs(x)))


# Rational approximations of erf and tanh for float32 (Eigen's generic_fast_erf_float /
# generic_fast_tanh_float, also TVM's topi.fast_erf / fast_tanh): plain arithmetic, so the
# SIMD loop stays vectorised, where LLVM turns erf/tanh into one libm call per element (GELU
# epilogues were 2-3x slower than their matmul). Max abs error vs float64 < 1e-6 (tested).
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
           4.89352455891786e-03)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
           4.89352518554385e-03)


def _horner(x2: Expr, coefs: Sequence[float]) -> Expr:
    acc = _c(coefs[0], x2)
    for cf in coefs[1:]:
        acc = acc * x2 + _c(cf, x2)
    return acc


def _rational(x: Expr, bound: float, p: Sequence[float], q: Sequence[float]) -> Expr:
    xc = tirx.max(tirx.min(x, _c(bound, x)), _c(-bound, x))
    x2 = xc * xc
    return tirx.Select(tirx.isnan(x), x, xc * _horner(x2, p) / _horner(x2, q))


def fast_erf(x: Expr) -> Expr:
    """erf(x); the rational approximation for float32."""
    return _rational(x, 4.0, _ERF_P, _ERF_Q) if dtype_of(x) == "float32" else tirx.erf(x)


def fast_tanh(x: Expr) -> Expr:
    """tanh(x); the rational approximation for float32."""
    return _rational(x, 9.0, _TANH_P, _TANH_Q) if dtype_of(x) == "float32" else tirx.tanh(x)


def _gelu(approx: str) -> Callable[[Expr], Expr]:
    def fn(x: Expr) -> Expr:
        if approx == "tanh":
            inner = _c(math.sqrt(2.0 / math.pi), x) * (x + _c(0.044715, x) * x * x * x)
            return _c(0.5, x) * x * (_c(1, x) + fast_tanh(inner))
        return _c(0.5, x) * x * (_c(1, x) + fast_erf(x * _c(1 / math.sqrt(2.0), x)))
    return fn


def _sign(x: Expr) -> Expr:
    one, zero = _c(1, x), _c(0, x)
    return tirx.Select(x > zero, one, tirx.Select(x < zero, _c(-1, x) if dtype_of(x)[0] != "u"
                                                  else zero, zero))


_UNARY: Dict[str, Callable[[Expr], Expr]] = {
    "exp": fast_exp, "log": tirx.log, "log1p": tirx.log1p,  # libm's log1p: exact for small x
    "sqrt": tirx.sqrt, "rsqrt": lambda x: _c(1, x) / tirx.sqrt(x),
    "reciprocal": lambda x: _c(1, x) / x, "sin": tirx.sin, "cos": tirx.cos, "tan": tirx.tan,
    "asin": tirx.asin, "acos": tirx.acos, "atan": tirx.atan,
    # LLVM codegen has no sinh/cosh intrinsic: from exp
    "sinh": lambda x: (tirx.exp(x) - tirx.exp(-x)) / _c(2, x),
    "cosh": lambda x: (tirx.exp(x) + tirx.exp(-x)) / _c(2, x), "tanh": fast_tanh,
    "asinh": tirx.asinh, "acosh": tirx.acosh,
    "atanh": tirx.atanh, "sigmoid": tirx.sigmoid, "erf": fast_erf, "floor": tirx.floor,
    "ceil": tirx.ceil, "round": tirx.nearbyint, "softplus": _softplus,
    "softsign": lambda x: x / (_c(1, x) + tirx.abs(x)),
    "hard_swish": lambda x: x * tirx.max(_c(0, x), tirx.min(_c(1, x), x / _c(6, x) + _c(0.5, x))),
    "mish": lambda x: x * tirx.tanh(_softplus(x)),
    "neg": lambda x: -x, "abs": tirx.abs, "sign": _sign,
    "relu": lambda x: tirx.max(x, _c(0, x)), "isnan": tirx.isnan,
    "identity": lambda x: x,
}


def _unary_rule(fn: Callable[[Expr], Expr]) -> Callable[..., te.Tensor]:
    return lambda ctx, op, x: ctx.elementwise([x], fn)


for _n, _uf in _UNARY.items():
    if _n != "identity":
        lower(f"ml.{_n}")(_unary_rule(_uf))


@lower("ml.not")
def _not(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    return ctx.elementwise([x], lambda v: tirx.Not(v) if dtype_of(v) == "bool" else ~v)


@lower("ml.isinf")
def _isinf(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    neg, pos = op.attr("detect_negative"), op.attr("detect_positive")

    def fn(v: Expr) -> Expr:
        inf = tirx.isinf(v)
        if neg and pos:
            return inf
        if not neg and not pos:
            return tirx.const(False, "bool")
        return tirx.all(inf, v > _c(0, v) if pos else v < _c(0, v))
    return ctx.elementwise([x], fn)


@lower("ml.gelu")
def _gelu_rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    return ctx.elementwise([x], _gelu(op.attr("approximate")))


def _activation(name: str, a: float, b: float) -> Callable[[Expr], Expr]:
    def fn(x: Expr) -> Expr:
        zero, one = _c(0, x), _c(1, x)
        ca, cb = _c(a, x), _c(b, x)
        em1 = tirx.exp(tirx.min(x, zero)) - one
        if name == "leaky_relu":
            return tirx.Select(x >= zero, x, ca * x)
        if name == "elu":
            return tirx.Select(x >= zero, x, ca * em1)
        if name == "celu":
            return tirx.max(zero, x) + tirx.min(zero, ca * (tirx.exp(tirx.min(x, zero) / ca) - one))
        if name == "selu":
            return cb * tirx.Select(x > zero, x, ca * em1)
        if name == "hard_sigmoid":
            return tirx.max(zero, tirx.min(one, ca * x + cb))
        return tirx.Select(x > ca, x, zero)  # thresholded_relu
    return fn


def _param_activation(name: str) -> Callable[..., te.Tensor]:
    keys = list(ACTIVATION_ATTRS[name])

    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        vals = [float(op.attr(k)) for k in keys] + [0.0]
        return ctx.elementwise([x], _activation(name, vals[0], vals[1]))
    return rule


for _n in ACTIVATION_ATTRS:
    lower(f"ml.{_n}")(_param_activation(_n))


@lower("ml.prelu")
def _prelu(ctx: LowerContext, op: Operation, x: te.Tensor, slope: te.Tensor) -> te.Tensor:
    return ctx.elementwise([x, slope], lambda v, s: tirx.Select(v < _c(0, v), s * v, v))


@lower("ml.clip")
def _clip(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "min?", "max?"))
    present = [t for t in (g["x"], g["min"], g["max"]) if t is not None]
    has_min, has_max = g["min"] is not None, g["max"] is not None

    def fn(*vals: Expr) -> Expr:
        v, rest = vals[0], list(vals[1:])
        if has_min:
            v = tirx.max(v, rest.pop(0))
        if has_max:
            v = tirx.min(v, rest.pop(0))
        return v
    return ctx.elementwise(present, fn)


@lower("ml.where")
def _where(ctx: LowerContext, op: Operation, c: te.Tensor, x: te.Tensor,
           y: te.Tensor) -> te.Tensor:
    return ctx.elementwise([c, x, y], lambda cv, xv, yv: tirx.Select(cv, xv, yv))


@lower("ml.cast")
def _cast(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    src, dst = op.operands[0].type.element, op.results[0].type.element  # type: ignore[attr-defined]
    if narrow_types.is_narrow(src) or narrow_types.is_narrow(dst):  # stored as bytes
        sat = bool(op.attr("saturate"))
        return ctx.elementwise([x], lambda v: narrow_types.cast(v, src, dst, sat))
    to = ctx.result_dtype()
    if to == "bool":
        return ctx.elementwise([x], lambda v: v != _c(0, v))
    return ctx.elementwise([x], lambda v: v.astype(to))


# -- linear algebra ----------------------------------------------------------------------------
def matmul_compute(ctx: LowerContext, a: te.Tensor, b: te.Tensor, trans_a: bool = False,
                   trans_b: bool = False) -> te.Tensor:
    """numpy.matmul (with optional transposes of the last two dims of 2-D+ operands), as one
    stage named `matmul` with loops (batch..., i, j, k)."""
    sa, sb = list(a.shape), list(b.shape)
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        sa = [tirx.IntImm("int64", 1)] + sa
    if b_vec:
        sb = sb + [tirx.IntImm("int64", 1)]
    m, ka = (sa[-1], sa[-2]) if trans_a else (sa[-2], sa[-1])
    n = sb[-2] if trans_b else sb[-1]
    batch = broadcast_shape([sa[:-2], sb[:-2]])
    ctx.check_broadcast([sa[:-2], sb[:-2]], batch)
    kb = sb[-1] if trans_b else sb[-2]
    if not same_dim(ka, kb):
        ctx.add_check(lambda: ka != kb, [], f"{ctx.op.name}: the contraction dims {ka} and {kb} "
                      "differ at run time")
    nb = len(batch)
    kk = te.reduce_axis((0, ka), name="k")
    ctx.hints.update(trans_a=trans_a, trans_b=trans_b, a_rank=len(a.shape),
                     b_rank=len(b.shape))

    def body(*idx: Expr) -> Expr:
        bi, i, j = idx[:nb], idx[nb], idx[nb + 1]
        ia = broadcast_index(sa[:-2], bi, nb, batch) + ((kk, i) if trans_a else (i, kk))
        ib = broadcast_index(sb[:-2], bi, nb, batch) + ((j, kk) if trans_b else (kk, j))
        if a_vec:
            ia = ia[1:]
        if b_vec:
            ib = ib[:-1]
        if acc != dt:
            return te.sum(a[ia].astype(acc) * b[ib].astype(acc), axis=kk)
        return te.sum(a[ia] * b[ib], axis=kk)
    # 16-bit floats accumulate in float32 (as numpy and onnxruntime do), rounded once at the
    # end: a float16 sum of K products loses ~sqrt(K) ulps (0.04 vs 0.008 at K = 64)
    dt = dtype_of(a)
    acc = "float32" if dt in ("float16", "bfloat16") and dtype_of(b) == dt else dt
    out = te.compute(tuple(batch) + (m, n), body, name="matmul")
    if acc != dt:
        wide = out
        out = te.compute(wide.shape, lambda *i: wide[i].astype(dt), name=ctx.name("round"))
    if a_vec or b_vec:
        keep = list(range(nb)) + ([] if a_vec else [nb]) + ([] if b_vec else [nb + 1])
        shape = [out.shape[d] for d in keep]

        def squeeze(*idx: Expr) -> Expr:
            full: List[Expr] = []
            it = iter(idx)
            for d in range(nb + 2):
                full.append(next(it) if d in keep else tirx.const(0, "int64"))
            return out[tuple(full)]
        out = te.compute(shape, squeeze, name=ctx.name("squeeze"))
    return out


@lower("ml.matmul")
def _matmul(ctx: LowerContext, op: Operation, a: te.Tensor, b: te.Tensor) -> te.Tensor:
    return matmul_compute(ctx, a, b)


@lower("ml.gemm")
def _gemm(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("a", "b", "c?"))
    mm = matmul_compute(ctx, g["a"], g["b"], op.attr("trans_a"), op.attr("trans_b"))
    alpha, beta, c = float(op.attr("alpha")), float(op.attr("beta")), g["c"]
    if alpha == 1.0 and (c is None or beta == 0.0):
        return mm
    ins = [mm] if c is None or beta == 0.0 else [mm, c]

    def epilogue(v: Expr, cv: Any = None) -> Expr:
        v = v * _c(alpha, v) if alpha != 1.0 else v
        if cv is None:
            return v
        return v + (cv * _c(beta, cv) if beta != 1.0 else cv)
    return ctx.elementwise(ins, epilogue, name="epilogue")


# -- reductions ----------------------------------------------------------------------------------
def _lowest(t: str, high: bool = False) -> Expr:
    """The identity of max (min with `high`): -inf (+inf) for floats."""
    if t.startswith(("float", "bfloat")):
        return tirx.const(float("inf") if high else float("-inf"), t)
    return tirx.max_value(t) if high else tirx.min_value(t)


MAX = te.comm_reducer(lambda p, q: tirx.max(p, q), lambda t: _lowest(t), name="max")
MIN = te.comm_reducer(lambda p, q: tirx.min(p, q), lambda t: _lowest(t, True), name="min")


def reduce_compute(ctx: LowerContext, x: te.Tensor, axes: Sequence[int], keepdims: bool,
                   combine: str, pre: Callable[[Expr], Expr] = lambda v: v,
                   name: str = "reduce", inf_identity: bool = False) -> te.Tensor:
    """Reduce `axes` of `x` with `combine` ("sum" | "max" | "min" | "prod") of `pre(x)`.
    `inf_identity`: max (min) starts from -inf (+inf), as ONNX's ReduceMax over an empty set
    or a row of -inf gives; TVM's te.max starts from the lowest finite float, but it is the
    reducer that `rfactor` knows (the row schedules of softmax and norms vectorise with it)."""
    rank = len(x.shape)
    axes = sorted(axes)
    raxes = [te.reduce_axis((0, x.shape[a]), name=f"r{a}") for a in axes]
    shape = [tirx.IntImm("int64", 1) if a in axes else x.shape[a] for a in range(rank)
             if keepdims or a not in axes]
    reducer = {"sum": te.sum, "max": MAX if inf_identity else te.max,
               "min": MIN if inf_identity else te.min,
               "prod": te.comm_reducer(lambda p, q: p * q,
                                       lambda t: tirx.const(1, t), name="prod")}[combine]

    def body(*idx: Expr) -> Expr:
        full, it, r = [], iter(idx), iter(raxes)
        for a in range(rank):
            if a in axes:
                if keepdims:
                    next(it)
                full.append(next(r))
            else:
                full.append(next(it))
        return reducer(pre(x[tuple(full)]), axis=raxes)
    return te.compute(shape, body, name=ctx.name(name))


def _reduce_axes(op: Operation, rank: int) -> Any:
    axes = op.attr("axes")
    if not axes:
        return () if op.attr("noop_with_empty_axes") else tuple(range(rank))
    return tuple(norm_axes(axes, rank))


def _count(x: te.Tensor, axes: Sequence[int]) -> Expr:
    n: Any = tirx.IntImm("int64", 1)
    for a in axes:
        n = n * x.shape[a]
    return n


_SIMPLE_REDUCE: Dict[str, tuple] = {
    "reduce_sum": ("sum", None, None), "reduce_max": ("max", None, None),
    "reduce_min": ("min", None, None), "reduce_prod": ("prod", None, None),
    "reduce_l1": ("sum", tirx.abs, None), "reduce_l2": ("sum", lambda v: v * v, tirx.sqrt),
    "reduce_log_sum": ("sum", None, tirx.log), "reduce_sum_square": ("sum", lambda v: v * v, None),
    # TVM's max reducer has no bool identity: as int8 (from its lowest value, so empty -> false)
    "reduce_any": ("max", lambda v: v.astype("int8"), lambda v: v > _c(0, v)),
}


def _reduce_rule(name: str) -> Callable[..., te.Tensor]:
    if name not in _SIMPLE_REDUCE and name not in ("reduce_mean", "reduce_log_sum_exp"):
        raise NotImplementedError(f"no TVM lowering of ml.{name} (add it to _SIMPLE_REDUCE)")

    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        rank = len(x.shape)
        axes = _reduce_axes(op, rank)
        if axes == ():
            return ctx.elementwise([x], lambda v: v, name="copy")
        keep = op.attr("keepdims")
        if name == "reduce_mean":
            s = reduce_compute(ctx, x, axes, keep, "sum")
            cnt = _count(x, axes)
            if isinstance(cnt, tirx.IntImm) and cnt.value == 0:  # 0/0 (TVM's folding refuses)
                return ctx.elementwise([s], lambda v: _c(float("nan") if _is_float(v) else 0, v),
                                       name="mean")
            return ctx.elementwise([s], lambda v: v / cnt.astype(dtype_of(v)), name="mean")
        if name == "reduce_log_sum_exp":
            m = reduce_compute(ctx, x, axes, True, "max", name="max", inf_identity=True)

            def shifted(v: Expr, mv: Expr) -> Expr:
                mv = tirx.Select(tirx.isfinite(mv), mv, _c(0, mv))
                return tirx.exp(v - mv)
            e = ctx.elementwise([x, m], shifted, name="exp")
            s = reduce_compute(ctx, e, axes, keep, "sum")
            mk = m if keep else _drop_axes(ctx, m, axes)
            return ctx.elementwise(
                [s, mk], lambda sv, mv: tirx.log(sv) + tirx.Select(tirx.isfinite(mv), mv,
                                                                    _c(0, mv)), name="lse")
        combine, pre, post = _SIMPLE_REDUCE[name]
        r = reduce_compute(ctx, x, axes, keep, combine, pre or (lambda v: v), inf_identity=True)
        return ctx.elementwise([r], post, name="post") if post else r
    return rule


def _drop_axes(ctx: LowerContext, t: te.Tensor, axes: Sequence[int]) -> te.Tensor:
    shape = [d for a, d in enumerate(t.shape) if a not in axes]

    def body(*idx: Expr) -> Expr:
        it = iter(idx)
        return t[tuple(tirx.const(0, "int64") if a in axes else next(it)
                       for a in range(len(t.shape)))]
    return te.compute(shape, body, name=ctx.name("squeeze"))


for _n in REDUCE_OPS:  # the reduce_* ops, as the dialect declares them
    lower(f"ml.{_n}")(_reduce_rule(_n))


def _arg_rule(largest: bool) -> Callable[..., te.Tensor]:
    def rule(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
        axis = norm_axis(op.attr("axis"), len(x.shape))
        fn = topi.argmax if largest else topi.argmin
        r = fn(x, axis=axis, keepdims=op.attr("keepdims"),
               select_last_index=op.attr("select_last_index"))
        return ctx.elementwise([r], lambda v: v.astype("int64"), name="to_i64")
    return rule


lower("ml.argmax")(_arg_rule(True))
lower("ml.argmin")(_arg_rule(False))
