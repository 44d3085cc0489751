"""`dce`: dead pure ops go, through regions; unused scf results are pruned when safe."""
from __future__ import annotations

import numpy as np

from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.passes import run_pipeline

from ._pass_util import check_pass_preserves, op_names


def test_dead_pure_chain_goes_impure_op_stays() -> None:
    text = """module {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.neg"(%a) : (tensor<4xf32>) -> tensor<4xf32>
    %e = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %r = "ml.relu"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%r) : (tensor<4xf32>) -> ()
  }
}"""
    m = parse_module(text)
    assert run_pipeline(m, "dce") is True
    assert op_names(m) == ["test.effect", "ml.relu", "func.return"]
    assert run_pipeline(m, "dce") is False


IF_TEXT = """module {
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> tensor<4xf32> {
    %r:2 = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> ()
    }, {
      %d = "ml.relu"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %e = "ml.abs"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%d, %e) : (tensor<4xf32>, tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> (tensor<4xf32>, tensor<4xf32>)
    %u:1 = "scf.if"(%c) ({
      %f = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%f) : (tensor<4xf32>) -> ()
    }, {
      "scf.yield"(%x) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    "func.return"(%r#1) : (tensor<4xf32>) -> ()
  }
}"""


def test_scf_if_unused_results_pruned_and_dead_if_erased() -> None:
    m = check_pass_preserves(IF_TEXT, "dce")
    names = op_names(m)
    assert names.count("scf.if") == 1  # the unused, side-effect-free second if is gone
    assert "ml.exp" not in names and "ml.relu" not in names  # fed only the dropped result
    (iff,) = [op for op in m.walk() if op.name == "scf.if"]
    assert len(iff.results) == 1
    x = np.array([-1.0, 2.0, -3.0, 0.5], np.float32)
    np.testing.assert_array_equal(run(m, x, np.array(True))[0], -x)
    np.testing.assert_array_equal(run(m, x, np.array(False))[0], np.abs(x))


def test_scf_if_with_side_effects_stays() -> None:
    text = """module {
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> tensor<4xf32> {
    %u = "scf.if"(%c) ({
      %f = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%f) : (tensor<4xf32>) -> ()
    }, {
      "scf.yield"(%x) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    "func.return"(%x) : (tensor<4xf32>) -> ()
  }
}"""
    m = parse_module(text)
    run_pipeline(m, "dce")
    assert "test.effect" in op_names(m) and "scf.if" in op_names(m)


FOR_TEXT = """module {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %lb = "ml.constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
    %ub = "ml.constant"() {value = dense<3> : tensor<i64>} : () -> tensor<i64>
    %st = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
    %r:4 = "scf.for"(%lb, %ub, %st, %x, %x, %x) ({
    ^bb0(%i: tensor<i64>, %a: tensor<4xf32>, %b: tensor<4xf32>, %k: tensor<4xf32>):
      %a2 = "ml.sin"(%a) : (tensor<4xf32>) -> tensor<4xf32>
      %b2 = "ml.mul"(%b, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %k2 = "ml.add"(%k, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %s = "ml.neg"(%a) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a2, %b2, %k2, %s) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> ()
    }) {num_scan_outputs = 1} : (tensor<i64>, tensor<i64>, tensor<i64>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4xf32>)
    "func.return"(%r#0) : (tensor<4xf32>) -> ()
  }
}"""


def test_scf_for_dead_carried_values_and_scan_outputs_pruned() -> None:
    m = check_pass_preserves(FOR_TEXT, "dce")
    (loop,) = [op for op in m.walk() if op.name == "scf.for"]
    assert len(loop.results) == 1 and loop.attributes["num_scan_outputs"] == 0
    assert len(loop.regions[0].blocks[0].args) == 2
    assert [o.name for o in loop.regions[0].blocks[0].ops] == ["ml.sin", "scf.yield"]
    x = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    np.testing.assert_allclose(run(m, x)[0], np.sin(np.sin(np.sin(x))), rtol=1e-6)


def test_scf_for_carried_value_read_by_a_live_one_stays() -> None:
    text = FOR_TEXT.replace('"func.return"(%r#0)', '"func.return"(%r#2)')
    m = check_pass_preserves(text, "dce")
    (loop,) = [op for op in m.walk() if op.name == "scf.for"]
    # %k reads %a, so %a's carried value stays although its result is unused; %b goes.
    assert len(loop.results) == 2
