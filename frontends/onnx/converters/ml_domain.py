"""Operators of the ai.onnx.ml domain (classical machine learning) that are tensors in and
out: Binarizer and ArrayFeatureExtractor, in terms of `ml` ops."""
from __future__ import annotations

from typing import List

import onnx.defs

from mlir_lite.ir.core import Value

from ..context import NodeContext
from ..registry import Unsupported, converter, register_domain
from ._util import scalar_const

ML_DOMAIN = "ai.onnx.ml"
register_domain(ML_DOMAIN, 1, onnx.defs.onnx_ml_opset_version())


@converter("Binarizer", since=1, domain=ML_DOMAIN)
def _binarizer(ctx: NodeContext) -> List[Value]:
    """1 where x > threshold, else 0, in x's type."""
    x = ctx.input(0)
    above = ctx.op("ml.greater", x, scalar_const(ctx, ctx.attr("threshold", 0.0, "float"), x))
    return [ctx.op("ml.where", above, scalar_const(ctx, 1, x), scalar_const(ctx, 0, x))]


@converter("ArrayFeatureExtractor", since=1, domain=ML_DOMAIN)
def _array_feature_extractor(ctx: NodeContext) -> List[Value]:
    """x[..., indices] with the indices flattened; a 1-D x gives one row (onnxruntime's
    shape: (1, n))."""
    x, idx = ctx.input(0), ctx.input(1)
    rank = ctx.rank(0)
    if rank is None:
        raise Unsupported("ArrayFeatureExtractor on an input of unknown rank")
    flat = ctx.op("ml.reshape", idx, shape=(-1,))
    y = ctx.op("ml.gather", x, flat, axis=rank - 1)
    return [ctx.op("ml.unsqueeze", y, axes=(0,))] if rank == 1 else [y]
