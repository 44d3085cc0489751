"""`canonicalize`: each rule fires where it is valid, declines where it is not, keeps numerics."""
from __future__ import annotations

import numpy as np

from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.passes import run_pipeline
from mlir_lite.passes.canonicalize import CANONICALIZATION_PATTERNS

from ._pass_util import check_pass_preserves, op_names


def _func(body: str, args: str, result: str) -> str:
    return f"""module {{
  func.func @main({args}) -> {result} {{
{body}
  }}
}}"""


def test_rule_table_names_registered_ops() -> None:
    assert CANONICALIZATION_PATTERNS
    for name in CANONICALIZATION_PATTERNS:
        assert name in OP_REGISTRY, f"canonicalization rule for unknown op {name}"


def test_arithmetic_identities_vanish() -> None:
    text = _func("""
    %z = "ml.constant"() {value = dense<0.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %o = "ml.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %a = "ml.add"(%x, %z) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.add"(%z, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.sub"(%b, %z) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %d = "ml.mul"(%o, %c) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %e = "ml.div"(%d, %o) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %f = "ml.neg"(%e) : (tensor<4xf32>) -> tensor<4xf32>
    %g = "ml.neg"(%f) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%g) : (tensor<4xf32>) -> ()""", "%x: tensor<4xf32>", "tensor<4xf32>")
    m = check_pass_preserves(text, "canonicalize")
    assert op_names(m) == ["func.return"]
    assert m["main"].return_op.operands[0] is m["main"].args[0]


def test_mul_by_zero_only_for_integers() -> None:
    text = _func("""
    %z = "ml.constant"() {value = dense<0> : tensor<2x3xi32>} : () -> tensor<2x3xi32>
    %a = "ml.mul"(%i, %z) : (tensor<2x3xi32>, tensor<2x3xi32>) -> tensor<2x3xi32>
    %zf = "ml.constant"() {value = dense<0.0> : tensor<3xf32>} : () -> tensor<3xf32>
    %b = "ml.mul"(%f, %zf) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    "func.return"(%a, %b) : (tensor<2x3xi32>, tensor<3xf32>) -> ()""",
                 "%i: tensor<2x3xi32>, %f: tensor<3xf32>", "(tensor<2x3xi32>, tensor<3xf32>)")
    m = check_pass_preserves(text, "canonicalize")
    assert op_names(m).count("ml.mul") == 1  # the float one stays (NaN * 0 is NaN)
    f = np.array([np.nan, np.inf, 1.0], np.float32)
    i = np.ones((2, 3), np.int32)
    out_i, out_f = run(m, i, f)
    np.testing.assert_array_equal(out_i, np.zeros((2, 3), np.int32))
    assert np.isnan(out_f[0]) and np.isnan(out_f[1]) and out_f[2] == 0


def test_small_integer_powers_become_multiplies() -> None:
    text = _func("""
    %two = "ml.constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %three = "ml.constant"() {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %half = "ml.constant"() {value = dense<2.5> : tensor<f32>} : () -> tensor<f32>
    %a = "ml.pow"(%x, %two) : (tensor<5xf32>, tensor<f32>) -> tensor<5xf32>
    %b = "ml.pow"(%x, %three) : (tensor<5xf32>, tensor<f32>) -> tensor<5xf32>
    %c = "ml.pow"(%x, %half) : (tensor<5xf32>, tensor<f32>) -> tensor<5xf32>
    "func.return"(%a, %b, %c) : (tensor<5xf32>, tensor<5xf32>, tensor<5xf32>) -> ()""",
                 "%x: tensor<5xf32>", "(tensor<5xf32>, tensor<5xf32>, tensor<5xf32>)")
    m = check_pass_preserves(text, "canonicalize")
    assert op_names(m).count("ml.pow") == 1  # x ** 2.5 stays
    x = np.array([-1.7, -0.0, 0.3, 3.0, np.inf], np.float32)
    sq, cube, _ = run(m, x)
    # against float64 powers: within the rounding of the two float32 products
    np.testing.assert_allclose(sq, x.astype(np.float64) ** 2, rtol=2e-7)
    np.testing.assert_allclose(cube, x.astype(np.float64) ** 3, rtol=4e-7)
    assert np.signbit(cube[1])  # (-0) ** 3 is -0


