"""The ONNX backend conformance runner and its regression test."""
