"""The `ml` dialect: the tensor operator set of CNNs, RNNs, Transformers and MoE models.

One module per op family; importing this package registers all of them, in this order (the
fold hooks need every op declared first).
"""
# isort: skip_file
from mlir_lite.ir.dialects.ml import math  # noqa: F401
from mlir_lite.ir.dialects.ml import linalg  # noqa: F401
from mlir_lite.ir.dialects.ml import reduce  # noqa: F401
from mlir_lite.ir.dialects.ml import nn  # noqa: F401
from mlir_lite.ir.dialects.ml import layout  # noqa: F401  (ml.conv_nchwc: the blocked-layout pass)
from mlir_lite.ir.dialects.ml import rnn  # noqa: F401
from mlir_lite.ir.dialects.ml import shape  # noqa: F401
from mlir_lite.ir.dialects.ml import index  # noqa: F401
from mlir_lite.ir.dialects.ml import dynamic  # noqa: F401
from mlir_lite.ir.dialects.ml import quant  # noqa: F401
from mlir_lite.ir.dialects.ml import fused  # noqa: F401  (ml.fused / ml.yield: kernels formed by the fusion pass)
from mlir_lite.ir.dialects.ml import folds  # noqa: F401  (fold hooks; imported last, after every op is declared)
