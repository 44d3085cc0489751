"""Interpreter rules for `ml.lstm`, `ml.gru` and `ml.rnn` (ONNX semantics).

Supports every direction, custom activations (with their alpha/beta, consumed in order by the
activations that take them), `clip`, peepholes, `input_forget`, `linear_before_reset`,
`sequence_lens` (steps past a sequence's length leave its state unchanged and write zeros to
`y`; reverse sequences start at their own last step) and `layout = 1`.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.ml._infer import operand_groups
from mlir_lite.ir.dialects.ml.rnn import DEFAULT_ACTIVATIONS, RNN_GATES, RNN_OPERANDS
from mlir_lite.ir.interpreter.ml_math import sigmoid, softplus, upcast
from mlir_lite.ir.interpreter.rules import rule

__all__ = ["rnn_activation"]

Act = Callable[[np.ndarray], np.ndarray]

# name -> (default alpha, default beta, takes alpha, takes beta)
_ACT_PARAMS: Dict[str, Tuple[float, float, bool, bool]] = {
    "Relu": (0.0, 0.0, False, False), "Tanh": (0.0, 0.0, False, False),
    "Sigmoid": (0.0, 0.0, False, False), "Softsign": (0.0, 0.0, False, False),
    "Softplus": (0.0, 0.0, False, False), "Affine": (1.0, 0.0, True, True),
    "LeakyRelu": (0.01, 0.0, True, False), "ThresholdedRelu": (1.0, 0.0, True, False),
    "ScaledTanh": (1.0, 1.0, True, True), "HardSigmoid": (0.2, 0.5, True, True),
    "Elu": (1.0, 0.0, True, False),
}


def rnn_activation(name: str, alpha: float, beta: float) -> Act:
    """The ONNX RNN activation function `name` with its parameters."""
    fns: Dict[str, Act] = {
        "Relu": lambda x: np.maximum(x, 0), "Tanh": np.tanh, "Sigmoid": sigmoid,
        "Softsign": lambda x: x / (1 + np.abs(x)), "Softplus": softplus,
        "Affine": lambda x: alpha * x + beta,
        "LeakyRelu": lambda x: np.where(x >= 0, x, alpha * x),
        "ThresholdedRelu": lambda x: np.where(x > alpha, x, 0),
        "ScaledTanh": lambda x: alpha * np.tanh(beta * x),
        "HardSigmoid": lambda x: np.clip(alpha * x + beta, 0, 1),
        "Elu": lambda x: np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0))),
    }
    return fns[name]


def _activations(op: Operation, kind: str, nd: int) -> List[List[Act]]:
    names = list(op.attr("activations") or DEFAULT_ACTIVATIONS[kind] * nd)
    alphas, betas = list(op.attr("activation_alpha")), list(op.attr("activation_beta"))
    acts: List[Act] = []
    for name in names:
        da, db, ta, tb = _ACT_PARAMS[name]
        a = alphas.pop(0) if ta and alphas else da
        b = betas.pop(0) if tb and betas else db
        acts.append(rnn_activation(name, a, b))
    per = len(DEFAULT_ACTIVATIONS[kind])
    return [acts[d * per:(d + 1) * per] for d in range(nd)]


def _run(op: Operation, kind: str, vals: Tuple[np.ndarray, ...]) -> List[np.ndarray]:
    g = operand_groups(vals, op.attributes, RNN_OPERANDS[kind])
    x, w, r = (upcast(g[k]) for k in ("x", "w", "r"))
    layout = op.attr("layout")
    if layout:
        x = x.swapaxes(0, 1)
    seq, batch = x.shape[:2]
    nd, hidden = w.shape[0], r.shape[-1]
    ng = RNN_GATES[kind]
    b = upcast(g["b"]) if g["b"] is not None else np.zeros((nd, 2 * ng * hidden), x.dtype)
    h0 = g["initial_h"]
    h0 = (upcast(h0).swapaxes(0, 1) if layout else upcast(h0)) if h0 is not None else \
        np.zeros((nd, batch, hidden), x.dtype)
    c0: Optional[np.ndarray] = None
    if kind == "lstm":
        c0 = g["initial_c"]
        c0 = (upcast(c0).swapaxes(0, 1) if layout else upcast(c0)) if c0 is not None else \
            np.zeros((nd, batch, hidden), x.dtype)
    p = g.get("p")
    p = upcast(p) if p is not None else np.zeros((nd, 3 * hidden), x.dtype)
    lens = g["sequence_lens"]
    lens = np.full(batch, seq, np.int64) if lens is None else lens.astype(np.int64)
    clip = op.attr("clip")
    acts = _activations(op, kind, nd)
    reverse_dirs = {"forward": [False], "reverse": [True],
                    "bidirectional": [False, True]}[op.attr("direction")]
    y = np.zeros((seq, nd, batch, hidden), x.dtype)
    y_h = np.zeros((nd, batch, hidden), x.dtype)
    y_c = np.zeros((nd, batch, hidden), x.dtype)

    def gate_clip(v: np.ndarray) -> np.ndarray:
        return np.clip(v, -clip, clip) if clip is not None else v

    for d, rev in enumerate(reverse_dirs):
        wd, rd = w[d], r[d]
        wb, rb = b[d, :ng * hidden], b[d, ng * hidden:]
        h = h0[d]
        c = c0[d] if c0 is not None else None
        f_act = acts[d]
        for t in (range(seq - 1, -1, -1) if rev else range(seq)):
            live = (t < lens)[:, None]
            xw = x[t] @ wd.T + wb
            if kind == "lstm":
                gi, go, gf, gc = np.split(xw + h @ rd.T + rb, 4, axis=-1)
                pi, po, pf = np.split(p[d], 3)
                i = f_act[0](gate_clip(gi + pi * c))
                f = 1 - i if op.attr("input_forget") else f_act[0](gate_clip(gf + pf * c))
                c_new = f * c + i * f_act[1](gate_clip(gc))
                o = f_act[0](gate_clip(go + po * c_new))
                h_new = o * f_act[2](c_new)
                c = np.where(live, c_new, c)
            elif kind == "gru":
                xz, xr, xh = np.split(xw, 3, axis=-1)
                rz, rr, rh = np.split(rd, 3, axis=0)
                bz, br, bh = np.split(rb, 3)
                z = f_act[0](gate_clip(xz + h @ rz.T + bz))
                rg = f_act[0](gate_clip(xr + h @ rr.T + br))
                if op.attr("linear_before_reset"):
                    hh = f_act[1](gate_clip(xh + rg * (h @ rh.T + bh)))
                else:
                    hh = f_act[1](gate_clip(xh + (rg * h) @ rh.T + bh))
                h_new = (1 - z) * hh + z * h
            else:
                h_new = f_act[0](gate_clip(xw + h @ rd.T + rb))
            h = np.where(live, h_new, h)
            y[t, d] = np.where(live, h_new, 0)
        y_h[d] = h
        if c is not None:
            y_c[d] = c
    outs = [y, y_h, y_c] if kind == "lstm" else [y, y_h]
    if layout:
        outs = [outs[0].transpose(2, 0, 1, 3)] + [o.swapaxes(0, 1) for o in outs[1:]]
    return outs


for _kind in RNN_OPERANDS:
    rule(f"ml.{_kind}")(lambda op, *vals, _k=_kind: _run(op, _k, vals))