def test_broadcasting_identity_is_kept() -> None:
    text = _func("""
    %z = "ml.constant"() {value = dense<0.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %a = "ml.add"(%x, %z) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    "func.return"(%a) : (tensor<2x3xf32>) -> ()""", "%x: tensor<3xf32>", "tensor<2x3xf32>")
    m = check_pass_preserves(text, "canonicalize{debug=true}")
    assert "ml.add" in op_names(m)


def test_debug_option_reports_declines(capsys) -> None:
    m = parse_module(_func("""
    %z = "ml.constant"() {value = dense<0.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %a = "ml.add"(%x, %z) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    "func.return"(%a) : (tensor<2x3xf32>) -> ()""", "%x: tensor<3xf32>", "tensor<2x3xf32>"))
    run_pipeline(m, "canonicalize{debug=true}")
    err = capsys.readouterr().err
    assert "add_zero: 0 match(es)" in err and "differs from result type" in err


def test_transposes() -> None:
    text = _func("""
    %a = "ml.transpose"(%x) {perm = [0, 1, 2]} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %b = "ml.transpose"(%a) {perm = [2, 0, 1]} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
    %c = "ml.transpose"(%b) {perm = [1, 2, 0]} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
    %d = "ml.transpose"(%c) {perm = [1, 0, 2]} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
    %e = "ml.transpose"(%d) {perm = [2, 1, 0]} : (tensor<3x2x4xf32>) -> tensor<4x2x3xf32>
    "func.return"(%c, %e) : (tensor<2x3x4xf32>, tensor<4x2x3xf32>) -> ()""",
                 "%x: tensor<2x3x4xf32>", "(tensor<2x3x4xf32>, tensor<4x2x3xf32>)")
    m = check_pass_preserves(text, "canonicalize")
    # c = x (the pair cancels); e = transpose(x) with one composed perm.
    assert op_names(m) == ["ml.transpose", "func.return"]
    (t,) = [op for op in m.walk() if op.name == "ml.transpose"]
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    c, e = run(m, x)
    np.testing.assert_array_equal(c, x)
    np.testing.assert_array_equal(e, x.transpose(1, 0, 2).transpose(2, 1, 0))
    assert tuple(t.attributes["perm"]) == (2, 0, 1)


def test_reshapes_and_casts() -> None:
    text = _func("""
    %a = "ml.reshape"(%x) {shape = [2, 6]} : (tensor<2x6xf32>) -> tensor<2x6xf32>
    %b = "ml.reshape"(%a) {shape = [3, 4]} : (tensor<2x6xf32>) -> tensor<3x4xf32>
    %c = "ml.reshape"(%b) {shape = [12]} : (tensor<3x4xf32>) -> tensor<12xf32>
    %d = "ml.cast"(%c) {to = f32} : (tensor<12xf32>) -> tensor<12xf32>
    %e = "ml.cast"(%d) {to = f64} : (tensor<12xf32>) -> tensor<12xf64>
    "func.return"(%e) : (tensor<12xf64>) -> ()""", "%x: tensor<2x6xf32>", "tensor<12xf64>")
    m = check_pass_preserves(text, "canonicalize")
    assert op_names(m) == ["ml.reshape", "ml.cast", "func.return"]
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    np.testing.assert_array_equal(run(m, x)[0], x.reshape(12).astype(np.float64))


def test_reshape_copying_dims_with_zero_uses_the_static_result() -> None:
    text = _func("""
    %a = "ml.reshape"(%x) {shape = [6, 2]} : (tensor<2x6xf32>) -> tensor<6x2xf32>
    %b = "ml.reshape"(%a) {shape = [0, -1]} : (tensor<6x2xf32>) -> tensor<6x2xf32>
    "func.return"(%b) : (tensor<6x2xf32>) -> ()""", "%x: tensor<2x6xf32>", "tensor<6x2xf32>")
    m = check_pass_preserves(text, "canonicalize")
    (r,) = [op for op in m.walk() if op.name == "ml.reshape"]
    assert tuple(r.attributes["shape"]) == (6, 2) and r.operands[0] is m["main"].args[0]


def test_constant_scf_if_is_inlined() -> None:
    text = _func("""
    %c = "ml.constant"() {value = dense<false> : tensor<i1>} : () -> tensor<i1>
    %r = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a) : (tensor<4xf32>) -> ()
    }, {
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%b) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    "func.return"(%r) : (tensor<4xf32>) -> ()""", "%x: tensor<4xf32>", "tensor<4xf32>")
    m = check_pass_preserves(text, "canonicalize")
    assert op_names(m) == ["ml.neg", "func.return"]
    x = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    np.testing.assert_array_equal(run(m, x)[0], -x)
