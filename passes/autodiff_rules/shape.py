"""VJP rules of shape and data-movement ops: reshape family, transpose, concat/split, slice,
pad, expand, tile.

    slice (step 1):   dx = pad(g, [start, dim - end])       pad (constant):  dx = pad(g, -pads)
    concat:           dx_i = the i-th piece of g             expand:          dx = unbroadcast(g)
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np

from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.dialects.ml._infer import norm_axis
from mlir_lite.ir.dialects.ml._shape_infer import slice_len
from mlir_lite.ir.dialects.ml.shape import slice_params
from mlir_lite.ir.types import i64

from .context import VJPContext
from .table import vjp

__all__: List[str] = []

# The cotangent of the op's one result: rules run only for ops whose results have one, and
# these ops (all but ml.split / ml.topk) have a single result, so it is never None.
Cots = Sequence[Value]


@vjp("ml.reshape", "ml.flatten", "ml.squeeze", "ml.unsqueeze", "ml.reshape_dynamic")
def _reshape(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.reshape_like(cots[0], op.operands[0])] + [None] * (op.num_operands - 1)


@vjp("ml.transpose")
def _transpose(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    r = ctx.rank(op.operands[0])
    perm = op.attr("perm")
    perm = tuple(range(r - 1, -1, -1)) if perm is None else tuple(perm)
    inv = [0] * r
    for i, p in enumerate(perm):
        inv[p] = i
    return [ctx.transpose(cots[0], inv)]


@vjp("ml.expand", "ml.expand_dynamic")
def _expand(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    return [ctx.unbroadcast(cots[0], op.operands[0])] + [None] * (op.num_operands - 1)


@vjp("ml.concat")
def _concat(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = cots[0]
    ins = list(op.operands)
    axis = norm_axis(op.attr("axis"), ctx.rank(g))
    sizes = [ctx.shape(v)[axis] for v in ins]
    if all(type(s) is int for s in sizes):
        pieces = ctx.emit("ml.split", g, axis=axis, split=tuple(sizes))
        pieces = [pieces] if len(ins) == 1 else list(pieces)
        return [ctx.refine(p, v.type) if ctx.wants(v) else None for p, v in zip(pieces, ins)]
    out: List[Optional[Value]] = []
    start = ctx.i64s([0])
    for v in ins:
        end = ctx.add(start, ctx.dim(v, axis))
        if ctx.wants(v):
            piece = ctx.emit("ml.slice_dynamic", g, start, end, ctx.i64s([axis]))
            out.append(ctx.refine(piece, v.type))
        else:
            out.append(None)
        start = end
    return out


@vjp("ml.split")
def _split(ctx: VJPContext, op: Operation, cots: Sequence[Optional[Value]]) -> list:
    x = op.operands[0]
    axis = norm_axis(op.attr("axis"), ctx.rank(x))
    parts = [c if c is not None else ctx.zeros_like(r) for c, r in zip(cots, op.results)]
    g = parts[0] if len(parts) == 1 else ctx.emit("ml.concat", *parts, axis=axis)
    return [ctx.refine(g, x.type)]


def _scatter_along(ctx: VJPContext, c: Value, axis: int, dim: int,
                   indices: Sequence[int]) -> Value:
    """The adjoint of taking `indices` (distinct) along `axis` of a dim of size `dim`."""
    n = len(indices)
    widths = [0] * (2 * ctx.rank(c))
    widths[ctx.rank(c) + axis] = dim - n
    room = ctx.emit("ml.pad", c, pads=tuple(widths))
    shape = [1] * ctx.rank(c)
    shape[axis] = n
    idx = ctx.const(np.asarray(indices, np.int64).reshape(shape), i64)
    idx = ctx.broadcast_like(idx, c) if n else idx
    return ctx.emit("ml.scatter_elements", ctx.zeros_like(room), idx, c, axis=axis,
                    reduction="add")


@vjp("ml.slice")
def _slice(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    shape = ctx.shape(x)
    widths = [0] * (2 * len(shape))
    scatters = []
    for axis, start, end, step in slice_params(len(shape), op.attrs_with_defaults(op.attributes)):
        d = shape[axis]
        if type(d) is int:
            s, _, n = slice_len(d, start, end, step)
            if step == 1:
                widths[axis], widths[len(shape) + axis] = s, d - s - n
            else:
                scatters.append((axis, d, [s + step * k for k in range(n)]))
        elif step == 1 and start >= 0 and end >= 2**31 - 1:
            widths[axis] = start
        else:
            raise ctx.fail(f"slicing axis {axis} of {x.type} (start {start}, end {end}, step "
                           f"{step}) needs a static dim to be differentiated")
    if any(widths):
        g = ctx.emit("ml.pad", g, pads=tuple(widths))
    for axis, d, idx in scatters:
        g = _scatter_along(ctx, g, axis, d, idx)
    return [ctx.refine(g, x.type)]


@vjp("ml.pad")
def _pad(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    if op.attr("mode") != "constant":
        raise ctx.fail(f"mode {op.attr('mode')!r} is not differentiated (only 'constant')")
    pads = tuple(-p for p in op.attr("pads"))
    gx = ctx.emit("ml.pad", g, pads=pads, axes=op.attr("axes"))
    out: List[Optional[Value]] = [ctx.refine(gx, x.type)]
    if op.num_operands > 1:
        cv = op.operands[1]
        if ctx.wants(cv):
            rest = ctx.sub(ctx.emit("ml.reduce_sum", g, keepdims=False),
                           ctx.emit("ml.reduce_sum", gx, keepdims=False))
            out.append(ctx.reshape_like(rest, cv))
        else:
            out.append(None)
    return out


@vjp("ml.tile")
def _tile(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g, x = cots[0], op.operands[0]
    reps = op.attr("repeats")
    shape = ctx.shape(x)
    dims: List[Any] = []
    for r, d in zip(reps, shape):
        dims += [r, d]
    unknown = sum(1 for d in dims if type(d) is not int)
    if unknown > 1:
        dims = [d if type(d) is int else ctx.dim(x, i // 2) for i, d in enumerate(dims)]
    else:
        dims = [d if type(d) is int else None for d in dims]
    split = ctx.reshape(g, dims)
    summed = ctx.emit("ml.reduce_sum", split, axes=tuple(range(0, 2 * len(shape), 2)),
                      keepdims=False)
    return [ctx.refine(summed, x.type)]


@vjp("ml.depth_to_space")
def _depth_to_space(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    # a permutation: its adjoint is the inverse permutation, space_to_depth in the same mode
    g = ctx.emit("ml.space_to_depth", cots[0], blocksize=op.attr("blocksize"),
                 mode=op.attr("mode"))
    return [ctx.refine(g, op.operands[0].type)]


@vjp("ml.space_to_depth")
def _space_to_depth(ctx: VJPContext, op: Operation, cots: Cots) -> list:
    g = ctx.emit("ml.depth_to_space", cots[0], blocksize=op.attr("blocksize"),
                 mode=op.attr("mode"))
    return [ctx.refine(g, op.operands[0].type)]


