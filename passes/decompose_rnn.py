"""Decompose ops that have no TVM lowering of their own into ops that do, before lowering.

`ml.lstm` (ONNX LSTM) is unrolled over its time steps when their number is static, and becomes
an `scf.for` over the run-time length otherwise (h and c carried, each step's h a scan output;
one compile serves every length). The input projection of all steps is one matmul, then each
step is a matmul with the recurrent weights, a split into the four gates (ONNX order i, o, f,
c), the gate activations and the cell update.

    %y, %h, %c = "ml.lstm"(%x, %w, %r, %b) {direction = "forward", hidden_size = 8}
  ->
    %xw = ml.matmul(%x, transpose(squeeze(slice(%w)))) + bias   // (seq, batch, 4H)
    per step t: gates = xw[t] + H @ R^T; i, o, f, c = split(gates)
                C = sigmoid(f) * C + sigmoid(i) * tanh(c); H = sigmoid(o) * tanh(C)
    %y = concat(unsqueeze(H_t)); %h = H_last; %c = C_last

Supported: default activations, no `clip`, either layout, no `sequence_lens`; forward, reverse
and bidirectional; optional bias, initial states and peepholes. Anything else is a CompileError.

`ml.gru` and `ml.rnn` are unrolled the same way (`decompose_gru_rnn`): one input projection, then
per step one matmul with all recurrent weights. GRU (gates z, r, h):
    z = f(xz + h Rz^T + bz), r = f(xr + h Rr^T + br)
    hh = g(xh + (r * h) Rh^T + Rbh)        or, with linear_before_reset, g(xh + r * (h Rh^T + Rbh))
    h = hh + z * (h - hh)                  (= (1 - z) * hh + z * h)
RNN: h = f(x W^T + h R^T + Wb + Rb). Their activations may be the defaults or any of Tanh,
Sigmoid and Relu; layout 1 is handled by transposing in and out (for LSTM too). Still
CompileErrors: `clip`, `sequence_lens`, other activations.

The unrolling is one rewrite pattern (`unroll_recurrent`) on the three ops, run by the greedy
driver (no folding, no dead-op erasure: the IR out is exactly the unrolled ops). It builds
through the rewriter's builder and replaces the op's results; an op it cannot unroll it
declines, the reason being the CompileError's message (`decompose_rnn(strict=True)` raises it).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import numpy as np

from mlir_lite.errors import CompileError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.dialects.ml._infer import operand_groups
from mlir_lite.ir.dialects.ml.rnn import DEFAULT_ACTIVATIONS, RNN_OPERANDS
from mlir_lite.ir.types import TensorType, i64
from mlir_lite.passes.registry import function_pass

from .rewrite import (
    Decline,
    MatchResult,
    PatternDebug,
    PatternRewriter,
    apply_patterns_greedily,
    pattern,
)

__all__ = ["decompose_rnn", "decompose_lstm", "decompose_gru_rnn", "DECOMPOSED",
           "unroll_recurrent", "unsupported_reason"]

DECOMPOSED = ("ml.lstm", "ml.gru", "ml.rnn")


@pattern(*DECOMPOSED)
def unroll_recurrent(op: Operation, rewriter: PatternRewriter) -> MatchResult:
    """ml.lstm / ml.gru / ml.rnn -> its unrolled steps (or a loop over a run-time length)."""
    why = unsupported_reason(op)
    if why is not None:
        return Decline(why)
    if op.name == "ml.lstm":
        _unroll_lstm(op, rewriter)
    else:
        _unroll_gru_rnn(op, rewriter)
    return True


def decompose_rnn(func: Operation, strict: bool = True) -> int:
    """Decompose, in place, every op of `func` (regions included) that needs it; returns how
    many were decomposed. An op that cannot be is left as it is (the pass does that:
    compiling the function then reports it), or with `strict=True` is a CompileError, raised
    for the first such op (in walk order) once the others are decomposed."""
    dbg = PatternDebug()
    apply_patterns_greedily(func, [unroll_recurrent], fold=False, erase_dead=False, debug=dbg)
    if strict:
        for op in func.walk():
            if op.name in DECOMPOSED:
                raise CompileError(unsupported_reason(op) or f"{op.name} was not decomposed",
                                   op.loc)
    stats = dbg.patterns.get(unroll_recurrent.name)
    return stats.matches if stats is not None else 0


@function_pass("decompose-rnn",
               summary="expand ops the TVM backend runs as smaller ops (ml.lstm, ml.gru, "
                       "ml.rnn), so that fusion "
                       "sees the smaller ops")
def _decompose_pass(module: Operation, ctx: object) -> bool:
    changed = 0
    for f in [op for op in module.walk() if op.name == "func.func"]:
        changed += decompose_rnn(f, strict=False)
    return changed > 0


def _slice(b: Builder, v: Value, start: int, end: int, axis: int) -> Value:
    return b.op("ml.slice", v, starts=(start,), ends=(end,), axes=(axis,))


def _pick(b: Builder, v: Value, i: int) -> Value:
    """`v[i]` along axis 0, that axis removed."""
    return b.op("ml.squeeze", _slice(b, v, i, i + 1, 0), axes=(0,))


def _seq_len(g: dict, layout: int) -> Optional[int]:
    """The static sequence length of a recurrent op (operand groups `g`), else None."""
    xt = g["x"].type
    seq = None
    if isinstance(xt, TensorType) and xt.shape is not None and len(xt.shape) == 3:
        seq = xt.shape[1 if layout else 0]
    return seq if type(seq) is int else None


def _sizes(op: Operation, g: dict, layout: int) -> Tuple[Optional[int], int]:
    """The sequence length (None when not static: the steps become a loop) and hidden size
    of a recurrent op that can be decomposed."""
    seq = _seq_len(g, layout)
    h = op.attributes.get("hidden_size")
    return seq, int(h) if h is not None else g["r"].type.shape[-1]


def unsupported_reason(op: Operation) -> Optional[str]:
    """Why recurrent op `op` cannot be decomposed (the CompileError's message), or None."""
    kind = op.name.split(".", 1)[1]
    a = op.attributes
    nd = 2 if a.get("direction", "forward") == "bidirectional" else 1
    unsupported = []
    if kind == "lstm":
        acts = tuple(a.get("activations") or ())
        if acts and acts != DEFAULT_ACTIVATIONS["lstm"] * nd:
            unsupported.append(f"activations {list(acts)}")
    else:
        acts = tuple(a.get("activations") or ()) or DEFAULT_ACTIVATIONS[kind] * nd
        bad_acts = [n for n in acts if n not in _SIMPLE_ACTS]
        if bad_acts:
            unsupported.append(f"activations {bad_acts}")
    if a.get("clip") is not None:
        unsupported.append("clip")
    g = operand_groups(op.operands, a, RNN_OPERANDS[kind])
    if g["sequence_lens"] is not None:
        unsupported.append("sequence_lens")
    xt = g["x"].type
    if not (isinstance(xt, TensorType) and xt.shape is not None and len(xt.shape) == 3):
        unsupported.append("an input that is not of rank 3")
    if unsupported:
        return (f"{op.name} with {', '.join(unsupported)} is not supported by the "
                "TVM backend")
    return None


def _check(op: Operation) -> None:
    why = unsupported_reason(op)
    if why is not None:
        raise CompileError(why, op.loc)


def decompose_lstm(op: Operation, rewriter: Optional[PatternRewriter] = None) -> None:
    """Replace one `ml.lstm` by its unrolled computation (see the module docstring); a
    CompileError when it cannot be."""
    _check(op)
    _unroll_lstm(op, rewriter or PatternRewriter())


def decompose_gru_rnn(op: Operation, rewriter: Optional[PatternRewriter] = None) -> None:
    """Replace one `ml.gru` or `ml.rnn` by its unrolled computation (module docstring); a
    CompileError when it cannot be."""
    _check(op)
    _unroll_gru_rnn(op, rewriter or PatternRewriter())


def _unroll_lstm(op: Operation, rewriter: PatternRewriter) -> None:
    """Build the unrolled `ml.lstm` (checked already) and replace the op by it."""
    a = op.attributes
    nd = 2 if a.get("direction", "forward") == "bidirectional" else 1
    g = operand_groups(op.operands, a, RNN_OPERANDS["lstm"])
    layout = int(a.get("layout", 0) or 0)
    seq, hidden = _sizes(op, g, layout)
    b = rewriter.builder_before(op)
    x = g["x"] if not layout else b.op("ml.transpose", g["x"], perm=(1, 0, 2))
    if layout:  # batch-major states: to (directions, batch, hidden) and back at the end
        g = dict(g, **{k: b.op("ml.transpose", g[k], perm=(1, 0, 2)) if g[k] is not None
                       else None for k in ("initial_h", "initial_c")})
    directions = ["forward", "reverse"] if nd == 2 else [a.get("direction", "forward")]
    ys: List[Value] = []
    hs: List[Value] = []
    cs: List[Value] = []
    for d, direction in enumerate(directions):
        w_t = b.op("ml.transpose", _pick(b, g["w"], d), perm=(1, 0))       # (I, 4H)
        r_t = b.op("ml.transpose", _pick(b, g["r"], d), perm=(1, 0))       # (H, 4H)
        xw = b.op("ml.matmul", x, w_t)                                     # (S, B, 4H)
        if g["b"] is not None:
            bias = _pick(b, g["b"], d)                                     # (8H,)
            bias = b.op("ml.add", _slice(b, bias, 0, 4 * hidden, 0),
                        _slice(b, bias, 4 * hidden, 8 * hidden, 0))
            xw = b.op("ml.add", xw, bias)
        h: Optional[Value] = _pick(b, g["initial_h"], d) if g["initial_h"] is not None else None
        c: Optional[Value] = _pick(b, g["initial_c"], d) if g["initial_c"] is not None else None
        peep = None
        if g["p"] is not None:
            p = _pick(b, g["p"], d)
            peep = [_slice(b, p, k * hidden, (k + 1) * hidden, 0) for k in range(3)]  # i, o, f
        if seq is None:  # a loop over the run-time length, h and c carried
            def cell(bb: Builder, g_t: Value, st: List[Value], r_t: Value = r_t,
                     peep: Optional[List[Value]] = peep) -> List[Value]:
                return list(_lstm_cell(bb, g_t, st[0], st[1], r_t, peep))
            (h, c), y = _time_loop(b, xw, [h, c], hidden, direction == "reverse", cell)
            ys.append(b.op("ml.unsqueeze", y, axes=(1,)))                 # (S, 1, B, H)
        else:
            steps = range(seq) if direction == "forward" else range(seq - 1, -1, -1)
            out: List[Optional[Value]] = [None] * seq
            for t in steps:
                h, c = _lstm_cell(b, _pick(b, xw, t), h, c, r_t, peep)
                out[t] = b.op("ml.unsqueeze", h, axes=(0, 1))              # (1, 1, B, H)
            per_step = [o for o in out if o is not None]  # each time step filled its slot
            ys.append(per_step[0] if seq == 1 else b.op("ml.concat", *per_step, axis=0))
        assert h is not None and c is not None  # set by the first time step
        hs.append(b.op("ml.unsqueeze", h, axes=(0,)))
        cs.append(b.op("ml.unsqueeze", c, axes=(0,)))
    results = [ys[0] if nd == 1 else b.op("ml.concat", *ys, axis=1),
               hs[0] if nd == 1 else b.op("ml.concat", *hs, axis=0),
               cs[0] if nd == 1 else b.op("ml.concat", *cs, axis=0)]
    if layout:
        results = [b.op("ml.transpose", results[0], perm=(2, 0, 1, 3))] + \
            [b.op("ml.transpose", v, perm=(1, 0, 2)) for v in results[1:]]
    rewriter.replace_op(op, results)


def _lstm_cell(b: Builder, gates: Value, h: Optional[Value], c: Optional[Value], r_t: Value,
               peep: Optional[List[Value]]) -> Tuple[Value, Value]:
    """One LSTM step from the projected input `gates` (B, 4H; bias folded in): the new h, c.
    An absent h or c is a zero state."""
    if h is not None:
        gates = b.op("ml.add", gates, b.op("ml.matmul", h, r_t))
    gi, go, gf, gc = b.op("ml.split", gates, axis=1, num_outputs=4)
    if peep is not None and c is not None:
        gi = b.op("ml.add", gi, b.op("ml.mul", peep[0], c))
        gf = b.op("ml.add", gf, b.op("ml.mul", peep[2], c))
    i_g = b.op("ml.sigmoid", gi)
    c_new = b.op("ml.mul", i_g, b.op("ml.tanh", gc))
    if c is not None:
        c_new = b.op("ml.add", b.op("ml.mul", b.op("ml.sigmoid", gf), c), c_new)
    if peep is not None:
        go = b.op("ml.add", go, b.op("ml.mul", peep[1], c_new))
    return b.op("ml.mul", b.op("ml.sigmoid", go), b.op("ml.tanh", c_new)), c_new


def _as_type(b: Builder, v: Value, t: TensorType) -> Value:
    """`v` seen as type `t` (an `ml.identity` acting as a type cast, as loops need exactly
    equal carried types)."""
    return v if v.type == t else b.op("ml.identity", v, result_types=[t])


def _time_loop(b: Builder, xw: Value, states: List[Optional[Value]], hidden: int,
               reverse: bool, step: Callable[[Builder, Value, List[Value]], List[Value]]
               ) -> Tuple[List[Value], Value]:
    """An `scf.for` over the run-time sequence length of `xw` (S, B, nH), carrying `states`
    (each (B, H); None: zeros) through `step(builder, xw[t], states) -> new states`, in
    reverse time order if `reverse`. Returns the final states and the stacked first state
    of every step, in time order (S, B, H)."""
    xt = xw.type
    assert isinstance(xt, TensorType)
    seq_dim, batch = xt.dims[0], xt.dims[1]
    carried = TensorType(xt.element, (batch, hidden))

    def const(v: object) -> Value:
        return b.op("ml.constant", value=DenseAttr(np.asarray(v, np.int64)))
    length = b.op("ml.squeeze", b.op("ml.shape", xw, start=0, end=1), axes=(0,))
    inits = []
    for v in states:
        if v is None:
            shape = b.op("ml.concat", b.op("ml.shape", xw, start=1, end=2), const([hidden]),
                         axis=0)
            zero = DenseAttr(np.zeros(1, xt.element.np_dtype))
            v = b.op("ml.constant_of_shape_dynamic", shape, value=zero, result_types=[carried])
        inits.append(_as_type(b, v, carried))
    body = Block([TensorType(i64, ())] + [carried] * len(inits))
    with b.at(body):
        t = body.args[0]
        if reverse:
            t = b.op("ml.sub", b.op("ml.sub", length, const(1)), t)
        x_t = b.op("ml.gather", xw, t, axis=0)                             # (B, nH)
        new = [_as_type(b, v, carried) for v in step(b, x_t, list(body.args[1:]))]
        b.create("scf.yield", new + [new[0]], {}, [])
    region = Region()
    region.add_block(body)
    loop = b.create("scf.for", [const(0), length, const(1)] + inits, {"num_scan_outputs": 1},
                    [carried] * len(inits) + [TensorType(xt.element, (seq_dim, batch, hidden))],
                    [region])
    finals: List[Value] = list(loop.results[:-1])
    y: Value = loop.results[-1]
    if reverse:  # stacked in iteration order: back to time order
        y = b.op("ml.slice", y, starts=(-1,), ends=(-2 ** 62,), axes=(0,), steps=(-1,))
    return finals, y


_SIMPLE_ACTS = {"Tanh": "ml.tanh", "Sigmoid": "ml.sigmoid", "Relu": "ml.relu"}


def _unroll_gru_rnn(op: Operation, rewriter: PatternRewriter) -> None:
    """Build the unrolled `ml.gru` / `ml.rnn` (checked already) and replace the op by it."""
    kind = op.name.split(".", 1)[1]
    a = op.attributes
    direction = a.get("direction", "forward")
    nd = 2 if direction == "bidirectional" else 1
    per = len(DEFAULT_ACTIVATIONS[kind])
    acts = tuple(a.get("activations") or ()) or DEFAULT_ACTIVATIONS[kind] * nd
    layout = int(a.get("layout", 0) or 0)
    g = operand_groups(op.operands, a, RNN_OPERANDS[kind])
    seq, hidden = _sizes(op, g, layout)
    ng = 3 if kind == "gru" else 1
    lbr = bool(a.get("linear_before_reset", False))
    b = rewriter.builder_before(op)
    x = g["x"] if not layout else b.op("ml.transpose", g["x"], perm=(1, 0, 2))
    h_init = g["initial_h"]
    if h_init is not None and layout:
        h_init = b.op("ml.transpose", h_init, perm=(1, 0, 2))
    ys: List[Value] = []
    hs: List[Value] = []
    for d in range(nd):
        f = [_SIMPLE_ACTS[n] for n in acts[d * per:(d + 1) * per]]
        reverse = direction == "reverse" or d == 1
        w_t = b.op("ml.transpose", _pick(b, g["w"], d), perm=(1, 0))       # (I, ng*H)
        r_t = b.op("ml.transpose", _pick(b, g["r"], d), perm=(1, 0))       # (H, ng*H)
        xw = b.op("ml.matmul", x, w_t)                                     # (S, B, ng*H)
        rbh: Optional[Value] = None
        if g["b"] is not None:
            bias = _pick(b, g["b"], d)                                     # (2*ng*H,)
            wb, rb = _slice(b, bias, 0, ng * hidden, 0), _slice(b, bias, ng * hidden,
                                                                 2 * ng * hidden, 0)
            if kind == "gru":  # Rbh stays apart: it sits inside the reset gate's product
                rbh = _slice(b, rb, 2 * hidden, 3 * hidden, 0)
                wzr = b.op("ml.add", _slice(b, wb, 0, 2 * hidden, 0),
                           _slice(b, rb, 0, 2 * hidden, 0))
                wb = b.op("ml.concat", wzr, _slice(b, wb, 2 * hidden, 3 * hidden, 0), axis=0)
            else:
                wb = b.op("ml.add", wb, rb)
            xw = b.op("ml.add", xw, wb)
        h: Optional[Value] = _pick(b, h_init, d) if h_init is not None else None

        def cell(bb: Builder, xt_: Value, h: Optional[Value], f: List[str] = f,
                 r_t: Value = r_t, rbh: Optional[Value] = rbh) -> Value:
            if kind == "rnn":
                pre = xt_ if h is None else bb.op("ml.add", xt_, bb.op("ml.matmul", h, r_t))
                return bb.op(f[0], pre)
            return _gru_step(bb, xt_, h, r_t, rbh, hidden, f, lbr)
        if seq is None:  # a loop over the run-time length, h carried
            (h,), y_d = _time_loop(b, xw, [h], hidden, reverse,
                                   lambda bb, x_t, st: [cell(bb, x_t, st[0])])
            ys.append(b.op("ml.unsqueeze", y_d, axes=(1,)))               # (S, 1, B, H)
        else:
            out: List[Optional[Value]] = [None] * seq
            for t in (range(seq - 1, -1, -1) if reverse else range(seq)):
                h = cell(b, _pick(b, xw, t), h)                            # (B, H)
                out[t] = b.op("ml.unsqueeze", h, axes=(0, 1))              # (1, 1, B, H)
            per_step = [o for o in out if o is not None]  # each time step filled its slot
            ys.append(per_step[0] if seq == 1 else b.op("ml.concat", *per_step, axis=0))
        assert h is not None  # set by the first time step
        hs.append(b.op("ml.unsqueeze", h, axes=(0,)))
    y = ys[0] if nd == 1 else b.op("ml.concat", *ys, axis=1)              # (S, nd, B, H)
    y_h = hs[0] if nd == 1 else b.op("ml.concat", *hs, axis=0)            # (nd, B, H)
    if layout:
        y = b.op("ml.transpose", y, perm=(2, 0, 1, 3))
        y_h = b.op("ml.transpose", y_h, perm=(1, 0, 2))
    rewriter.replace_op(op, [y, y_h])


def _gru_step(b: Builder, xt: Value, h: Optional[Value], r_t: Value, rbh: Optional[Value],
              hidden: int, f: List[str], lbr: bool) -> Value:
    """One GRU step from the projected input `xt` (B, 3H; bias folded in but Rbh)."""
    xz, xr, xh = b.op("ml.split", xt, axis=1, num_outputs=3)
    if h is None:  # a zero state: every product with h vanishes
        z, r = b.op(f[0], xz), b.op(f[0], xr)
        pre = xh
        if rbh is not None:
            pre = b.op("ml.add", xh, b.op("ml.mul", r, rbh) if lbr else rbh)
        hh = b.op(f[1], pre)
        return b.op("ml.sub", hh, b.op("ml.mul", z, hh))
    rz_rr = _slice(b, r_t, 0, 2 * hidden, 1)                               # (H, 2H)
    rh = _slice(b, r_t, 2 * hidden, 3 * hidden, 1)                         # (H, H)
    hz, hr = b.op("ml.split", b.op("ml.matmul", h, rz_rr), axis=1, num_outputs=2)
    z = b.op(f[0], b.op("ml.add", xz, hz))
    r = b.op(f[0], b.op("ml.add", xr, hr))
    if lbr:
        hrh = b.op("ml.matmul", h, rh)
        if rbh is not None:
            hrh = b.op("ml.add", hrh, rbh)
        pre = b.op("ml.add", xh, b.op("ml.mul", r, hrh))
    else:
        pre = b.op("ml.add", xh, b.op("ml.matmul", b.op("ml.mul", r, h), rh))
        if rbh is not None:
            pre = b.op("ml.add", pre, rbh)
    hh = b.op(f[1], pre)
    return b.op("ml.add", hh, b.op("ml.mul", z, b.op("ml.sub", h, hh)))
