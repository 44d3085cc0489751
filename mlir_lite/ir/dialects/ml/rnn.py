"""Recurrent `ml` ops with ONNX semantics: `lstm`, `gru`, `rnn`.

Operands follow ONNX's input order; the optional ones (`b?`, `sequence_lens?`, `initial_h?`,
`initial_c?`, `p?`) are told apart by `operandSegmentSizes`. Every result is always present:
`y` (seq, num_directions, batch, hidden) — or (batch, seq, num_directions, hidden) with
`layout = 1` — then `y_h` (and for LSTM `y_c`) of shape (num_directions, batch, hidden).

    %y, %h, %c = "ml.lstm"(%x, %w, %r) {direction = "forward"} : ...
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.ir.dialects.ml._infer import (
    as_tensor,
    dims_equal_or_unknown,
    operand_groups,
    require_float,
)
from mlir_lite.ir.opdef import PURE, Bool, Float, Floats, Int, Str, Strs, define_op
from mlir_lite.ir.types import TensorType, Type, i32

__all__ = ["RNN_OPERANDS", "RNN_GATES", "DEFAULT_ACTIVATIONS", "LstmOp", "GruOp", "RnnOp"]

RNN_OPERANDS = {
    "lstm": ("x", "w", "r", "b?", "sequence_lens?", "initial_h?", "initial_c?", "p?"),
    "gru": ("x", "w", "r", "b?", "sequence_lens?", "initial_h?"),
    "rnn": ("x", "w", "r", "b?", "sequence_lens?", "initial_h?"),
}
RNN_GATES = {"lstm": 4, "gru": 3, "rnn": 1}
DEFAULT_ACTIVATIONS = {"lstm": ("Sigmoid", "Tanh", "Tanh"), "gru": ("Sigmoid", "Tanh"),
                       "rnn": ("Tanh",)}
KNOWN_ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu",
                     "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus")


def _rnn_infer(kind: str):
    specs = RNN_OPERANDS[kind]

    def infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
        g = operand_groups(types, attrs, specs)
        x, w, r = (as_tensor(g[k], k.upper()) for k in ("x", "w", "r"))
        require_float(x, "X")
        for k in ("w", "r", "b", "initial_h", "initial_c", "p"):
            t = g.get(k)
            if t is not None and as_tensor(t, k).element != x.element:
                raise TypeError(f"{k} has element type {t.element}, X has {x.element}")
        if g["sequence_lens"] is not None and as_tensor(g["sequence_lens"]).element != i32:
            raise TypeError("sequence_lens must be i32")
        direction = attrs["direction"]
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"direction must be forward, reverse or bidirectional, got "
                             f"{direction!r}")
        nd = 2 if direction == "bidirectional" else 1
        acts = attrs["activations"]
        n_act = len(DEFAULT_ACTIVATIONS[kind])
        if acts and len(acts) != n_act * nd:
            raise ValueError(f"activations {acts} must list {n_act * nd} functions")
        for a in acts:
            if a not in KNOWN_ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; known: {', '.join(KNOWN_ACTIVATIONS)}")
        layout = attrs["layout"]
        if layout not in (0, 1):
            raise ValueError(f"layout must be 0 or 1, got {layout}")
        hidden = attrs.get("hidden_size")
        if hidden is None and r.shape is not None:
            hidden = r.shape[-1]
        if w.shape is not None:
            if len(w.shape) != 3 or not dims_equal_or_unknown(w.shape[0], nd):
                raise ValueError(f"W must be ({nd}, {RNN_GATES[kind]}*hidden, input), got {w}")
            if type(hidden) is int and not dims_equal_or_unknown(w.shape[1],
                                                                 RNN_GATES[kind] * hidden):
                raise ValueError(f"W {w} does not hold {RNN_GATES[kind]} gates of size {hidden}")
        if x.shape is None:
            seq = batch = None
        else:
            if len(x.shape) != 3:
                raise ValueError(f"X must be 3-D, got {x}")
            seq, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
        el = x.element
        if layout == 0:
            y = TensorType(el, (seq, nd, batch, hidden))
            h = TensorType(el, (nd, batch, hidden))
        else:
            y = TensorType(el, (batch, seq, nd, hidden))
            h = TensorType(el, (batch, nd, hidden))
        return [y, h, h] if kind == "lstm" else [y, h]
    return infer


_COMMON = {"hidden_size": Int(None), "direction": Str("forward"), "activations": Strs(()),
           "activation_alpha": Floats(()), "activation_beta": Floats(()), "clip": Float(None),
           "layout": Int(0)}

LstmOp = define_op("ml.lstm", operands=list(RNN_OPERANDS["lstm"]), results=["y", "y_h", "y_c"],
                   attrs={**_COMMON, "input_forget": Bool(False)}, traits=PURE,
                   infer=_rnn_infer("lstm"),
                   doc="ONNX LSTM (gates i, o, f, c; peepholes p; sequence_lens masks).")
GruOp = define_op("ml.gru", operands=list(RNN_OPERANDS["gru"]), results=["y", "y_h"],
                  attrs={**_COMMON, "linear_before_reset": Bool(False)}, traits=PURE,
                  infer=_rnn_infer("gru"), doc="ONNX GRU (gates z, r, h).")
RnnOp = define_op("ml.rnn", operands=list(RNN_OPERANDS["rnn"]), results=["y", "y_h"],
                  attrs=dict(_COMMON), traits=PURE, infer=_rnn_infer("rnn"),
                  doc="ONNX RNN: h = f(x W^T + h R^T + b).")
