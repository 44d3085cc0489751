// RUN: mlir-lite opt %s -p canonicalize | filecheck %s
// Algebraic identities, no-op shape ops, transpose merging and constant scf.if.

module {
  // CHECK-LABEL: func.func @identities(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK-NEXT:    "func.return"(%x) : (tensor<4xf32>) -> ()
  func.func @identities(%x: tensor<4xf32>) -> tensor<4xf32> {
    %z = "ml.constant"() {value = dense<0.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %o = "ml.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
    %a = "ml.add"(%x, %z) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.mul"(%a, %o) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.neg"(%b) : (tensor<4xf32>) -> tensor<4xf32>
    %d = "ml.neg"(%c) : (tensor<4xf32>) -> tensor<4xf32>
    %e = "ml.cast"(%d) {to = f32} : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%e) : (tensor<4xf32>) -> ()
  }

  // x + 0 that broadcasts x is not an identity.
  // CHECK-LABEL: func.func @broadcast_kept
  // CHECK:         "ml.add"(%x, %z)
  func.func @broadcast_kept(%x: tensor<3xf32>) -> tensor<2x3xf32> {
    %z = "ml.constant"() {value = dense<0.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
    %a = "ml.add"(%x, %z) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    "func.return"(%a) : (tensor<2x3xf32>) -> ()
  }

  // CHECK-LABEL: func.func @transposes
  // CHECK-NEXT:    %{{.*}} = "ml.transpose"(%x) {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  // CHECK-NEXT:    "func.return"
  func.func @transposes(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
    %a = "ml.transpose"(%x) {perm = [1, 0, 2]} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
    %b = "ml.transpose"(%a) {perm = [2, 1, 0]} : (tensor<3x2x4xf32>) -> tensor<4x2x3xf32>
    "func.return"(%b) : (tensor<4x2x3xf32>) -> ()
  }

  // CHECK-LABEL: func.func @reshapes
  // CHECK-NEXT:    %{{.*}} = "ml.reshape"(%x) {shape = array<i64: 12>}
  // CHECK-NEXT:    "func.return"
  func.func @reshapes(%x: tensor<2x6xf32>) -> tensor<12xf32> {
    %a = "ml.reshape"(%x) {shape = [2, 6]} : (tensor<2x6xf32>) -> tensor<2x6xf32>
    %b = "ml.reshape"(%a) {shape = [3, 4]} : (tensor<2x6xf32>) -> tensor<3x4xf32>
    %c = "ml.reshape"(%b) {shape = [12]} : (tensor<3x4xf32>) -> tensor<12xf32>
    "func.return"(%c) : (tensor<12xf32>) -> ()
  }

  // CHECK-LABEL: func.func @constant_if
  // CHECK-NOT:     scf.if
  // CHECK:         %[[E:.*]] = "ml.exp"(%x)
  // CHECK-NEXT:    "func.return"(%[[E]])
  func.func @constant_if(%x: tensor<4xf32>) -> tensor<4xf32> {
    %c = "ml.constant"() {value = dense<true> : tensor<i1>} : () -> tensor<i1>
    %r = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a) : (tensor<4xf32>) -> ()
    }, {
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%b) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    "func.return"(%r) : (tensor<4xf32>) -> ()
  }
}
