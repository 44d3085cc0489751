"""Neural-network ONNX ops: Conv, ConvTranspose, pooling, normalizations, softmax family,
Gemm, MatMul, Einsum."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Value
from mlir_lite.ir.types import TensorType, i64

from ..context import NodeContext
from ..dtypes import element_of
from ..registry import Unsupported, converter
from ._util import bool_attr, resolve_pads, scalar_const, shape_of, static_shape


def _spatial(ctx: NodeContext, x: Value, w: Optional[Value] = None) -> int:
    t = x.type
    if isinstance(t, TensorType) and t.shape is not None:
        return len(t.shape) - 2
    ks = ctx.attr("kernel_shape", None, "ints")
    if ks:
        return len(ks)
    if w is not None and isinstance(w.type, TensorType) and w.type.shape is not None:
        return len(w.type.shape) - 2
    raise Unsupported("input of unknown rank")


def _window(ctx: NodeContext, x: Value, kernel: List[int], n: int):
    strides = ctx.attr("strides", None, "ints") or (1,) * n
    dil = ctx.attr("dilations", None, "ints") or (1,) * n
    pads = resolve_pads(ctx, x, kernel, strides, dil, n)
    return tuple(strides), pads, tuple(dil)


@converter("Conv", since=1)
def _conv(ctx: NodeContext) -> List[Value]:
    x, w = ctx.input(0), ctx.input(1)
    n = _spatial(ctx, x, w)
    ks = ctx.attr("kernel_shape", None, "ints")
    if not ks:
        ws = w.type.shape if isinstance(w.type, TensorType) else None
        if ws is None or any(type(d) is not int for d in ws[2:]):
            raise Unsupported("Conv without kernel_shape and with a non-static weight shape")
        ks = tuple(ws[2:])
    strides, pads, dil = _window(ctx, x, list(ks), n)
    ops = [x, w] + ([ctx.input(2)] if ctx.has_input(2) else [])
    return [ctx.op("ml.conv", *ops, strides=strides, pads=pads, dilations=dil,
                   group=ctx.attr("group", 1, "int"))]


@converter("ConvTranspose", since=1)
def _conv_transpose(ctx: NodeContext) -> List[Value]:
    x, w = ctx.input(0), ctx.input(1)
    n = _spatial(ctx, x, w)
    ws = w.type.shape if isinstance(w.type, TensorType) else None
    ks = ctx.attr("kernel_shape", None, "ints")
    if not ks:
        if ws is None or any(type(d) is not int for d in ws[2:]):
            raise Unsupported("ConvTranspose without kernel_shape and a non-static weight")
        ks = tuple(ws[2:])
    strides = tuple(ctx.attr("strides", None, "ints") or (1,) * n)
    dil = tuple(ctx.attr("dilations", None, "ints") or (1,) * n)
    opad = list(ctx.attr("output_padding", None, "ints") or (0,) * n)
    out_shape = ctx.attr("output_shape", None, "ints")
    auto = ctx.attr("auto_pad", "NOTSET", "string")
    pads = ctx.attr("pads", None, "ints")
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        xs = x.type.shape if isinstance(x.type, TensorType) else None
        if xs is None or any(type(d) is not int for d in xs[2:]):
            raise Unsupported("ConvTranspose output_shape/auto_pad needs static spatial dims")
        target = list(out_shape)[-n:] if out_shape else [xs[2 + i] * strides[i] for i in range(n)]
        begins, ends = [], []
        for i in range(n):
            total = strides[i] * (xs[2 + i] - 1) + opad[i] + (ks[i] - 1) * dil[i] + 1 - target[i]
            if total < 0:
                opad[i] += -total
                total = 0
            if auto == "SAME_UPPER":
                b = total // 2
            else:
                b = total - total // 2
            begins.append(b)
            ends.append(total - b)
        pads = tuple(begins + ends)
    elif auto == "VALID" or not pads:
        pads = (0,) * (2 * n)
    ops = [x, w] + ([ctx.input(2)] if ctx.has_input(2) else [])
    return [ctx.op("ml.conv_transpose", *ops, strides=strides, pads=tuple(pads), dilations=dil,
                   group=ctx.attr("group", 1, "int"), output_padding=tuple(opad))]


def _pool(ml: str):
    def conv(ctx: NodeContext) -> List[Value]:
        x = ctx.input(0)
        ks = list(ctx.attr("kernel_shape", kind="ints"))
        n = len(ks)
        strides, pads, dil = _window(ctx, x, ks, n)
        attrs = dict(kernel_shape=tuple(ks), strides=strides, pads=pads,
                     ceil_mode=bool_attr(ctx, "ceil_mode"))
        attrs["dilations"] = dil
        if ml == "max_pool":
            order = ctx.attr("storage_order", 0, "int")
            if ctx.has_output(1):
                return [ctx.op("ml.max_pool", x, **attrs),
                        ctx.op("ml.max_pool_indices", x, storage_order=order, **attrs)]
            # storage_order only orders the Indices output
        elif ml == "avg_pool":
            attrs["count_include_pad"] = bool_attr(ctx, "count_include_pad")
        else:
            attrs["p"] = ctx.attr("p", 2, "int")
        return [ctx.op(f"ml.{ml}", x, **attrs)]
    return conv


converter("MaxPool", since=1)(_pool("max_pool"))
converter("AveragePool", since=1)(_pool("avg_pool"))
converter("LpPool", since=2)(_pool("lp_pool"))


def _zeros(ctx: NodeContext, shape: List[int], like: Value) -> Value:
    t = like.type
    assert isinstance(t, TensorType)
    return ctx.op("ml.constant_of_shape", shape=tuple(shape),
                  value=DenseAttr(np.zeros(1, t.element.np_dtype)))


def _scatter_add_flat(ctx: NodeContext, x: Value, where: np.ndarray, lead: List[int],
                      size: int, reduction: str) -> Value:
    """A (*lead, size) tensor: zeros with each entry of `x` (viewed as (*lead, K)) combined
    into position `where[k]` of its row (`where` of K entries; -1 drops the entry)."""
    k = int(where.size)
    ups = ctx.op("ml.reshape", x, shape=tuple(lead) + (k,))
    idx = np.broadcast_to(np.where(where < 0, size, where).astype(np.int64), tuple(lead) + (k,))
    data = _zeros(ctx, list(lead) + [size + 1], x)  # the last slot takes the dropped entries
    out = ctx.op("ml.scatter_elements", data, ctx.constant(np.ascontiguousarray(idx)), ups,
                 axis=len(lead), reduction=reduction)
    return ctx.op("ml.slice", out, starts=(0,), ends=(size,), axes=(len(lead),))


@converter("MaxUnpool", since=9)
def _max_unpool(ctx: NodeContext) -> List[Value]:
    """Zeros of the output shape, each x at its index (a flat index into the whole output, as
    MaxPool's Indices gives): a scatter into the flattened output."""
    x = ctx.input(0)
    xs = static_shape(x)
    if xs is None:
        raise Unsupported("MaxUnpool needs a static input shape")
    ks = list(ctx.attr("kernel_shape", kind="ints"))
    n = len(ks)
    strides = list(ctx.attr("strides", None, "ints") or (1,) * n)
    pads = list(ctx.attr("pads", None, "ints") or (0,) * (2 * n))
    if ctx.has_input(2):
        out = ctx.const_ints(2)
        if out is None:
            raise Unsupported("MaxUnpool with a run-time output_shape")
        shape = list(out)
    else:
        shape = list(xs[:2]) + [(xs[2 + i] - 1) * strides[i] - pads[i] - pads[n + i] + ks[i]
                                for i in range(n)]
    total = int(np.prod(shape))
    flat = ctx.op("ml.reshape", ctx.input(1), shape=(1, -1))
    ups = ctx.op("ml.reshape", x, shape=(1, -1))
    data = _zeros(ctx, [1, total], x)
    y = ctx.op("ml.scatter_elements", data, ctx.cast(flat, i64), ups, axis=1)
    return [ctx.op("ml.reshape", y, shape=tuple(shape))]


@converter("Col2Im", since=18)
def _col2im(ctx: NodeContext) -> List[Value]:
    """The sum of each column entry into the image position its block offset and column give
    (the inverse of im2col): a scatter-add into the flattened image of static index."""
    x = ctx.input(0)
    xs = static_shape(x)
    image, block = ctx.const_ints(1), ctx.const_ints(2)
    if xs is None or image is None or block is None:
        raise Unsupported("Col2Im needs a static input and constant image and block shapes")
    n = len(image)
    dil = list(ctx.attr("dilations", None, "ints") or (1,) * n)
    strides = list(ctx.attr("strides", None, "ints") or (1,) * n)
    pads = list(ctx.attr("pads", None, "ints") or (0,) * (2 * n))
    cols = [(image[i] + pads[i] + pads[n + i] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1
            for i in range(n)]
    nb, nl = int(np.prod(block)), int(np.prod(cols))
    if xs[1] % nb or xs[2] != nl:
        raise ctx.error(f"input {xs} does not fit blocks {block} over image {image}")
    b = np.indices(block).reshape(n, nb, 1)   # block offset per dim
    c = np.indices(cols).reshape(n, 1, nl)    # column position per dim
    pos = c * np.array(strides).reshape(n, 1, 1) - np.array(pads[:n]).reshape(n, 1, 1) + \
        b * np.array(dil).reshape(n, 1, 1)
    ok = np.all((pos >= 0) & (pos < np.array(image).reshape(n, 1, 1)), axis=0)
    where = np.where(ok, np.ravel_multi_index(tuple(np.clip(pos, 0, None)), tuple(image),
                                              mode="clip"), -1)
    lead = [xs[0], xs[1] // nb]
    y = _scatter_add_flat(ctx, x, where.reshape(-1), lead, int(np.prod(image)), "add")
    return [ctx.op("ml.reshape", y, shape=tuple(lead) + tuple(image))]


@converter("GlobalAveragePool", "GlobalMaxPool", since=1)
def _global_pool(ctx: NodeContext) -> List[Value]:
    ml = "ml.global_avg_pool" if ctx.node.op_type == "GlobalAveragePool" else "ml.global_max_pool"
    return [ctx.op(ml, ctx.input(0))]


@converter("GlobalLpPool", since=2)
def _global_lp(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.global_lp_pool", ctx.input(0), p=ctx.attr("p", 2, "int"))]


@converter("BatchNormalization", since=6)
def _batch_norm(ctx: NodeContext) -> List[Value]:
    ctx.ignore("momentum")  # updates the running statistics: training only
    if ctx.opset < 7 and ctx.attr("is_test", 0, "int") == 0 and ctx.num_outputs > 1:
        raise Unsupported("BatchNormalization in training mode (is_test=0)")
    if ctx.opset < 9 and ctx.attr("spatial", 1, "int") != 1:
        raise Unsupported("BatchNormalization with spatial=0")
    if ctx.attr("training_mode", 0, "int") or any(ctx.has_output(i) for i in range(1, 5)):
        raise Unsupported("BatchNormalization in training mode (extra outputs)")
    ops = [ctx.input(i) for i in range(5)]
    return [ctx.op("ml.batch_norm", *ops, epsilon=ctx.attr("epsilon", 1e-5, "float"))]


@converter("InstanceNormalization", since=6)
def _instance_norm(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.instance_norm", ctx.input(0), ctx.input(1), ctx.input(2),
                   epsilon=ctx.attr("epsilon", 1e-5, "float"))]


@converter("GroupNormalization", since=18)
def _group_norm(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    g = ctx.attr("num_groups", kind="int")
    scale, bias = ctx.input(1), ctx.input(2)
    if ctx.opset < 21:  # scale and bias per group: repeat them per channel
        c = x.type.shape[1] if isinstance(x.type, TensorType) and x.type.shape else None
        s, b = ctx.const(1), ctx.const(2)
        if type(c) is not int or s is None or b is None or g < 1 or c % g:
            raise Unsupported("GroupNormalization-18 needs static channels and constant "
                              "scale/bias")
        scale = ctx.constant(np.repeat(s, c // g))
        bias = ctx.constant(np.repeat(b, c // g))
    return [ctx.op("ml.group_norm", x, scale, bias, num_groups=g,
                   epsilon=ctx.attr("epsilon", 1e-5, "float"))]


@converter("LpNormalization", since=1)
def _lp_normalization(ctx: NodeContext) -> List[Value]:
    """x / ||x||_p along `axis` (p 1 or 2), 0 where the norm is 0 (then x is 0 there: divided
    by 1 instead)."""
    x = ctx.input(0)
    p = ctx.attr("p", 2, "int")
    if p not in (1, 2):
        raise ctx.error(f"p must be 1 or 2, got {p}", attribute="p")
    norm = ctx.op(f"ml.reduce_l{p}", x, axes=(ctx.attr("axis", -1, "int"),), keepdims=True)
    zero = ctx.op("ml.equal", norm, scalar_const(ctx, 0, norm))
    return [ctx.op("ml.div", x, ctx.op("ml.where", zero, scalar_const(ctx, 1, norm), norm))]


@converter("LayerNormalization", since=17)
def _layer_norm(ctx: NodeContext) -> List[Value]:
    ops = [ctx.input(0), ctx.input(1)] + ([ctx.input(2)] if ctx.has_input(2) else [])
    axis, eps = ctx.attr("axis", -1, "int"), ctx.attr("epsilon", 1e-5, "float")
    y = ctx.op("ml.layer_norm", *ops, axis=axis, epsilon=eps)
    if not (ctx.has_output(1) or ctx.has_output(2)):
        return [y, None, None]
    # Mean and InvStdDev, computed in the stash type (float32 by default)
    r = ctx.rank(0)
    if r is None:
        raise Unsupported("LayerNormalization's Mean/InvStdDev outputs need a ranked input")
    axes = tuple(range(axis + r if axis < 0 else axis, r))
    xs = ctx.cast(ctx.input(0), element_of(ctx.attr("stash_type", 1, "int")))
    mean = ctx.op("ml.reduce_mean", xs, axes=axes, keepdims=True)
    d = ctx.op("ml.sub", xs, mean)
    var = ctx.op("ml.reduce_mean", ctx.op("ml.mul", d, d), axes=axes, keepdims=True)
    inv = ctx.op("ml.reciprocal", ctx.op("ml.sqrt", ctx.op("ml.add", var,
                                                           scalar_const(ctx, eps, var))))
    return [y, mean, inv]


@converter("RMSNormalization", since=23)
def _rms_norm(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.rms_norm", ctx.input(0), ctx.input(1), axis=ctx.attr("axis", -1, "int"),
                   epsilon=ctx.attr("epsilon", 1e-5, "float"))]


@converter("LRN", since=1)
def _lrn(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.lrn", ctx.input(0), size=ctx.attr("size", kind="int"),
                   alpha=ctx.attr("alpha", 1e-4, "float"), beta=ctx.attr("beta", 0.75, "float"),
                   bias=ctx.attr("bias", 1.0, "float"))]


@converter("MeanVarianceNormalization", since=9)
def _mvn(ctx: NodeContext) -> List[Value]:
    x = ctx.input(0)
    axes = tuple(ctx.attr("axes", (0, 2, 3), "ints"))
    mean = ctx.op("ml.reduce_mean", x, axes=axes, keepdims=True)
    d = ctx.op("ml.sub", x, mean)
    var = ctx.op("ml.reduce_mean", ctx.op("ml.mul", d, d), axes=axes, keepdims=True)
    std = ctx.op("ml.sqrt", var)
    return [ctx.op("ml.div", d, ctx.op("ml.add", std, scalar_const(ctx, 1e-9, x)))]


def _softmax(ml: str):
    def new(ctx: NodeContext) -> List[Value]:
        return [ctx.op(f"ml.{ml}", ctx.input(0), axis=ctx.attr("axis", -1, "int"))]

    def old(ctx: NodeContext) -> List[Value]:
        # before opset 13: coerce to 2-D at `axis`, normalize the second dim, restore the shape
        x = ctx.input(0)
        axis = ctx.attr("axis", 1, "int")
        r = ctx.rank(0)
        if r is None:
            raise Unsupported(f"{ctx.node.op_type} (opset < 13) on an input of unknown rank")
        axis = axis + r if axis < 0 else axis
        if axis == r - 1:
            return [ctx.op(f"ml.{ml}", x, axis=-1)]
        flat = ctx.op("ml.flatten", x, axis=axis)
        y = ctx.op(f"ml.{ml}", flat, axis=-1)
        s = static_shape(x)
        if s is not None:
            return [ctx.op("ml.reshape", y, shape=s)]
        return [ctx.op("ml.reshape_dynamic", y, shape_of(ctx, x))]
    return old, new


for _op, _ml in (("Softmax", "softmax"), ("LogSoftmax", "log_softmax"), ("Hardmax", "hardmax")):
    _old, _new = _softmax(_ml)
    converter(_op, since=1)(_old)
    converter(_op, since=13)(_new)


@converter("Gemm", since=6)
def _gemm(ctx: NodeContext) -> List[Value]:
    # opset 6's `broadcast`: a valid model without it already has C of shape (M, N), which
    # broadcasting leaves as it is
    ctx.ignore("broadcast")
    ops = [ctx.input(0), ctx.input(1)] + ([ctx.input(2)] if ctx.has_input(2) else [])
    return [ctx.op("ml.gemm", *ops, alpha=ctx.attr("alpha", 1.0, "float"),
                   beta=ctx.attr("beta", 1.0, "float"), trans_a=bool_attr(ctx, "transA"),
                   trans_b=bool_attr(ctx, "transB"))]


@converter("MatMul", since=1)
def _matmul(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.matmul", ctx.input(0), ctx.input(1))]


@converter("Det", since=11)
def _det(ctx: NodeContext) -> List[Value]:
    return [ctx.op("ml.det", ctx.input(0))]


@converter("GridSample", since=16)
def _grid_sample(ctx: NodeContext) -> List[Value]:
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear", "string")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    return [ctx.op("ml.grid_sample", ctx.input(0), ctx.input(1), mode=mode,
                   padding_mode=ctx.attr("padding_mode", "zeros", "string"),
                   align_corners=bool_attr(ctx, "align_corners"))]


@converter("Einsum", since=12)
def _einsum(ctx: NodeContext) -> List[Value]:
    ins = [ctx.input(i) for i in range(ctx.num_inputs)]
    return [ctx.op("ml.einsum", *ins, equation=ctx.attr("equation", kind="string"))]


def _loss_attrs(ctx: NodeContext) -> dict:
    return dict(reduction=ctx.attr("reduction", "mean", "string"),
                ignore_index=ctx.attr("ignore_index", None, "int"))


@converter("NegativeLogLikelihoodLoss", since=12)
def _nll_loss(ctx: NodeContext) -> List[Value]:
    ops = [ctx.input(0), ctx.input(1)] + ([ctx.input(2)] if ctx.has_input(2) else [])
    return [ctx.op("ml.nll_loss", *ops, **_loss_attrs(ctx))]


@converter("SoftmaxCrossEntropyLoss", since=12)
def _softmax_cross_entropy(ctx: NodeContext) -> List[Value]:
    log_prob = ctx.op("ml.log_softmax", ctx.input(0), axis=1)
    ops = [log_prob, ctx.input(1)] + ([ctx.input(2)] if ctx.has_input(2) else [])
    return [ctx.op("ml.nll_loss", *ops, **_loss_attrs(ctx)), log_prob]
