"""Quantization: QuantizeLinear, DequantizeLinear, MatMulInteger, ConvInteger, and QLinearMatMul
/ QLinearConv built from them (integer product in i32, rescaled in float32, requantized).
DynamicQuantizeLinear imports through its ONNX function body."""
from __future__ import annotations

from typing import List, Optional

from mlir_lite.ir.core import Value
from mlir_lite.ir.types import TensorType, f32, i32, u8

from ..context import NodeContext
from ..dtypes import element_of
from ..registry import Unsupported, converter
from ._util import resolve_pads


def _q_attrs(ctx: NodeContext) -> dict:
    attrs = dict(axis=ctx.attr("axis", 1, "int"))
    if ctx.opset >= 21:
        attrs["block_size"] = ctx.attr("block_size", 0, "int")
    return attrs


def _params(ctx: NodeContext, first: int) -> List[Value]:
    ops = [ctx.input(first), ctx.input(first + 1)]
    if ctx.has_input(first + 2):
        ops.append(ctx.input(first + 2))
    return ops


@converter("QuantizeLinear", since=10)
def _quantize(ctx: NodeContext) -> List[Value]:
    x, scale = ctx.input(0), ctx.input(1)
    if ctx.has_input(2):
        to = ctx.type(2).element
    else:
        dt = ctx.attr("output_dtype", 0, "int") if ctx.opset >= 21 else 0
        to = element_of(dt) if dt else u8
    prec = ctx.attr("precision", 0, "int") if ctx.opset >= 25 else 0
    if prec:
        pe = element_of(prec)
        x, scale = ctx.cast(x, pe), ctx.cast(scale, pe)
    elif ctx.type(0).element != ctx.type(1).element:
        x = ctx.cast(x, ctx.type(1).element)  # the division happens in the scale's type
    ops = [x, scale] + ([ctx.input(2)] if ctx.has_input(2) else [])
    saturate = bool(ctx.attr("saturate", 1, "int")) if ctx.opset >= 19 else True
    return [ctx.op("ml.quantize_linear", *ops, to=to, saturate=saturate, **_q_attrs(ctx))]


@converter("DequantizeLinear", since=10)
def _dequantize(ctx: NodeContext) -> List[Value]:
    y = ctx.op("ml.dequantize_linear", *_params(ctx, 0), **_q_attrs(ctx))
    dt = ctx.attr("output_dtype", 0, "int") if ctx.opset >= 23 else 0
    return [ctx.cast(y, element_of(dt)) if dt else y]


def _zp_segments(ctx: NodeContext, first: int, n: int) -> tuple:
    ops, seg = [], []
    for i in range(first, first + n):
        if ctx.has_input(i):
            ops.append(ctx.input(i))
            seg.append(1)
        else:
            seg.append(0)
    return ops, seg


@converter("MatMulInteger", since=10)
def _matmul_integer(ctx: NodeContext) -> List[Value]:
    zps, seg = _zp_segments(ctx, 2, 2)
    return [ctx.op("ml.matmul_integer", ctx.input(0), ctx.input(1), *zps,
                   operandSegmentSizes=(1, 1, *seg))]


def _conv_window(ctx: NodeContext, x: Value, w: Value) -> dict:
    ws = w.type.shape if isinstance(w.type, TensorType) else None
    ks = ctx.attr("kernel_shape", None, "ints")
    if not ks:
        if ws is None or any(type(d) is not int for d in ws[2:]):
            raise Unsupported(f"{ctx.node.op_type} without kernel_shape and a non-static weight")
        ks = tuple(ws[2:])
    n = len(ks)
    strides = tuple(ctx.attr("strides", None, "ints") or (1,) * n)
    dil = tuple(ctx.attr("dilations", None, "ints") or (1,) * n)
    pads = resolve_pads(ctx, x, ks, strides, dil, n)
    return dict(strides=strides, pads=pads, dilations=dil, group=ctx.attr("group", 1, "int"))


@converter("ConvInteger", since=10)
def _conv_integer(ctx: NodeContext) -> List[Value]:
    x, w = ctx.input(0), ctx.input(1)
    zps, seg = _zp_segments(ctx, 2, 2)
    return [ctx.op("ml.conv_integer", x, w, *zps, operandSegmentSizes=(1, 1, *seg),
                   **_conv_window(ctx, x, w))]


def _requantize(ctx: NodeContext, acc: Value, scale: Value, y_scale: int, y_zp: int,
                channel_axis: Optional[int] = None) -> Value:
    """acc (i32) * scale, quantized with inputs y_scale / y_zero_point."""
    real = ctx.op("ml.mul", ctx.cast(acc, f32), ctx.cast(scale, f32))
    ys = ctx.cast(ctx.input(y_scale), f32)
    ops = [real, ys] + ([ctx.input(y_zp)] if ctx.has_input(y_zp) else [])
    to = ctx.type(y_zp).element if ctx.has_input(y_zp) else u8
    return ctx.op("ml.quantize_linear", *ops, to=to, axis=1)


def _as_channel(ctx: NodeContext, v: Value, rank: int) -> Value:
    """A per-channel (1-D) scale shaped to broadcast along axis 1 of a rank-`rank` tensor."""
    t = v.type
    if isinstance(t, TensorType) and t.shape is not None and len(t.shape) == 1 and \
            t.shape[0] != 1:
        return ctx.op("ml.unsqueeze", v, axes=tuple(range(1, rank - 1)))
    return v


@converter("QLinearMatMul", since=10)
def _qlinear_matmul(ctx: NodeContext) -> List[Value]:
    acc = ctx.op("ml.matmul_integer", ctx.input(0), ctx.input(3), ctx.input(2), ctx.input(5),
                 operandSegmentSizes=(1, 1, 1, 1))
    sa, sb = ctx.cast(ctx.input(1), f32), ctx.cast(ctx.input(4), f32)
    scale = ctx.op("ml.mul", sa, sb)
    return [_requantize(ctx, acc, scale, 6, 7)]


@converter("QLinearConv", since=10)
def _qlinear_conv(ctx: NodeContext) -> List[Value]:
    x, w = ctx.input(0), ctx.input(3)
    acc = ctx.op("ml.conv_integer", x, w, ctx.input(2), ctx.input(5),
                 operandSegmentSizes=(1, 1, 1, 1), **_conv_window(ctx, x, w))
    rank = ctx.rank(0)
    if rank is None:
        raise Unsupported("QLinearConv on an input of unknown rank")
    if ctx.has_input(8):
        b = ctx.cast(ctx.input(8), i32)
        acc = ctx.op("ml.add", acc, ctx.op("ml.unsqueeze", b, axes=tuple(range(1, rank - 1))))
    scale = ctx.op("ml.mul", ctx.cast(ctx.input(1), f32),
                   _as_channel(ctx, ctx.cast(ctx.input(4), f32), rank))
    return [_requantize(ctx, acc, scale, 6, 7)]
