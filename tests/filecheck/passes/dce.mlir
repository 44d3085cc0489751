// RUN: mlir-lite opt %s -p dce | filecheck %s
// Dead pure ops go; unused scf.if results are dropped with the values that fed only them.

module {
  // CHECK-LABEL: func.func @main
  // CHECK-NOT:     "ml.exp"
  // CHECK:         %[[R:.*]] = "scf.if"(%c) ({
  // CHECK-NEXT:      %[[B:.*]] = "ml.neg"(%x)
  // CHECK-NEXT:      "scf.yield"(%[[B]]) : (tensor<4xf32>) -> ()
  // CHECK-NEXT:    }, {
  // CHECK-NEXT:      "scf.yield"(%x) : (tensor<4xf32>) -> ()
  // CHECK-NEXT:    }) : (tensor<i1>) -> tensor<4xf32>
  // CHECK-NEXT:    "test.effect"(%x)
  // CHECK-NEXT:    "func.return"(%[[R]])
  func.func @main(%x: tensor<4xf32>, %c: tensor<i1>) -> tensor<4xf32> {
    %dead = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %r:2 = "scf.if"(%c) ({
      %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      %b = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> ()
    }, {
      "scf.yield"(%x, %x) : (tensor<4xf32>, tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> (tensor<4xf32>, tensor<4xf32>)
    %t = "test.effect"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%r#1) : (tensor<4xf32>) -> ()
  }
}
