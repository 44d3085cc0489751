"""Control flow: If -> scf.if, Loop -> scf.for (a counted loop whose condition never changes)
or scf.while, Scan -> scf.for over the scanned axis. Subgraphs become regions and may use
values of the enclosing graphs directly.

Loop-carried values may change shape between iterations in ONNX; the carried type starts as the
initial value's type and is generalised (dims that differ become unknown) until the body's
results fit it.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from onnx import GraphProto

from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.types import ElementType, TensorType, Type, i1, i64

from ..context import NodeContext
from ..registry import Unsupported, converter

INT_MAX = (1 << 63) - 1


def join_types(a: Type, b: Type) -> Type:
    """The most specific type that both `a` and `b` are instances of."""
    if a == b:
        return a
    if not isinstance(a, TensorType) or not isinstance(b, TensorType) or a.element != b.element:
        raise Unsupported(f"values of types {a} and {b} cannot share one type")
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorType(a.element, None)
    return a.with_shape([x if x == y else None for x, y in zip(a.shape, b.shape)])


def _scalar(ctx: NodeContext, v: Value, element: Optional[ElementType] = None) -> Value:
    if element is not None:
        v = ctx.cast(v, element)
    t = v.type
    if isinstance(t, TensorType) and t.shape != ():
        v = ctx.op("ml.reshape", v, shape=())
    return v


def _drop(blocks: Sequence[Block]) -> None:
    for b in blocks:
        for op in list(b.ops):
            op._drop_references()


def _yield(ctx: NodeContext, block: Block, values: List[Value], types: Sequence[Type],
           name: str = "scf.yield") -> None:
    with ctx.builder.at(block):
        vals = [ctx.retype(v, t) for v, t in zip(values, types)] + list(values[len(types):])
        ctx.create(name, vals, {}, [])


def _region(block: Block) -> Region:
    r = Region()
    r.add_block(block)
    return r


@converter("If", since=1)
def _if(ctx: NodeContext) -> List[Value]:
    known = ctx.const(0)
    if known is not None and known.size == 1:
        # a constant condition: only the branch taken is imported, in line (the other may be
        # meant for inputs this model does not have: AffineGrid's 2-D branch of a 3-D grid)
        taken, dead = ("then_branch", "else_branch") if known.ravel()[0] else \
            ("else_branch", "then_branch")
        ctx.ignore(dead)
        blk = Block()
        vals = ctx.subgraph(taken, blk, {})
        if len(vals) != ctx.num_outputs:
            raise ctx.error(f"{taken} has {len(vals)} outputs, but the node has "
                            f"{ctx.num_outputs}")
        ip = ctx.builder.ip
        assert ip is not None  # converters run with an insertion point
        for op in list(blk.ops):
            ip.insert(op.detach())
        return vals
    cond = _scalar(ctx, ctx.input(0))
    blocks = [Block(), Block()]
    outs = [ctx.subgraph("then_branch", blocks[0], {}),
            ctx.subgraph("else_branch", blocks[1], {})]
    if len(outs[0]) != len(outs[1]) or len(outs[0]) != ctx.num_outputs:
        raise ctx.error(f"then_branch has {len(outs[0])} outputs and else_branch "
                        f"{len(outs[1])}, but the node has {ctx.num_outputs}")
    types: List[Type] = []
    for k, (a, b) in enumerate(zip(*outs)):
        try:
            types.append(join_types(a.type, b.type))
        except Unsupported:
            raise ctx.error(f"output #{k}: then_branch gives {a.type} but else_branch gives "
                            f"{b.type}") from None
    for blk, vals in zip(blocks, outs):
        _yield(ctx, blk, vals, types)
    op = ctx.create("scf.if", [cond], {}, types, [_region(b) for b in blocks])
    return list(op.results)


def _fits(value_type: Type, carried: Type) -> bool:
    return join_types(carried, value_type) == carried


def _iterate(ctx: NodeContext, init_types: List[Type],
             attempt: Callable[[List[Type]], Tuple[List[Block], List[Value], Callable]]
             ) -> Operation:
    """Build a loop whose carried types fit the body's results (at most three attempts)."""
    types = list(init_types)
    n_unsupported = len(ctx.importer.unsupported)
    for round_ in range(3):
        blocks, carried_out, finish = attempt(types)
        if all(_fits(v.type, t) for v, t in zip(carried_out, types)):
            return finish(types)
        _drop(blocks)
        del ctx.importer.unsupported[n_unsupported:]
        joined = [join_types(t, v.type) for t, v in zip(types, carried_out)]
        if round_ == 1:
            joined = [t.with_shape(None if t.shape is None else [None] * len(t.shape))
                      if isinstance(t, TensorType) else t for t in joined]
        types = joined
    raise Unsupported("loop-carried values whose types do not settle")


