"""The reference interpreter: numpy semantics for every op, through one rule table.

    from mlir_lite.ir.interpreter import run
    outs = run(module, x)          # a list of numpy arrays, one per result of @main

Importing this package registers the rules of every rule module below.
"""
# The imports register rules/passes; their order is deliberate.
# isort: skip_file
from mlir_lite.ir.interpreter import ml_math  # noqa: F401
from mlir_lite.ir.interpreter import ml_nn  # noqa: F401
from mlir_lite.ir.interpreter import ml_rnn  # noqa: F401
from mlir_lite.ir.interpreter.engine import DEAD, Interpreter, run
from mlir_lite.ir.interpreter.rules import REGION_RULES, RULES, region_rule, rule

__all__ = ["DEAD", "Interpreter", "run", "RULES", "REGION_RULES", "rule", "region_rule"]
from mlir_lite.ir.interpreter import ml_shape, ml_index, ml_dynamic, ml_quant  # noqa: F401
from mlir_lite.ir.interpreter import cf_loops  # noqa: F401,E402
from mlir_lite.ir.interpreter import ml_fused  # noqa: F401,E402
