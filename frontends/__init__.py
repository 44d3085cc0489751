"""The frontends: ONNX models (`onnx/`) and the Python DSL (`dsl/`) into mlir-lite IR."""