def _stacked(t: Type, n: Optional[int] = None) -> Type:
    if isinstance(t, TensorType) and t.shape is not None:
        return t.with_shape((n,) + tuple(t.shape))
    return t


def _passthrough_cond(body) -> bool:
    """Whether the body's condition output is its condition input (or a constant true)."""
    if len(body.input) < 2 or not body.output:
        return False
    cin, cout = body.input[1].name, body.output[0].name
    seen = {cin}
    for node in body.node:
        if node.op_type == "Identity" and node.input and node.input[0] in seen:
            seen.update(node.output)
        if node.op_type == "Constant" and node.output and node.output[0] == cout:
            for a in node.attribute:
                if a.name == "value" and a.t.int32_data == [1]:
                    return True
                if a.name == "value" and a.t.raw_data == b"\x01":
                    return True
    return cout in seen


@converter("Loop", since=1)
def _loop(ctx: NodeContext) -> List[Value]:
    body = ctx.subgraph_proto("body")
    n = ctx.num_inputs - 2
    if n < 0:
        raise ctx.error("Loop needs the inputs M and cond (possibly empty)")
    if len(body.input) != n + 2:
        raise ctx.error(f"body takes {len(body.input)} inputs but the node gives {n} loop-carried "
                        "values (+ iteration number and condition)", attribute="body")
    k = len(body.output) - 1 - n
    if k < 0:
        raise ctx.error(f"body has {len(body.output)} outputs, fewer than 1 + {n} carried values",
                        attribute="body")
    inits = [ctx.input(2 + j) for j in range(n)]
    m = _scalar(ctx, ctx.input(0), i64) if ctx.has_input(0) else None
    cond_const = ctx.const_scalar(1) if ctx.has_input(1) else True
    counted = m is not None and cond_const is not None and bool(cond_const) \
        and _passthrough_cond(body)
    scalar_i64 = TensorType(i64, ())
    scalar_i1 = TensorType(i1, ())
    names = [vi.name for vi in body.input]

    if counted:
        def attempt(types: List[Type]):
            blk = Block([scalar_i64] + types)
            with ctx.builder.at(blk):
                true = ctx.constant(np.array(True))
            binds = {names[0]: blk.args[0], names[1]: true}
            binds.update({names[2 + j]: blk.args[1 + j] for j in range(n)})
            outs = ctx.subgraph("body", blk, binds)
            carried_out, scans = outs[1:1 + n], outs[1 + n:]

            def finish(types: List[Type]) -> Operation:
                _yield(ctx, blk, carried_out + scans, types)
                zero = ctx.constant(np.array(0, np.int64))
                one = ctx.constant(np.array(1, np.int64))
                rtypes = list(types) + [_stacked(v.type) for v in scans]
                assert m is not None  # counted
                return ctx.create("scf.for", [zero, m, one] + [ctx.retype(v, t) for v, t in
                                                               zip(inits, types)],
                                  {"num_scan_outputs": k}, rtypes, [_region(blk)])
            return [blk], carried_out, finish

        op = _iterate(ctx, [v.type for v in inits], attempt)
        return list(op.results)

    cond0 = _scalar(ctx, ctx.input(1), i1) if ctx.has_input(1) else ctx.constant(np.array(True))

    def attempt_while(types: List[Type]):
        ctypes = [scalar_i64, scalar_i1] + types
        before, after = Block(ctypes), Block(ctypes)
        with ctx.builder.at(before):
            keep = before.args[1]
            if m is not None:
                keep = ctx.op("ml.logical_and", keep, ctx.op("ml.less", before.args[0], m))
            ctx.create("scf.condition", [keep] + list(before.args), {}, [])
        binds = {names[j]: after.args[j] for j in range(n + 2)}
        outs = ctx.subgraph("body", after, binds)
        carried_out, scans = outs[1:1 + n], outs[1 + n:]

        def finish(types: List[Type]) -> Operation:
            with ctx.builder.at(after):
                nxt = ctx.op("ml.add", after.args[0], ctx.constant(np.array(1, np.int64)))
                c = _scalar(ctx, outs[0], i1)
            _yield(ctx, after, [nxt, c] + carried_out + scans, ctypes)
            zero = ctx.constant(np.array(0, np.int64))
            rtypes = ctypes + [_stacked(v.type) for v in scans]
            return ctx.create("scf.while", [zero, cond0] + [ctx.retype(v, t) for v, t in
                                                            zip(inits, types)],
                              {"num_scan_outputs": k}, rtypes,
                              [_region(before), _region(after)])
        return [before, after], carried_out, finish

    op = _iterate(ctx, [v.type for v in inits], attempt_while)
    return list(op.results[2:])


