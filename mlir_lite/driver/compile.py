"""The one compile driver: a model in, the pipeline of its level and target, a compiled function
out. Every entry point that compiles calls `compile` (the CLI's `compile`/`bench`/`plan`, the
ONNX backend API, the DSL's `Session` and `@jit`, the eager VJPs, the benchmarks).

    fn = compile("model.onnx")                                  # -O2 for this CPU
    fn = compile(module, CompileOptions(target="cuda", opt_level=1))
    outs = fn(x, w)                                             # numpy arrays in and out
    fn.module, fn.pipeline                                      # the IR it lowered, and how
    info = compile_to_artifact("model.onnx", "model.mlc")       # the same, written to a file

`compile` never changes the module it is given: it optimises a copy. The pipeline comes from the
table in pipeline.py (`pipeline_for(options)`); the executor (executors.py) named by
`options.target` turns the optimised function into a callable.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, TextIO, Tuple, Union

import numpy as np

from mlir_lite.errors import CompileError
from mlir_lite.ir.dialects.builtin import ModuleOp

from .executors import Executor, TvmExecutor, get_executor
from .pipeline import pipeline_text

__all__ = ["CompileOptions", "Compiled", "compile", "optimize", "pipeline_for", "load_source",
           "compile_to_artifact", "CompileInfo"]


@dataclass(frozen=True)
class CompileOptions:
    """How to compile. `target`: an executor or its name ("cpu" = "tvm", "cuda", "interpreter",
    or one registered with `register_executor`); `opt_level` 0-3 (pipeline.py); `arch`/`mcpu`
    the CUDA architecture / LLVM CPU (default: sm_80 / this machine); `tune`: MetaSchedule
    trials for the heaviest CPU kernels (0: only apply the tuning database in `tune_dir`);
    `func`: the function to compile; IR dumps and timings go to `stream` (default stderr)."""

    target: Union[str, Executor] = "cpu"
    opt_level: int = 2
    arch: Optional[str] = None
    mcpu: Optional[str] = None
    tune: Optional[int] = None
    tune_dir: Optional[str] = None
    func: str = "main"
    verify_each: bool = True
    print_ir_after_all: bool = False
    timing: bool = False
    stream: Optional[TextIO] = field(default=None, compare=False)


@dataclass
class CompileInfo:
    """What a compile produced besides the function: names and per-phase seconds."""

    input_names: List[str]
    output_names: List[str]
    timings: Dict[str, float] = field(default_factory=dict)


class Compiled:
    """A compiled function: call it with arrays (positionally, in `input_names` order).

    `module` is the IR the executor lowered, `pipeline` the passes that made it from the input,
    `executable` what the executor built (for TVM a `CompiledFunction`: kernels, plan, source),
    `info` the names and phase timings."""

    def __init__(self, fn: Any, module: ModuleOp, pipeline: str, options: CompileOptions,
                 info: CompileInfo) -> None:
        self.fn = fn
        self.module = module
        self.pipeline = pipeline
        self.options = options
        self.info = info

    @property
    def executable(self) -> Any:
        return getattr(self.fn, "compiled", self.fn)

    @property
    def input_names(self) -> List[str]:
        return self.info.input_names

    @property
    def output_names(self) -> List[str]:
        return self.info.output_names

    def __call__(self, *arrays: Any) -> List[np.ndarray]:
        result: List[np.ndarray] = self.fn(*arrays)
        return result

    def __repr__(self) -> str:
        target = self.options.target
        name = target if isinstance(target, str) else target.name
        return (f"<Compiled @{self.options.func} for {name} at "
                f"-O{self.options.opt_level}: {self.pipeline or 'no passes'}>")


def _options(options: Optional[CompileOptions], overrides: Dict[str, Any]) -> CompileOptions:
    opts = options if options is not None else CompileOptions()
    if overrides:
        unknown = sorted(set(overrides) - set(CompileOptions.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unknown compile option(s): {', '.join(unknown)}")
        opts = replace(opts, **overrides)
    if opts.opt_level not in (0, 1, 2, 3):
        raise CompileError(f"optimisation level must be 0 to 3, got {opts.opt_level}")
    return opts


def pipeline_for(options: Optional[CompileOptions] = None, **overrides: Any) -> str:
    """The pass pipeline `compile` runs for `options` (a string for `mlir-lite opt -p`)."""
    opts = _options(options, overrides)
    ex = get_executor(opts.target)
    return pipeline_text(ex.kind, opts.opt_level, ex.facts(opts))


def optimize(module: ModuleOp, options: Optional[CompileOptions] = None,
             **overrides: Any) -> str:
    """Run the pipeline of `options` over `module` in place; return the pipeline it ran."""
    from mlir_lite.passes.registry import run_pipeline
    opts = _options(options, overrides)
    pipeline = pipeline_for(opts)
    stream = opts.stream or sys.stderr
    if pipeline:
        run_pipeline(module, pipeline, verify_each=opts.verify_each,
                     print_ir_after_all=opts.print_ir_after_all, timing=opts.timing,
                     stream=stream)
    elif opts.print_ir_after_all:
        from mlir_lite.ir.printer import print_module
        stream.write("// -----// IR (no passes) //----- //\n" + print_module(module))
    return pipeline


def load_source(source: Any, func: str = "main"
                ) -> Tuple[ModuleOp, List[str], Optional[List[str]]]:
    """The module, the input names of `func` and (when known) its output names, of a model
    given as a path (.onnx, or .mlir / "-" for stdin), ONNX bytes, an onnx ModelProto or a
    built module."""
    if isinstance(source, ModuleOp):
        return source, _arg_names(source, func), None
    if isinstance(source, str) and (source.endswith(".mlir") or source == "-"):
        from mlir_lite.ir.verifier import verify

        from .cli import read_module
        module = read_module(source)
        verify(module)
        return module, _arg_names(module, func), _return_names(module, func)
    from mlir_lite.frontends.onnx import import_onnx_with_names
    module, _, outs = import_onnx_with_names(source)
    return module, _arg_names(module, func), outs


def _arg_names(module: ModuleOp, func: str = "main") -> List[str]:
    f = _main(module, func)
    return [a.name_hint or f"arg{i}" for i, a in enumerate(f.args)]


def _main(module: ModuleOp, func: str = "main") -> Any:
    try:
        return module[func]
    except KeyError:
        raise CompileError(f"the module has no function @{func}") from None


def _return_names(module: ModuleOp, func: str = "main") -> Optional[List[str]]:
    ret = _main(module, func).entry_block.last_op
    names = [v.name_hint for v in ret.operands] if ret is not None else []
    if names and all(names) and len(set(names)) == len(names):
        return list(names)
    return None


def compile(source: Any, options: Optional[CompileOptions] = None,  # noqa: A001 - the API
            **overrides: Any) -> Compiled:
    """Compile `source` (a module, a path to .onnx/.mlir, ONNX bytes or a ModelProto) with
    `options` (fields may also be given as keywords: `compile(m, target="cuda")`)."""
    opts = _options(options, overrides)
    executor: Executor = get_executor(opts.target)
    timings: Dict[str, float] = {}
    t0 = time.perf_counter()
    module, ins, outs = load_source(source, opts.func)
    if module is source:
        module = module.clone()
    timings["import"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline = optimize(module, opts)
    timings["passes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fn = executor.compile(module, opts.func, opts)
    timings["codegen"] = time.perf_counter() - t0
    n_out = len(module[opts.func].attr("function_type").results)
    if outs is None or len(outs) != n_out:
        outs = [f"out{i}" for i in range(n_out)]
    return Compiled(fn, module, pipeline, opts, CompileInfo(ins, outs, timings))


def compile_to_artifact(source: Any, path: str, options: Optional[CompileOptions] = None,
                        **overrides: Any) -> CompileInfo:
    """`compile(source, options)` for a TVM target, written as an artifact (.mlc) that
    `mlir_lite.load` runs with numpy and TVM's runtime only."""
    from mlir_lite.backends.tvm.artifact import save_artifact
    opts = _options(options, overrides)
    if not isinstance(get_executor(opts.target), TvmExecutor):  # refused before any work
        raise CompileError(f"target {opts.target!r} makes no artifact (a TVM target does: "
                           "cpu or cuda)")
    compiled = compile(source, opts)
    exe = compiled.executable
    t0 = time.perf_counter()
    extra: Dict[str, Any] = {"opt_level": compiled.options.opt_level,
                             "pipeline": compiled.pipeline}
    if isinstance(source, str) and source != "-":
        extra["source"] = os.path.abspath(source)
    save_artifact(exe, path, compiled.input_names, compiled.output_names, extra)
    compiled.info.timings["write"] = time.perf_counter() - t0
    return compiled.info
