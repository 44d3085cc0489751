"""Fusion: which ops group, the IR shape of `ml.fused`, the report, and numerics against the
interpreter on the unfused module (tolerance 1e-5 relative / 1e-6 absolute)."""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.errors import PassError, VerifyError
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.verifier import verify
from mlir_lite.passes import PassContext, PassManager, parse_pipeline
from mlir_lite.passes.fusion import count_kernels, fuse_module, op_pattern

from ._pass_util import check_pass_preserves, op_names

CHAIN = """
func.func @main(%x: tensor<4x8xf32>, %w: tensor<8x3xf32>, %b: tensor<3xf32>) -> tensor<4x3xf32> {
  %m = "ml.matmul"(%x, %w) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %a = "ml.add"(%m, %b) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  %r = "ml.relu"(%a) : (tensor<4x3xf32>) -> tensor<4x3xf32>
  %s = "ml.softmax"(%r) {axis = -1 : i64} : (tensor<4x3xf32>) -> tensor<4x3xf32>
  "func.return"(%s) : (tensor<4x3xf32>) -> ()
}
"""


def _fused_ops(module):
    return [op for op in module.walk() if op.name == "ml.fused"]


def test_matmul_epilogue_is_one_kernel_and_softmax_stays_apart() -> None:
    m = check_pass_preserves(CHAIN, "fuse")
    fused = _fused_ops(m)
    assert len(fused) == 1
    assert fused[0].attributes["kind"] == "gemm_epilogue"
    body = [o.name for o in fused[0].regions[0].blocks[0].ops]
    assert body == ["ml.matmul", "ml.add", "ml.relu", "ml.yield"]
    assert fused[0].num_operands == 3 and len(fused[0].results) == 1
    top = [o.name for o in m["main"].entry_block.ops]
    assert top == ["ml.fused", "ml.softmax", "func.return"]
    assert count_kernels(m) == 2


def test_reduction_takes_its_elementwise_producers() -> None:
    text = """
func.func @main(%x: tensor<2x5xf32>, %y: tensor<2x5xf32>) -> tensor<2xf32> {
  %a = "ml.mul"(%x, %y) : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %e = "ml.exp"(%a) : (tensor<2x5xf32>) -> tensor<2x5xf32>
  %s = "ml.reduce_sum"(%e) {axes = array<i64: 1>, keepdims = false} : (tensor<2x5xf32>) -> tensor<2xf32>
  %l = "ml.log"(%s) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%l) : (tensor<2xf32>) -> ()
}
"""
    m = check_pass_preserves(text, "fuse")
    (f,) = _fused_ops(m)
    assert f.attributes["kind"] == "reduction"
    assert [o.name for o in f.regions[0].blocks[0].ops][:-1] == [
        "ml.mul", "ml.exp", "ml.reduce_sum", "ml.log"]


def test_reduction_epilogue_that_broadcasts_is_refused_with_a_reason() -> None:
    text = """
func.func @main(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %m = "ml.reduce_max"(%x) {axes = array<i64: 1>, keepdims = true} : (tensor<2x5xf32>) -> tensor<2x1xf32>
  %d = "ml.sub"(%x, %m) : (tensor<2x5xf32>, tensor<2x1xf32>) -> tensor<2x5xf32>
  %e = "ml.exp"(%d) : (tensor<2x5xf32>) -> tensor<2x5xf32>
  "func.return"(%e) : (tensor<2x5xf32>) -> ()
}
"""
    m = parse_module(text)
    rep = fuse_module(m)
    verify(m)
    assert [g.kind for g in rep.groups] == ["elementwise"]
    (pair,) = rep.unfused
    assert pair.producer == "ml.reduce_max" and pair.consumer == "ml.sub"
    assert pair.rule == "epilogue-shape" and "broadcasts" in pair.reason


def test_fusion_never_creates_a_cycle() -> None:
    # %a -> %t (opaque topk) -> %c, and %a -> %c: fusing %a with %c would need %t inside.
    text = """
func.func @main(%x: tensor<6xf32>) -> tensor<6xf32> {
  %a = "ml.exp"(%x) : (tensor<6xf32>) -> tensor<6xf32>
  %t:2 = "ml.topk"(%a) {k = 6 : i64} : (tensor<6xf32>) -> (tensor<6xf32>, tensor<6xi64>)
  %c = "ml.add"(%a, %t#0) : (tensor<6xf32>, tensor<6xf32>) -> tensor<6xf32>
  "func.return"(%c) : (tensor<6xf32>) -> ()
}
"""
    m = check_pass_preserves(text, "fuse{report=true}")
    assert not _fused_ops(m)
    rep = fuse_module(parse_module(text))
    rules = {(u.producer, u.consumer): u.rule for u in rep.unfused}
    assert rules[("ml.exp", "ml.add")] == "acyclic"
    assert rules[("ml.exp", "ml.topk")] == "fusible-ops"


def test_groups_are_reordered_when_an_outside_op_sits_between_members() -> None:
    # %n uses %a and sits between %a and %b; {a, b} fuse, %n must move after the group.
    text = """
func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xi64>) {
  %a = "ml.exp"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %n:2 = "ml.topk"(%a) {k = 3 : i64} : (tensor<3xf32>) -> (tensor<3xf32>, tensor<3xi64>)
  %b = "ml.neg"(%a) : (tensor<3xf32>) -> tensor<3xf32>
  %c = "ml.add"(%b, %n#0) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%c, %n#1) : (tensor<3xf32>, tensor<3xi64>) -> ()
}
"""
    m = check_pass_preserves(text, "fuse")
    top = [o.name for o in m["main"].entry_block.ops]
    assert top[0] == "ml.fused" and "ml.topk" in top
    (f,) = _fused_ops(m)
    assert [o.name for o in f.regions[0].blocks[0].ops][:-1] == ["ml.exp", "ml.neg"]


