// RUN: mlir-lite opt %s -p canonicalize | filecheck %s
// Per-op fold hooks: shapes known from types become constants, no-op ops disappear.

// CHECK-LABEL: func.func @static_shape(%x: tensor<2x3x5xf32>) -> (tensor<2xi64>, tensor<i64>) {
// CHECK-NEXT:    %{{.*}} = "ml.constant"() {value = dense<[3, 5]> : tensor<2xi64>}
// CHECK-NEXT:    %{{.*}} = "ml.constant"() {value = dense<30> : tensor<i64>}
// CHECK-NOT:     "ml.shape"
// CHECK-NOT:     "ml.size"
func.func @static_shape(%x: tensor<2x3x5xf32>) -> (tensor<2xi64>, tensor<i64>) {
  %s = "ml.shape"(%x) {start = 1 : i64} : (tensor<2x3x5xf32>) -> tensor<2xi64>
  %n = "ml.size"(%x) : (tensor<2x3x5xf32>) -> tensor<i64>
  "func.return"(%s, %n) : (tensor<2xi64>, tensor<i64>) -> ()
}

// A symbolic dim is not known: the shape op stays.
// CHECK-LABEL: func.func @symbolic_shape
// CHECK:         "ml.shape"(%x)
func.func @symbolic_shape(%x: tensor<?x3xf32, ["N", 3]>) -> tensor<2xi64> {
  %s = "ml.shape"(%x) : (tensor<?x3xf32, ["N", 3]>) -> tensor<2xi64>
  "func.return"(%s) : (tensor<2xi64>) -> ()
}

// CHECK-LABEL: func.func @noops(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    "func.return"(%x)
func.func @noops(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = "ml.identity"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %b = "ml.dropout"(%a) : (tensor<4xf32>) -> tensor<4xf32>
  %c = "ml.concat"(%b) {axis = 0 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%c) : (tensor<4xf32>) -> ()
}

// CHECK-LABEL: func.func @cast_constant() -> tensor<3xi32> {
// CHECK-NEXT:    %{{.*}} = "ml.constant"() {value = dense<[1, -2, 3]> : tensor<3xi32>}
func.func @cast_constant() -> tensor<3xi32> {
  %c = "ml.constant"() {value = dense<[1.5, -2.5, 3.0]> : tensor<3xf32>} : () -> tensor<3xf32>
  %i = "ml.cast"(%c) {to = i32} : (tensor<3xf32>) -> tensor<3xi32>
  "func.return"(%i) : (tensor<3xi32>) -> ()
}
