// RUN: mlir-lite opt %s -p shape-inference | filecheck %s
// Unknown dims become known, symbolic dims are kept, and signatures follow.

module {
  // CHECK-LABEL: func.func @main(%x: tensor<?x4xf32, ["N", 4]>) -> tensor<4x?xf32, [4, "N"]> {
  // CHECK-NEXT:    %y = "ml.transpose"(%x) {perm = array<i64: 1, 0>} : (tensor<?x4xf32, ["N", 4]>) -> tensor<4x?xf32, [4, "N"]>
  // CHECK-NEXT:    %z = "ml.exp"(%y) : (tensor<4x?xf32, [4, "N"]>) -> tensor<4x?xf32, [4, "N"]>
  func.func @main(%x: tensor<?x4xf32, ["N", 4]>) -> tensor<*xf32> {
    %y = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<?x4xf32, ["N", 4]>) -> tensor<?x?xf32>
    %z = "ml.exp"(%y) : (tensor<?x?xf32>) -> tensor<*xf32>
    "func.return"(%z) : (tensor<*xf32>) -> ()
  }
}
