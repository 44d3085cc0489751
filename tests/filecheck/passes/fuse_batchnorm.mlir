// RUN: mlir-lite opt %s -p "fold-batchnorm,fuse" | filecheck %s
// Inference batch_norm folds into the conv (weights and bias rescaled per output channel);
// the conv then takes the relu as its epilogue.

module {
  // CHECK-LABEL: func.func @main
  // CHECK-NOT:     "ml.batch_norm"
  // CHECK:         "ml.fused"(%x, %{{.*}}, %{{.*}}) ({
  // CHECK:           "ml.conv"(%{{.*}}, %{{.*}}, %{{.*}})
  // CHECK-NEXT:      "ml.relu"
  // CHECK:         }) {kind = "conv_epilogue", kernel = "fused_conv_relu"}
  func.func @main(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
    %w = "ml.constant"() {value = dense<[[[[1.0]]], [[[2.0]]]]> : tensor<2x1x1x1xf32>} : () -> tensor<2x1x1x1xf32>
    %p = "ml.constant"() {value = dense<[1.0, 3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %c = "ml.conv"(%x, %w) : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
    %y = "ml.batch_norm"(%c, %p, %p, %p, %p) : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
    %r = "ml.relu"(%y) : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
    "func.return"(%r) : (tensor<1x2x2x2xf32>) -> ()
  }
}
