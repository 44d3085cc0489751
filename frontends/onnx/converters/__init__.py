"""The ONNX converters, one module per op family; importing this package registers them all."""
# The imports register rules/passes; their order is deliberate.
# isort: skip_file
from . import control  # noqa: F401
from . import elementwise  # noqa: F401
from . import index  # noqa: F401
from . import nn  # noqa: F401
from . import quant  # noqa: F401
from . import reduce  # noqa: F401
from . import rnn  # noqa: F401
from . import shape  # noqa: F401
from . import ml_domain  # noqa: F401
