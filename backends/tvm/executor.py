"""The execution plan and its executor live in `mlir_lite.runtime.plan`, which needs only numpy and
TVM's runtime, so that a saved artifact runs without the compiler; re-exported here."""
from __future__ import annotations

from mlir_lite.runtime.plan import (
                            BindStep,
                            BufferSpec,
                            Executor,
                            ForStep,
                            IfStep,
                            KernelCall,
                            Plan,
                            ViewStep,
                            WhileStep,
)

__all__ = ["BufferSpec", "KernelCall", "ViewStep", "BindStep", "IfStep", "ForStep", "WhileStep",
           "Plan", "Executor"]