def test_max_ops_caps_group_size_and_scalar_constants_are_inlined() -> None:
    text = """
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = "ml.constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %a = "ml.mul"(%x, %c) : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %b = "ml.exp"(%a) : (tensor<4xf32>) -> tensor<4xf32>
  %d = "ml.neg"(%b) : (tensor<4xf32>) -> tensor<4xf32>
  %e = "ml.tanh"(%d) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%e) : (tensor<4xf32>) -> ()
}
"""
    m = check_pass_preserves(text, "fuse{max-ops=2}")
    fused = _fused_ops(m)
    assert [len(list(f.regions[0].blocks[0].ops)) for f in fused] == [4, 3]  # +const, +yield
    first = fused[0].regions[0].blocks[0]
    assert first.first_op.name == "ml.constant" and fused[0].num_operands == 1
    assert "ml.constant" not in [o.name for o in m["main"].entry_block.ops]
    one = check_pass_preserves(text, "fuse")
    assert len(_fused_ops(one)) == 1 and count_kernels(one) == 1


def test_options_turn_rules_off() -> None:
    m = check_pass_preserves(CHAIN, "fuse{epilogues=false}")
    (f,) = _fused_ops(m)  # add+relu no longer join the matmul: softmax takes them
    assert f.attributes["kind"] == "reduction"
    assert [o.name for o in f.regions[0].blocks[0].ops][:-1] == ["ml.add", "ml.relu",
                                                                 "ml.softmax"]
    with pytest.raises(PassError, match="max-ops"):
        PassManager(parse_pipeline("fuse{max-ops=0}")).run(parse_module(CHAIN))


def test_op_patterns() -> None:
    m = parse_module(CHAIN)
    ops = {o.name: op_pattern(o) for o in m["main"].entry_block.ops}
    assert ops == {"ml.matmul": "anchor", "ml.add": "broadcast", "ml.relu": "elementwise",
                   "ml.softmax": "reduction", "func.return": "opaque"}


def test_report_goes_to_stderr_and_stats(capsys: pytest.CaptureFixture) -> None:
    m = parse_module(CHAIN)
    pm = PassManager(parse_pipeline("fuse{report=true}"))
    pm.run(m)
    err = capsys.readouterr().err
    assert "fusion report: 4 kernels -> 2" in err
    assert "group fused_matmul_add_relu [gemm_epilogue]" in err
    assert "unfused ml.relu -> ml.softmax: [one-anchor]" in err
    rep = pm.context.stats["fuse"]
    assert rep.kernels_before == 4 and rep.kernels_after == 2


def test_fused_op_verifier_rejects_mismatches() -> None:
    bad_kind = """
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = "ml.fused"(%x) ({
  ^bb0(%a: tensor<2xf32>):
    %n = "ml.neg"(%a) : (tensor<2xf32>) -> tensor<2xf32>
    "ml.yield"(%n) : (tensor<2xf32>) -> ()
  }) {kind = "magic"} : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%y) : (tensor<2xf32>) -> ()
}
"""
    with pytest.raises(VerifyError, match="kind must be one of"):
        verify(parse_module(bad_kind))
    bad_arg = bad_kind.replace('"magic"', '"elementwise"').replace("^bb0(%a: tensor<2xf32>)",
                                                                   "^bb0(%a: tensor<3xf32>)")
    bad_arg = bad_arg.replace('"ml.neg"(%a) : (tensor<2xf32>)', '"ml.neg"(%a) : (tensor<3xf32>)')
    with pytest.raises(VerifyError, match="block argument #0"):
        verify(parse_module(bad_arg))
    outside = bad_kind.replace('"magic"', '"elementwise"').replace('"ml.neg"(%a)', '"ml.neg"(%x)')
    with pytest.raises(VerifyError, match="does not dominate"):
        verify(parse_module(outside))


def test_fusion_inside_control_flow_regions_and_pass_context() -> None:
    text = """
func.func @main(%x: tensor<3xf32>, %c: tensor<i1>) -> tensor<3xf32> {
  %r = "scf.if"(%c) ({
    %a = "ml.exp"(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %b = "ml.neg"(%a) : (tensor<3xf32>) -> tensor<3xf32>
    "scf.yield"(%b) : (tensor<3xf32>) -> ()
  }, {
    "scf.yield"(%x) : (tensor<3xf32>) -> ()
  }) : (tensor<i1>) -> tensor<3xf32>
  %s = "ml.sigmoid"(%r) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%s) : (tensor<3xf32>) -> ()
}
"""
    m = check_pass_preserves(text, "fuse")
    (f,) = _fused_ops(m)
    assert f.parent_op.name == "scf.if"
    assert "ml.sigmoid" in op_names(m)
    assert not parse_pipeline("fuse")[0].run(parse_module("module {}"), PassContext())


def test_fused_module_round_trips_and_runs() -> None:
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.printer import print_module
    m = check_pass_preserves(CHAIN, "fuse")
    again = parse_module(print_module(m))
    verify(again)
    x = [np.ones((4, 8), np.float32), np.full((8, 3), 0.5, np.float32), np.zeros(3, np.float32)]
    want = np.full((4, 3), 1.0 / 3, np.float32)  # relu(4) in every column: uniform softmax
    np.testing.assert_allclose(run(again, *x)[0], want, rtol=1e-6)
