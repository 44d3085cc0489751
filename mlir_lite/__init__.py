"""mlir-lite: a Python graph IR and optimizing compiler for deep-learning models.

The package is layered (README, "Architecture"): `mlir_lite.ir` (the IR and its interpreter),
`mlir_lite.passes`, `mlir_lite.frontends`, `mlir_lite.backends`, `mlir_lite.driver` (the one
`compile`, the CLI, the ONNX backend API) and `mlir_lite.runtime` (artifacts, with numpy and
TVM's runtime only). This module is the flat public surface over them. It imports each layer
on first use of one of its names, so that `mlir_lite.load("model.mlc")` runs a compiled model
without importing the IR or the compiler.
"""
from __future__ import annotations

from typing import Any, List

from mlir_lite.errors import *  # noqa: F403
from mlir_lite.errors import __all__ as _errors_all
from mlir_lite.version import __version__ as __version__

_IR_NAMES = ["Module", "ModuleOp", "FuncOp", "Operation", "Value", "OpResult", "BlockArgument",
             "Block", "Region", "Use", "DenseAttr", "SymbolRef", "UNIT", "Location", "NameLoc",
             "FileLineColLoc", "UNKNOWN_LOC", "types"]
_EAGER_NAMES = ["tensor", "Tensor", "no_grad"]
_NAMES = ["import_onnx", "load", "compile", "CompileOptions", "jit", "cond"] + _EAGER_NAMES \
    + _IR_NAMES + ["__version__"]
__all__ = _NAMES + list(_errors_all)


def _lookup(name: str) -> Any:  # noqa: C901 - one branch per layer, on purpose explicit
    """The public object `name`, imported from the layer that defines it."""
    if name in _IR_NAMES:
        from mlir_lite import ir
        return getattr(ir, name)
    if name == "load":
        from mlir_lite.runtime import load
        return load
    if name in ("compile", "CompileOptions"):
        from mlir_lite import driver
        return getattr(driver, name)
    if name == "import_onnx":
        from mlir_lite.frontends.onnx import import_onnx
        return import_onnx
    if name in _EAGER_NAMES:
        # `mlir_lite.tensor(data, requires_grad=...)` is the eager tensor; the type shorthand
        # is `mlir_lite.types.tensor(shape, dtype)`.
        from mlir_lite.frontends.dsl import eager
        return getattr(eager, name)
    if name in ("jit", "cond"):
        from mlir_lite.frontends.dsl import jit as jit_module
        return getattr(jit_module, name)
    if name in _ir_types_all():
        from mlir_lite.ir import types
        return getattr(types, name)
    raise AttributeError(f"module 'mlir_lite' has no attribute {name!r}")


def _ir_types_all() -> List[str]:
    from mlir_lite.ir import types
    return list(types.__all__)


def __getattr__(name: str) -> Any:
    value = _lookup(name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_NAMES) | set(_errors_all))
