// RUN: mlir-lite opt %s -p scf-to-cf | filecheck %s
// scf.if becomes switches on the predicate (one per value a branch uses) and a merge;
// a branch-local constant is switched too, so the untaken branch is dead.

module {
  // CHECK-LABEL: func.func @cond
  // CHECK:         %[[X:.*]]:2 = "cf.switch"(%x, %p)
  // CHECK-NEXT:    %[[Z:.*]]:2 = "cf.switch"(%z, %p)
  // CHECK-NEXT:    %[[A:.*]] = "ml.add"(%[[X]]#1, %[[Z]]#1)
  // CHECK-NEXT:    %[[C:.*]] = "ml.constant"()
  // CHECK-NEXT:    %[[CS:.*]]:2 = "cf.switch"(%[[C]], %p)
  // CHECK-NEXT:    %[[M:.*]]:2 = "cf.merge"(%[[A]], %[[CS]]#0)
  // CHECK-NEXT:    "func.return"(%[[M]]#0)
  // CHECK-NOT:     scf.
  func.func @cond(%x: tensor<4xf32>, %z: tensor<4xf32>, %p: tensor<i1>) -> tensor<4xf32> {
    %r = "scf.if"(%p) ({
      %a = "ml.add"(%x, %z) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      "scf.yield"(%a) : (tensor<4xf32>) -> ()
    }, {
      %c = "ml.constant"() {value = dense<2.0> : tensor<4xf32>} : () -> tensor<4xf32>
      "scf.yield"(%c) : (tensor<4xf32>) -> ()
    }) : (tensor<i1>) -> tensor<4xf32>
    "func.return"(%r) : (tensor<4xf32>) -> ()
  }
}
