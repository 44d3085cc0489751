"""The executors: what turns one optimised function into `fn(*arrays) -> list of arrays`.

    compile(module, target="cpu")                           # TVM kernels for this CPU
    compile(module, target="interpreter")                   # the numpy reference interpreter
    register_executor("mine", MyExecutor(), default=True)   # a compiled path of your own

One registry serves every entry point: `mlir_lite.driver.compile`, the DSL's `Session` and
`@jit` (`executor=` names one; the default is "tvm", this CPU), and the ONNX backend API
(`prepare(..., executor=...)`, with the devices each executor runs on). An executor names the
column of the pipeline table (pipeline.py) its input is optimised with, and the facts of its
target that the table's entries use (`$lanes`). TVM is imported only when a TVM executor
compiles or is asked for its facts.
"""
from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from mlir_lite.errors import CompileError, ExecutionError
from mlir_lite.ir.dialects.builtin import ModuleOp

if TYPE_CHECKING:
    from mlir_lite.driver.compile import CompileOptions

__all__ = ["Executor", "InterpreterExecutor", "TvmExecutor", "register_executor", "get_executor",
           "executor_devices", "EXECUTORS", "Compiled"]

Compiled = Callable[..., List[np.ndarray]]


class Executor(Protocol):
    """Compiles `func` of `module` (already through the pipeline of `kind`) into a callable."""

    name: str
    kind: str  # the column of pipeline.PIPELINES: "llvm", "cuda", "interpreter"

    def facts(self, options: "CompileOptions") -> Mapping[str, object]: ...

    def compile(self, module: ModuleOp, func: str, options: "CompileOptions") -> Compiled: ...


class InterpreterExecutor:
    """Runs functions with the numpy reference interpreter."""

    name = "interpreter"
    kind = "interpreter"

    def facts(self, options: "CompileOptions") -> Mapping[str, object]:
        return {}

    def compile(self, module: ModuleOp, func: str, options: "CompileOptions") -> Compiled:
        from mlir_lite.ir.interpreter import Interpreter
        interp = Interpreter(module)
        f = module[func]
        return lambda *arrays: interp.run(f, *arrays)


class TvmExecutor:
    """Compiles functions with the TVM backend, for this CPU (`device="cpu"`, the LLVM target
    for `options.mcpu` or this machine) or for CUDA (`options.arch`, default sm_80)."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.name = "tvm" if device == "cpu" else f"tvm-{device}"
        self.kind = "llvm" if device == "cpu" else device

    def target(self, options: "CompileOptions") -> Any:
        from mlir_lite.backends.tvm import resolve_target
        return resolve_target(self.device, options.arch, options.mcpu)

    def facts(self, options: "CompileOptions") -> Mapping[str, object]:
        from mlir_lite.backends.tvm import target_facts
        return target_facts(self.target(options))

    def compile(self, module: ModuleOp, func: str, options: "CompileOptions") -> Compiled:
        from mlir_lite.backends.tvm import compile_function
        tune = None
        if options.tune is not None:
            from mlir_lite.backends.tvm.tune import TuneOptions
            tune = TuneOptions(trials=options.tune, directory=options.tune_dir,
                               stream=options.stream)
        fn = compile_function(module, func, self.target(options), tune=tune)
        return _located(fn, module[func])


def _located(fn: Any, func_op: Any) -> Compiled:
    """`fn`, whose run-time errors carry the op's Location instead of its text (the compiled
    plan keeps locations as strings so that it can be saved)."""
    locs = {str(op.loc): op.loc for op in func_op.walk() if op.loc is not None}

    def run(*arrays: Any) -> List[np.ndarray]:
        try:
            result: List[np.ndarray] = fn(*arrays)
            return result
        except ExecutionError as e:
            if isinstance(e.loc, str) and e.loc in locs:
                raise ExecutionError(e.message, locs[e.loc]) from e
            raise
    run.compiled = fn  # type: ignore[attr-defined]  # a function attribute: kernels, plan, source
    return run


_CPU = TvmExecutor("cpu")
EXECUTORS: Dict[str, Executor] = {"interpreter": InterpreterExecutor(), "tvm": _CPU, "cpu": _CPU,
                                  "cuda": TvmExecutor("cuda")}
# the ONNX backend API's devices of each executor
_DEVICES: Dict[str, Tuple[str, ...]] = {"interpreter": ("CPU",), "tvm": ("CPU", "CUDA"),
                                        "cpu": ("CPU",), "cuda": ("CUDA",)}
_DEFAULT = ["tvm"]


def register_executor(name: str, executor: Executor, default: bool = False,
                      devices: Sequence[str] = ("CPU",)) -> None:
    """Make `executor` available as `name` (`compile(target=name)`, `Session(executor=name)`,
    `prepare(executor=name)` on `devices`), and the DSL's default if asked."""
    EXECUTORS[name] = executor
    _DEVICES[name] = tuple(d.upper() for d in devices)
    if default:
        _DEFAULT[0] = name


def executor_devices(name: str) -> Tuple[str, ...]:
    """The ONNX backend devices ("CPU", "CUDA") executor `name` runs on."""
    return _DEVICES.get(name, ("CPU",))


def get_executor(which: Union[str, Executor, None] = None, device: Optional[str] = None
                 ) -> Executor:
    """The executor named `which` (the default when None), or `which` itself; `device="CUDA"`
    picks the CUDA variant of the TVM executor."""
    if which is None:
        which = _DEFAULT[0]
    if isinstance(which, str):
        if which == "tvm" and device is not None and device.upper() == "CUDA":
            which = "cuda"
        try:
            return EXECUTORS[which]
        except KeyError:
            raise CompileError(f"unknown executor or target {which!r} (registered: "
                               f"{', '.join(sorted(EXECUTORS))})") from None
    return which
