"""The symbolic DSL's math, array and reduction ops (TensorFlow 1 names and arguments).

Each function records one or a few `ml` ops in the graph. Result types are inferred at once
from the op declarations, so a shape that does not fit raises a `DslError` at the line that
builds it, naming the operands and where they were created:

    tf.matmul(x, W)   # x: (?, 784), W: (785, 10) -> DslError at model.py:7: ...
"""
from __future__ import annotations

import builtins
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from mlir_lite.errors import DslError, InferenceError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.types import ElementType, i64

from . import op_table
from .dtypes import as_dtype, default_dtype, float32
from .graph import Tensor, describe, user_location
from .op_table import OpDef

# not ops: constants, and the helpers the other symbolic modules build on
HELPERS = ["make_op", "as_tensor", "constant", "zeros", "ones", "zeros_like", "ones_like",
           "fill", "static_shape", "shape_of", "getitem"]
# __all__ (HELPERS + the table's "tf" names) is set at the end, where the table fills this module


def make_op(op: str, inputs: Sequence[Tensor], attrs: Optional[Dict[str, Any]] = None,
            name: Optional[str] = None, api: Optional[str] = None) -> Tensor:
    """Record `ml` op `op` on `inputs`; its type is inferred now (errors name the operands)."""
    attrs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (attrs or {}).items()}
    loc = user_location()
    cls = OP_REGISTRY[op]
    try:
        (rt,) = cls.infer_result_types([t.type for t in inputs], attrs, loc)
    except InferenceError as e:
        what = api or op.split(".", 1)[1]
        operands = "; ".join(describe(t) for t in inputs)
        detail = e.message.split(": ", 2)[-1]
        raise DslError(f"{what}: {detail}. Operands: {operands}", loc) from None
    return Tensor("op", rt.element, rt.shape, inputs, op=op, attrs=attrs, name=name, loc=loc)


def constant(value: Any, dtype: Any = None, shape: Optional[Sequence[int]] = None,
             name: Optional[str] = None) -> Tensor:
    """A constant tensor from Python/numpy data (filled to `shape` when it is a scalar)."""
    if isinstance(value, Tensor):
        return value if dtype is None else cast(value, dtype)
    el = as_dtype(dtype) if dtype is not None else default_dtype(value)
    arr = np.asarray(value, dtype=el.np_dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        arr = np.broadcast_to(arr, shape) if arr.size == 1 or arr.shape == shape else \
            arr.reshape(shape)
    arr = np.array(arr)
    return Tensor("const", el, arr.shape, attrs={"value": arr}, name=name or "Const")


def as_tensor(v: Any, dtype: Optional[ElementType] = None) -> Tensor:
    """`v` itself when it is a Tensor, else a constant (of `dtype` when given)."""
    if isinstance(v, Tensor):
        return v
    return constant(v, dtype)


def static_shape(shape: Any, what: str) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    out = tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in out):
        raise DslError(f"{what}: shape {shape} must be a list of non-negative ints",
                       user_location())
    return tuple(int(d) for d in out)


