"""`from mlir_lite.dsl import eager as F`: the imperative DSL's tensors, ops and optimizers
(see mlir_lite.frontends.dsl.eager and .functional)."""
from mlir_lite.frontends.dsl.eager import (
                                           Tensor,
                                           as_eager,
                                           enable_grad,
                                           from_numpy,
                                           is_grad_enabled,
                                           no_grad,
                                           ones,
                                           randn,
                                           tensor,
                                           zeros,
)
from mlir_lite.frontends.dsl.functional import *  # noqa: F401,F403
from mlir_lite.frontends.dsl.functional import __all__ as _functional_all
from mlir_lite.frontends.dsl.optim import SGD

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "zeros", "ones",
           "randn", "from_numpy", "as_eager", "SGD"] + list(_functional_all)
