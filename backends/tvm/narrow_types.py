"""The 8/4/2-bit element types on the TVM path: one byte of storage per element, converted by
generated bit manipulation.

    narrow_format(el)          # the Format of f8E4M3FN, ..., i2 (None for the other types)
    storage_dtype(el)          # "uint8" for them (lower.tvm_dtype maps them through it)
    to_value(v, el)            # a stored byte -> its value (float32 for floats, int32 for ints)
    from_value(v, el, sat)     # any numeric expression -> the byte of el (or plain astype)
    cast(v, src, dst, sat)     # ml.cast between any two element types

TVM has no dtypes for these types here, so a tensor of one is a `uint8` tensor holding the
bytes ml_dtypes uses (its arrays are one element per byte for the 4- and 2-bit types too: a
4-bit int is its low nibble, -1 is 0x0f). Ops that only move elements (reshape, transpose,
gather, concat, where, pad, ...) run on those bytes unchanged; ml.cast, quantize_linear and
dequantize_linear convert with the expressions below; every other op on such a value is refused
with a CompileError naming the op and the type (`check_op`, applied to every lowering rule by
`lower.lower`): ONNX defines no arithmetic on them.

Conversions follow ml_dtypes, which the interpreter and onnx.reference use:
* decode: the byte's sign / exponent / mantissa fields into float32 bits (exact); NaN codes
  give the quiet NaN of their sign (the NaN of the FNUZ types, 0x80, is negative); E5M2 has
  +-inf.
* encode: float32 (float64 from f64 sources: one rounding, as ml_dtypes converts f64
  directly) bits rounded to nearest even; values beyond the largest finite one become NaN
  (E4M3FN keeps the sign, the FNUZ types have the one NaN 0x80) or inf (E5M2), or the
  largest finite value of the sign when `saturate` (ONNX Cast's attribute: inf saturates too,
  NaN stays NaN). FNUZ types have no -0 (a negative value that rounds to zero is +0).
  f4E2M1FN has no inf or NaN: overflow and inf saturate always, and NaN becomes -0 for a
  positive NaN and +0 for a negative one (ml_dtypes' choice; ONNX leaves it open).
* integers: decode sign-extends (i4, i2) or zero-extends (u4, u2) the low bits. From an integer
  the low bits are kept (ONNX Cast: wrap); from a float the value is truncated and, when it is
  outside the type's range (or NaN), gives 0 (ml_dtypes; ONNX Cast leaves it undefined);
  QuantizeLinear clamps to the range first (rules_quant.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np
from tvm import tirx

from mlir_lite.errors import CompileError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.opdef import op_has_trait
from mlir_lite.ir.types import ElementType, TensorType

__all__ = ["Format", "FORMATS", "narrow_format", "is_narrow", "storage_dtype", "dtype_of",
           "to_value", "from_value", "cast", "int_range", "as_storage", "check_op", "BYTE_OPS",
           "NARROW_OPS", "annotate_plan"]

PrimExpr = Any


@dataclass(frozen=True)
class Format:
    """An 8/4/2-bit element type: `bits` wide, stored in one `storage` byte. Floats have
    `exp` exponent and `man` mantissa bits with exponent `bias`; `flavor` names their special
    values: "fn" (no inf; NaN is all ones, E4M3FN), "ieee" (inf and NaNs as IEEE, E5M2),
    "fnuz" (no inf, no -0, the one NaN 0x80) or "none" (no inf, no NaN: E2M1FN)."""

    name: str            # the IR element type
    numpy: str           # the ml_dtypes dtype name
    bits: int
    is_float: bool
    signed: bool = True
    exp: int = 0
    man: int = 0
    bias: int = 0
    flavor: str = ""
    storage: str = "uint8"

    @property
    def max_code(self) -> int:
        """The code of the largest finite magnitude."""
        full = (1 << (self.bits - 1)) - 1
        return {"fn": full - 1, "ieee": full - (1 << self.man), "fnuz": full,
                "none": full}[self.flavor]


FORMATS: Dict[str, Format] = {f.name: f for f in (
    Format("f8E4M3FN", "float8_e4m3fn", 8, True, exp=4, man=3, bias=7, flavor="fn"),
    Format("f8E4M3FNUZ", "float8_e4m3fnuz", 8, True, exp=4, man=3, bias=8, flavor="fnuz"),
    Format("f8E5M2", "float8_e5m2", 8, True, exp=5, man=2, bias=15, flavor="ieee"),
    Format("f8E5M2FNUZ", "float8_e5m2fnuz", 8, True, exp=5, man=2, bias=16, flavor="fnuz"),
    Format("f4E2M1FN", "float4_e2m1fn", 4, True, exp=2, man=1, bias=1, flavor="none"),
    Format("i4", "int4", 4, False), Format("u4", "uint4", 4, False, signed=False),
    Format("i2", "int2", 2, False), Format("u2", "uint2", 2, False, signed=False),
)}


def narrow_format(el: Any) -> Optional[Format]:
    """The format of element type `el` (an ElementType or its name), None for other types."""
    return FORMATS.get(getattr(el, "name", el))


def is_narrow(el: Any) -> bool:
    return narrow_format(el) is not None


def storage_dtype(el: Any) -> Optional[str]:
    """The TVM dtype that stores `el` ("uint8"), None when `el` is not a narrow type."""
    f = narrow_format(el)
    return None if f is None else f.storage


def int_range(el: Any) -> Optional[tuple]:
    """(lowest, highest) of a narrow integer type, None for the others."""
    f = narrow_format(el)
    if f is None or f.is_float:
        return None
    return (-(1 << (f.bits - 1)), (1 << (f.bits - 1)) - 1) if f.signed else (0, (1 << f.bits) - 1)


_NUMPY_NAMES = {f.numpy for f in FORMATS.values()}


def as_storage(arr: np.ndarray) -> np.ndarray:
    """An array of a narrow type viewed as its storage bytes (no copy); others as they are."""
    arr = np.asarray(arr)
    if arr.dtype.itemsize == 1 and arr.dtype.name in _NUMPY_NAMES:
        return arr.view(np.uint8)
    return arr


# -- expressions ---------------------------------------------------------------------------------
def _u(v: int, dtype: str = "uint32") -> PrimExpr:
    return tirx.const(v, dtype)


def dtype_of(e: Any) -> str:
    """The dtype of a TVM expression or tensor (expressions carry it in their `ty`); lower.py
    re-exports it (it imports this module, so the definition lives here)."""
    if hasattr(e, "asobject"):
        e = e.asobject()
    ty = getattr(e, "ty", None)
    if ty is not None and hasattr(ty, "dtype"):
        return str(ty.dtype)
    return str(e.dtype)


def _is_float_dtype(dt: str) -> bool:
    return dt.startswith(("float", "bfloat"))


def _decode_float(b: PrimExpr, f: Format) -> PrimExpr:
    """float32 value of stored byte `b` of float format `f` (exact). Each expression below
    refers to its input a few times only: a composition (a narrow-to-narrow cast decodes, then
    encodes) is a tree of their product, which TVM's passes simplify in time superlinear in
    its size."""
    u = b.astype("uint32") & _u((1 << f.bits) - 1)
    top = f.bits - 1
    ua = u & _u((1 << top) - 1)
    # normal: exponent and mantissa shifted into place at once, the exponent rebiased
    normal = (ua << _u(23 - f.man)) + _u((127 - f.bias) << 23)
    # subnormal (exponent field 0: ua is the mantissa): ua * 2^(1 - bias - man), a normal f32
    sub = tirx.reinterpret("uint32", ua.astype("float32") *
                           tirx.const(2.0 ** (1 - f.bias - f.man), "float32"))
    mag = tirx.Select(ua < _u(1 << f.man), sub, normal)
    if f.flavor == "fn":
        mag = tirx.Select(ua == _u(0x7F), _u(0x7FC00000), mag)
    elif f.flavor == "ieee":
        inf = ((1 << f.exp) - 1) << f.man
        mag = tirx.Select(ua >= _u(inf), tirx.Select(ua == _u(inf), _u(0x7F800000),
                                                     _u(0x7FC00000)), mag)
    bits = mag | ((u >> _u(top)) << _u(31))
    if f.flavor == "fnuz":
        bits = tirx.Select(u == _u(0x80), _u(0xFFC00000), bits)
    return tirx.reinterpret("float32", bits)


# source float layouts: bits dtype, width, exponent bits, mantissa bits, bias
_SOURCES = {"float32": ("uint32", 32, 8, 23, 127), "float64": ("uint64", 64, 11, 52, 1023)}


def _encode_float(x: PrimExpr, f: Format, saturate: bool) -> PrimExpr:
    """The stored byte of float format `f` nearest to float expression `x` (round to nearest
    even; overflow, inf and NaN as the module docstring says)."""
    dt = dtype_of(x)
    if dt != "float64":
        x = x.astype("float32")  # f16/bf16 widen exactly; integers round as numpy's astype
        dt = "float32"
    ut, width, es, ms, sbias = _SOURCES[dt]
    u = tirx.reinterpret(ut, x)
    a = u & _u((1 << (width - 1)) - 1, ut)  # |x|'s bits
    is_nan = a > _u(((1 << es) - 1) << ms, ut)
    # normal in the target: round the mantissa to `man` bits (to nearest even, a carry rolls
    # into the exponent), then rebias the exponent
    sh = ms - f.man
    rounded = (a + _u((1 << (sh - 1)) - 1, ut) + ((a >> _u(sh, ut)) & _u(1, ut))) >> _u(sh, ut)
    normal = rounded - _u((sbias - f.bias) << f.man, ut)
    # below the smallest normal: the code is |x| / 2^(1 - bias - man) (exact: a power of two)
    # rounded to nearest even; bounded so that no value reaches a float-to-int overflow
    scaled = tirx.reinterpret(dt, a) * tirx.const(2.0 ** (f.bias + f.man - 1), dt)
    sub = tirx.nearbyint(tirx.min(scaled, tirx.const(float(2 << f.man), dt))).astype(ut)
    code = tirx.Select(a >= _u((sbias + 1 - f.bias) << ms, ut), normal, sub)
    over = code > _u(f.max_code, ut)
    mag = code.astype("uint32")
    sgn = (u >> _u(width - 1, ut)).astype("uint32")
    top = _u(f.bits - 1)
    if f.flavor == "none":  # E2M1FN: always saturates; NaN is -0 when positive, +0 when negative
        mag = tirx.Select(over, _u(f.max_code), mag)
        out = tirx.Select(is_nan, (sgn ^ _u(1)) << top, mag | (sgn << top))
        return out.astype(f.storage)
    if saturate:
        mag = tirx.Select(over, _u(f.max_code), mag)
        over = tirx.const(False, "bool")
    if f.flavor == "fnuz":
        out = tirx.Select(tirx.any(is_nan, over), _u(0x80),
                          tirx.Select(mag == _u(0), _u(0), mag | (sgn << top)))
        return out.astype(f.storage)
    nan = _u(0x7F) if f.flavor == "fn" else _u(0x7E)   # E4M3FN's NaN, E5M2's quiet NaN
    ovf = _u(0x7F) if f.flavor == "fn" else _u(0x7C)   # NaN, or E5M2's inf
    mag = tirx.Select(is_nan, nan, tirx.Select(over, ovf, mag))
    return (mag | (sgn << top)).astype(f.storage)


def _decode_int(b: PrimExpr, f: Format) -> PrimExpr:
    v = (b.astype("int32") & tirx.const((1 << f.bits) - 1, "int32"))
    if not f.signed:
        return v
    half = tirx.const(1 << (f.bits - 1), "int32")
    return (v ^ half) - half


def _encode_int(x: PrimExpr, f: Format) -> PrimExpr:
    dt = dtype_of(x)
    mask = (1 << f.bits) - 1
    if _is_float_dtype(dt):
        lo, hi = int_range(f)  # type: ignore[misc]
        ft = "float64" if dt == "float64" else "float32"
        t = tirx.trunc(x.astype(ft))
        inside = tirx.all(t >= tirx.const(float(lo), ft), t <= tirx.const(float(hi), ft))
        v = tirx.Select(inside, t, tirx.const(0.0, ft)).astype("int32")
        return (v & tirx.const(mask, "int32")).astype(f.storage)
    if dt == "bool":
        return x.astype(f.storage)
    return (x & tirx.const(mask, dt)).astype(f.storage)


def to_value(v: PrimExpr, el: Any) -> PrimExpr:
    """The value of a stored element of type `el`: float32 for the narrow floats, int32 for the
    narrow ints; `v` itself for the other types."""
    f = narrow_format(el)
    if f is None:
        return v
    return _decode_float(v, f) if f.is_float else _decode_int(v, f)


def from_value(v: PrimExpr, el: ElementType, saturate: bool = False) -> PrimExpr:
    """Numeric expression `v` as an element of type `el`: the stored byte for a narrow type
    (`saturate` as ONNX Cast's attribute, for the 8-bit floats), else `v.astype` of its dtype
    (bool: nonzero)."""
    f = narrow_format(el)
    if f is None:
        from .lower import tvm_dtype
        to = tvm_dtype(el)
        if to == "bool":
            return v != tirx.const(0, dtype_of(v))
        return v.astype(to)
    if f.is_float:
        if dtype_of(v) == "bool":
            v = v.astype("float32")
        return _encode_float(v, f, saturate)
    return _encode_int(v, f)


def cast(v: PrimExpr, src: ElementType, dst: ElementType, saturate: bool) -> PrimExpr:
    """ml.cast of stored element `v` from `src` to `dst` where either is narrow (ml_dtypes'
    conversions, as the interpreter; see the module docstring). A cast to the same type keeps
    the byte (NaN payloads included), except that a saturating one takes E5M2's infinities to
    its largest finite values."""
    if src == dst:
        if saturate and src.name == "f8E5M2":
            return tirx.Select((v & _u(0x7F, "uint8")) == _u(0x7C, "uint8"),
                               v - _u(1, "uint8"), v)
        return v
    return from_value(to_value(v, src), dst, saturate)


# -- which ops may see these types -----------------------------------------------------------
# Ops that convert them (their rules use the expressions above).
NARROW_OPS = frozenset({"ml.cast", "ml.quantize_linear", "ml.dequantize_linear", "ml.bitcast"})
# Ops whose results are copies of operand elements (or zeros, byte 0 being +0 in every
# narrow type), that run on the stored bytes unchanged; ops declared Alias (views) too.
BYTE_OPS = frozenset({
    "ml.identity", "ml.where", "ml.concat", "ml.depth_to_space", "ml.space_to_depth",
    "ml.expand", "ml.expand_dynamic", "ml.pad", "ml.pad_dynamic", "ml.slice",
    "ml.slice_dynamic", "ml.split", "ml.split_dynamic", "ml.tile", "ml.tile_dynamic",
    "ml.transpose", "ml.gather", "ml.gather_elements", "ml.gather_nd", "ml.reshape_dynamic",
    "ml.squeeze_dynamic", "ml.unsqueeze_dynamic", "ml.reverse_sequence", "ml.shape", "ml.size",
    "ml.trilu", "ml.trilu_dynamic", "ml.one_hot", "ml.one_hot_dynamic", "ml.compress",
    "ml.constant_of_shape", "ml.constant_of_shape_dynamic", "ml.scatter_elements",
    "ml.scatter_nd",
})


def _narrow_types_of(op: Operation) -> List[str]:
    out: List[str] = []
    for v in list(op.operands) + list(op.results):
        t = v.type
        if isinstance(t, TensorType) and t.element.name in FORMATS and t.element.name not in out:
            out.append(t.element.name)
    return out


def check_op(op: Any) -> None:
    """CompileError when `op` would compute on values of a narrow type: only the conversions
    (NARROW_OPS) and the byte-moving ops (BYTE_OPS, views) may see them."""
    if not isinstance(op, Operation):
        return  # a rule reusing another op's rule (an attribute view): checked as that op
    names = _narrow_types_of(op)
    if not names or op.name in NARROW_OPS:
        return
    if op.name in BYTE_OPS or op_has_trait(op.name, "Alias"):
        if op.name in ("ml.scatter_elements", "ml.scatter_nd") and \
                op.attr("reduction") not in (None, "none"):
            pass  # a reducing scatter computes: refused below
        else:
            return
    raise CompileError(f"{op.name} on {', '.join(names)} values is not supported by the TVM "
                       "backend: it stores 8/4/2-bit types as bytes and only converts "
                       "(cast, quantize_linear, dequantize_linear) or moves them; cast to "
                       "f32 first", op.loc)


# -- the plan ------------------------------------------------------------------------------------
def annotate_plan(plan: Any, value_ids: Dict[Any, int]) -> Any:
    """`plan` with the logical element dtype (`BufferSpec.element`, the ml_dtypes name) on
    every buffer that holds a narrow type, and its constants viewed as their storage bytes
    (BufferSpec.dtype): the executor takes and returns ml_dtypes arrays for those buffers."""
    import dataclasses
    elements: Dict[int, str] = {}
    for v, bid in value_ids.items():
        t = v.type
        f = narrow_format(t.element) if isinstance(t, TensorType) else None
        if f is not None:
            elements[bid] = f.numpy
    if not elements:
        return plan
    bufs = tuple(dataclasses.replace(b, element=elements[i]) if i in elements else b
                 for i, b in enumerate(plan.buffers))
    consts = {i: as_storage(a) for i, a in plan.constants.items()}
    return dataclasses.replace(plan, buffers=bufs, constants=consts)
