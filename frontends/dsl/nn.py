"""`tf.nn`: activations, softmax family, losses, bias_add, and NHWC conv2d / pooling.

Losses are compositions of `ml` ops (`softmax_cross_entropy_with_logits` is
`-reduce_sum(labels * log_softmax(logits), axis)`), so autodiff sees only primitive ops.
`conv2d` and the pools take TensorFlow's NHWC layout and HWIO filters and transpose to the `ml`
dialect's NCHW around the op.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from mlir_lite.errors import DslError

from . import op_table, ops
from .graph import Tensor, describe, user_location
from .ops import as_tensor, make_op

# __all__ (the table's "nn" names) is set at the end, where the table fills this module


def softmax(logits: Any, axis: int = -1, name: Optional[str] = None,
            dim: Optional[int] = None) -> Tensor:
    axis = dim if dim is not None else axis
    return make_op("ml.softmax", [as_tensor(logits)], {"axis": int(axis)}, name=name,
                   api="softmax")


def log_softmax(logits: Any, axis: int = -1, name: Optional[str] = None,
                dim: Optional[int] = None) -> Tensor:
    axis = dim if dim is not None else axis
    return make_op("ml.log_softmax", [as_tensor(logits)], {"axis": int(axis)}, name=name,
                   api="log_softmax")


def bias_add(value: Any, bias: Any, name: Optional[str] = None) -> Tensor:
    return ops.add(value, bias, name=name)


def l2_loss(t: Any, name: Optional[str] = None) -> Tensor:
    """sum(t ** 2) / 2."""
    return ops.reduce_sum(ops.square(t)) * 0.5


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, dim: int = -1,
                                      name: Optional[str] = None, axis: Optional[int] = None
                                      ) -> Tensor:
    """Per-example cross entropy of `labels` (a distribution) against softmax(`logits`)."""
    if _sentinel is not None or labels is None or logits is None:
        raise DslError("softmax_cross_entropy_with_logits takes labels= and logits= by name",
                       user_location())
    axis = dim if axis is None else axis
    logits = as_tensor(logits)
    labels = as_tensor(labels, logits.dtype)
    return ops.negative(ops.reduce_sum(labels * log_softmax(logits, axis), axis=axis))


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                             logits: Any = None,
                                             name: Optional[str] = None) -> Tensor:
    """Per-example cross entropy of integer class `labels` against softmax(`logits`)."""
    if _sentinel is not None or labels is None or logits is None:
        raise DslError("sparse_softmax_cross_entropy_with_logits takes labels= and logits= by "
                       "name", user_location())
    logits = as_tensor(logits)
    depth = logits.shape[-1] if logits.shape else None
    if type(depth) is not int:
        raise DslError(f"sparse_softmax_cross_entropy_with_logits needs a static class dim: "
                       f"{describe(logits)}", user_location())
    onehot = ops.one_hot(labels, depth, dtype=logits.dtype)
    return ops.negative(ops.reduce_sum(onehot * log_softmax(logits), axis=-1))


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, name: Optional[str] = None) -> Tensor:
    """max(x, 0) - x * z + log(1 + exp(-|x|)), elementwise."""
    x = as_tensor(logits)
    z = as_tensor(labels, x.dtype)
    return ops.relu(x) - x * z + IMPLS["softplus"](ops.negative(ops.abs(x)))


# -- NHWC convolution and pooling --------------------------------------------------------------
def _hw(v: Any, what: str) -> Tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = list(v)
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise DslError(f"{what} {v}: the batch and channel entries must be 1",
                           user_location())
        return (int(v[1]), int(v[2]))
    if len(v) == 2:
        return (int(v[0]), int(v[1]))
    raise DslError(f"{what} must have 1, 2 or 4 entries, got {v}", user_location())


def _pads(padding: str, x: Tensor, k: Sequence[int], s: Sequence[int]) -> tuple:
    if padding == "VALID":
        return (0, 0, 0, 0)
    if padding != "SAME":
        raise DslError(f"padding must be 'SAME' or 'VALID', got {padding!r}", user_location())
    hw = x.shape[1:3] if x.shape is not None else (None, None)
    if not all(type(d) is int for d in hw):
        raise DslError(f"padding='SAME' needs static spatial dims: {describe(x)}",
                       user_location())
    begin, end = [], []
    for d, kk, ss in zip(hw, k, s):
        out = -(-d // ss)
        total = max((out - 1) * ss + kk - d, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return tuple(begin + end)


def _nchw(x: Tensor) -> Tensor:
    return make_op("ml.transpose", [x], {"perm": (0, 3, 1, 2)}, api="conv2d")


def _nhwc(x: Tensor) -> Tensor:
    return make_op("ml.transpose", [x], {"perm": (0, 2, 3, 1)}, api="conv2d")


def conv2d(input: Any, filter: Any = None, strides: Any = 1, padding: str = "VALID",
           name: Optional[str] = None, filters: Any = None, dilations: Any = 1) -> Tensor:
    """2-D convolution of NHWC `input` with an HWIO `filter` (TensorFlow layouts)."""
    x = as_tensor(input)
    w = as_tensor(filter if filter is not None else filters, x.dtype)
    if w.shape is None or len(w.shape) != 4 or not all(type(d) is int for d in w.shape[:2]):
        raise DslError(f"conv2d needs a 4-D HWIO filter with static kernel size: {describe(w)}",
                       user_location())
    s, d = _hw(strides, "strides"), _hw(dilations, "dilations")
    k = tuple((w.shape[i] - 1) * d[i] + 1 for i in range(2))
    attrs = {"strides": s, "dilations": d, "pads": _pads(padding, x, k, s)}
    wt = make_op("ml.transpose", [w], {"perm": (3, 2, 0, 1)}, api="conv2d")
    return _nhwc(make_op("ml.conv", [_nchw(x), wt], attrs, name=name, api="conv2d"))


def _pool(op: str, api: str):
    def fn(value: Any, ksize: Any, strides: Any, padding: str = "VALID",
           data_format: str = "NHWC", name: Optional[str] = None) -> Tensor:
        if data_format != "NHWC":
            raise DslError(f"{api}: only data_format='NHWC' is supported", user_location())
        x = as_tensor(value)
        k, s = _hw(ksize, "ksize"), _hw(strides, "strides")
        attrs: Dict[str, Any] = {"kernel_shape": k, "strides": s,
                                 "pads": _pads(padding, x, k, s)}
        if op == "ml.avg_pool":
            attrs["count_include_pad"] = False
        return _nhwc(make_op(op, [_nchw(x)], attrs, name=name, api=api))
    fn.__name__ = api
    return fn


max_pool = _pool("ml.max_pool", "max_pool")
avg_pool = _pool("ml.avg_pool", "avg_pool")



# -- the generated functions (op_table.TABLE, surface "nn"; tf.nn.relu is tf.relu) ------------
IMPLS: Dict[str, Callable[..., Tensor]] = op_table.populate("nn", globals(), ops._generated,
                                                            reuse=ops.IMPLS)
__all__ = op_table.names("nn")


def __getattr__(name: str) -> Any:
    """For type checkers: the names `populate` defined above are this module's functions."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
