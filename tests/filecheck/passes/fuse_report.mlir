// RUN: mlir-lite opt %s -p "fuse{report=true}" -o /dev/null 2>&1 | filecheck %s
// The report lists the groups and, for each adjacent pair left apart, the rule that decided.

// CHECK:      // fusion report: 4 kernels -> 3, 1 fused group(s)
// CHECK-NEXT: group fused_exp_reduce_sum [reduction] (1 in, 1 out): ml.exp@e, ml.reduce_sum@s
// CHECK-DAG:  unfused ml.reduce_sum@s -> ml.sub@d: [epilogue-shape] ml.sub broadcasts the ml.reduce_sum output to another shape
// CHECK-DAG:  unfused ml.sub@d -> ml.topk@t: [fusible-ops] ml.topk is opaque to fusion (has no fusion pattern)
module {
  func.func @main(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
    %e = "ml.exp"(%x) : (tensor<2x5xf32>) -> tensor<2x5xf32> loc("e")
    %s = "ml.reduce_sum"(%e) {axes = array<i64: 1>, keepdims = true} : (tensor<2x5xf32>) -> tensor<2x1xf32> loc("s")
    %d = "ml.sub"(%x, %s) : (tensor<2x5xf32>, tensor<2x1xf32>) -> tensor<2x5xf32> loc("d")
    %t:2 = "ml.topk"(%d) {k = 5 : i64} : (tensor<2x5xf32>) -> (tensor<2x5xf32>, tensor<2x5xi64>) loc("t")
    "func.return"(%t#0) : (tensor<2x5xf32>) -> ()
  }
}
