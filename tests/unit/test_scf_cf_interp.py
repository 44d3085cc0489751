"""The interpreter on hand-written TensorFlow-style dataflow graphs (switch/merge, frames), and
cf-to-scf on them; expectations are numpy written here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.passes import run_pipeline

FC = Path(__file__).resolve().parents[1] / "filecheck" / "passes"

# while i < n: (i, s) = (i + 1, s * 2); inside the else branch of a cond on p.
LOOP_IN_BRANCH = """
module {
  func.func @main(%p: tensor<i1>, %n: tensor<i64>, %s0: tensor<f32>) -> tensor<f32> {
    %z = "ml.constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
    %one = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
    %two = "ml.constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %sf, %st = "cf.switch"(%s0, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %zf, %zt = "cf.switch"(%z, %p) : (tensor<i64>, tensor<i1>) -> (tensor<i64>, tensor<i64>)
    %ei = "cf.enter"(%zf) {frame_name = "w"} : (tensor<i64>) -> tensor<i64>
    %es = "cf.enter"(%sf) {frame_name = "w"} : (tensor<f32>) -> tensor<f32>
    %ri, %ti = "cf.next_iteration_source"() {frame_name = "w"} : () -> (tensor<i64>, tensor<i64>)
    %rs, %ts = "cf.next_iteration_source"() {frame_name = "w"} : () -> (tensor<f32>, tensor<i64>)
    %mi, %xi = "cf.merge"(%ei, %ri) : (tensor<i64>, tensor<i64>) -> (tensor<i64>, tensor<i32>)
    %ms, %xs = "cf.merge"(%es, %rs) : (tensor<f32>, tensor<f32>) -> (tensor<f32>, tensor<i32>)
    %ne = "cf.enter"(%n) {frame_name = "w", is_constant = 1} : (tensor<i64>) -> tensor<i64>
    %c = "ml.less"(%mi, %ne) : (tensor<i64>, tensor<i64>) -> tensor<i1>
    %lc = "cf.loop_cond"(%c) : (tensor<i1>) -> tensor<i1>
    %fi, %bi = "cf.switch"(%mi, %lc) : (tensor<i64>, tensor<i1>) -> (tensor<i64>, tensor<i64>)
    %fs, %bs = "cf.switch"(%ms, %lc) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %out = "cf.exit"(%fs) : (tensor<f32>) -> tensor<f32>
    %i2 = "ml.add"(%bi, %one) : (tensor<i64>, tensor<i64>) -> tensor<i64>
    %s2 = "ml.mul"(%bs, %two) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "cf.next_iteration_sink"(%ti, %i2) : (tensor<i64>, tensor<i64>) -> ()
    "cf.next_iteration_sink"(%ts, %s2) : (tensor<i64>, tensor<f32>) -> ()
    %neg = "ml.neg"(%st) : (tensor<f32>) -> tensor<f32>
    %r, %ri2 = "cf.merge"(%neg, %out) : (tensor<f32>, tensor<f32>) -> (tensor<f32>, tensor<i32>)
    "func.return"(%r) : (tensor<f32>) -> ()
  }
}
"""


def _oracle(p: bool, n: int, s0: float) -> np.float32:
    return np.float32(-s0) if p else np.float32(s0 * 2.0 ** max(n, 0))


@pytest.mark.parametrize("p", [False, True])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_loop_in_branch_runs_or_stays_dead(p, n):
    m = parse_module(LOOP_IN_BRANCH)
    args = (np.array(p), np.int64(n), np.float32(1.5))
    assert run(m, *args)[0] == _oracle(p, n, 1.5)
    run_pipeline(m, "cf-to-scf")
    names = {o.name for o in m.walk()}
    assert "scf.if" in names and "scf.while" in names
    assert not any(x.startswith("cf.") for x in names)
    assert run(m, *args)[0] == _oracle(p, n, 1.5)


def test_tf1_cond_file_matches_numpy():
    m = parse_module((FC / "cf_to_scf.mlir").read_text())
    rng = np.random.default_rng(0)
    for _ in range(6):
        x, y, z = (np.float32(v) for v in rng.standard_normal(3))
        want = (x + z, -x) if x < y else (y * y, y)
        got = run(m, x, y, z, func="tf1_cond")
        np.testing.assert_allclose(got, want, rtol=1e-6)
        raised = parse_module((FC / "cf_to_scf.mlir").read_text())
        run_pipeline(raised, "cf-to-scf")
        np.testing.assert_allclose(run(raised, x, y, z, func="tf1_cond"), want, rtol=1e-6)


def test_dead_result_and_loop_op_outside_frame_are_errors():
    m = parse_module("""
module {
  func.func @main(%x: tensor<f32>, %p: tensor<i1>) -> tensor<f32> {
    %f, %t = "cf.switch"(%x, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    "func.return"(%t) : (tensor<f32>) -> ()
  }
}""")
    with pytest.raises(ExecutionError, match="dead"):
        run(m, np.float32(1), np.array(False))
    assert run(m, np.float32(1), np.array(True))[0] == 1
    m = parse_module("""
module {
  func.func @main(%x: tensor<f32>) -> tensor<f32> {
    %e = "cf.exit"(%x) : (tensor<f32>) -> tensor<f32>
    "func.return"(%e) : (tensor<f32>) -> ()
  }
}""")
    with pytest.raises(ExecutionError, match="dataflow loop"):
        run(m, np.float32(1))


def test_unsupported_graph_is_left_alone():
    """A merge whose inputs do not come from opposite sides of one switch stays as it is."""
    text = """
module {
  func.func @main(%x: tensor<f32>, %p: tensor<i1>, %q: tensor<i1>) -> tensor<f32> {
    %f, %t = "cf.switch"(%x, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %g, %u = "cf.switch"(%x, %q) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %r, %i = "cf.merge"(%t, %g) : (tensor<f32>, tensor<f32>) -> (tensor<f32>, tensor<i32>)
    "func.return"(%r) : (tensor<f32>) -> ()
  }
}"""
    m = parse_module(text)
    run_pipeline(m, "cf-to-scf")
    assert "cf.merge" in {o.name for o in m.walk()}
