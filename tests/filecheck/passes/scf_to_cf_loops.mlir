// RUN: mlir-lite opt %s -p scf-to-cf | filecheck %s
// scf.while becomes a TensorFlow dataflow loop: enter / next_iteration_source / merge per
// carried value, the predicate through loop_cond, a switch per forwarded value (false side:
// exit, true side: body), next_iteration_sink with the source's token; invariants enter as
// constants and are switched before the body uses them.

module {
  // CHECK-LABEL: func.func @count
  // CHECK:         %[[E:.*]] = "cf.enter"(%i0) {frame_name = "loop0"}
  // CHECK-NEXT:    %[[S:.*]]:2 = "cf.next_iteration_source"() {frame_name = "loop0"}
  // CHECK-NEXT:    %[[M:.*]]:2 = "cf.merge"(%[[E]], %[[S]]#0)
  // CHECK:         %[[N:.*]] = "cf.enter"(%n) {frame_name = "loop0", is_constant = 1 : i64}
  // CHECK-NEXT:    %[[P:.*]] = "ml.less"(%[[M]]#0, %[[N]])
  // CHECK-NEXT:    %[[LC:.*]] = "cf.loop_cond"(%[[P]])
  // CHECK-NEXT:    %[[SW:.*]]:2 = "cf.switch"(%[[M]]#0, %[[LC]])
  // CHECK-NEXT:    %[[X:.*]] = "cf.exit"(%[[SW]]#0)
  // CHECK:         %[[ONE:.*]]:2 = "cf.switch"(%{{.*}}, %[[LC]])
  // CHECK-NEXT:    %[[NEXT:.*]] = "ml.add"(%[[SW]]#1, %[[ONE]]#1)
  // CHECK:         "cf.next_iteration_sink"(%[[S]]#1, %[[NEXT]])
  // CHECK:         "func.return"(%[[X]])
  func.func @count(%i0: tensor<i64>, %n: tensor<i64>) -> tensor<i64> {
    %r = "scf.while"(%i0) ({
    ^bb0(%i: tensor<i64>):
      %c = "ml.less"(%i, %n) : (tensor<i64>, tensor<i64>) -> tensor<i1>
      "scf.condition"(%c, %i) : (tensor<i1>, tensor<i64>) -> ()
    }, {
    ^bb0(%j: tensor<i64>):
      %one = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
      %k = "ml.add"(%j, %one) : (tensor<i64>, tensor<i64>) -> tensor<i64>
      "scf.yield"(%k) : (tensor<i64>) -> ()
    }) : (tensor<i64>) -> tensor<i64>
    "func.return"(%r) : (tensor<i64>) -> ()
  }

  // A counted loop carries its induction variable; a scan output is a concat accumulator.
  // CHECK-LABEL: func.func @scan
  // CHECK:         "ml.constant"() {value = dense<> : tensor<0x4xf32>}
  // CHECK:         "cf.enter"(%lb) {frame_name = "loop1"}
  // CHECK:         "ml.less"
  // CHECK:         "cf.loop_cond"
  // CHECK:         "ml.unsqueeze"
  // CHECK-NEXT:    "ml.concat"
  // CHECK-COUNT-3: "cf.next_iteration_sink"
  // CHECK-NOT:     scf.
  func.func @scan(%lb: tensor<i64>, %ub: tensor<i64>, %st: tensor<i64>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<?x4xf32>) {
    %r:2 = "scf.for"(%lb, %ub, %st, %x) ({
    ^bb0(%i: tensor<i64>, %a: tensor<4xf32>):
      %t = "ml.tanh"(%a) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%t, %t) : (tensor<4xf32>, tensor<4xf32>) -> ()
    }) {num_scan_outputs = 1} : (tensor<i64>, tensor<i64>, tensor<i64>, tensor<4xf32>) -> (tensor<4xf32>, tensor<?x4xf32>)
    "func.return"(%r#0, %r#1) : (tensor<4xf32>, tensor<?x4xf32>) -> ()
  }
}
