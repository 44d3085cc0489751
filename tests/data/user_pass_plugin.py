"""A user's pass plugin: `mlir-lite opt --load-pass-plugin this.py -p 'relu-to-max{floor=0.0}'`.

Rewrites every ml.relu into ml.max(x, constant) -- written against the public API only.
"""
import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.passes import apply_patterns_greedily, function_pass, pattern


@function_pass("relu-to-max")
def relu_to_max(module, ctx, *, floor: float = 0.0) -> bool:
    """Replace ml.relu(x) by ml.max(x, floor) for static shapes."""
    @pattern("ml.relu")
    def rewrite(op, rewriter):
        t = op.results[0].type
        if not t.is_static:
            return False
        c = rewriter.materialize_constant(op, DenseAttr(np.full(t.shape, floor, t.element.np_dtype)))
        rewriter.replace_op_with(op, "ml.max", [op.operands[0], c])
        return True
    return apply_patterns_greedily(module, [rewrite]).changed
