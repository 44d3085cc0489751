"""Linear-time scatter kernels: `te.extern` stages whose body is written with TVM's IR builder.

    out = scatter_elements_ir(data, idx, upd, axis, "add", "scatter_elements")
    out = scatter_nd_ir(data, idx, upd, k, "none", "scatter_nd")

The output is first a copy of `data` (a parallel loop), then one loop over the updates reads each
index and combines the update into the output at that position, so a scatter costs
O(out + updates) instead of the O(out * updates) of an output-side `te.compute`. The update loop
runs the updates that can land on the same output element in their order (for reduction "none"
the last one wins, as numpy and the interpreter do); only a dim the index does not address (any
dim but `axis` for scatter_elements, the slice dims for scatter_nd) is split across threads, in
blocks of `BLOCK` elements. An index outside [-d, d) is skipped here: the rule's error flag
(`ctx.add_check`) reports it, so nothing is read or written out of bounds. The stage is an opaque
block without loops in TVM's schedule, which the generic CPU schedule leaves as it is; for CUDA,
dlight's Fallback runs it on one GPU thread (correct, serial).
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, List, Optional, Sequence

from tvm import te, tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from .lower import same_dim

__all__ = ["scatter_elements_ir", "scatter_nd_ir", "BLOCK", "PARALLEL_MIN"]

BLOCK = 16            # elements of a parallel-safe dim per thread-block (a cache line of f32)
PARALLEL_MIN = 16384  # updates below which the update loop stays serial

Expr = Any


def _i64(v: int) -> Expr:
    return tirx.IntImm("int64", int(v))


def _combine(red: str, cur: Expr, u: Expr) -> Expr:
    if red == "none":
        return u
    if red == "add":
        return cur + u
    if red == "mul":
        return cur * u
    if red == "max":
        return tirx.max(cur, u)
    return tirx.min(cur, u)


def _size(shape: Sequence[Expr]) -> Optional[int]:
    n = 1
    for d in shape:
        if not isinstance(d, tirx.IntImm):
            return None
        n *= int(d.value)
    return n


def _parallel_worth(shape: Sequence[Expr]) -> bool:
    n = _size(shape)
    return n is None or n >= PARALLEL_MIN


def _load(buf: Any, idx: Sequence[Expr]) -> Expr:
    return tirx.BufferLoad(buf, list(idx) if idx else [])


def _loop(stack: ExitStack, extent: Expr, parallel: bool = False) -> Expr:
    return stack.enter_context((T.parallel if parallel else T.serial)(_i64(0), extent))


def _copy(src: Any, dst: Any) -> Any:
    """dst = src, the outer loop parallel when the copy is big."""
    shape = list(src.shape)
    with IRBuilder() as ib:
        with ExitStack() as st:
            ivs = [_loop(st, d, n == 0 and _parallel_worth(shape)) for n, d in enumerate(shape)]
            T.buffer_store(dst, _load(src, ivs), ivs)
    return ib.get()


def _in_range(i: Expr, d: Expr) -> Expr:
    return tirx.all(i >= -d, i < d)


def _wrap(i: Expr, d: Expr) -> Expr:
    return tirx.Select(i < _i64(0), i + d, i)


def _extern(data: te.Tensor, ins: List[te.Tensor], body: Any, name: str) -> te.Tensor:
    def fcompute(bufs: Any, outs: Any) -> Any:
        return tirx.SeqStmt([_copy(bufs[0], outs[0]), body(bufs, outs[0])])
    return te.extern([data.shape], ins, fcompute, dtype=str(data.dtype), name=name)


def _blocked_loops(st: ExitStack, extents: Sequence[Expr], safe: Optional[int],
                   parallel: bool) -> tuple:
    """Loops over `extents` (one iteration variable each, nested in order) with dim `safe` split
    in BLOCK-wide blocks: the block loop outermost and parallel, the loop within a block
    innermost (contiguous accesses); returns (ivs, guard)."""
    if safe is None or not parallel:
        return [_loop(st, d) for d in extents], None
    ds = extents[safe]
    blk = _loop(st, tirx.floordiv(ds + _i64(BLOCK - 1), _i64(BLOCK)), parallel=True)
    ivs: List[Expr] = [None if n == safe else _loop(st, d) for n, d in enumerate(extents)]
    ivs[safe] = blk * _i64(BLOCK) + _loop(st, _i64(BLOCK))
    return ivs, ivs[safe] < ds


def _write(st: ExitStack, conds: List[Expr], out: Any, pos: List[Expr], upd: Any,
           at: List[Expr], red: str) -> None:
    if conds:
        st.enter_context(T.If(tirx.all(*conds)))
        st.enter_context(T.Then())
    T.buffer_store(out, _combine(red, _load(out, pos), _load(upd, at)), pos)


def scatter_elements_ir(data: te.Tensor, idx: te.Tensor, upd: te.Tensor, axis: int, red: str,
                        name: str) -> te.Tensor:
    """ONNX ScatterElements along `axis` with reduction `red` (none/add/mul/max/min)."""
    rank = len(idx.shape)
    safe = next((a for a in range(rank) if a != axis), None)
    parallel = _parallel_worth(idx.shape)

    def body(bufs: Any, out: Any) -> Any:
        _, ib_, ub = bufs
        d = out.shape[axis]
        # the safe dim goes outermost; the others keep their order (the axis loop stays serial)
        order = ([safe] if safe is not None and parallel else []) + \
            [a for a in range(rank) if not (parallel and a == safe)]
        with IRBuilder() as ib:
            with ExitStack() as st:
                ivs_o, guard = _blocked_loops(st, [idx.shape[a] for a in order],
                                              0 if parallel and safe is not None else None,
                                              parallel)
                j = [ivs_o[order.index(a)] for a in range(rank)]
                conds = [guard] if guard is not None else []
                for a in range(rank):
                    if a != axis and not same_dim(idx.shape[a], data.shape[a]):
                        conds.append(j[a] < data.shape[a])
                    if not same_dim(idx.shape[a], upd.shape[a]):
                        conds.append(j[a] < upd.shape[a])
                if conds:
                    st.enter_context(T.If(tirx.all(*conds)))
                    st.enter_context(T.Then())
                i = T.Bind(_load(ib_, j).astype("int64"))
                pos = [_wrap(i, d) if a == axis else j[a] for a in range(rank)]
                _write(st, [_in_range(i, d)], out, pos, ub, j, red)
        return ib.get()
    return _extern(data, [data, idx, upd], body, name)


def scatter_nd_ir(data: te.Tensor, idx: te.Tensor, upd: te.Tensor, k: int, red: str,
                  name: str) -> te.Tensor:
    """ONNX ScatterND: rows of `idx` (its last dim, `k`, addresses data's first k dims) with
    reduction `red`; updates are rows x data.shape[k:]."""
    rows = list(idx.shape[:-1])
    tail = list(data.shape[k:])
    nr = len(rows)
    parallel = bool(tail) and _parallel_worth(list(upd.shape))

    def body(bufs: Any, out: Any) -> Any:
        _, ib_, ub = bufs
        with IRBuilder() as ib:
            with ExitStack() as st:
                if parallel:  # tail dim 0 (blocked, parallel) outermost, then rows, then tail
                    ivs, guard = _blocked_loops(st, [tail[0]] + rows + tail[1:], 0, True)
                    r, t = ivs[1:1 + nr], [ivs[0]] + ivs[1 + nr:]
                else:
                    ivs, guard = _blocked_loops(st, rows + tail, None, False)
                    r, t = ivs[:nr], ivs[nr:]
                conds = [guard] if guard is not None else []
                for a, dim in enumerate(rows + tail):
                    if not same_dim(dim, upd.shape[a]):
                        conds.append((r + t)[a] < upd.shape[a])
                if conds:
                    st.enter_context(T.If(tirx.all(*conds)))
                    st.enter_context(T.Then())
                cols = [T.Bind(_load(ib_, r + [_i64(j)]).astype("int64")) for j in range(k)]
                pos = [_wrap(c, data.shape[j]) for j, c in enumerate(cols)] + t
                _write(st, [_in_range(c, data.shape[j]) for j, c in enumerate(cols)],
                       out, pos, ub, r + t, red)
        return ib.get()
    return _extern(data, [data, idx, upd], body, name)
