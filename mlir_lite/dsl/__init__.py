"""`import mlir_lite.dsl as tf`: the symbolic (TensorFlow 1 style) DSL.

A front door to `mlir_lite.frontends.dsl.symbolic`; `mlir_lite.dsl.datasets` has `get_mnist`
and `mlir_lite.dsl.eager` the imperative API. The IR package itself never imports this.
"""
from mlir_lite.frontends.dsl.symbolic import *  # noqa: F401,F403
from mlir_lite.frontends.dsl.symbolic import __all__  # noqa: F401
