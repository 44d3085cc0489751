"""Fold hooks of `ml` ops: the per-op table that canonicalization consults.

A fold never mutates IR: it returns one replacement per result (an existing Value, or a
DenseAttr that the rewriter materialises as `ml.constant`), or None. The contract is in
`mlir_lite.passes.rewrite`. Whole-op constant evaluation is the `fold-constants` pass's job;
these hooks cover what needs no arithmetic (no-op ops, shapes known from types).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import OP_REGISTRY, Operation
from mlir_lite.ir.types import TensorType

__all__ = ["FOLDS", "fold_hook"]

FOLDS: Dict[str, Callable[[Operation, List[Optional[DenseAttr]]], Optional[List[Any]]]] = {}


def fold_hook(*names: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        for n in names:
            FOLDS[n] = fn
        return fn
    return deco


def _same_type_operand(op: Operation) -> Optional[List[Any]]:
    x = op.operands[0]
    return [x] if x.type == op.results[0].type else None


@fold_hook("ml.identity", "ml.dropout")
def _fold_identity(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    if op.name == "ml.dropout" and len(op.results) != 1:
        return None
    return _same_type_operand(op)


@fold_hook("ml.cast")
def _fold_cast(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    if op.operands[0].type == op.results[0].type:
        return [op.operands[0]]
    c = consts[0]
    out = op.results[0].type
    if c is not None and isinstance(out, TensorType) and c.array.size <= 1024:
        with np.errstate(all="ignore"):
            return [DenseAttr(c.array.astype(out.element.np_dtype), out)]
    return None


@fold_hook("ml.reshape", "ml.expand", "ml.squeeze", "ml.unsqueeze", "ml.flatten")
def _fold_noop_shape(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    x, r = op.operands[0].type, op.results[0].type
    if isinstance(x, TensorType) and x.is_static and x == r:
        return [op.operands[0]]
    return None


@fold_hook("ml.concat")
def _fold_concat(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    return _same_type_operand(op) if op.num_operands == 1 else None


@fold_hook("ml.shape")
def _fold_shape(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    x = op.operands[0].type
    if not (isinstance(x, TensorType) and x.is_static):
        return None
    rank = len(x.dims)
    start = op.attr("start")
    end = op.attr("end")
    start = max(0, min(rank, start + rank if start < 0 else start))
    end = rank if end is None else max(0, min(rank, end + rank if end < 0 else end))
    dims = np.array(x.dims[start:max(start, end)], dtype=np.int64)
    return [DenseAttr(dims, _result_type(op))]


@fold_hook("ml.size")
def _fold_size(op: Operation, consts: List[Optional[DenseAttr]]) -> Optional[List[Any]]:
    x = op.operands[0].type
    if not (isinstance(x, TensorType) and x.is_static):
        return None
    return [DenseAttr(np.array(x.num_elements, dtype=np.int64), _result_type(op))]


def _result_type(op: Operation) -> TensorType:
    t = op.results[0].type
    assert isinstance(t, TensorType)  # ml.shape and ml.size have tensor results
    return t


for _name, _fn in FOLDS.items():
    if _name in OP_REGISTRY:
        OP_REGISTRY[_name].FOLD = staticmethod(_fn)
