"""mlir-lite: a Python graph IR and optimizing compiler for deep-learning models."""
from __future__ import annotations

from . import dialects  # noqa: F401  (registers every op)
from .attributes import UNIT, DenseAttr, FileLineColLoc, Location, NameLoc, SymbolRef, UNKNOWN_LOC
from .core import Block, BlockArgument, Operation, OpResult, Region, Use, Value
from .dialects.builtin import Module, ModuleOp
from .dialects.func import FuncOp
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .types import *  # noqa: F401,F403
from .types import __all__ as _types_all

__version__ = "0.1.0"



def __getattr__(name: str):  # noqa: ANN202
    # Front doors to the higher layers, imported on first use so that the IR itself never
    # depends on them (and `import mlir_lite` stays fast).
    if name == "import_onnx":
        from .frontends.onnx import import_onnx
        return import_onnx
    raise AttributeError(f"module 'mlir_lite' has no attribute {name!r}")


__all__ = ["import_onnx", "Module", "ModuleOp", "FuncOp", "Operation", "Value", "OpResult", "BlockArgument",
           "Block", "Region", "Use", "DenseAttr", "SymbolRef", "UNIT", "Location", "NameLoc",
           "FileLineColLoc", "UNKNOWN_LOC", "__version__"] + list(_errors_all) + list(_types_all)
