"""`shape-inference`: unknown dims become known, symbols are kept, scf and calls stay valid."""
from __future__ import annotations

from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.types import tensor
from mlir_lite.passes import run_pipeline
from mlir_lite.passes.shape_inference import refine_type

from ._pass_util import check_pass_preserves


def test_refine_type_rules() -> None:
    assert refine_type(tensor([None, 4]), tensor([3, 4])) == tensor([3, 4])
    assert refine_type(tensor(None), tensor([3, "N"])) == tensor([3, "N"])
    assert refine_type(tensor([None, 4]), tensor(["N", 4])) == tensor(["N", 4])
    assert refine_type(tensor(["M", 4]), tensor([3, 4])) == tensor(["M", 4])  # symbol kept
    # a symbol no argument binds (ONNX's unk__0) gives way to a size or a bound symbol
    assert refine_type(tensor(["unk__0", 4]), tensor([3, 4]), {"N"}) == tensor([3, 4])
    assert refine_type(tensor(["unk__0", 4]), tensor(["N", 4]), {"N"}) == tensor(["N", 4])
    assert refine_type(tensor(["N", 4]), tensor([3, 4]), {"N"}) == tensor(["N", 4])
    assert refine_type(tensor(["unk__0", 4]), tensor(["unk__1", 4]), {"N"}) == \
        tensor(["unk__0", 4])
    assert refine_type(tensor([2, 4]), tensor([3, 4])) == tensor([2, 4])  # conflict: unchanged
    assert refine_type(tensor([None]), tensor([None, 1])) == tensor([None])  # rank mismatch
    assert refine_type(tensor([None], "f32"), tensor([3], "i32")) == tensor([None], "f32")
    assert refine_type(tensor([3, 4]), tensor([None, None])) == tensor([3, 4])


def test_unknown_dims_refined_and_signature_updated() -> None:
    text = """module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
    %y = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<?x?xf32>
    %z = "ml.exp"(%y) : (tensor<?x?xf32>) -> tensor<*xf32>
    "func.return"(%z) : (tensor<*xf32>) -> ()
  }
}"""
    m = check_pass_preserves(text, "shape-inference")
    f = m["main"]
    assert f.return_op.operands[0].type == tensor([3, 2])
    assert f.function_type.results == (tensor([3, 2]),)
    assert run_pipeline(m, "shape-inference") is False


def test_symbolic_dims_propagate_and_are_kept() -> None:
    text = """module {
  func.func @main(%x: tensor<?x4xf32, ["N", 4]>) -> tensor<?x?xf32> {
    %y = "ml.relu"(%x) : (tensor<?x4xf32, ["N", 4]>) -> tensor<?x?xf32>
    "func.return"(%y) : (tensor<?x?xf32>) -> ()
  }
}"""
    m = parse_module(text)
    assert run_pipeline(m, "shape-inference") is True
    assert m["main"].function_type.results == (tensor(["N", 4]),)


IF_TEXT = """module {
  func.func @main(%x: tensor<4xf32>, %y: tensor<?xf32>, %c: tensor<i1>) -> (tensor<?xf32>, tensor<?xf32>) {
    %r = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<?xf32>
      "scf.yield"(%a) : (tensor<?xf32>) -> ()
    }, {
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<?xf32>
      "scf.yield"(%b) : (tensor<?xf32>) -> ()
    }) : (tensor<i1>) -> tensor<?xf32>
    %s = "scf.if"(%c) ({
      %d = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<?xf32>
      "scf.yield"(%d) : (tensor<?xf32>) -> ()
    }, {
      "scf.yield"(%y) : (tensor<?xf32>) -> ()
    }) : (tensor<i1>) -> tensor<?xf32>
    "func.return"(%r, %s) : (tensor<?xf32>, tensor<?xf32>) -> ()
  }
}"""


def test_scf_if_results_refined_only_when_both_branches_agree() -> None:
    m = parse_module(IF_TEXT)
    run_pipeline(m, "shape-inference")  # verifies after the pass
    ifs = [op for op in m.walk() if op.name == "scf.if"]
    assert ifs[0].results[0].type == tensor([4])
    assert ifs[1].results[0].type == tensor([None])
    assert m["main"].function_type.results == (tensor([4]), tensor([None]))


