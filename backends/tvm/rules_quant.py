"""Lowering rules for the quantization ops and bit casts: quantize_linear, dequantize_linear,
matmul_integer, conv_integer and bitcast (ONNX semantics, as the interpreter's ml_quant.py).

A scale or zero point is a scalar (or one element), one entry per index of `axis`, or blocked
(`block_size` consecutive entries along `axis` share one); a kernel reads it at
`p[..., o[axis] // block, ...]` and flags, at run time, a per-axis or blocked parameter whose
length does not fit x. Quantization rounds half to even (`nearbyint`) and saturates to the
integer range of the result type (4/2-bit ones included); to an 8/4-bit float it divides in
the scale's precision and rounds to nearest even, saturating when `saturate` (the zero point
is added for float4 only, as the interpreter). The 8/4/2-bit types are stored as bytes and
converted by narrow_types.py. The integer matmul/conv subtract the zero points in i32 first,
then reuse the float rules' computations (`matmul_compute`, `ml.conv`'s rule), accumulating in i32.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from tvm import te, tirx

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import operand_groups

from .lower import LowerContext, dtype_of, load, lower
from .narrow_types import from_value, int_range, narrow_format, to_value
from .rules_math import matmul_compute
from .rules_nn import _conv

__all__: List[str] = []

_INT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
              "uint16": (0, 65535), "int32": (-2 ** 31, 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1)}


def _i64(v: int) -> Any:
    return tirx.IntImm("int64", int(v))


class _OpView:
    """`op` seen with other attributes (to reuse a rule written for a sibling op)."""

    def __init__(self, op: Operation, attributes: Dict[str, Any]) -> None:
        self._op, self.attributes, self.name, self.loc = op, attributes, op.name, op.loc

    def attr(self, name: str) -> Any:
        if name in self.attributes:
            return self.attributes[name]
        return self._op.attr(name)


def _param(ctx: LowerContext, op: Operation, p: te.Tensor, x: te.Tensor, what: str):
    """A function from x's index to the matching entry of scale / zero point `p`."""
    rank = len(x.shape)
    axis = op.attr("axis")
    axis = axis + rank if axis < 0 else axis
    block = op.attr("block_size")
    if len(p.shape) == 0:
        return lambda o: p()
    if len(p.shape) == 1 and isinstance(p.shape[0], tirx.IntImm) and int(p.shape[0]) == 1 \
            and block == 0:
        return lambda o: p[_i64(0)]
    if not 0 <= axis < rank:
        raise ValueError(f"axis {op.attr('axis')} is out of range for rank {rank}")
    if block == 0:
        ctx.add_check(lambda: p.shape[0] != x.shape[axis], [],
                      f"{op.name}: the per-axis {what} does not fit axis {axis} of x")
        return lambda o: p[(o[axis],)]
    bb = _i64(block)
    ctx.add_check(lambda: tirx.floordiv(x.shape[axis] + bb - _i64(1), bb) != p.shape[axis], [],
                  f"{op.name}: the blocked {what} does not fit x with block_size {block}")
    return lambda o: p[tuple(tirx.floordiv(o[a], bb) if a == axis else o[a]
                             for a in range(rank))]


@lower("ml.quantize_linear")
def _quantize(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "scale", "zero_point?"))
    x, scale, zp = g["x"], g["scale"], g["zero_point"]
    to_el = op.results[0].type.element  # type: ignore[attr-defined]
    zp_el = _element(op, "zero_point")
    to = ctx.result_dtype()
    sc = _param(ctx, op, scale, x, "scale")
    zpf = _param(ctx, op, zp, x, "zero_point") if zp is not None else None
    fmt = narrow_format(to_el)
    if fmt is not None and fmt.is_float:
        return _quantize_float(ctx, op, x, scale, sc, zpf, zp_el)
    rng = int_range(to_el) or _INT_RANGE.get(to)
    if rng is None:
        raise NotImplementedError(f"quantizing to {to_el} (integer and 8/4-bit float results "
                                  "are lowered)")
    lo, hi = rng
    ft = "float64" if "float64" in (dtype_of(x), dtype_of(scale)) else "float32"

    def body(*o: Any) -> Any:
        y = tirx.nearbyint(x[o].astype(ft) / sc(o).astype(ft)).astype("float64")
        if zpf is not None:
            y = y + to_value(zpf(o), zp_el).astype("float64")
        y = tirx.max(tirx.min(y, tirx.const(float(hi), "float64")),
                     tirx.const(float(lo), "float64"))
        return from_value(y, to_el)
    return te.compute(x.shape, body, name=ctx.name("quantize"))


def _element(op: Operation, name: str) -> Any:
    """The element type of operand `name` of a quantize/dequantize op (None when absent)."""
    v = operand_groups(list(op.operands), op.attributes, ("x", "scale", "zero_point?"))[name]
    return None if v is None else v.type.element


