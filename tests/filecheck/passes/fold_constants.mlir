// RUN: mlir-lite opt %s -p fold-constants | filecheck %s
// RUN: mlir-lite opt %s -p "fold-constants{max-elements=2}" | filecheck %s --check-prefix=LIMIT
// Pure ops on constants are evaluated by the interpreter; max-elements bounds what is built.

module {
  // CHECK-LABEL: func.func @main
  // CHECK-NEXT:    %{{.*}} = "ml.constant"() {value = dense<[3.0, 5.0, 7.0]> : tensor<3xf32>}
  // CHECK-NEXT:    "func.return"
  // LIMIT:         "ml.add"
  func.func @main() -> tensor<3xf32> {
    %a = "ml.constant"() {value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %b = "ml.constant"() {value = dense<[2.0, 3.0, 4.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %c = "ml.add"(%a, %b) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    "func.return"(%c) : (tensor<3xf32>) -> ()
  }
}
