"""The `ml` dialect: the tensor operator set of CNNs, RNNs, Transformers and MoE models.

One module per op family; importing this package registers all of them.
"""
from mlir_lite.ir.dialects.ml import (
    dynamic,  # noqa: F401
    folds,  # noqa: F401  (fold hooks; imported last, after every op is declared)
    fused,  # noqa: F401  (ml.fused / ml.yield: kernels formed by the fusion pass)
    index,  # noqa: F401
    layout,  # noqa: F401  (ml.conv_nchwc: the blocked-layout pass)
    linalg,  # noqa: F401
    math,  # noqa: F401
    nn,  # noqa: F401
    quant,  # noqa: F401
    reduce,  # noqa: F401
    rnn,  # noqa: F401
    shape,  # noqa: F401
)
