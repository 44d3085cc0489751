"""The VJP rule table of reverse-mode autodiff, one module per op family.

    from mlir_lite.passes.autodiff_rules import VJP_RULES, vjp

Importing this package registers every rule below.
"""
# The imports register rules/passes; their order is deliberate.
# isort: skip_file
from .table import NON_DIFFERENTIABLE, VJP_RULES, VjpRule, no_gradient, vjp
from .context import VJPContext, is_float_type
from . import elementwise, linalg, nn, reduce, shape, index, control  # noqa: F401,E402
from .control import free_values  # noqa: E402

__all__ = ["VJP_RULES", "VjpRule", "vjp", "no_gradient", "NON_DIFFERENTIABLE", "VJPContext",
           "is_float_type", "free_values"]
