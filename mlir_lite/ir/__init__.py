"""The IR layer: types, values and ops, the dialects, the printer/parser/verifier and the
reference interpreter. It imports nothing above it (no passes, frontends, backends, driver,
TVM or onnx); the import-direction test (tests/test_layers.py) holds it to that.

Importing this package registers every op (`mlir_lite.ir.dialects`)."""
from __future__ import annotations

from mlir_lite.ir import types
from mlir_lite.ir.attributes import (
                                     UNIT,
                                     UNKNOWN_LOC,
                                     DenseAttr,
                                     FileLineColLoc,
                                     Location,
                                     NameLoc,
                                     SymbolRef,
)
from mlir_lite.ir.core import Block, BlockArgument, Operation, OpResult, Region, Use, Value
from mlir_lite.ir.dialects.builtin import Module, ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import *  # noqa: F403

__all__ = ["types", "UNIT", "UNKNOWN_LOC", "DenseAttr", "FileLineColLoc", "Location", "NameLoc",
           "SymbolRef", "Block", "BlockArgument", "Operation", "OpResult", "Region", "Use",
           "Value", "Module", "ModuleOp", "FuncOp"] + list(types.__all__)
