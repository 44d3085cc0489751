"""A float32 `exp` from plain arithmetic, so that LLVM keeps the SIMD loop vectorised.

    y = fast_exp(x)      # a TIR expression; float32 only, other dtypes get tirx.exp

LLVM turns `exp` into one libm call per element (softmax ran 6-8x slower than onnxruntime).
This is Cephes' expf: n = floor(x*log2(e) + 1/2), r = x - n*ln2 (Cody-Waite, two constants),
exp(r) by a polynomial on |r| <= ln2/2, then times 2^n built from exponent bits. 2^n is
applied as two normal factors 2^(n>>1) * 2^(n - (n>>1)), so results in the subnormal range
round once and results above FLT_MAX round to +inf. x is clamped to [-104, 89] by selects
that keep a NaN (exp(-104) rounds to 0, exp(89) to +inf), so -inf gives 0, +inf gives +inf,
NaN gives NaN; n comes from min/max, which never give a NaN (no `isnan` test: TVM's
vectoriser scalarises it inside an rfactor loop). Max relative error vs float64 over the
normal range: 8.5e-8, about 1 ulp (tests/backends/test_tvm_fast_exp_prepack.py).

Only worth it where the loop is vectorised: a scalar polynomial is slower than glibc's expf.
"""
from __future__ import annotations

from typing import List, Sequence, TypeAlias

from tvm import tirx
from tvm.ir.expr import Expr as PrimExpr

from .lower import dtype_of

__all__: List[str] = ["fast_exp", "EXP_LO", "EXP_HI"]

Expr: TypeAlias = PrimExpr  # tvm has no type information: Any to the checker

EXP_LO, EXP_HI = -104.0, 89.0
_LOG2E = 1.44269504088896341
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_P: Sequence[float] = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                       1.6666665459e-1, 5.0000001201e-1)


def _f(v: float) -> Expr:
    return tirx.const(v, "float32")


def _pow2(k: Expr) -> Expr:
    """2^k as float32 for an int32 k in the normal exponent range, from its exponent bits."""
    return tirx.reinterpret("float32", (k + tirx.const(127, "int32")) << tirx.const(23, "int32"))


def fast_exp(x: Expr) -> Expr:
    """exp(x); the vectorisable polynomial for float32, `tirx.exp` for other dtypes."""
    if dtype_of(x) != "float32":
        return tirx.exp(x)
    hi, lo = _f(EXP_HI), _f(EXP_LO)
    xc = tirx.Select(x > hi, hi, tirx.Select(x < lo, lo, x))  # NaN stays NaN
    # n from min/max, which never return NaN: the int cast of a NaN would be poison
    n = tirx.floor(tirx.max(tirx.min(xc * _f(_LOG2E) + _f(0.5), _f(129.0)), _f(-151.0)))
    r = xc - n * _f(_LN2_HI) - n * _f(_LN2_LO)
    p = _f(_P[0])
    for c in _P[1:]:
        p = p * r + _f(c)
    y = p * (r * r) + r + _f(1.0)
    ni = n.astype("int32")
    half = ni >> tirx.const(1, "int32")
    return y * _pow2(half) * _pow2(ni - half)
