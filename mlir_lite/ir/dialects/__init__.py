"""The dialects. Importing this package registers every op."""
from mlir_lite.ir.dialects import builtin, cf, func, ml, scf  # noqa: F401

__all__ = ["builtin", "func", "ml", "scf", "cf"]
