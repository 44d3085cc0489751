"""Small models built as IR for the whole-model autodiff tests: an MLP, a CNN and a pre-norm
Transformer block, each ending in a scalar loss. Parameters come first, data last."""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.types import tensor

from ._autodiff_util import make_module


def _c(b, value, dtype=np.float64):
    return b.op("ml.constant", value=DenseAttr(np.asarray(value, dtype)))


def cross_entropy(b, logits, labels):
    """mean over the batch of -log_softmax(logits)[label] (labels: i64 (N,))."""
    logp = b.op("ml.log_softmax", logits, axis=1)
    picked = b.op("ml.gather_elements", logp, b.op("ml.unsqueeze", labels, axes=(1,)), axis=1)
    return b.op("ml.neg", b.op("ml.reduce_mean", picked, keepdims=False))


def mlp(dtype: str = "f64", batch=4, d_in=5, hidden=8, classes=3) -> Tuple:
    """loss(W1, b1, W2, b2, x, y): relu MLP + softmax cross-entropy."""
    shapes = [(d_in, hidden), (hidden,), (hidden, classes), (classes,)]

    def body(b, w1, b1, w2, b2, x, y):
        h = b.op("ml.relu", b.op("ml.add", b.op("ml.matmul", x, w1), b1))
        logits = b.op("ml.gemm", h, w2, b2)
        return cross_entropy(b, logits, y)
    types = [tensor(s, dtype) for s in shapes] + [tensor([batch, d_in], dtype),
                                                  tensor([batch], "i64")]
    return make_module(types, body), shapes


def cnn(dtype: str = "f64", batch=2, classes=4) -> Tuple:
    """loss(K1, c1, K2, c2, W, bw, x, y): conv-relu-maxpool-conv(stride 2)-relu-gap-gemm + CE."""
    shapes = [(4, 1, 3, 3), (4,), (6, 4, 3, 3), (6,), (classes, 6), (classes,)]

    def body(b, k1, c1, k2, c2, w, bw, x, y):
        h = b.op("ml.relu", b.op("ml.conv", x, k1, c1, pads=(1, 1, 1, 1)))
        h = b.op("ml.max_pool", h, kernel_shape=(2, 2), strides=(2, 2))
        h = b.op("ml.relu", b.op("ml.conv", h, k2, c2, strides=(2, 2), pads=(1, 1, 1, 1)))
        h = b.op("ml.flatten", b.op("ml.global_avg_pool", h), axis=1)
        logits = b.op("ml.gemm", h, w, bw, trans_b=True)
        return cross_entropy(b, logits, y)
    types = [tensor(s, dtype) for s in shapes] + [tensor([batch, 1, 8, 8], dtype),
                                                  tensor([batch], "i64")]
    return make_module(types, body), shapes


def transformer_block(dtype: str = "f64", batch=2, seq=5, d=8, heads=2, ff=16) -> Tuple:
    """loss(ln1_w, ln1_b, Wqkv, Wo, ln2_w, ln2_b, W1, b1, W2, b2, x, target): pre-norm causal
    self-attention + GELU MLP, loss = mean((block(x) - target)^2)."""
    shapes = [(d,), (d,), (d, 3 * d), (d, d), (d,), (d,), (d, ff), (ff,), (ff, d), (d,)]
    hd = d // heads
    mask = np.triu(np.ones((seq, seq), bool), 1)

    def body(b, g1, be1, wqkv, wo, g2, be2, w1, bb1, w2, bb2, x, target):
        h = b.op("ml.layer_norm", x, g1, be1, axis=-1)
        qkv = b.op("ml.matmul", h, wqkv)                                   # (B, S, 3D)
        q, k, v = b.op("ml.split", qkv, axis=2, num_outputs=3)

        def heads_of(t):
            t = b.op("ml.reshape", t, shape=(batch, seq, heads, hd))
            return b.op("ml.transpose", t, perm=(0, 2, 1, 3))              # (B, H, S, hd)
        q, k, v = heads_of(q), heads_of(k), heads_of(v)
        s = b.op("ml.matmul", q, b.op("ml.transpose", k, perm=(0, 1, 3, 2)))
        s = b.op("ml.mul", s, _c(b, 1.0 / np.sqrt(hd)))
        s = b.op("ml.where", b.op("ml.constant", value=DenseAttr(mask)), _c(b, -1e9), s)
        a = b.op("ml.matmul", b.op("ml.softmax", s, axis=-1), v)           # (B, H, S, hd)
        a = b.op("ml.reshape", b.op("ml.transpose", a, perm=(0, 2, 1, 3)), shape=(batch, seq, d))
        x = b.op("ml.add", x, b.op("ml.matmul", a, wo))
        h = b.op("ml.layer_norm", x, g2, be2, axis=-1)
        h = b.op("ml.gelu", b.op("ml.add", b.op("ml.matmul", h, w1), bb1))
        x = b.op("ml.add", x, b.op("ml.add", b.op("ml.matmul", h, w2), bb2))
        diff = b.op("ml.sub", x, target)
        return b.op("ml.reduce_mean", b.op("ml.mul", diff, diff), keepdims=False)
    types = [tensor(s, dtype) for s in shapes] + [tensor([batch, seq, d], dtype)] * 2
    return make_module(types, body), shapes


def init_params(shapes, rng, scale=0.5) -> List[np.ndarray]:
    return [rng.standard_normal(s) * (scale if len(s) > 1 else 0.1) for s in shapes]


def layer_norm_params(shapes, params) -> None:
    """Make 1-D scale params of the transformer block near 1 (in place)."""
    for i in (0, 4):
        params[i] = 1.0 + params[i]


MODELS: Dict[str, object] = {"mlp": mlp, "cnn": cnn, "transformer": transformer_block}
