"""The runtime layer: load an artifact and execute its plan with numpy and TVM's runtime only.

`load` (loader.py) reads the artifact; `plan.py` is the plan's format and its executor;
`arena.py` the memory plan's format. Nothing here imports the IR or the compiler."""
from __future__ import annotations

from mlir_lite.runtime.loader import *  # noqa: F403
from mlir_lite.runtime.loader import __all__  # noqa: F401