@converter("Scan", since=9)
def _scan(ctx: NodeContext) -> List[Value]:
    body = ctx.subgraph_proto("body")
    m = ctx.attr("num_scan_inputs", kind="int")
    n = ctx.num_inputs - m
    if m < 1 or n < 0:
        raise ctx.error(f"num_scan_inputs {m} does not fit {ctx.num_inputs} inputs",
                        attribute="num_scan_inputs")
    k = len(body.output) - n
    if len(body.input) != n + m or k < 0:
        raise ctx.error(f"body has {len(body.input)} inputs and {len(body.output)} outputs for "
                        f"{n} states and {m} scan inputs", attribute="body")
    in_axes = list(ctx.attr("scan_input_axes", (0,) * m, "ints"))
    in_dirs = list(ctx.attr("scan_input_directions", (0,) * m, "ints"))
    out_axes = list(ctx.attr("scan_output_axes", (0,) * k, "ints"))
    out_dirs = list(ctx.attr("scan_output_directions", (0,) * k, "ints"))
    if len(in_axes) != m or len(in_dirs) != m or len(out_axes) != k or len(out_dirs) != k:
        raise ctx.error("scan_*_axes / scan_*_directions must have one entry per scan input or "
                        "output")
    return _scan_loop(ctx, body, [ctx.input(j) for j in range(n)],
                      [ctx.input(n + j) for j in range(m)], in_axes, in_dirs, out_axes, out_dirs)


@converter("Scan", since=8)
def _scan_batched(ctx: NodeContext) -> List[Value]:
    """Scan-8: every state and scan input has a leading batch axis (the scan runs over axis 1
    of each batch entry) and input 0 is the optional sequence_lens; one Scan-9 loop per entry
    of a static batch, the results stacked along axis 0."""
    if ctx.has_input(0):
        raise Unsupported("Scan-8 with sequence_lens")
    body = ctx.subgraph_proto("body")
    m = ctx.attr("num_scan_inputs", kind="int")
    n = ctx.num_inputs - 1 - m
    k = len(body.output) - n
    if m < 1 or n < 0 or len(body.input) != n + m or k < 0:
        raise ctx.error(f"num_scan_inputs {m} does not fit {ctx.num_inputs} inputs and a body "
                        f"of {len(body.input)} inputs", attribute="num_scan_inputs")
    in_dirs = list(ctx.attr("directions", (0,) * m, "ints"))
    if len(in_dirs) != m:
        raise ctx.error("directions must have one entry per scan input", attribute="directions")
    batch = ctx.type(1).dims[0] if ctx.rank(1) else None
    if type(batch) is not int:
        raise Unsupported("Scan-8 over a batch axis that is not static")
    per_entry: List[List[Value]] = []
    for b in range(batch):
        at = ctx.constant(np.array(b, np.int64))
        entry = [ctx.op("ml.gather", ctx.input(1 + j), at, axis=0) for j in range(n + m)]
        per_entry.append(_scan_loop(ctx, body, entry[:n], entry[n:], [0] * m, in_dirs,
                                    [0] * k, [0] * k))
    return [ctx.op("ml.concat", *[ctx.op("ml.unsqueeze", r[i], axes=(0,)) for r in per_entry],
                   axis=0) for i in range(n + k)]


