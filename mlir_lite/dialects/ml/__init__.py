"""The `ml` dialect: the tensor operator set of CNNs, RNNs, Transformers and MoE models.

One module per op family; importing this package registers all of them.
"""
from . import math  # noqa: F401
from . import linalg  # noqa: F401
from . import reduce  # noqa: F401
from . import nn  # noqa: F401
from . import layout  # noqa: F401  (ml.conv_nchwc: the blocked-layout pass)
from . import rnn  # noqa: F401
from . import shape  # noqa: F401
from . import index  # noqa: F401
from . import dynamic  # noqa: F401
from . import quant  # noqa: F401
from . import fused  # noqa: F401  (ml.fused / ml.yield: kernels formed by the fusion pass)
from . import folds  # noqa: F401  (fold hooks; imported last, after every op is declared)
