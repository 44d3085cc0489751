"""Linear algebra `ml` ops: `matmul` (numpy semantics), `gemm` (ONNX) and `einsum`.

    %c = "ml.matmul"(%a, %b) : (tensor<"B"x4x8xf32>, tensor<8x16xf32>) -> tensor<"B"x4x16xf32>
"""
from __future__ import annotations

import re
import string
from typing import Any, Dict, List, Optional, Tuple

from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    check_same_element,
    dims_equal_or_unknown,
    operand_groups,
)
from mlir_lite.ir.opdef import FUSION_ANCHOR, GEMM, PURE, REDUCTION, Bool, Float, Str, define_op
from mlir_lite.ir.types import Dim, TensorType, Type, broadcast_shapes

__all__ = ["MatmulOp", "GemmOp", "EinsumOp", "parse_einsum"]


def _check_inner(k1: Dim, k2: Dim) -> None:
    if not dims_equal_or_unknown(k1, k2):
        raise ValueError(f"contracted dims {k1} and {k2} differ")


def _matmul_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    a, b = as_tensor(types[0], "lhs"), as_tensor(types[1], "rhs")
    el = check_same_element([a, b])
    if el.name == "i1":
        raise TypeError("matmul does not take i1 operands")
    if a.shape is None or b.shape is None:
        return [TensorType(el, None)]
    if len(a.shape) == 0 or len(b.shape) == 0:
        raise ValueError("matmul operands must have rank >= 1")
    sa = (1,) + a.shape if len(a.shape) == 1 else a.shape
    sb = b.shape + (1,) if len(b.shape) == 1 else b.shape
    _check_inner(sa[-1], sb[-2])
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    out = tuple(batch)
    if len(a.shape) > 1:
        out += (sa[-2],)
    if len(b.shape) > 1:
        out += (sb[-1],)
    return [TensorType(el, out)]


MatmulOp = define_op("ml.matmul", operands=["lhs", "rhs"], traits=GEMM | FUSION_ANCHOR,
                     infer=_matmul_infer,
                     doc="numpy.matmul: batch dims broadcast; 1-D operands are promoted and the "
                         "added dim removed.")


def _gemm_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    g = operand_groups(types, attrs, ("a", "b", "c?"))
    a, b = as_tensor(g["a"], "A"), as_tensor(g["b"], "B")
    el = check_same_element([a, b])
    if a.shape is not None and len(a.shape) != 2 or b.shape is not None and len(b.shape) != 2:
        raise ValueError(f"gemm operands must be 2-D, got {a} and {b}")
    sa = a.shape or (None, None)
    sb = b.shape or (None, None)
    m, ka = (sa[1], sa[0]) if attrs["trans_a"] else sa
    kb, n = (sb[1], sb[0]) if attrs["trans_b"] else sb
    _check_inner(ka, kb)
    if g["c"] is not None:
        c = as_tensor(g["c"], "C")
        if c.element != el:
            raise TypeError(f"C has element type {c.element}, A has {el}")
        if c.shape is not None:
            if len(c.shape) > 2:
                raise ValueError(f"C must have rank <= 2, got {c}")
            bc = broadcast_shapes((m, n), c.shape)
            if bc is not None and not all(dims_equal_or_unknown(x, y)
                                          for x, y in zip(bc, (m, n))):
                raise ValueError(f"C {c} does not broadcast to ({m}, {n})")
    return [TensorType(el, (m, n))]


GemmOp = define_op("ml.gemm", operands=["a", "b", "c?"],
                   attrs={"alpha": Float(1.0), "beta": Float(1.0), "trans_a": Bool(False),
                          "trans_b": Bool(False)},
                   traits=GEMM | FUSION_ANCHOR, infer=_gemm_infer,
                   doc="alpha * op(A) @ op(B) + beta * C (C optional, broadcast to (M, N)).")


def parse_einsum(equation: str, ranks: List[int]) -> Tuple[List[str], str, str]:
    """`(operand subscripts, output subscript, ellipsis letters)` of `equation`, with `...`
    expanded to letters the equation does not use (one per broadcast dim, right-aligned as
    numpy does); the implicit output is the ellipsis dims then the once-used letters, sorted."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"equation {equation!r} has {len(terms)} operands, got {len(ranks)}")
    for t in terms + ([rhs] if arrow else []):
        if not re.fullmatch(r"[A-Za-z]*(\.\.\.)?[A-Za-z]*", t):
            raise ValueError(f"bad einsum term {t!r} in {equation!r} (letters and at most one "
                             "'...')")
    n_ell = 0
    for t, r in zip(terms, ranks):
        letters = len(t.replace("...", ""))
        if "..." in t:
            if r < letters:
                raise ValueError(f"term {t!r} has more letters than rank {r}")
            n_ell = max(n_ell, r - letters)
        elif letters != r:
            raise ValueError(f"term {t!r} has {letters} letters for an operand of rank {r}")
    free = [c for c in string.ascii_letters if c not in eq]
    if n_ell > len(free):
        raise ValueError(f"equation {equation!r} has too many ellipsis dims")
    ell = "".join(free[:n_ell])
    out_terms = []
    for t, r in zip(terms, ranks):
        k = r - len(t.replace("...", ""))
        out_terms.append(t.replace("...", ell[n_ell - k:]))
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: Dict[str, int] = {}
        for t in terms:
            for ch in t.replace("...", ""):
                counts[ch] = counts.get(ch, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    for ch in out:
        if not any(ch in t for t in out_terms):
            raise ValueError(f"output subscript {ch!r} of {equation!r} is not in any operand")
    if len(set(out)) != len(out):
        raise ValueError(f"output of {equation!r} repeats a subscript")
    return out_terms, out, ell


def _einsum_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    ts = [as_tensor(t) for t in types]
    if not ts:
        raise ValueError("einsum needs at least one operand")
    el = check_same_element(ts)
    if any(t.shape is None for t in ts):
        return [TensorType(el, None)]
    terms, out, ell = parse_einsum(attrs["equation"], [len(t.dims) for t in ts])
    sizes: Dict[str, Optional[Dim]] = {}
    for t, term in zip(ts, terms):
        for ch, d in zip(term, t.dims):
            if ch in ell:  # ellipsis dims broadcast
                sizes[ch] = broadcast_shapes((sizes.get(ch, 1),), (d,))[0]
            elif ch not in sizes:
                sizes[ch] = d
            else:
                prev = sizes[ch]
                if not dims_equal_or_unknown(prev, d):
                    raise ValueError(f"subscript {ch!r} has sizes {prev} and {d}")
                if type(prev) is not int and type(d) is int:
                    sizes[ch] = d
    return [TensorType(el, tuple(sizes[ch] for ch in out))]


EinsumOp = define_op("ml.einsum", operands=["inputs*"], attrs={"equation": Str()},
                     traits=REDUCTION,
                     infer=_einsum_infer, doc="Einstein summation (ONNX Einsum, numpy semantics).")


def _det_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    x = as_tensor(types[0])
    if not x.element.is_float:
        raise TypeError(f"det takes floats, got {x.element}")
    if x.shape is None:
        return [x]
    if len(x.shape) < 2 or not dims_equal_or_unknown(x.shape[-1], x.shape[-2]):
        raise ValueError(f"det needs square matrices in the last two dims, got {x}")
    return [x.with_shape(x.shape[:-2])]


define_op("ml.det", operands=["x"], traits=PURE, infer=_det_infer,
          doc="Determinant of each square matrix in the last two dims (ONNX Det).")
