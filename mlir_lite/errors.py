"""One exception hierarchy for every layer; each error carries a location when one is known."""
from __future__ import annotations

from typing import Any

__all__ = [
    "MlirLiteError", "ParseError", "VerifyError", "InferenceError", "PassError",
    "PipelineError", "OnnxImportError", "UnsupportedOpError", "CompileError",
    "ExecutionError", "DslError",
]


class MlirLiteError(Exception):
    """Base of every error raised by mlir-lite. `loc` names where the problem is."""

    def __init__(self, message: str, loc: Any = None) -> None:
        self.message = message
        self.loc = loc
        super().__init__(self._format())

    def _format(self) -> str:
        if self.loc is None or str(self.loc) in ("", "loc(unknown)"):
            return self.message
        return f"{self.loc}: {self.message}"


class ParseError(MlirLiteError):
    """Malformed IR text; `loc` is `file:line:col`."""


class VerifyError(MlirLiteError):
    """IR that breaks a structural, typing or op-specific rule."""


class InferenceError(VerifyError):
    """Operand types or attributes from which an op cannot infer its result types."""


class PassError(MlirLiteError):
    """A pass failed, or left IR that does not verify."""


class PipelineError(MlirLiteError):
    """A pipeline string names an unknown pass or a bad option."""


class OnnxImportError(MlirLiteError):
    """An ONNX model that cannot be imported (malformed, hostile or contradictory)."""


class UnsupportedOpError(OnnxImportError):
    """Operators that have no converter; lists every one of them, not only the first."""


class CompileError(MlirLiteError):
    """The backend could not compile the IR."""


class ExecutionError(MlirLiteError):
    """Running a module failed (bad inputs, out-of-range indices, ...)."""


class DslError(MlirLiteError):
    """A Python DSL program that cannot be built or run (an unfed placeholder, a shape that does
    not match); `loc` is the Python `file:line:col` where the offending tensor was created."""
