"""Passes over mlir-lite IR: the pass manager, the rewrite engine, and the built-in passes.

    from mlir_lite.passes import run_pipeline
    run_pipeline(module, "shape-inference,canonicalize,cse,dce")

Importing this package registers every built-in pass.
"""
from __future__ import annotations

from . import (  # noqa: E402,F401  (registration)  # noqa: E402,F401  (registration)  # noqa: E402,F401  (registration)  # noqa: E402,F401  (registration)
                      autodiff,  # noqa: E402,F401  (registration)
                      canonicalize,
                      cf_to_scf,
                      cse,
                      dce,
                      decompose_rnn,
                      fold,
                      fold_batchnorm,
                      fusion,
                      layout,
                      memory_plan,
                      scf_to_cf,
                      shape_inference,
)
from .manager import (
                      Pass,
                      PassContext,
                      PassInstrument,
                      PassManager,
                      PrintIRInstrument,
                      TimingInstrument,
)
from .registry import (
                      PASS_REGISTRY,
                      function_pass,
                      load_plugin,
                      parse_pipeline,
                      register_pass,
                      registered_passes,
                      run_pipeline,
)
from .rewrite import (
                      Decline,
                      PatternDebug,
                      PatternRewriter,
                      RewritePattern,
                      apply_patterns_greedily,
                      pattern,
)

__all__ = ["Pass", "PassContext", "PassInstrument", "PassManager", "PrintIRInstrument",
           "TimingInstrument", "PASS_REGISTRY", "function_pass", "load_plugin", "parse_pipeline",
           "register_pass", "registered_passes", "run_pipeline", "Decline", "PatternDebug",
           "PatternRewriter", "RewritePattern", "apply_patterns_greedily", "pattern"]
