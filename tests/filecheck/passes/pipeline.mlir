// RUN: mlir-lite opt %s -p "shape-inference,canonicalize,cse,dce" --print-ir-after-change 2>&1 | filecheck %s
// Only the passes that change the IR are printed; the final module comes last.

// CHECK:     IR Dump After shape-inference
// CHECK-NOT: IR Dump After canonicalize
// CHECK:     IR Dump After cse
// CHECK-NOT: IR Dump After dce
// CHECK:       func.func @main(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
// CHECK-NEXT:    %[[T:.*]] = "ml.transpose"(%x)
// CHECK-NEXT:    %[[A:.*]] = "ml.add"(%[[T]], %[[T]])
// CHECK-NEXT:    "func.return"(%[[A]])
module {
  func.func @main(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
    %a = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<?x?xf32>
    %b = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<?x?xf32>
    %c = "ml.add"(%a, %b) : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
    "func.return"(%c) : (tensor<?x?xf32>) -> ()
  }
}
