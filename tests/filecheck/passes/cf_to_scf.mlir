// RUN: mlir-lite opt %s -p cf-to-scf | filecheck %s
// A TensorFlow 1 cond graph (switches on one predicate, merges joining the two sides) is raised
// to scf.if; switch outputs become the switched values.

module {
  // CHECK-LABEL: func.func @tf1_cond
  // CHECK:         %[[P:.*]] = "ml.less"(%x, %y)
  // CHECK-NEXT:    %[[R:.*]]:2 = "scf.if"(%[[P]]) ({
  // CHECK-NEXT:      %[[A:.*]] = "ml.add"(%x, %z)
  // CHECK-NEXT:      %[[B:.*]] = "ml.neg"(%x)
  // CHECK-NEXT:      "scf.yield"(%[[A]], %[[B]])
  // CHECK-NEXT:    }, {
  // CHECK-NEXT:      %[[S:.*]] = "ml.mul"(%y, %y)
  // CHECK-NEXT:      "scf.yield"(%[[S]], %y)
  // CHECK-NEXT:    })
  // CHECK-NEXT:    "func.return"(%[[R]]#0, %[[R]]#1)
  // CHECK-NOT:     cf.
  func.func @tf1_cond(%x: tensor<f32>, %y: tensor<f32>, %z: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
    %p = "ml.less"(%x, %y) : (tensor<f32>, tensor<f32>) -> tensor<i1>
    %xf, %xt = "cf.switch"(%x, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %zf, %zt = "cf.switch"(%z, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %yf, %yt = "cf.switch"(%y, %p) : (tensor<f32>, tensor<i1>) -> (tensor<f32>, tensor<f32>)
    %a = "ml.add"(%xt, %zt) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %s = "ml.mul"(%yf, %yf) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %r, %ri = "cf.merge"(%a, %s) : (tensor<f32>, tensor<f32>) -> (tensor<f32>, tensor<i32>)
    %b = "ml.neg"(%xt) : (tensor<f32>) -> tensor<f32>
    %q, %qi = "cf.merge"(%yf, %b) : (tensor<f32>, tensor<f32>) -> (tensor<f32>, tensor<i32>)
    "func.return"(%r, %q) : (tensor<f32>, tensor<f32>) -> ()
  }
}
