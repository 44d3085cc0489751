"""ONNX Resize as TVM tensor expressions: the one implementation of the coordinate transform and
the interpolation that the `ml.resize` rule (scales or sizes known at compile time,
rules_shape.py) and the `ml.resize_dynamic` rule (read at run time, rules_dynamic.py) share.

    y = resize(ctx, x, out_dims, [ResizeAxis(2, h_in, h_out, 2.0), ...], ResizeMode.of(op))

Resize is separable: along a resized axis, output position `o` reads a few input positions
(taps) with weights that depend on `o` only (the coordinate transformation mode, the
interpolation mode, cubic_coeff_a, exclude_outside, antialias). So each such axis gets small
tables, computed once per call in float64 exactly as the reference does
(mlir_lite/ir/interpreter/ml_shape.py): the tap indices, clamped into the input ([taps, w_out],
int32), their weights ([taps, w_out], in the compute dtype; none for nearest) and, for
tf_crop_and_resize, whether `o` maps outside the input. The hot loop reads only those tables:
per output element it gathers the taps of every resized axis and sums them weighted (float32
for float32 and 16-bit float data, float64 only for float64 and integer data: integers are
rounded at the end, and exact ties must stay exact), innermost axis innermost, so
the innermost dim vectorises (contiguous table loads and one hardware gather per tap: the
schedule leaves that loop to LLVM's vectoriser, `schedules.cpu.schedule_gather_rows`). When the
taps of all axes multiply to more than `DIRECT_TAPS` (antialiased downsampling by a large
factor, tricubic), the axes are resized one after the other instead, one stage each, as the
reference does. The schedule hints (schedules/__init__.py) keep the tables (`tables`) and the
intermediate stages (`stages`) from being inlined, and name the stages that gather (`gather`).

A scale, an roi bound or a dim may be a Python number (known at compile time) or a TVM
expression (a symbolic dim, or a value read from an operand at run time). The static tap count
of an antialiased axis needs its scale, or else a static input dim (a bound from the in/out dims;
taps past the run-time footprint get weight 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from tvm import te, tirx

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml.shape import RESIZE_COORD_MODES, RESIZE_MODES, RESIZE_NEAREST_MODES

from .lower import LowerContext, dtype_of, load, same_dim

__all__ = ["ResizeAxis", "ResizeMode", "resize", "scaled_dim", "policy_scale", "policy_dim",
           "static_scaled_dim", "static_policy", "DIRECT_TAPS"]

Expr = Any
Num = Union[int, float, Expr]

F64 = "float64"
# the most taps (over all resized axes together) read per output element in one stage
DIRECT_TAPS = 16
# taps per axis above which a separate stage sums them in a loop (not one unrolled expression)
_UNROLL_TAPS = 16


def _i64(v: Any) -> Expr:
    return tirx.IntImm("int64", v) if isinstance(v, int) else v.astype("int64")


def _f64(v: Num) -> Expr:
    if isinstance(v, (int, float)):
        return tirx.const(float(v), F64)
    return v if dtype_of(v) == F64 else v.astype(F64)


def _static(v: Num) -> Optional[float]:
    """`v` as a Python number when it is known at compile time."""
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, (tirx.IntImm, tirx.FloatImm)):
        return v.value
    return None


# -- the output dims ----------------------------------------------------------------------------
def scaled_dim(d: Num, s: Num) -> Expr:
    """floor(d * s) computed at run time in float64 (ONNX: the output dim of a scale)."""
    return tirx.floor(_f64(d) * _f64(s)).astype("int64")


def static_scaled_dim(d: Expr, s: float) -> Expr:
    """floor(d * s) for a symbolic `d` and a scale known at compile time, as an integer shape
    expression (the plan evaluates it): d * k for an integral scale, else floor(d * m / n)
    with s = m / n exactly (a binary fraction), which is what float64 gives for any d < 2^29
    when s came from a float32."""
    fr = Fraction(s)
    if fr == 1:
        return d
    if fr.denominator == 1:
        return d * _i64(fr.numerator)
    if fr.numerator >= 2 ** 31 or fr.denominator >= 2 ** 40:
        raise NotImplementedError(f"resize of a symbolic dim by the scale {s!r} (its exact "
                                  "fraction is too wide for an integer shape expression)")
    return tirx.floordiv(d * _i64(fr.numerator), _i64(fr.denominator))


def policy_scale(sizes: Sequence[Num], dims: Sequence[Num], policy: str) -> Expr:
    """keep_aspect_ratio_policy's one scale: the min (not_larger) or max (not_smaller) of
    sizes[k] / dims[k], float64, as ONNX computes it."""
    best: Expr = None
    for s, d in zip(sizes, dims):
        r = _f64(s) / _f64(tirx.max(_i64(d), _i64(1)))
        best = r if best is None else (tirx.min(best, r) if policy == "not_larger"
                                       else tirx.max(best, r))
    return best


def policy_dim(d: Num, scale: Expr) -> Expr:
    """round_half_up(scale * d): an output dim under keep_aspect_ratio_policy."""
    return tirx.floor(scale * _f64(d) + tirx.const(0.5, F64)).astype("int64")


def static_policy(sizes: Sequence[int], dims: Sequence[Expr], policy: str
                  ) -> Tuple[List[Expr], Expr]:
    """For sizes known at compile time and (some) symbolic dims: the output dims as integer
    shape expressions and the scale (float64, as policy_scale gives it). round_half_up is
    monotonic, so round_half_up(min_j(size_j / d_j) * d) = min_j floor((2 size_j d + d_j) /
    (2 d_j)) (max for not_smaller): exact rational arithmetic, no selects in the shape."""
    pick = tirx.min if policy == "not_larger" else tirx.max
    outs = []
    for d in dims:
        best: Expr = None
        for s, dj in zip(sizes, dims):
            den = tirx.max(_i64(dj), _i64(1))
            v = tirx.floordiv(_i64(2 * s) * _i64(d) + den, _i64(2) * den)
            best = v if best is None else pick(best, v)
        outs.append(best)
    return outs, policy_scale(sizes, dims, policy)


# -- attributes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResizeMode:
    """The interpolation attributes of a resize op (those that the shape does not depend on)."""

    mode: str = "nearest"
    ctm: str = "half_pixel"
    nearest_mode: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: bool = False
    extrapolation: float = 0.0
    antialias: bool = False

    @classmethod
    def of(cls, op: Operation) -> "ResizeMode":
        m = cls(op.attr("mode"), op.attr("coordinate_transformation_mode"),
                op.attr("nearest_mode"), float(op.attr("cubic_coeff_a")),
                bool(op.attr("exclude_outside")), float(op.attr("extrapolation_value")),
                bool(op.attr("antialias")))
        for what, v, allowed in (("mode", m.mode, RESIZE_MODES),
                                 ("coordinate_transformation_mode", m.ctm, RESIZE_COORD_MODES),
                                 ("nearest_mode", m.nearest_mode, RESIZE_NEAREST_MODES)):
            if v not in allowed:
                raise NotImplementedError(f"resize {what} {v!r}")
        if m.antialias and m.mode == "nearest":
            raise NotImplementedError("antialias applies to linear and cubic resize only")
        return m

    @property
    def normalised(self) -> bool:
        """Whether the weights are divided by their sum (antialias, exclude_outside)."""
        return self.antialias or (self.exclude_outside and self.mode == "cubic")


@dataclass(frozen=True)
class ResizeAxis:
    """One resized axis: its input and output lengths, its scale, and for tf_crop_and_resize
    its roi (start, end), each a Python number or a TVM expression."""

    axis: int
    w_in: Num
    w_out: Num
    scale: Num
    roi: Optional[Tuple[Num, Num]] = None

    def is_identity(self) -> bool:
        """Known at compile time to leave the axis as it is (as the reference skips it)."""
        s = _static(self.scale)
        if s is None or not math.isclose(s, 1.0):
            return False
        if not same_dim(_i64(self.w_in) if isinstance(self.w_in, int) else self.w_in,
                        _i64(self.w_out) if isinstance(self.w_out, int) else self.w_out):
            return False
        if self.roi is None:
            return True
        lo, hi = (_static(v) for v in self.roi)
        return lo == 0.0 and hi == 1.0


# -- per-axis tables ---------------------------------------------------------------------------
def _footprint(scale: float, mode: str) -> int:
    """The taps of an antialiased axis at `scale` (the reference's footprint)."""
    s = min(scale, 1.0)
    start = int(math.floor(-(1.0 if mode == "linear" else 2.0) / s) + 1)
    return 2 - 2 * start


def _taps(ax: ResizeAxis, m: ResizeMode) -> int:
    if m.mode == "nearest":
        return 1
    if not m.antialias:
        return 2 if m.mode == "linear" else 4
    s = _static(ax.scale)
    if s is not None:
        return _footprint(s, m.mode)
    w_in, w_out = _static(ax.w_in), _static(ax.w_out)
    if w_in is None:
        raise NotImplementedError("antialiased resize with a run-time scale needs a static "
                                  "input dim (a static tap count)")
    if w_in < 1 or (w_out is not None and w_out < 1):
        return 2
    # the run-time scale is at least (w_out - 1/2) / w_in: floor(s * w_in) == w_out, or
    # floor(s * w_in + 1/2) == w_out (keep_aspect_ratio_policy); at least 1/2 / w_in for any
    # nonempty output (w_out bound at run time: up to about 4 w_in taps, slow but exact). The
    # footprint only shrinks as the scale grows.
    return _footprint((max(w_out, 1) - 0.5 if w_out is not None else 0.5) / w_in * (1 - 1e-9),
                      m.mode)


def _source(ax: ResizeAxis, m: ResizeMode, y: Expr) -> Expr:
    """The input coordinate (float64) of output position `y` (float64), as the reference."""
    s, w_in, w_out = _f64(ax.scale), _f64(ax.w_in), _f64(ax.w_out)
    one, half = tirx.const(1.0, F64), tirx.const(0.5, F64)
    w_scaled = s * w_in
    ctm = m.ctm
    if ctm == "half_pixel":
        return (y + half) / s - half
    if ctm == "half_pixel_symmetric":
        offset = (w_in / tirx.const(2.0, F64)) * (one - w_out / w_scaled)
        return offset + (y + half) / s - half
    if ctm == "pytorch_half_pixel":
        return tirx.Select(w_scaled != one, (y + half) / s - half, -half)
    safe = tirx.Select(w_scaled == one, tirx.const(2.0, F64), w_scaled) - one
    if ctm == "align_corners":
        return tirx.Select(w_scaled != one, y * (w_in - one) / safe, tirx.const(0.0, F64))
    if ctm == "asymmetric":
        return y / s
    if ax.roi is None:
        raise NotImplementedError("tf_crop_and_resize needs an roi")
    lo, hi = _f64(ax.roi[0]), _f64(ax.roi[1])
    return tirx.Select(w_scaled == one,
                       (hi - lo) * (w_in - one) / tirx.const(2.0, F64) + lo * (w_in - one),
                       y * (hi - lo) * (w_in - one) / safe + lo * (w_in - one))


def _split(x: Expr) -> Tuple[Expr, Expr]:
    """(p, ratio): the input position left of `x` (int64) and the ratio in (0, 1], an exact
    integer coordinate counting as ratio 1 from the position before it (the reference's
    neighbour choice)."""
    fl = tirx.floor(x)
    exact = x == fl
    p = tirx.Select(exact, fl - tirx.const(1.0, F64), fl).astype("int64")
    return p, tirx.Select(exact, tirx.const(1.0, F64), x - fl)


def _cubic(d: Expr, a: float) -> Expr:
    """The cubic convolution kernel at distance |d| (the reference's form)."""
    d = tirx.abs(d)
    av = tirx.const(a, F64)
    near = ((av + 2.0) * d - (av + 3.0)) * d * d + 1.0
    far = ((av * d - 5.0 * av) * d + 8.0 * av) * d - 4.0 * av
    zero = tirx.const(0.0, F64)
    return tirx.Select(d <= 1.0, near, tirx.Select(d < 2.0, far, zero))


def _cubic_antialias(x: Expr, a: float) -> Expr:
    """The reference's antialiased cubic coefficient (same kernel, its own evaluation order)."""
    x = tirx.abs(x)
    av = tirx.const(a, F64)
    x2 = x * x
    x3 = x * x2
    near = (av + 2.0) * x3 - (av + 3.0) * x2 + 1.0
    far = av * x3 - 5.0 * av * x2 + 8.0 * av * x - 4.0 * av
    return tirx.Select(x <= 1.0, near, tirx.Select(x < 2.0, far, tirx.const(0.0, F64)))


@dataclass
class _Tables:
    axis: int
    taps: int
    index: te.Tensor                 # [taps, w_out] int32, clamped into the input
    weight: Optional[te.Tensor]      # [taps, w_out], compute dtype; None for nearest
    outside: Optional[te.Tensor]     # [w_out] bool (tf_crop_and_resize)


def _tap(ax: ResizeAxis, m: ResizeMode, t: Expr, c: Expr) -> Tuple[Expr, Expr]:
    """(unclamped input index, raw float64 weight) of tap `t` (an int64 expression) of an
    output position whose input coordinate is `c` (a load of the coordinate table)."""
    p, ratio = _split(c)
    one = tirx.const(1.0, F64)
    if m.mode == "nearest":
        nm = m.nearest_mode
        half = tirx.const(0.5, F64)
        right = (ratio > half if nm == "round_prefer_floor" else ratio >= half
                 if nm == "round_prefer_ceil" else ratio == one if nm == "floor"
                 else tirx.const(True, "bool"))
        return p + right.astype("int64"), one
    if m.antialias:
        s = tirx.min(_f64(ax.scale), one)
        reach = one if m.mode == "linear" else tirx.const(2.0, F64)
        start = (tirx.floor(-reach / s) + one).astype("int64")
        n = _i64(2) - _i64(2) * start
        off = start + t
        arg = (off.astype(F64) - ratio) * s
        w = (tirx.max(tirx.min(one - tirx.abs(arg), one), tirx.const(0.0, F64))
             if m.mode == "linear" else _cubic_antialias(arg, m.cubic_a))
        return p + off, tirx.Select(t < n, w, tirx.const(0.0, F64))
    if m.mode == "linear":
        return p + t, tirx.Select(t == _i64(0), one - ratio, ratio)
    idx = p + t - _i64(1)
    return idx, _cubic(idx.astype(F64) - c, m.cubic_a)


def _tables(ctx: LowerContext, ax: ResizeAxis, m: ResizeMode, cdt: str,
            keep: List[str]) -> _Tables:
    """The coordinate of every output position (float64), then from it each tap's index and
    weight (small stages of their own: one expression per table entry, not one per use)."""
    T = _taps(ax, m)
    w_in, w_out = _i64(ax.w_in), _i64(ax.w_out)
    last = tirx.max(w_in - _i64(1), _i64(0))

    def stage(shape: list, fn: Callable[..., Expr], base: str) -> te.Tensor:
        t = te.compute(shape, fn, name=ctx.name(base))
        keep.append(t.op.name)
        return t

    coord = stage([w_out], lambda o: _source(ax, m, _i64(o).astype(F64)), "resize_coord")
    index = stage([_i64(T), w_out], lambda t, o: tirx.min(tirx.max(
        _tap(ax, m, t, coord[o])[0], _i64(0)), last).astype("int32"), "resize_index")
    weight = None
    if m.mode != "nearest":
        if not m.normalised:
            weight = stage([_i64(T), w_out],
                           lambda t, o: _tap(ax, m, t, coord[o])[1].astype(cdt),
                           "resize_weight")
        else:
            w = stage([_i64(T), w_out], lambda t, o: _tap(ax, m, t, coord[o])[1],
                      "resize_raw")
            if m.antialias:
                w = _normalise(stage, w, T, w_out, None)
            if m.exclude_outside:
                def inside(t: Expr, o: Expr) -> Expr:
                    i = _tap(ax, m, t, coord[o])[0]
                    return tirx.all(i >= _i64(0), i < w_in)
                w = _normalise(stage, w, T, w_out, inside)
            final = w
            weight = stage([_i64(T), w_out], lambda t, o: final[t, o].astype(cdt),
                           "resize_weight")
    outside = None
    if m.ctm == "tf_crop_and_resize":
        outside = stage([w_out], lambda o: tirx.any(
            coord[o] < tirx.const(0.0, F64), coord[o] > (w_in - _i64(1)).astype(F64)),
            "resize_outside")
    return _Tables(ax.axis, T, index, weight, outside)


def _normalise(stage: Callable[..., te.Tensor], w: te.Tensor, T: int, w_out: Expr,
               keep_if: Optional[Callable[[Expr, Expr], Expr]]) -> te.Tensor:
    """w (zeroed where not keep_if) divided by its sum over the taps (a zero sum counts as 1)."""
    zero = tirx.const(0.0, F64)
    if keep_if is not None:
        w0 = w
        w = stage([_i64(T), w_out], lambda t, o: tirx.Select(keep_if(t, o), w0[t, o], zero),
                  "resize_kept")

    def total_of(o: Expr) -> Expr:
        r = te.reduce_axis((0, _i64(T)), name="tap")
        return te.sum(w[r, o], axis=r)
    total = stage([w_out], total_of, "resize_total")
    one = tirx.const(1.0, F64)
    src = w
    return stage([_i64(T), w_out],
                 lambda t, o: src[t, o] / tirx.Select(total[o] == zero, one, total[o]),
                 "resize_norm")


# -- the kernel ---------------------------------------------------------------------------------
def _compute_dtype(dt: str) -> str:
    """float64 for float64 and integer data (rounded at the end: exact ties must stay exact, as
    in the reference), else float32."""
    if dt == F64 or dt.startswith("int") or dt.startswith("uint"):
        return F64
    return "float32"


def _finish(v: Expr, dt: str, cdt: str) -> Expr:
    """The compute-dtype value `v` as the output dtype (integers rounded half to even and
    saturated, as the reference)."""
    if dt == cdt:
        return v
    if dt.startswith("float") or dt.startswith("bfloat"):
        return v.astype(dt)
    if dt == "bool":
        return v != tirx.const(0.0, cdt)
    info_lo, info_hi = _int_range(dt)
    r = tirx.round(v)
    r = tirx.min(tirx.max(r, tirx.const(float(info_lo), cdt)), tirx.const(float(info_hi), cdt))
    return r.astype(dt)


def _int_range(dt: str) -> Tuple[int, int]:
    bits = int("".join(c for c in dt if c.isdigit()))
    if dt.startswith("u"):
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def resize(ctx: LowerContext, x: te.Tensor, out_shape: Sequence[Expr],
           axes: Sequence[ResizeAxis], m: ResizeMode) -> te.Tensor:
    """`x` resized to `out_shape` along `axes` (every other dim of out_shape is x's)."""
    dt = dtype_of(x)
    cdt = _compute_dtype(dt)
    out_shape = [_i64(d) if isinstance(d, int) else d for d in out_shape]
    tables: List[str] = []
    live = [_tables(ctx, a, m, cdt, tables) for a in axes if not a.is_identity()]
    ctx.hints["tables"] = tuple(tables)
    extrap = tirx.const(m.extrapolation, cdt)

    def read(t: te.Tensor, idx: Sequence[Expr]) -> Expr:
        v = load(t, list(idx))
        return v if dtype_of(v) == cdt else v.astype(cdt)

    def outside_of(tbs: Sequence[_Tables], o: Sequence[Expr]) -> Optional[Expr]:
        flags = [tb.outside[o[tb.axis]] for tb in tbs if tb.outside is not None]
        return tirx.any(*flags) if flags else None

    total = 1
    for tb in live:
        total *= tb.taps
    if total <= DIRECT_TAPS:
        ordered = sorted(live, key=lambda tb: tb.axis)  # innermost axis innermost

        def body(*o: Expr) -> Expr:
            v = _weighted(ordered, 0, list(o), o, lambda idx: read(x, idx))
            out = outside_of(ordered, o)
            if out is not None:
                v = tirx.Select(out, extrap, v)
            return _finish(v, dt, cdt)
        y = te.compute(out_shape, body, name=ctx.name("resize"))
        ctx.hints["gather"] = (y.op.name,)
        return y
    # one stage per axis, in the order given
    cur, shape, kept = x, list(x.shape), []
    for tb in live:
        shape = list(shape)
        shape[tb.axis] = out_shape[tb.axis]
        cur = te.compute(shape, _pass(tb, cur, read, extrap), name=ctx.name("resize_pass"))
        kept.append(cur.op.name)
        if tb.taps > _UNROLL_TAPS and tb.outside is not None:  # (a sum cannot be selected)
            cur = te.compute(shape, _cropped(cur, tb.outside, tb.axis, extrap),
                             name=ctx.name("resize_crop"))
    last = cur
    y = te.compute(out_shape, lambda *o: _finish(load(last, list(o)), dt, cdt),
                   name=ctx.name("resize"))
    ctx.hints["stages"] = tuple(kept[:-1])
    ctx.hints["gather"] = tuple(kept) + (y.op.name,)
    return y


def _cropped(src: te.Tensor, outside: te.Tensor, a: int, extrap: Expr) -> Callable[..., Expr]:
    return lambda *o: tirx.Select(outside[o[a]], extrap, src[o])


def _weighted(tbs: Sequence[_Tables], k: int, idx: List[Expr], o: Sequence[Expr],
              leaf: Callable[[Sequence[Expr]], Expr]) -> Expr:
    """sum over the taps of axes k.. of their weights times leaf(index)."""
    if k == len(tbs):
        return leaf(idx)
    tb = tbs[k]
    acc: Expr = None
    for t in range(tb.taps):
        here = list(idx)
        here[tb.axis] = tb.index[_i64(t), o[tb.axis]].astype("int64")
        v = _weighted(tbs, k + 1, here, o, leaf)
        if tb.weight is not None:
            v = tb.weight[_i64(t), o[tb.axis]] * v
        acc = v if acc is None else acc + v
    return acc


def _pass(tb: _Tables, src: te.Tensor, read: Callable[[te.Tensor, Sequence[Expr]], Expr],
          extrap: Expr) -> Callable[..., Expr]:
    """The body of the stage that resizes axis tb.axis of `src`."""
    a = tb.axis

    def at(o: Sequence[Expr], t: Expr) -> Expr:
        idx = list(o)
        idx[a] = tb.index[t, o[a]].astype("int64")
        v = read(src, idx)
        return v if tb.weight is None else tb.weight[t, o[a]] * v

    def body(*o: Expr) -> Expr:
        v = at(o, _i64(0))
        for t in range(1, tb.taps):
            v = v + at(o, _i64(t))
        return v if tb.outside is None else tirx.Select(tb.outside[o[a]], extrap, v)

    def summed(*o: Expr) -> Expr:
        r = te.reduce_axis((0, _i64(tb.taps)), name="tap")
        return te.sum(at(o, r), axis=r)
    return body if tb.taps <= _UNROLL_TAPS else summed
