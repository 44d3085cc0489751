"""The Python DSLs: symbolic (TensorFlow 1 style, `symbolic.py`) and imperative (PyTorch
style, `eager.py` and `functional.py`), plus `datasets.py` for the examples.

Users reach them through `mlir_lite.dsl` (`import mlir_lite.dsl as tf`),
`mlir_lite.dsl.eager` and `mlir_lite.tensor` / `mlir_lite.Tensor`. This package re-exports the
symbolic namespace.
"""
from .symbolic import *  # noqa: F401,F403
from .symbolic import __all__  # noqa: F401
