// RUN: mlir-lite opt %s -p fuse | filecheck %s
// A matmul with its bias, activation and residual add becomes one gemm_epilogue kernel; the
// softmax after it is a reduction that takes no second anchor, and scalar constants move in.

module {
  // CHECK-LABEL: func.func @main
  // CHECK:         %[[F:.*]] = "ml.fused"(%x, %w, %b, %r) ({
  // CHECK-NEXT:    ^bb0(%{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<8x3xf32>, %{{.*}}: tensor<3xf32>, %{{.*}}: tensor<4x3xf32>):
  // CHECK-NEXT:      %c = "ml.constant"() {value = dense<0.5> : tensor<f32>}
  // CHECK-NEXT:      "ml.matmul"
  // CHECK-NEXT:      "ml.add"
  // CHECK-NEXT:      "ml.relu"
  // CHECK-NEXT:      "ml.mul"
  // CHECK-NEXT:      "ml.add"
  // CHECK-NEXT:      "ml.yield"
  // CHECK-NEXT:    }) {kind = "gemm_epilogue", kernel = "fused_matmul_add_relu_mul_add"}
  // CHECK-NEXT:    "ml.softmax"(%[[F]])
  // CHECK-NEXT:    "func.return"
  func.func @main(%x: tensor<4x8xf32>, %w: tensor<8x3xf32>, %b: tensor<3xf32>, %r: tensor<4x3xf32>) -> tensor<4x3xf32> {
    %c = "ml.constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %m = "ml.matmul"(%x, %w) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    %a = "ml.add"(%m, %b) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    %h = "ml.relu"(%a) : (tensor<4x3xf32>) -> tensor<4x3xf32>
    %s = "ml.mul"(%h, %c) : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
    %y = "ml.add"(%s, %r) : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
    %z = "ml.softmax"(%y) {axis = -1 : i64} : (tensor<4x3xf32>) -> tensor<4x3xf32>
    "func.return"(%z) : (tensor<4x3xf32>) -> ()
  }
}