def test_scf_if_numerics() -> None:
    text = """module {
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> tensor<?xf32> {
    %r = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<?xf32>
      "scf.yield"(%a) : (tensor<?xf32>) -> ()
    }, {
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<?xf32>
      "scf.yield"(%b) : (tensor<?xf32>) -> ()
    }) : (tensor<i1>) -> tensor<?xf32>
    "func.return"(%r) : (tensor<?xf32>) -> ()
  }
}"""
    m = check_pass_preserves(text, "shape-inference", seeds=range(6))
    assert m["main"].function_type.results == (tensor([4]),)


LOOP = """module {
  func.func @main(%x: tensor<4xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
    %lb = "ml.constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
    %ub = "ml.constant"() {value = dense<3> : tensor<i64>} : () -> tensor<i64>
    %st = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
    %i0 = "ml.relu"(%x) : (tensor<4xf32>) -> tensor<?xf32>
    %r:2 = "scf.for"(%lb, %ub, %st, %i0, %i0) ({
    ^bb0(%i: tensor<i64>, %a: tensor<?xf32>, %g: tensor<?xf32>):
      %a2 = "ml.exp"(%a) : (tensor<?xf32>) -> tensor<?xf32>
      %a3 = "ml.sin"(%a2) : (tensor<?xf32>) -> tensor<?xf32>
      %g2 = "ml.concat"(%g, %a) {axis = 0} : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      "scf.yield"(%a3, %g2) : (tensor<?xf32>, tensor<?xf32>) -> ()
    }) : (tensor<i64>, tensor<i64>, tensor<i64>, tensor<?xf32>, tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>)
    "func.return"(%r#0, %r#1) : (tensor<?xf32>, tensor<?xf32>) -> ()
  }
}"""


def test_loop_carried_types_refined_only_when_loop_invariant() -> None:
    m = check_pass_preserves(LOOP, "shape-inference")
    (loop,) = [op for op in m.walk() if op.name == "scf.for"]
    body = loop.regions[0].blocks[0]
    # The growing carried value (concat) keeps unknown dims, so the whole loop is inferred
    # with the declared carried types: still valid, still ? inside.
    assert body.args[2].type == tensor([None])
    assert loop.results[1].type == tensor([None])
    assert loop.operands[3].type == tensor([None])  # the shared init had to stay ? as well


def test_loop_invariant_carried_type_is_refined() -> None:
    text = LOOP.replace('%g2 = "ml.concat"(%g, %a) {axis = 0} : (tensor<?xf32>, tensor<?xf32>)',
                        '%g2 = "ml.add"(%g, %a) : (tensor<?xf32>, tensor<?xf32>)')
    m = check_pass_preserves(text, "shape-inference")
    (loop,) = [op for op in m.walk() if op.name == "scf.for"]
    assert [a.type for a in loop.regions[0].blocks[0].args[1:]] == [tensor([4])] * 2
    assert [r.type for r in loop.results] == [tensor([4])] * 2
    assert m["main"].function_type.results == (tensor([4]), tensor([4]))


def test_call_results_follow_the_callee() -> None:
    text = """module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
    %r = "func.call"(%x) {callee = @f} : (tensor<2x3xf32>) -> tensor<?x?xf32>
    %s = "ml.neg"(%r) : (tensor<?x?xf32>) -> tensor<?x?xf32>
    "func.return"(%s) : (tensor<?x?xf32>) -> ()
  }
  func.func @f(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
    %y = "ml.transpose"(%x) : (tensor<2x3xf32>) -> tensor<?x?xf32>
    "func.return"(%y) : (tensor<?x?xf32>) -> ()
  }
}"""
    m = check_pass_preserves(text, "shape-inference")
    assert m["f"].function_type.results == (tensor([3, 2]),)
    assert m["main"].function_type.results == (tensor([3, 2]),)
