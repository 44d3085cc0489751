"""The ONNX converters, one module per op family; importing this package registers them all."""
from . import (
    control,  # noqa: F401
    elementwise,  # noqa: F401
    index,  # noqa: F401
    nn,  # noqa: F401
    quant,  # noqa: F401
    reduce,  # noqa: F401
    rnn,  # noqa: F401
    shape,  # noqa: F401
)
