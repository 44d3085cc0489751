"""The TVM backend: lower `ml` ops to TVM tensor expressions, schedule them, compile them for
the CPU (LLVM) or CUDA, and run the result through a data-only execution plan.

    from mlir_lite.backends.tvm import compile_function
    f = compile_function(module)          # this machine's CPU
    outs = f(x, w)                        # numpy arrays in, numpy arrays out
"""
from __future__ import annotations

import os

os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))  # before TVM's pool starts

from .build import (  # noqa: E402
                    CompiledFunction,
                    KernelInfo,
                    compile_function,
                    cuda_target,
                    host_target,
                    resolve_target,
                    target_facts,
                    unsupported_ops,
)
from .executor import Executor, Plan  # noqa: E402
from .lower import KINDS, LOWERING, LowerContext, lower  # noqa: E402

__all__ = ["compile_function", "CompiledFunction", "KernelInfo", "host_target", "cuda_target",
           "resolve_target", "target_facts", "unsupported_ops", "Executor", "Plan", "LOWERING",
           "KINDS", "LowerContext", "lower"]