def _scan_loop(ctx: NodeContext, body: GraphProto, states: List[Value], xs: List[Value],
               in_axes: List[int], in_dirs: List[int], out_axes: List[int],
               out_dirs: List[int]) -> List[Value]:
    """The Scan-9 loop: `states` carried, `xs` scanned along `in_axes`, `body` the subgraph."""
    n, k = len(states), len(out_axes)
    for j, x in enumerate(xs):
        r = x.type.rank if isinstance(x.type, TensorType) else None
        if r is None:
            raise Unsupported("Scan over an input of unknown rank")
        in_axes[j] = in_axes[j] + r if in_axes[j] < 0 else in_axes[j]
        if not 0 <= in_axes[j] < r:
            raise ctx.error(f"scan_input_axes[{j}] is out of range for rank {r}",
                            attribute="scan_input_axes")
    x0 = xs[0].type
    assert isinstance(x0, TensorType) and x0.shape is not None
    d = x0.shape[in_axes[0]]
    if type(d) is int:
        length = ctx.constant(np.array(d, np.int64))
    else:
        length = _scalar(ctx, ctx.op("ml.shape", xs[0], start=in_axes[0], end=in_axes[0] + 1))
    names = [vi.name for vi in body.input]
    scalar_i64 = TensorType(i64, ())

    def attempt(types: List[Type]):
        blk = Block([scalar_i64] + types)
        binds = {names[j]: blk.args[1 + j] for j in range(n)}
        with ctx.builder.at(blk):
            rev = None
            for j, x in enumerate(xs):
                idx = blk.args[0]
                if in_dirs[j]:
                    if rev is None:
                        last = ctx.op("ml.sub", length, ctx.constant(np.array(1, np.int64)))
                        rev = ctx.op("ml.sub", last, blk.args[0])
                    idx = rev
                binds[names[n + j]] = ctx.op("ml.gather", x, idx, axis=in_axes[j])
        outs = ctx.subgraph("body", blk, binds)
        carried_out, scans = outs[:n], outs[n:]

        def finish(types: List[Type]) -> Operation:
            _yield(ctx, blk, carried_out + scans, types)
            zero = ctx.constant(np.array(0, np.int64))
            one = ctx.constant(np.array(1, np.int64))
            static_len = d if type(d) is int else None
            rtypes = list(types) + [_stacked(v.type, static_len) for v in scans]
            return ctx.create("scf.for", [zero, length, one] + [ctx.retype(v, t) for v, t in
                                                                zip(states, types)],
                              {"num_scan_outputs": k}, rtypes, [_region(blk)])
        return [blk], carried_out, finish

    op = _iterate(ctx, [v.type for v in states], attempt)
    results: List[Value] = list(op.results[:n])
    for j, y in enumerate(op.results[n:]):
        if out_dirs[j]:
            y = ctx.op("ml.slice", y, starts=(-1,), ends=(-INT_MAX,), axes=(0,), steps=(-1,))
        a = out_axes[j]
        r = y.type.rank if isinstance(y.type, TensorType) else None
        if a != 0:
            if r is None:
                raise Unsupported("Scan output axis on an output of unknown rank")
            a = a + r if a < 0 else a
            perm = list(range(1, a + 1)) + [0] + list(range(a + 1, r))
            y = ctx.op("ml.transpose", y, perm=tuple(perm))
        results.append(y)
    return results
