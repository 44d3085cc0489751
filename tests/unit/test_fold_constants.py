"""`fold-constants`: pure ops on constants become constants computed by the interpreter."""
from __future__ import annotations

import numpy as np

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.passes import run_pipeline
from mlir_lite.passes.rewrite import constant_value

from ._pass_util import check_pass_preserves, op_names

TEXT = """module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %a = "ml.constant"() {value = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %b = "ml.exp"(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %t = "ml.transpose"(%b) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %r = "ml.reshape"(%t) {shape = [2, 3]} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %y = "ml.add"(%x, %r) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    "func.return"(%y) : (tensor<2x3xf32>) -> ()
  }
}"""


def test_chain_of_constant_ops_folds_to_one_constant() -> None:
    m = check_pass_preserves(TEXT, "fold-constants", rtol=1e-6)
    assert op_names(m) == ["ml.constant", "ml.add", "func.return"]
    c = constant_value(m["main"].return_op.operands[0].op.operands[1])
    a = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    expected = np.exp(a).T.reshape(2, 3)  # independent numpy oracle
    np.testing.assert_allclose(c.array, expected, rtol=1e-6)
    assert c.array.dtype == np.float32


def test_max_elements_leaves_large_results_alone() -> None:
    m = parse_module(TEXT)
    assert run_pipeline(m, "fold-constants{max-elements=5}") is False
    assert "ml.exp" in op_names(m)
    m = parse_module(TEXT)
    assert run_pipeline(m, "fold-constants{max-elements=6}") is True


def test_ops_with_non_constant_operands_are_kept() -> None:
    m = parse_module(TEXT)
    run_pipeline(m, "fold-constants")
    assert "ml.add" in op_names(m)


def test_failing_rule_is_left_for_run_time(capsys) -> None:
    text = """module {
  func.func @main() -> tensor<2xf32> {
    %d = "ml.constant"() {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %i = "ml.constant"() {value = dense<[0, 7]> : tensor<2xi64>} : () -> tensor<2xi64>
    %g = "ml.gather"(%d, %i) : (tensor<3xf32>, tensor<2xi64>) -> tensor<2xf32>
    "func.return"(%g) : (tensor<2xf32>) -> ()
  }
}"""
    m = parse_module(text)
    run_pipeline(m, "fold-constants{debug=true}")
    assert "ml.gather" in op_names(m)
    assert "rule raised" in capsys.readouterr().err


def test_integer_and_multi_result_folds() -> None:
    text = """module {
  func.func @main() -> (tensor<2xf32>, tensor<2xi64>, tensor<3xi32>) {
    %d = "ml.constant"() {value = dense<[3.0, 1.0, 2.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %v, %i = "ml.topk"(%d) {k = 2} : (tensor<3xf32>) -> (tensor<2xf32>, tensor<2xi64>)
    %a = "ml.constant"() {value = dense<[7, -7, 9]> : tensor<3xi32>} : () -> tensor<3xi32>
    %b = "ml.constant"() {value = dense<[2, 2, -4]> : tensor<3xi32>} : () -> tensor<3xi32>
    %q = "ml.div"(%a, %b) : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
    "func.return"(%v, %i, %q) : (tensor<2xf32>, tensor<2xi64>, tensor<3xi32>) -> ()
  }
}"""
    m = parse_module(text)
    before = run(m)
    run_pipeline(m, "fold-constants")
    assert op_names(m) == ["ml.constant"] * 3 + ["func.return"]
    after = run(m)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(after[0], [3.0, 2.0])
    np.testing.assert_array_equal(after[1], [0, 2])
    np.testing.assert_array_equal(after[2], [3, -3, -2])  # ONNX integer division truncates


def test_rank0_result_stays_rank0() -> None:
    # np.ascontiguousarray turns a 0-d array into shape (1,): the folded constant of a scalar
    # must keep its 0-d value (a fused kernel shapes its constant from the array)
    m = parse_module("""module {
  func.func @main() -> tensor<f32> {
    %a = "ml.constant"() {value = dense<1.5> : tensor<f32>} : () -> tensor<f32>
    %b = "ml.neg"(%a) : (tensor<f32>) -> tensor<f32>
    "func.return"(%b) : (tensor<f32>) -> ()
  }
}""")
    assert run_pipeline(m, "fold-constants") is True
    c = constant_value(m["main"].return_op.operands[0])
    assert c.array.shape == () and c.array == np.float32(-1.5)
