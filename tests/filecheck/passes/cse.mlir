// RUN: mlir-lite opt %s -p cse | filecheck %s
// Equal pure ops merge; an op in a region may reuse one above it, never one in a sibling region.

module {
  // CHECK-LABEL: func.func @main
  // CHECK:         %[[E:.*]] = "ml.exp"(%x)
  // CHECK-NOT:     "ml.exp"
  // CHECK:         "scf.if"
  // CHECK:           "ml.add"(%[[E]], %{{.*}})
  // CHECK:           "ml.neg"(%x)
  // CHECK:         "ml.neg"(%x)
  // CHECK:         "test.effect"(%x)
  // CHECK-NEXT:    "test.effect"(%x)
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> (tensor<4xf32>, tensor<4xf32>) {
    %e = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %e1 = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %r = "scf.if"(%c) ({
      %e2 = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %s = "ml.add"(%e2, %e1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%s) : (tensor<4xf32>) -> ()
    }, {
      %n = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%n) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    %n2 = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %t1 = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %t2 = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%r, %n2) : (tensor<4xf32>, tensor<4xf32>) -> ()
  }
}
