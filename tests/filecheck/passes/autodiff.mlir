// RUN: mlir-lite opt %s -p "autodiff{func=main wrt=1 mode=grad},autodiff{func=main wrt=0,1 mode=vjp},cse" | filecheck %s
// Reverse mode appends @main_grad (loss and d loss / d w) and @main_vjp (results, then one
// gradient per wrt parameter); the forward ops are recomputed in each, the original stays.

module {
  // CHECK-LABEL: func.func @main(%x: tensor<3xf32>, %w: tensor<3xf32>) -> tensor<f32>
  func.func @main(%x: tensor<3xf32>, %w: tensor<3xf32>) -> tensor<f32> {
    %p = "ml.mul"(%x, %w) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %t = "ml.tanh"(%p) : (tensor<3xf32>) -> tensor<3xf32>
    %l = "ml.reduce_sum"(%t) {keepdims = false} : (tensor<3xf32>) -> tensor<f32>
    "func.return"(%l) : (tensor<f32>) -> ()
  }
  // CHECK-LABEL: func.func @main_grad(%x: tensor<3xf32>, %w: tensor<3xf32>) -> (tensor<f32>, tensor<3xf32>)
  // CHECK:         %[[ONE:.*]] = "ml.constant"() {value = dense<1.0> : tensor<f32>}
  // CHECK:         %[[T:.*]] = "ml.tanh"
  // CHECK:         %[[L:.*]] = "ml.reduce_sum"(%[[T]])
  // CHECK:         %[[U:.*]] = "ml.unsqueeze"(%[[ONE]]) {axes = array<i64: 0>}
  // CHECK:         %[[G:.*]] = "ml.expand"(%[[U]]) {shape = array<i64: 3>}
  // CHECK:         "ml.mul"(%[[T]], %[[T]])
  // CHECK:         %[[D:.*]] = "ml.mul"(%[[G]], %{{.*}})
  // CHECK:         %[[DW:.*]] = "ml.mul"(%[[D]], %x)
  // CHECK:         "func.return"(%[[L]], %[[DW]]) : (tensor<f32>, tensor<3xf32>) -> ()

  // CHECK-LABEL: func.func @main_vjp(%x: tensor<3xf32>, %w: tensor<3xf32>, %{{.*}}: tensor<f32>) -> (tensor<f32>, tensor<3xf32>, tensor<3xf32>)
  // CHECK-DAG:     %[[DX:[0-9]+]] = "ml.mul"(%{{[0-9]+}}, %w)
  // CHECK-DAG:     %[[DW2:[0-9]+]] = "ml.mul"(%{{[0-9]+}}, %x)
  // CHECK:         "func.return"(%{{.*}}, %[[DX]], %[[DW2]])
}