def zeros(shape: Any, dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    return constant(np.zeros(static_shape(shape, "zeros"), as_dtype(dtype).np_dtype), name=name)


def ones(shape: Any, dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    return constant(np.ones(static_shape(shape, "ones"), as_dtype(dtype).np_dtype), name=name)


def fill(dims: Any, value: Any, name: Optional[str] = None) -> Tensor:
    return constant(value, shape=static_shape(dims, "fill"), name=name)


def _like(t: Tensor, value: float, dtype: Any) -> Tensor:
    t = as_tensor(t)
    el = as_dtype(dtype) if dtype is not None else t.dtype
    if t.shape is not None and all(type(d) is int for d in t.shape):
        return constant(np.full(t.shape, value, el.np_dtype))
    shp = make_op("ml.shape", [t])
    return make_op("ml.constant_of_shape_dynamic", [shp],
                   {"value": DenseAttr(np.full((1,), value, el.np_dtype))})


def zeros_like(t: Any, dtype: Any = None, name: Optional[str] = None) -> Tensor:
    return _like(t, 0, dtype)


def ones_like(t: Any, dtype: Any = None, name: Optional[str] = None) -> Tensor:
    return _like(t, 1, dtype)


def shape(t: Any) -> Tensor:
    """`tf.shape`: the run-time shape as an int64 vector."""
    return make_op("ml.shape", [as_tensor(t)])


shape_of = shape


# -- elementwise -------------------------------------------------------------------------------
def _pair(a: Any, b: Any) -> tuple:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = constant(a)
    if not isinstance(a, Tensor):
        a = constant(a, b.dtype)
    if not isinstance(b, Tensor):
        b = constant(b, a.dtype)
    return a, b


def _generated(d: OpDef, api: str) -> Callable[..., Tensor]:
    """The symbolic function of a generated `op_table` row: operands, attribute parameters
    and `name=None`, recording `d.op` (binary operands broadcast; Python scalars take the
    other operand's dtype)."""
    sig = op_table.signature(d, "tf", Tensor)
    operands = op_table.operand_names(d, "tf")
    op, binary = d.ops[0], d.kind == "binary"

    def fn(*args: Any, **kwargs: Any) -> Tensor:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        v = bound.arguments
        ins = list(_pair(v[operands[0]], v[operands[1]])) if binary else \
            [as_tensor(v[operands[0]])]
        return make_op(op, ins, op_table.attr_values(d, v), name=v["name"], api=api)
    fn.__signature__ = sig  # type: ignore[attr-defined]
    return fn


def not_equal(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    return make_op("ml.not", [IMPLS["equal"](x, y)], name=name, api="not_equal")


def add_n(inputs: Sequence[Any], name: Optional[str] = None) -> Tensor:
    ts = [as_tensor(t) for t in inputs]
    return make_op("ml.sum", ts, name=name, api="add_n")


def square(x: Any, name: Optional[str] = None) -> Tensor:
    x = as_tensor(x)
    return make_op("ml.mul", [x, x], name=name, api="square")


def where(condition: Any, x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    a, b = _pair(x, y)
    return make_op("ml.where", [as_tensor(condition), a, b], name=name, api="where")


def cast(x: Any, dtype: Any, name: Optional[str] = None) -> Tensor:
    x = as_tensor(x)
    el = as_dtype(dtype)
    if el == x.dtype:
        return x
    return make_op("ml.cast", [x], {"to": el}, name=name, api="cast")


# -- linear algebra and shapes -----------------------------------------------------------------
def _swap_last(x: Tensor) -> Tensor:
    r = x.ndim
    if r is None or r < 2:
        raise DslError(f"transpose_a/b needs a tensor of rank >= 2, got {describe(x)}",
                       user_location())
    perm = tuple(range(r - 2)) + (r - 1, r - 2)
    return make_op("ml.transpose", [x], {"perm": perm}, api="matmul")


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False,
           name: Optional[str] = None) -> Tensor:
    """`a @ b` (batched, numpy semantics), optionally transposing the last two dims first."""
    a, b = _pair(a, b)
    if transpose_a:
        a = _swap_last(a)
    if transpose_b:
        b = _swap_last(b)
    return make_op("ml.matmul", [a, b], name=name, api="matmul")


def concat(values: Any, axis: Any, name: Optional[str] = None) -> Tensor:
    if isinstance(values, (int, np.integer)) and isinstance(axis, (list, tuple)):
        values, axis = axis, values  # the pre-1.0 argument order tf.concat(axis, values)
    ts = list(values)
    if not ts:
        raise DslError("concat needs at least one tensor", user_location())
    first = next((t for t in ts if isinstance(t, Tensor)), None)
    ts = [as_tensor(t, None if first is None else first.dtype) for t in ts]
    return make_op("ml.concat", ts, {"axis": int(axis)}, name=name, api="concat")


def squeeze(x: Any, axis: Any = None, name: Optional[str] = None,
            squeeze_dims: Any = None) -> Tensor:
    axis = squeeze_dims if axis is None else axis
    attrs = {} if axis is None else {"axes": tuple(_axes(axis))}
    return make_op("ml.squeeze", [as_tensor(x)], attrs, name=name, api="squeeze")


def expand_dims(x: Any, axis: int, name: Optional[str] = None) -> Tensor:
    x = as_tensor(x)
    if axis < 0 and x.ndim is not None:
        axis += x.ndim + 1
    return make_op("ml.unsqueeze", [x], {"axes": (int(axis),)}, name=name, api="expand_dims")


def one_hot(indices: Any, depth: int, on_value: Any = 1.0, off_value: Any = 0.0,
            axis: int = -1, dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    vals = constant(np.array([off_value, on_value]), as_dtype(dtype))
    return make_op("ml.one_hot", [as_tensor(indices), vals], {"depth": int(depth),
                                                              "axis": int(axis)},
                   name=name, api="one_hot")


def getitem(x: Tensor, key: Any) -> Tensor:
    """Basic indexing: ints, slices with steps, `...` and `None` (new axes)."""
    if not isinstance(key, tuple):
        key = (key,)
    rank = x.ndim
    if rank is None:
        raise DslError(f"cannot index a tensor of unknown rank: {describe(x)}", user_location())
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (rank - n_real) + key[i + 1:]
    key = key + (slice(None),) * (rank - builtins.sum(1 for k in key if k is not None))
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = 0
    out_axis = 0
    for k in key:
        if k is None:
            new.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, (int, np.integer)):
            k = int(k)
            starts.append(k)
            ends.append(k + 1 if k != -1 else 2 ** 62)
            steps.append(1)
            axes.append(axis)
            drop.append(axis)
        elif isinstance(k, slice):
            st = 1 if k.step is None else int(k.step)
            big = 2 ** 62
            s = (0 if st > 0 else -1) if k.start is None else int(k.start)
            e = (big if st > 0 else -big) if k.stop is None else int(k.stop)
            if (s, e, st) != (0, big, 1):
                starts.append(s)
                ends.append(e)
                steps.append(st)
                axes.append(axis)
            out_axis += 1
        else:
            raise DslError(f"unsupported index {k!r} (ints, slices, ... and None only)",
                           user_location())
        axis += 1
    y = x
    if axes:
        y = make_op("ml.slice", [y], {"starts": tuple(starts), "ends": tuple(ends),
                                      "axes": tuple(axes), "steps": tuple(steps)}, api="slice")
    if drop:
        y = make_op("ml.squeeze", [y], {"axes": tuple(drop)}, api="getitem")
    if new:
        y = make_op("ml.unsqueeze", [y], {"axes": tuple(new)}, api="getitem")
    return y


# -- reductions --------------------------------------------------------------------------------
def _axes(axis: Any) -> List[int]:
    if isinstance(axis, (int, np.integer)):
        return [int(axis)]
    return [int(a) for a in axis]


def _reduce(op: str, api: str):
    def fn(input_tensor: Any, axis: Any = None, keepdims: Optional[bool] = None,
           name: Optional[str] = None, reduction_indices: Any = None,
           keep_dims: Optional[bool] = None) -> Tensor:
        x = as_tensor(input_tensor)
        if axis is None:
            axis = reduction_indices
        keep = bool(keepdims if keepdims is not None else (keep_dims or False))
        attrs: Dict[str, Any] = {"keepdims": keep}
        if axis is not None:
            axes = _axes(axis)
            attrs["axes"] = tuple(axes)
            if not axes:
                attrs["noop_with_empty_axes"] = True
        if op == "ml.reduce_mean" and not x.dtype.is_float:
            raise DslError(f"reduce_mean of {x.dtype} is not supported; tf.cast it to a float "
                           f"first: {describe(x)}", user_location())
        return make_op(op, [x], attrs, name=name, api=api)
    fn.__name__ = api
    fn.__doc__ = (f"`{api}(x, axis=None, keepdims=False)` (also `reduction_indices`, "
                  "`keep_dims`): reduce over `axis` (every axis when None).")
    return fn


reduce_sum = _reduce("ml.reduce_sum", "reduce_sum")
reduce_mean = _reduce("ml.reduce_mean", "reduce_mean")
reduce_max = _reduce("ml.reduce_max", "reduce_max")
reduce_min = _reduce("ml.reduce_min", "reduce_min")
reduce_prod = _reduce("ml.reduce_prod", "reduce_prod")


def _arg(op: str, api: str):
    def fn(input: Any, axis: Optional[int] = None, name: Optional[str] = None,
           dimension: Optional[int] = None, output_type: Any = i64) -> Tensor:
        axis = dimension if axis is None else axis
        y = make_op(op, [as_tensor(input)], {"axis": int(axis or 0), "keepdims": False},
                    name=name, api=api)
        return cast(y, output_type)
    fn.__name__ = api
    fn.__doc__ = f"`{api}(x, axis)`: index of the {api[3:]} along `axis` (int64)."
    return fn


argmax = _arg("ml.argmax", "argmax")
argmin = _arg("ml.argmin", "argmin")



# -- the generated functions and Tensor operators (op_table.TABLE, surfaces "tf" and "graph") --
IMPLS: Dict[str, Callable[..., Tensor]] = op_table.populate("tf", globals(), _generated)
op_table.attach(Tensor, "graph", {**IMPLS, "getitem": getitem}, _generated)
__all__ = HELPERS + op_table.names("tf")


def __getattr__(name: str) -> Any:
    """For type checkers: the names `populate` defined above are this module's functions."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