def _quantize_float(ctx: LowerContext, op: Operation, x: te.Tensor, scale: te.Tensor, sc: Any,
                    zpf: Any, zp_el: Any) -> te.Tensor:
    """x / scale as an 8/4-bit float, in the scale's precision (float64 for a float64 scale,
    else float32, as the interpreter), saturating when `saturate`; the zero point is added for
    float4 only (float8 zero points are 0 in ONNX)."""
    to_el = op.results[0].type.element  # type: ignore[attr-defined]
    ft = "float64" if dtype_of(scale) == "float64" else "float32"
    sat = bool(op.attr("saturate"))
    add_zp = zpf is not None and to_el.name == "f4E2M1FN"

    def body(*o: Any) -> Any:
        y = x[o].astype(ft) / sc(o).astype(ft)
        if add_zp:
            y = y + to_value(zpf(o), zp_el).astype(ft)
        return from_value(y, to_el, sat)
    return te.compute(x.shape, body, name=ctx.name("quantize"))


@lower("ml.dequantize_linear")
def _dequantize(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "scale", "zero_point?"))
    x, scale, zp = g["x"], g["scale"], g["zero_point"]
    x_el, zp_el = _element(op, "x"), _element(op, "zero_point")
    fmt = narrow_format(x_el)
    is_float = fmt is not None and fmt.is_float
    if fmt is None and dtype_of(x) not in _INT_RANGE:
        raise NotImplementedError(f"dequantizing {dtype_of(x)} (integer and 8/4-bit float "
                                  "inputs are lowered)")
    out = ctx.result_dtype()
    sc = _param(ctx, op, scale, x, "scale")
    zpf = _param(ctx, op, zp, x, "zero_point") if zp is not None else None
    ft = "float32" if out in ("float16", "bfloat16") else out
    wide = "float64" if is_float else "int64"  # x - zero point is exact in it

    def body(*o: Any) -> Any:
        v = to_value(x[o], x_el).astype(wide)
        if zpf is not None:
            v = v - to_value(zpf(o), zp_el).astype(wide)
        return (v.astype(ft) * sc(o).astype(ft)).astype(out)
    return te.compute(x.shape, body, name=ctx.name("dequantize"))


def _centered(ctx: LowerContext, v: te.Tensor, zp: Optional[te.Tensor], axis: int,
              what: str) -> te.Tensor:
    """v - zp in i32; a zero point with more than one entry lies along `axis` of v."""
    if zp is None:
        return te.compute(v.shape, lambda *o: v[o].astype("int32"), name=ctx.name("widen"))
    scalar = len(zp.shape) == 0 or all(isinstance(d, tirx.IntImm) and int(d) == 1
                                       for d in zp.shape)
    if not scalar:
        if len(zp.shape) != 1:
            raise NotImplementedError(f"a {what} of rank {len(zp.shape)}")
        ctx.add_check(lambda: zp.shape[0] != v.shape[axis], [],
                      f"{ctx.op.name}: {what} has a length that does not fit the operand")

    def body(*o: Any) -> Any:
        z = load(zp, [_i64(0)] * len(zp.shape)) if scalar else zp[(o[axis],)]
        return v[o].astype("int32") - z.astype("int32")
    return te.compute(v.shape, body, name=ctx.name("center"))


@lower("ml.matmul_integer")
def _matmul_integer(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("a", "b", "a_zero_point?", "b_zero_point?"))
    a, b = g["a"], g["b"]
    ac = _centered(ctx, a, g["a_zero_point"], max(len(a.shape) - 2, 0), "a_zero_point")
    bc = _centered(ctx, b, g["b_zero_point"], len(b.shape) - 1, "b_zero_point")
    return matmul_compute(ctx, ac, bc)


@lower("ml.conv_integer")
def _conv_integer(ctx: LowerContext, op: Operation, *xs: te.Tensor) -> te.Tensor:
    g = operand_groups(xs, op.attributes, ("x", "w", "x_zero_point?", "w_zero_point?"))
    xc = _centered(ctx, g["x"], g["x_zero_point"], 1, "x_zero_point")
    wc = _centered(ctx, g["w"], g["w_zero_point"], 0, "w_zero_point")
    attrs = {k: v for k, v in op.attributes.items() if k != "operandSegmentSizes"}
    attrs.setdefault("group", 1)
    return _conv(ctx, _OpView(op, attrs), xc, wc)


@lower("ml.bitcast")
def _bitcast(ctx: LowerContext, op: Operation, x: te.Tensor) -> te.Tensor:
    to = ctx.result_dtype()
    src = dtype_of(x)
    if to == "bool":  # i1 is one byte: any nonzero byte reads as true
        return te.compute(x.shape, lambda *o: x[o] != tirx.const(0, src), name=ctx.name("bits"))
    if src == "bool":
        return te.compute(x.shape, lambda *o: x[o].astype(to), name=ctx.name("bits"))
    if dtype_of(x) == to:
        return te.compute(x.shape, lambda *o: load(x, o), name=ctx.name("bits"))
    return te.compute(x.shape, lambda *o: tirx.reinterpret(to, load(x, o)), name=ctx.name("bits"))
