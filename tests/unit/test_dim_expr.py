"""Symbolic dims that are expressions (mlir_lite/ir/dim_expr.py): each combinator agrees with
integer arithmetic at every binding tried (the oracle is Python's own ints), and the type
inference of window, flatten, concat and slice ops builds them from symbols."""
from __future__ import annotations

import itertools

import pytest

from mlir_lite.ir import dim_expr as D
from mlir_lite.ir.dialects.ml._infer import window_out_dim
from mlir_lite.ir.dialects.ml.shape import _slice_dim

SIZES = range(1, 12)


@pytest.mark.parametrize("fn,ref", [
    (D.add, lambda a, b: a + b), (D.sub, lambda a, b: a - b), (D.mul, lambda a, b: a * b),
    (D.floordiv, lambda a, b: a // b), (D.ceildiv, lambda a, b: -(-a // b)),
    (D.min_, min), (D.max_, max)])
def test_combinators_agree_with_integers(fn, ref) -> None:
    exprs = ["N", D.mul("N", 3), D.add("M", 2)]
    for e in exprs:
        for k in (1, 2, 5):
            d = fn(e, k)
            for n, m in itertools.product(SIZES, SIZES):
                env = {"N": n, "M": m}
                want = ref(D.evaluate(e, env), k)
                if want >= 0:
                    assert D.evaluate(d, env) == want, (e, k, d, env)


def test_canonical_text_and_symbols() -> None:
    assert D.mul("N", 12) == D.mul(12, "N") == "12*N"
    assert D.sub("seq", 1) == "seq - 1" and D.symbols_of("seq - 1") == {"seq"}
    assert D.floordiv(D.mul("N", 768), 768) == "N"
    assert D.max_(D.sub("seq", 1), 0) == "seq - 1"  # sizes are >= 1
    assert D.add("N", None) is None and D.add(2, 3) == 5
    assert not D.is_expression("unk__3") and D.is_expression("12*N")


def test_window_and_slice_dims_are_expressions() -> None:
    for h in SIZES:
        for k, s, p in ((3, 2, 1), (7, 2, 3), (2, 2, 0), (3, 1, 0)):
            if h + 2 * p < k:
                continue
            d = window_out_dim("H", k, s, p, p, 1)
            assert D.evaluate(d, {"H": h}) == window_out_dim(h, k, s, p, p, 1)
    for n in SIZES:
        for start, end in ((1, 2 ** 62), (0, -1), (-3, 2 ** 62), (0, 256), (2, 5)):
            d = _slice_dim("seq", start, end, 1)
            assert D.evaluate(d, {"seq": n}) == len(range(n)[start:end]), (start, end)


def test_a_name_that_is_no_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a symbol"):
        D.to_sympy("a ** ** b")
