"""Passes over mlir-lite IR: the pass manager, the rewrite engine, and the built-in passes.

    from mlir_lite.passes import run_pipeline
    run_pipeline(module, "shape-inference,canonicalize,cse,dce")

Importing this package registers every built-in pass.
"""
# The imports register rules/passes; their order is deliberate.
# isort: skip_file
from __future__ import annotations

from .manager import (Pass, PassContext, PassInstrument, PassManager, PrintIRInstrument,
                      TimingInstrument)
from .registry import (PASS_REGISTRY, function_pass, load_plugin, parse_pipeline, register_pass,
                       registered_passes, run_pipeline)
from .rewrite import (Decline, PatternDebug, PatternRewriter, RewritePattern,
                      apply_patterns_greedily, pattern)
from . import canonicalize, cse, dce, fold, shape_inference  # noqa: E402,F401  (registration)
from . import autodiff  # noqa: E402,F401  (registration)
from . import cf_to_scf, scf_to_cf  # noqa: E402,F401  (registration)
from . import fold_batchnorm, fusion, memory_plan  # noqa: E402,F401  (registration)
from . import decompose_rnn, layout  # noqa: E402,F401  (registration)

__all__ = ["Pass", "PassContext", "PassInstrument", "PassManager", "PrintIRInstrument",
           "TimingInstrument", "PASS_REGISTRY", "function_pass", "load_plugin", "parse_pipeline",
           "register_pass", "registered_passes", "run_pipeline", "Decline", "PatternDebug",
           "PatternRewriter", "RewritePattern", "apply_patterns_greedily", "pattern"]
