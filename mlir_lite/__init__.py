"""mlir-lite: a Python graph IR and optimizing compiler for deep-learning models.

`import mlir_lite` is light: the IR (ops, types, dialects) and the higher layers are imported on
first use of one of their names, so that `mlir_lite.load("model.mlc")` runs a compiled model
with numpy and TVM's runtime only. The op registry imports the dialects on its first lookup
(`core.OP_REGISTRY`), so no import order can leave an op unregistered.
"""
from __future__ import annotations

import importlib
from typing import Any, List

from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all

__version__ = "0.1.0"

# name -> the module that defines it (relative to this package)
_LAZY = {
    "UNIT": ".attributes", "DenseAttr": ".attributes", "FileLineColLoc": ".attributes",
    "Location": ".attributes", "NameLoc": ".attributes", "SymbolRef": ".attributes",
    "UNKNOWN_LOC": ".attributes",
    "Block": ".core", "BlockArgument": ".core", "Operation": ".core", "OpResult": ".core",
    "Region": ".core", "Use": ".core", "Value": ".core",
    "Module": ".dialects.builtin", "ModuleOp": ".dialects.builtin", "FuncOp": ".dialects.func",
    # the front doors to the higher layers
    "import_onnx": ".frontends.onnx",
    "load": ".runtime",
    # `mlir_lite.tensor(data, requires_grad=...)` is the eager tensor; the type shorthand stays
    # `mlir_lite.types.tensor(shape, dtype)`.
    "tensor": ".frontends.dsl.eager",
    "Tensor": ".frontends.dsl.eager", "no_grad": ".frontends.dsl.eager",
    "jit": ".frontends.dsl.jit", "cond": ".frontends.dsl.jit",
}
_NAMES = ["import_onnx", "load", "tensor", "Tensor", "no_grad", "jit", "cond", "Module",
          "ModuleOp", "FuncOp", "Operation", "Value", "OpResult", "BlockArgument", "Block", "Region", "Use", "DenseAttr", "SymbolRef", "UNIT",
          "Location", "NameLoc", "FileLineColLoc", "UNKNOWN_LOC", "__version__"]


def _types_all() -> List[str]:
    return list(importlib.import_module(".types", __name__).__all__)


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return _NAMES + list(_errors_all) + _types_all()
    where = _LAZY.get(name)
    if where is None and not name.startswith("__"):
        types = importlib.import_module(".types", __name__)
        if name in types.__all__:
            where = ".types"
    if where is None:
        try:  # a subpackage, e.g. `mlir_lite.dialects` after a bare `import mlir_lite`
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'mlir_lite' has no attribute {name!r}") from None
    if where.startswith((".attributes", ".core", ".dialects", ".types")):
        importlib.import_module(".dialects", __name__)  # the IR comes with its ops registered
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_NAMES) | set(_errors_all))

