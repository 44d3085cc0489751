// RUN: mlir-lite opt %s -p cf-to-scf | filecheck %s
// A TensorFlow dataflow while loop is raised to scf.while: the predicate's ops form the
// before-region, the body (on the switches' true sides) the after-region, exits the results.

module {
  // CHECK-LABEL: func.func @loop
  // CHECK:         %[[R:.*]] = "scf.while"(%i0) ({
  // CHECK-NEXT:    ^bb0(%[[I:.*]]: tensor<i64>):
  // CHECK-NEXT:      %[[C:.*]] = "ml.less"(%[[I]], %n)
  // CHECK-NEXT:      "scf.condition"(%[[C]], %[[I]])
  // CHECK-NEXT:    }, {
  // CHECK-NEXT:    ^bb1(%[[J:.*]]: tensor<i64>):
  // CHECK-NEXT:      %[[K:.*]] = "ml.add"(%[[J]], %one)
  // CHECK-NEXT:      "scf.yield"(%[[K]])
  // CHECK-NEXT:    })
  // CHECK-NEXT:    "func.return"(%[[R]])
  // CHECK-NOT:     cf.
  func.func @loop(%i0: tensor<i64>, %n: tensor<i64>) -> tensor<i64> {
    %one = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
    %e = "cf.enter"(%i0) {frame_name = "w"} : (tensor<i64>) -> tensor<i64>
    %src, %tok = "cf.next_iteration_source"() {frame_name = "w"} : () -> (tensor<i64>, tensor<i64>)
    %m, %mi = "cf.merge"(%e, %src) : (tensor<i64>, tensor<i64>) -> (tensor<i64>, tensor<i32>)
    %ne = "cf.enter"(%n) {frame_name = "w", is_constant = 1} : (tensor<i64>) -> tensor<i64>
    %c = "ml.less"(%m, %ne) : (tensor<i64>, tensor<i64>) -> tensor<i1>
    %lc = "cf.loop_cond"(%c) : (tensor<i1>) -> tensor<i1>
    %f, %t = "cf.switch"(%m, %lc) : (tensor<i64>, tensor<i1>) -> (tensor<i64>, tensor<i64>)
    %x = "cf.exit"(%f) : (tensor<i64>) -> tensor<i64>
    %k = "ml.add"(%t, %one) : (tensor<i64>, tensor<i64>) -> tensor<i64>
    "cf.next_iteration_sink"(%tok, %k) : (tensor<i64>, tensor<i64>) -> ()
    "func.return"(%x) : (tensor<i64>) -> ()
  }
}
