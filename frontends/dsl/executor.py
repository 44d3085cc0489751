"""The seam between the DSLs and whatever runs the IR: an `Executor` compiles one function of a
module into a Python callable `fn(*arrays) -> list of arrays`.

    sess = tf.Session(executor="tvm")                       # pick one per session
    register_executor("tvm", TvmExecutor(), default=True)   # or make it every session's

The reference interpreter is the built-in executor (and the default until a compiled backend
is made the default: `register_executor("tvm", TvmExecutor(), default=True)`).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Protocol, Union

import numpy as np

from mlir_lite.dialects.builtin import ModuleOp

__all__ = ["Executor", "InterpreterExecutor", "TvmExecutor", "register_executor", "get_executor",
           "EXECUTORS"]

Compiled = Callable[..., List[np.ndarray]]


class Executor(Protocol):
    """Compiles `func` of `module` (already through the pass pipeline) into a callable."""

    name: str

    def compile(self, module: ModuleOp, func: str) -> Compiled: ...


class InterpreterExecutor:
    """Runs functions with the numpy reference interpreter."""

    name = "interpreter"

    def compile(self, module: ModuleOp, func: str) -> Compiled:
        from mlir_lite.interpreter import Interpreter
        interp = Interpreter(module)
        f = module[func]
        return lambda *arrays: interp.run(f, *arrays)


class TvmExecutor:
    """Compiles functions with the TVM backend for this machine's CPU (imported on first use)."""

    name = "tvm"

    def compile(self, module: ModuleOp, func: str) -> Compiled:
        from mlir_lite.backends.tvm import compile_function
        return compile_function(module, func)


EXECUTORS: Dict[str, Executor] = {"interpreter": InterpreterExecutor(), "tvm": TvmExecutor()}
_DEFAULT = ["interpreter"]


def register_executor(name: str, executor: Executor, default: bool = False) -> None:
    """Make `executor` available as `name` (and the default for new sessions if asked)."""
    EXECUTORS[name] = executor
    if default:
        _DEFAULT[0] = name


def get_executor(which: Union[str, Executor, None] = None) -> Executor:
    """The executor named `which` (the default when None), or `which` itself."""
    if which is None:
        which = _DEFAULT[0]
    if isinstance(which, str):
        try:
            return EXECUTORS[which]
        except KeyError:
            raise ValueError(f"unknown executor {which!r} (registered: "
                             f"{', '.join(sorted(EXECUTORS))})") from None
    return which
