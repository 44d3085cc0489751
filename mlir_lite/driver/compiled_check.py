"""`mlir-lite check --compiled`: what the compiled path will do with a model, before compiling.

    report = check_compiled("model.onnx", CompileOptions(target="cpu"))
    print(report.to_text())       # one line per op that runs with run-time shapes, on the host,
                                  # or not at all, and why

The model is imported and optimised with the target's pipeline (as `compile` would), then the
TVM backend says, op by op, which result sizes the plan binds at run time (a shape step before
the op's kernel), which control flow the host runs, and what will not compile. No kernel is
generated.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, List, Optional

from mlir_lite.errors import CompileError
from mlir_lite.ir.dialects.builtin import ModuleOp

from .compile import CompileOptions, _options, load_source, optimize
from .executors import TvmExecutor, get_executor

__all__ = ["CompiledReport", "check_compiled"]


@dataclass
class CompiledReport:
    """The notes (backends/tvm/support.py) of one function after the target's pipeline."""

    source: str
    pipeline: str
    notes: List[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every op compiles (run-time shapes and host control flow are fine)."""
        return not any(n.kind == "not compiled" for n in self.notes)

    def to_dict(self) -> dict:
        return {"source": self.source, "pipeline": self.pipeline, "compiles": self.ok,
                "notes": [n.to_dict() for n in self.notes],
                "summary": dict(Counter(n.kind for n in self.notes))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        kinds = Counter(n.kind for n in self.notes)
        head = f"{self.source}: compiled path ({self.pipeline or 'no passes'}): " + (
            ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())) or
            "every op is a kernel with sizes known from the inputs")
        lines = [head]
        for n in self.notes:
            lines.append(f"  {n.kind}: {n.op} at {n.loc}: {n.detail}")
        return "\n".join(lines)


def check_compiled(source: Any, options: Optional[CompileOptions] = None,
                   **overrides: Any) -> CompiledReport:
    """The compiled-path report of `source` (a path, ONNX bytes/ModelProto or a module) for
    `options.target` (a TVM target); the source is not changed."""
    from mlir_lite.backends.tvm.support import compiled_path_notes
    opts = _options(options, overrides)
    if not isinstance(get_executor(opts.target), TvmExecutor):
        raise CompileError(f"check --compiled needs a TVM target (cpu or cuda), not "
                           f"{opts.target!r}")
    module, _, _ = load_source(source, opts.func)
    copy = module.clone()
    assert isinstance(copy, ModuleOp)
    pipeline = optimize(copy, opts)
    func = copy.lookup(opts.func)
    if func is None:
        raise CompileError(f"module has no function @{opts.func}")
    name = source if isinstance(source, str) else type(source).__name__
    return CompiledReport(name, pipeline, compiled_path_notes(func))
