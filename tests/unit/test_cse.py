"""`cse`: equal pure ops merge; scopes follow regions; impure ops never merge."""
from __future__ import annotations

from mlir_lite.ir.core import Operation
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.types import tensor
from mlir_lite.passes import run_pipeline
from mlir_lite.passes.cse import op_key

from ._pass_util import check_pass_preserves, op_names


def test_equal_pure_ops_and_constants_merge() -> None:
    text = """module {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %c1 = "ml.constant"() {value = dense<2.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %c2 = "ml.constant"() {value = dense<2.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %c3 = "ml.constant"() {value = dense<3.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %a = "ml.mul"(%x, %c1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.mul"(%x, %c2) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %d = "ml.mul"(%x, %c3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %s = "ml.softmax"(%a) {axis = 0} : (tensor<4xf32>) -> tensor<4xf32>
    %t = "ml.softmax"(%b) {axis = -1} : (tensor<4xf32>) -> tensor<4xf32>
    %u = "ml.add"(%s, %t) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %v = "ml.add"(%u, %d) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%v) : (tensor<4xf32>) -> ()
  }
}"""
    m = check_pass_preserves(text, "cse")
    names = op_names(m)
    assert names.count("ml.constant") == 2  # 2.0 twice -> once; 3.0 stays apart
    assert names.count("ml.mul") == 2
    assert names.count("ml.softmax") == 2  # different axis attributes
    m2 = parse_module(text)
    assert run_pipeline(m2, "cse") is True and run_pipeline(m2, "cse") is False


def test_attribute_keys_keep_python_equal_values_apart() -> None:
    def key(v):
        op = Operation.create("ml.relu", [], [tensor([1])], {"a": v})
        return op_key(op)
    assert len({key(1), key(1.0), key(True)}) == 3
    assert key(0.0) != key(-0.0)
    assert key((1, 2)) == key((1, 2)) and key((1, 2)) != key((1.0, 2))


def test_impure_ops_never_merge() -> None:
    text = """module {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
    %a = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> ()
  }
}"""
    m = parse_module(text)
    assert run_pipeline(m, "cse") is False
    assert op_names(m).count("test.effect") == 2


SCOPED = """module {
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> (tensor<4xf32>, tensor<4xf32>) {
    %e = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %r = "scf.if"(%c) ({
      %e2 = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %n1 = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %s1 = "ml.add"(%e2, %n1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%s1) : (tensor<4xf32>) -> ()
    }, {
      %n2 = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%n2) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    %n3 = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %o = "ml.add"(%e, %n3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%r, %o) : (tensor<4xf32>, tensor<4xf32>) -> ()
  }
}"""


def test_scopes_follow_regions() -> None:
    m = check_pass_preserves(SCOPED, "cse")
    names = op_names(m)
    # the exp inside the then-region reuses the one above it; the three negs live in three
    # different scopes (then-region, else-region, after the if) and all stay.
    assert names.count("ml.exp") == 1
    assert names.count("ml.neg") == 3
