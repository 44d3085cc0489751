"""`import mlir_lite.backend as backend`: the ONNX backend API (onnx.backend.base.Backend).

The public name of `mlir_lite.driver.onnx_backend`, where it is implemented."""
from __future__ import annotations

from mlir_lite.driver.onnx_backend import *  # noqa: F403
from mlir_lite.driver.onnx_backend import __all__  # noqa: F401
