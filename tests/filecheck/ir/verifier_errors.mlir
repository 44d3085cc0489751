// RUN: mlir-lite verify --split-input-file %s 2>&1 | filecheck %s
// Each chunk is malformed in one way; the verifier names the op, its location and the problem.

func.func @use_before_def(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = "ml.relu"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%a) : (tensor<4xf32>) -> ()
}
func.func @wrong_result_type(%x: tensor<4xf32>) -> tensor<5xf32> {
  %a = "ml.relu"(%x) : (tensor<4xf32>) -> tensor<5xf32> loc("relu_bad")
  "func.return"(%a) : (tensor<5xf32>) -> ()
}
// CHECK: error: loc("relu_bad"): ml.relu: result #0 has type tensor<5xf32> but its operands give tensor<4xf32>

// -----

func.func @missing_attr(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = "ml.constant"() : () -> tensor<4xf32> loc("c0")
  "func.return"(%c) : (tensor<4xf32>) -> ()
}
// CHECK: error: loc("c0"): ml.constant requires attribute 'value'

// -----

func.func @bad_return(%x: tensor<4xf32>) -> tensor<4xi64> {
  "func.return"(%x) : (tensor<4xf32>) -> () loc("ret")
}
// CHECK: error: loc("ret"): func.return returns (tensor<4xf32>) but @bad_return declares

// -----

func.func @region_value_escapes(%c: tensor<i1>, %x: tensor<4xf32>) -> tensor<4xf32> {
  %r = "scf.if"(%c) ({
    %in = "ml.neg"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    "scf.yield"(%in) : (tensor<4xf32>) -> ()
  }, {
    "scf.yield"(%x) : (tensor<4xf32>) -> ()
  }) : (tensor<i1>) -> tensor<4xf32>
  %bad = "ml.relu"(%in) : (tensor<4xf32>) -> tensor<4xf32> loc("escapes")
  "func.return"(%bad) : (tensor<4xf32>) -> ()
}
// CHECK: error: loc("escapes"): ml.relu: operand #0 (result #0 of ml.neg) does not dominate this use

// -----

func.func @if_yield_mismatch(%c: tensor<i1>, %x: tensor<4xf32>) -> tensor<4xf32> {
  %r = "scf.if"(%c) ({
    "scf.yield"(%c) : (tensor<i1>) -> ()
  }, {
    "scf.yield"(%x) : (tensor<4xf32>) -> ()
  }) : (tensor<i1>) -> tensor<4xf32> loc("the_if")
  "func.return"(%r) : (tensor<4xf32>) -> ()
}
// CHECK: error: loc("the_if"): scf.if: yield of region #0 has types (tensor<i1>) but (tensor<4xf32>) are expected

// -----

func.func @dup() -> () {
  "func.return"() : () -> ()
}
func.func @dup() -> () {
  "func.return"() : () -> ()
} loc("second")
// CHECK: error: loc("second"): symbol @dup is defined twice in the module

// -----

func.func @parse_error(%x: tensor<4xf32>) -> tensor<4xf32> {
  "func.return"(%y) : (tensor<4xf32>) -> ()
}
// CHECK: error: {{.*}}verifier_errors.mlir:[[# @LINE - 2]]:17: use of undefined value %y
