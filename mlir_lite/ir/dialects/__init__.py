"""The dialects. Importing this package registers every op."""
from mlir_lite.ir.dialects import builtin, func, ml, scf, cf  # noqa: F401

__all__ = ["builtin", "func", "ml", "scf", "cf"]
