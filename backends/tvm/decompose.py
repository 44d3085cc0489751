"""Decompose ops that have no TVM lowering of their own into ops that do, before lowering.

`ml.lstm` (ONNX LSTM) is unrolled over its time steps, which must be static: the input
projection of all steps is one matmul, then each step is a matmul with the recurrent weights,
a split into the four gates (ONNX order i, o, f, c), the gate activations and the cell update.

    %y, %h, %c = "ml.lstm"(%x, %w, %r, %b) {direction = "forward", hidden_size = 8}
  ->
    %xw = ml.matmul(%x, transpose(squeeze(slice(%w)))) + bias   // (seq, batch, 4H)
    per step t: gates = xw[t] + H @ R^T; i, o, f, c = split(gates)
                C = sigmoid(f) * C + sigmoid(i) * tanh(c); H = sigmoid(o) * tanh(C)
    %y = concat(unsqueeze(H_t)); %h = H_last; %c = C_last

Supported: default activations, no `clip`, layout 0, no `sequence_lens`; forward, reverse and
bidirectional; optional bias, initial states and peepholes. Anything else is a CompileError.
"""
from __future__ import annotations

from typing import List, Optional

from mlir_lite.builder import Builder
from mlir_lite.core import Operation, Value
from mlir_lite.dialects.ml._infer import operand_groups
from mlir_lite.dialects.ml.rnn import DEFAULT_ACTIVATIONS, RNN_OPERANDS
from mlir_lite.errors import CompileError
from mlir_lite.passes.registry import function_pass
from mlir_lite.types import TensorType

__all__ = ["decompose_for_tvm", "decompose_lstm"]


def decompose_for_tvm(func: Operation) -> int:
    """Decompose, in place, every op of `func` (regions included) that needs it; returns how
    many were decomposed."""
    todo = [op for op in func.walk() if op.name == "ml.lstm"]
    for op in todo:
        decompose_lstm(op)
    return len(todo)


@function_pass("decompose-for-tvm",
               summary="expand ops the TVM backend runs as smaller ops (ml.lstm), so that fusion "
                       "sees the smaller ops")
def _decompose_pass(module: Operation, ctx: object) -> bool:
    changed = 0
    for f in [op for op in module.walk() if op.name == "func.func"]:
        changed += decompose_for_tvm(f)
    return changed > 0


def _slice(b: Builder, v: Value, start: int, end: int, axis: int) -> Value:
    return b.op("ml.slice", v, starts=(start,), ends=(end,), axes=(axis,))


def _pick(b: Builder, v: Value, i: int) -> Value:
    """`v[i]` along axis 0, that axis removed."""
    return b.op("ml.squeeze", _slice(b, v, i, i + 1, 0), axes=(0,))


def decompose_lstm(op: Operation) -> None:
    """Replace one `ml.lstm` by its unrolled computation (see the module docstring)."""
    a = op.attributes
    acts = tuple(a.get("activations") or ())
    nd = 2 if a.get("direction", "forward") == "bidirectional" else 1
    unsupported = []
    if acts and acts != DEFAULT_ACTIVATIONS["lstm"] * nd:
        unsupported.append(f"activations {list(acts)}")
    if a.get("clip") is not None:
        unsupported.append("clip")
    if a.get("layout", 0) != 0:
        unsupported.append("layout=1")
    g = operand_groups(op.operands, a, RNN_OPERANDS["lstm"])
    if g["sequence_lens"] is not None:
        unsupported.append("sequence_lens")
    xt = g["x"].type
    seq = xt.shape[0] if isinstance(xt, TensorType) and xt.shape is not None else None
    if type(seq) is not int:
        unsupported.append("a sequence length that is not static")
    if unsupported:
        raise CompileError(f"ml.lstm with {', '.join(unsupported)} is not supported by the TVM "
                           "backend", op.loc)
    hidden = int(a["hidden_size"]) if a.get("hidden_size") is not None else \
        g["r"].type.shape[-1]
    b = Builder.before(op)
    b.loc = op.loc
    x = g["x"]
    directions = ["forward", "reverse"] if nd == 2 else [a.get("direction", "forward")]
    ys, hs, cs = [], [], []
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
        steps = range(seq) if direction == "forward" else range(seq - 1, -1, -1)
        out: List[Optional[Value]] = [None] * seq
        for t in steps:
            gates = _pick(b, xw, t)                                        # (B, 4H)
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
            c = c_new
            if peep is not None:
                go = b.op("ml.add", go, b.op("ml.mul", peep[1], c))
            h = b.op("ml.mul", b.op("ml.sigmoid", go), b.op("ml.tanh", c))
            out[t] = b.op("ml.unsqueeze", h, axes=(0, 1))                  # (1, 1, B, H)
        ys.append(out[0] if seq == 1 else b.op("ml.concat", *out, axis=0))
        hs.append(b.op("ml.unsqueeze", h, axes=(0,)))
        cs.append(b.op("ml.unsqueeze", c, axes=(0,)))
    results = [ys[0] if nd == 1 else b.op("ml.concat", *ys, axis=1),
               hs[0] if nd == 1 else b.op("ml.concat", *hs, axis=0),
               cs[0] if nd == 1 else b.op("ml.concat", *cs, axis=0)]
    for old, new in zip(op.results, results):
        old.replace_all_uses_with(new)
    op.erase()
