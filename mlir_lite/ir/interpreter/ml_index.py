"""Interpreter rules for the indexing ops of `ml` (see dialects/ml/index.py).

Every index is checked against its dim before numpy sees it: an out-of-range index raises
ExecutionError naming the op, the axis and the index, never a numpy IndexError and never a
wrapped read. Negative indices in [-dim, 0) count from the end, as ONNX allows.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.dialects.ml._shape_infer import norm_axis
from mlir_lite.ir.interpreter.rules import rule

__all__: List[str] = []


def _fail(op: Any, msg: str) -> ExecutionError:
    return ExecutionError(f"{op.name}: {msg}", op.loc)


def _checked(op: Any, idx: np.ndarray, dim: int, axis: int) -> np.ndarray:
    """`idx` with negative entries wrapped; ExecutionError on the first out-of-range entry."""
    idx = np.asarray(idx).astype(np.int64, copy=False)
    bad = (idx < -dim) | (idx >= dim)
    if bad.any():
        v = int(idx[bad].reshape(-1)[0])
        raise _fail(op, f"index {v} is out of range for axis {axis} of size {dim} "
                        f"(valid: [{-dim}, {dim - 1}])")
    return np.where(idx < 0, idx + dim, idx)


@rule("ml.gather")
def _gather(op: Any, data: np.ndarray, indices: np.ndarray) -> np.ndarray:
    axis = norm_axis(op.attr("axis"), data.ndim)
    idx = _checked(op, indices, data.shape[axis], axis)
    return np.take(data, idx, axis=axis)


def _elementwise_index(op: Any, data: np.ndarray, indices: np.ndarray,
                       axis: int) -> Tuple[np.ndarray, ...]:
    if indices.ndim != data.ndim:
        raise _fail(op, f"indices rank {indices.ndim} differs from data rank {data.ndim}")
    for i in range(data.ndim):
        if i != axis and indices.shape[i] > data.shape[i]:
            raise _fail(op, f"indices dim {i} ({indices.shape[i]}) exceeds the data dim "
                            f"({data.shape[i]})")
    idx = _checked(op, indices, data.shape[axis], axis)
    grid: List[Any] = list(np.indices(indices.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid)


@rule("ml.gather_elements")
def _gather_elements(op: Any, data: np.ndarray, indices: np.ndarray) -> np.ndarray:
    axis = norm_axis(op.attr("axis"), data.ndim)
    return data[_elementwise_index(op, data, indices, axis)]


_REDUCE_AT = {"add": np.add.at, "mul": np.multiply.at, "max": np.maximum.at,
              "min": np.minimum.at}


def _scatter(out: np.ndarray, index: tuple, updates: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        out[index] = updates
    else:
        _REDUCE_AT[reduction](out, index, updates)
    return out


@rule("ml.scatter_elements")
def _scatter_elements(op: Any, data: np.ndarray, indices: np.ndarray,
                      updates: np.ndarray) -> np.ndarray:
    axis = norm_axis(op.attr("axis"), data.ndim)
    if updates.shape != indices.shape:
        raise _fail(op, f"updates shape {updates.shape} differs from indices shape "
                        f"{indices.shape}")
    index = _elementwise_index(op, data, indices, axis)
    return _scatter(data.copy(), index, updates, op.attr("reduction"))


def _nd_index(op: Any, data_shape: tuple, indices: np.ndarray, first_axis: int) -> tuple:
    """Checked index tuple from the last axis of `indices`, addressing dims from `first_axis`."""
    k = indices.shape[-1]
    if not 1 <= k <= len(data_shape) - first_axis:
        raise _fail(op, f"indices last dim {k} must be in [1, {len(data_shape) - first_axis}]")
    return tuple(_checked(op, indices[..., j], data_shape[first_axis + j], first_axis + j)
                 for j in range(k))


@rule("ml.gather_nd")
def _gather_nd(op: Any, data: np.ndarray, indices: np.ndarray) -> np.ndarray:
    b = op.attr("batch_dims")
    if data.shape[:b] != indices.shape[:b]:
        raise _fail(op, f"batch dims differ: data {data.shape[:b]} vs indices "
                        f"{indices.shape[:b]}")
    cols = _nd_index(op, data.shape, indices, b)
    nb = int(np.prod(data.shape[:b], dtype=np.int64))
    flat = data.reshape((nb,) + data.shape[b:])
    cols = tuple(c.reshape((nb,) + indices.shape[b:-1]) for c in cols)
    bidx = np.arange(nb).reshape((nb,) + (1,) * (indices.ndim - b - 1))
    out = flat[(bidx,) + cols]
    return out.reshape(indices.shape[:-1] + data.shape[b + indices.shape[-1]:])


@rule("ml.scatter_nd")
def _scatter_nd(op: Any, data: np.ndarray, indices: np.ndarray,
                updates: np.ndarray) -> np.ndarray:
    index = _nd_index(op, data.shape, indices, 0)
    want = indices.shape[:-1] + data.shape[indices.shape[-1]:]
    if updates.shape != want:
        raise _fail(op, f"updates shape {updates.shape} must be {want}")
    return _scatter(data.copy(), index, updates, op.attr("reduction"))


@rule("ml.one_hot")
def _one_hot(op: Any, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
    depth = op.attr("depth")
    values = np.asarray(values).reshape(-1)
    if values.size != 2:
        raise _fail(op, f"values must hold [off_value, on_value], got {values.size} entries")
    axis = norm_axis(op.attr("axis"), indices.ndim + 1)
    idx = np.asarray(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)  # out of [0, depth) after this: no match
    targets = np.arange(depth).reshape((depth,) + (1,) * (indices.ndim - axis))
    hot = np.expand_dims(idx, axis) == targets
    return np.where(hot, values[1], values[0]).astype(values.dtype)


def _topk(op: Any, x: np.ndarray, k: int) -> List[np.ndarray]:
    axis = norm_axis(op.attr("axis"), x.ndim)
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise _fail(op, f"k = {k} is out of range for axis {axis} of size {n}")
    if op.attr("largest"):
        # Stable ascending sort of the reversed axis, reversed again: descending values with
        # ties in ascending index order, as ONNX asks.
        rev = np.flip(x, axis=axis)
        order = np.flip(np.argsort(rev, axis=axis, kind="stable"), axis=axis)
        order = n - 1 - order
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]


@rule("ml.topk")
def _topk_rule(op: Any, x: np.ndarray) -> List[np.ndarray]:
    return _topk(op, x, op.attr("k"))


@rule("ml.topk_dynamic")
def _topk_dynamic_rule(op: Any, x: np.ndarray, k: np.ndarray) -> List[np.ndarray]:
    k = np.asarray(k).reshape(-1)
    if k.size != 1:
        raise _fail(op, f"k must hold one value, got {k.size}")
    return _topk(op, x, int(k[0]))


@rule("ml.trilu")
def _trilu(op: Any, x: np.ndarray) -> np.ndarray:
    return (np.triu if op.attr("upper") else np.tril)(x, op.attr("k"))


@rule("ml.nonzero")
def _nonzero(op: Any, x: np.ndarray) -> np.ndarray:
    if x.ndim == 0:
        return np.zeros((0, int(bool(x))), dtype=np.int64)
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


@rule("ml.reverse_sequence")
def _reverse_sequence(op: Any, x: np.ndarray, lens: np.ndarray) -> np.ndarray:
    b_axis = norm_axis(op.attr("batch_axis"), x.ndim)
    t_axis = norm_axis(op.attr("time_axis"), x.ndim)
    t = x.shape[t_axis]
    lens = np.asarray(lens).reshape(-1)
    if lens.size != x.shape[b_axis]:
        raise _fail(op, f"sequence_lens has {lens.size} entries for a batch of "
                        f"{x.shape[b_axis]}")
    bad = (lens < 0) | (lens > t)
    if bad.any():
        raise _fail(op, f"sequence length {int(lens[bad][0])} is out of range for axis {t_axis} "
                        f"of size {t} (valid: [0, {t}])")
    out = x.copy()
    src = np.moveaxis(x, (b_axis, t_axis), (0, 1))
    dst = np.moveaxis(out, (b_axis, t_axis), (0, 1))
    for i, n in enumerate(lens.tolist()):
        dst[i, :n] = src[i, :n][::-1]
    return out


@rule("ml.compress")
def _compress(op: Any, x: np.ndarray, condition: np.ndarray) -> np.ndarray:
    axis = op.attr("axis")
    data = x.reshape(-1) if axis is None else x
    ax = 0 if axis is None else norm_axis(axis, x.ndim)
    n = data.shape[ax]
    cond = np.asarray(condition, dtype=bool).reshape(-1)
    if cond.size > n:
        if cond[n:].any():
            extra = n + int(np.argmax(cond[n:]))
            raise _fail(op, f"condition selects index {extra}, out of range for axis {ax} of "
                            f"size {n}")
        cond = cond[:n]
    return np.compress(cond, data, axis=ax)


@rule("ml.unique")
def _unique(op: Any, x: np.ndarray) -> list:
    axis = op.attr("axis")
    data = x.ravel() if axis is None else x
    ax = 0 if axis is None else axis % x.ndim
    vals, idx, inv, cnt = np.unique(data, return_index=True, return_inverse=True,
                                    return_counts=True, axis=None if axis is None else ax)
    inv = inv.reshape(-1)
    if not op.attr("sorted"):  # in order of first occurrence
        order = np.argsort(idx, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        vals, idx, cnt, inv = np.take(vals, order, axis=ax), idx[order], cnt[order], rank[inv]
    return [vals, idx.astype(np.int64), inv.astype(np.int64), cnt.astype(np.int64)]
