"""Recurrent ops: LSTM, GRU, RNN map to `ml.lstm` / `ml.gru` / `ml.rnn` (ONNX semantics)."""
from __future__ import annotations

from typing import List

from mlir_lite.ir.core import Value
from mlir_lite.ir.dialects.ml.rnn import RNN_OPERANDS
from mlir_lite.ir.types import i32

from ..context import NodeContext
from ..registry import converter


def _recurrent(kind: str):
    specs = RNN_OPERANDS[kind]

    def conv(ctx: NodeContext) -> List[Value]:
        ops, seg = [], []
        for i, spec in enumerate(specs):
            if ctx.has_input(i):
                v = ctx.input(i)
                if spec == "sequence_lens?":
                    v = ctx.cast(v, i32)
                ops.append(v)
                seg.append(1)
            else:
                if not spec.endswith("?"):
                    ctx.input(i)  # raises: required
                seg.append(0)
        attrs = dict(hidden_size=ctx.attr("hidden_size", None, "int"),
                     direction=ctx.attr("direction", "forward", "string"),
                     activations=ctx.attr("activations", (), "strings"),
                     activation_alpha=ctx.attr("activation_alpha", (), "floats"),
                     activation_beta=ctx.attr("activation_beta", (), "floats"),
                     clip=ctx.attr("clip", None, "float"),
                     layout=ctx.attr("layout", 0, "int") if ctx.opset >= 14 else 0,
                     operandSegmentSizes=tuple(seg))
        if kind == "lstm":
            attrs["input_forget"] = bool(ctx.attr("input_forget", 0, "int"))
        if kind == "gru":
            attrs["linear_before_reset"] = bool(ctx.attr("linear_before_reset", 0, "int"))
        return list(ctx.op(f"ml.{kind}", *ops, **attrs))
    return conv


converter("LSTM", since=7)(_recurrent("lstm"))
converter("GRU", since=7)(_recurrent("gru"))
converter("RNN", since=7)(_recurrent("rnn"))
