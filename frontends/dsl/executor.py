"""The seam between the DSLs and whatever runs the IR: an `Executor` compiles one function of a
module into a Python callable `fn(*arrays) -> list of arrays`.

    sess = tf.Session()                                     # the default: "tvm"
    sess = tf.Session(executor="interpreter")               # pick one per session
    register_executor("mine", MyExecutor(), default=True)   # or make it every session's

The default is the compiled TVM path (kernels for this machine's CPU); the numpy reference
interpreter stays selectable by name. A compiled function's run-time errors (e.g. a symbolic
dim bound to two sizes) are re-raised at the `Location` of the op that raised them.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Protocol, Union

import numpy as np

from mlir_lite.dialects.builtin import ModuleOp
from mlir_lite.errors import ExecutionError

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
        return _located(compile_function(module, func), module[func])


def _located(fn: Any, func_op: Any) -> Compiled:
    """`fn`, whose run-time errors carry the op's Location instead of its text (the compiled
    plan keeps locations as strings so that it can be saved)."""
    locs = {str(op.loc): op.loc for op in func_op.walk() if op.loc is not None}

    def run(*arrays: Any) -> List[np.ndarray]:
        try:
            return fn(*arrays)
        except ExecutionError as e:
            if isinstance(e.loc, str) and e.loc in locs:
                raise ExecutionError(e.message, locs[e.loc]) from e
            raise
    run.compiled = fn  # type: ignore[attr-defined]  (kernels, plan, source for reports)
    return run


EXECUTORS: Dict[str, Executor] = {"interpreter": InterpreterExecutor(), "tvm": TvmExecutor()}
_DEFAULT = ["tvm"]


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
