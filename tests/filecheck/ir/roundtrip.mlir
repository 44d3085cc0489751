// RUN: mlir-lite opt %s | mlir-lite opt - | filecheck %s
// Printing then parsing is the identity: names, locations, symbolic dims, dense forms, regions.

// CHECK-LABEL: module @m attributes {producer = "test"} {
module @m attributes {producer = "test"} {
  // CHECK: func.func @main(%x: tensor<?x3xf32, ["N", 3]>, %flag: tensor<i1>) -> (tensor<?x3xf32, ["N", 3]>, tensor<2x2xi64>) {
  func.func @main(%x: tensor<?x3xf32, ["N", 3]>, %flag: tensor<i1>) -> (tensor<?x3xf32, ["N", 3]>, tensor<2x2xi64>) {
    // CHECK-NEXT: %w = "ml.constant"() {value = dense<[1.5, -0.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %w = "ml.constant"() {value = dense<[1.5, -0.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    // CHECK-NEXT: %s = "ml.constant"() {value = dense<7> : tensor<2x2xi64>} : () -> tensor<2x2xi64> loc("splat")
    %s = "ml.constant"() {value = dense<7> : tensor<2x2xi64>} : () -> tensor<2x2xi64> loc("splat")
    // CHECK-NEXT: %0 = "ml.mul"(%x, %w) : (tensor<?x3xf32, ["N", 3]>, tensor<3xf32>) -> tensor<?x3xf32, ["N", 3]> loc("model.py":3:7)
    %0 = "ml.mul"(%x, %w) : (tensor<?x3xf32, ["N", 3]>, tensor<3xf32>) -> tensor<?x3xf32, ["N", 3]> loc("model.py":3:7)
    // CHECK-NEXT: %r = "scf.if"(%flag) ({
    // CHECK-NEXT:   %1 = "ml.relu"(%0)
    // CHECK-NEXT:   "scf.yield"(%1)
    // CHECK-NEXT: }, {
    // CHECK-NEXT:   "scf.yield"(%x)
    // CHECK-NEXT: }) : (tensor<i1>) -> tensor<?x3xf32, ["N", 3]>
    %r = "scf.if"(%flag) ({
      %1 = "ml.relu"(%0) : (tensor<?x3xf32, ["N", 3]>) -> tensor<?x3xf32, ["N", 3]>
      "scf.yield"(%1) : (tensor<?x3xf32, ["N", 3]>) -> ()
    }, {
      "scf.yield"(%x) : (tensor<?x3xf32, ["N", 3]>) -> ()
    }) : (tensor<i1>) -> tensor<?x3xf32, ["N", 3]>
    // CHECK-NEXT: "func.return"(%r, %s)
    "func.return"(%r, %s) : (tensor<?x3xf32, ["N", 3]>, tensor<2x2xi64>) -> ()
  }
}
