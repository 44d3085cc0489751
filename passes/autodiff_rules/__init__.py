"""The VJP rule table of reverse-mode autodiff, one module per op family.

    from mlir_lite.passes.autodiff_rules import VJP_RULES, vjp

Importing this package registers every rule below.
"""
from . import control, elementwise, index, linalg, nn, reduce, shape  # noqa: F401,E402
from .context import VJPContext, is_float_type
from .control import free_values  # noqa: E402
from .table import NON_DIFFERENTIABLE, VJP_RULES, VjpRule, no_gradient, vjp

__all__ = ["VJP_RULES", "VjpRule", "vjp", "no_gradient", "NON_DIFFERENTIABLE", "VJPContext",
           "is_float_type", "free_values"]
