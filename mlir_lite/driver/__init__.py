"""The driver layer: the one `compile` (compile.py), the pipeline table (pipeline.py), the
executor registry shared by the DSL and the ONNX backend API (executors.py), the CLI (cli.py
and its subcommands) and the ONNX backend API (onnx_backend.py).

    from mlir_lite.driver import compile, CompileOptions
    fn = compile("model.onnx", CompileOptions(target="cpu", opt_level=2))
"""
from __future__ import annotations

from mlir_lite.driver.compile import (
                                      Compiled,
                                      CompileInfo,
                                      CompileOptions,
                                      compile,
                                      compile_to_artifact,
                                      load_source,
                                      optimize,
                                      pipeline_for,
)
from mlir_lite.driver.executors import (
                                      EXECUTORS,
                                      Executor,
                                      InterpreterExecutor,
                                      TvmExecutor,
                                      get_executor,
                                      register_executor,
)
from mlir_lite.driver.pipeline import LEVELS, PIPELINES

__all__ = ["compile", "CompileOptions", "Compiled", "CompileInfo", "compile_to_artifact",
           "load_source", "optimize", "pipeline_for", "EXECUTORS", "Executor",
           "InterpreterExecutor", "TvmExecutor", "get_executor", "register_executor", "LEVELS",
           "PIPELINES"]
