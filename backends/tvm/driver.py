"""From a model (ONNX file, `.mlir` file, ModelProto or module) to a compiled function or an
artifact: import, the pass pipeline of the optimisation level, lowering and code generation.

    fn, info = compile_model("model.onnx", target="cpu", opt_level=1)
    info = compile_to_artifact("model.onnx", "model.mlc")

Optimisation levels: O0 runs no pass; O1 runs `PIPELINE_O1`; O2 runs `PIPELINE_O2` (O1 plus
batch-norm folding and operator fusion: each `ml.fused` group compiles to one kernel; on a CPU
also the blocked channel layout for chains of convs); O3 runs the same as O2 for now.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

import numpy as np

from mlir_lite.errors import CompileError

from .build import CompiledFunction, compile_function, cpu_config, cuda_target, host_target

__all__ = ["PIPELINE_O1", "PIPELINE_O2", "pipeline_for", "CompileInfo", "compile_model",
           "compile_to_artifact", "resolve_target", "load_source", "backend_executor"]

PIPELINE_O1 = "canonicalize,fold-constants,cse,dce,shape-inference"
PIPELINE_O2 = (
    "decompose-for-tvm,canonicalize,fold-constants,fold-batchnorm,cse,dce,shape-inference,fuse")


def pipeline_for(opt_level: int, target: Any = "cpu") -> str:
    """The pass pipeline of an optimisation level ("" for O0) for `target` (a name or a
    Target): for a CPU, O2 also runs `blocked-layout` with one SIMD vector of float32 as the
    channel block (passes/layout.py), just before fusion."""
    if opt_level <= 1:
        return "" if opt_level <= 0 else PIPELINE_O1
    t = resolve_target(target) if isinstance(target, str) else target
    if t.kind.name != "llvm":
        return PIPELINE_O2
    block = cpu_config(t).lanes("float32")
    return PIPELINE_O2.replace(",fuse", f",blocked-layout{{block={block}}},fuse")


@dataclass
class CompileInfo:
    """What a compile produced besides the function: names and per-phase seconds."""

    input_names: List[str]
    output_names: List[str]
    timings: Dict[str, float] = field(default_factory=dict)


def resolve_target(target: str = "cpu", arch: Optional[str] = None,
                   mcpu: Optional[str] = None) -> Any:
    """`cpu` (this machine's CPU, or `mcpu`) or `cuda` (`arch`, default sm_80) as a Target."""
    import tvm
    if target in ("cpu", "llvm"):
        t = host_target()
        if mcpu:
            t["mcpu"] = mcpu
        return tvm.target.Target(t)
    if target == "cuda":
        return cuda_target(arch or "sm_80")
    raise CompileError(f"unknown target {target!r} (expected cpu or cuda)")


def load_source(source: Any) -> Tuple[Any, List[str], Optional[List[str]]]:
    """The module, input names and (when known) output names of a model given as a path
    (.onnx or .mlir), an onnx ModelProto or an already-built module."""
    from mlir_lite.dialects.builtin import ModuleOp
    if isinstance(source, ModuleOp):
        return source, _arg_names(source), None
    if isinstance(source, str) and source.endswith((".mlir", ".mlirbc")) or source == "-":
        from mlir_lite.cli import _load_module
        from mlir_lite.verifier import verify
        module = _load_module(source)
        verify(module)
        return module, _arg_names(module), _return_names(module)
    import onnx

    from mlir_lite.frontends.onnx import import_onnx
    proto = source
    if isinstance(source, (str, bytes)):
        try:
            proto = onnx.load_model_from_string(source) if isinstance(source, bytes) else \
                onnx.load(source, load_external_data=False)
        except Exception as e:  # noqa: BLE001 - onnx raises DecodeError, OSError...
            raise CompileError(f"cannot read ONNX model {source!r}: {e}") from None
    module = import_onnx(proto if not isinstance(source, str) else source)
    return module, _arg_names(module), [o.name for o in proto.graph.output]


def _arg_names(module: Any) -> List[str]:
    f = module["main"]
    return [a.name_hint or f"arg{i}" for i, a in enumerate(f.args)]


def _return_names(module: Any) -> Optional[List[str]]:
    f = module["main"]
    ret = f.entry_block.last_op
    names = [v.name_hint for v in ret.operands] if ret is not None else []
    if names and all(names) and len(set(names)) == len(names):
        return list(names)
    return None


def compile_model(source: Any, target: str = "cpu", arch: Optional[str] = None,
                  mcpu: Optional[str] = None, opt_level: int = 1,
                  print_ir_after_all: bool = False, timing: bool = False,
                  stream: Optional[TextIO] = None, tune: Optional[int] = None,
                  tune_dir: Optional[str] = None) -> Tuple[CompiledFunction, CompileInfo]:
    """Import `source`, run the pipeline of `opt_level`, and compile `@main` for `target`;
    IR dumps and timings go to `stream` (default stderr). `tune`: MetaSchedule trials for the
    heaviest kernels (0: only apply the tuning database; see tune.py)."""
    stream = stream or sys.stderr
    if opt_level not in (0, 1, 2, 3):
        raise CompileError(f"optimisation level must be 0 to 3, got {opt_level}")
    t: Dict[str, float] = {}
    t0 = time.perf_counter()
    module, ins, outs = load_source(source)
    t["import"] = time.perf_counter() - t0
    tvm_target = resolve_target(target, arch, mcpu)
    if opt_level >= 1:
        from mlir_lite.passes.registry import run_pipeline
        t0 = time.perf_counter()
        run_pipeline(module, pipeline_for(opt_level, tvm_target),
                     print_ir_after_all=print_ir_after_all,
                     timing=timing, stream=stream)
        t["passes"] = time.perf_counter() - t0
    elif print_ir_after_all:
        from mlir_lite.printer import print_module
        stream.write("// -----// IR (O0: no passes) //----- //\n" + print_module(module))
    t0 = time.perf_counter()
    opts = None
    if tune is not None:
        from .tune import TuneOptions
        opts = TuneOptions(trials=tune, directory=tune_dir, stream=stream)
    fn = compile_function(module, "main", tvm_target, tune=opts)
    t["codegen"] = time.perf_counter() - t0
    n_out = len(fn.plan.outputs)
    if outs is None or len(outs) != n_out:
        outs = [f"out{i}" for i in range(n_out)]
    return fn, CompileInfo(ins, outs, t)


def compile_to_artifact(source: Any, path: str, **options: Any) -> CompileInfo:
    """Compile `source` (see `compile_model` for the options) and write the artifact."""
    from .artifact import save_artifact
    fn, info = compile_model(source, **options)
    t0 = time.perf_counter()
    extra: Dict[str, Any] = {"opt_level": options.get("opt_level", 1)}
    if isinstance(source, str) and source != "-":
        extra["source"] = os.path.abspath(source)
    save_artifact(fn, path, info.input_names, info.output_names, extra)
    info.timings["write"] = time.perf_counter() - t0
    return info


def backend_executor(module: Any, target: str = "cpu", opt_level: int = 2
                     ) -> Callable[..., List[np.ndarray]]:
    """The compiled path for `mlir_lite.backend`: the pipeline of `opt_level` (default O2, as
    `compile_model`'s best level), then `f(*arrays) -> list of arrays` for `target`."""
    from mlir_lite.passes.registry import run_pipeline
    tvm_target = resolve_target(target)
    pipeline = pipeline_for(opt_level, tvm_target)
    if pipeline:
        run_pipeline(module, pipeline)
    fn = compile_function(module, "main", tvm_target)
    return lambda *arrays: fn(*arrays)
