"""`from mlir_lite.dsl.datasets import get_mnist` (see mlir_lite.frontends.dsl.datasets)."""
from mlir_lite.frontends.dsl.datasets import DataSet, Datasets, get_mnist

__all__ = ["get_mnist", "DataSet", "Datasets"]
