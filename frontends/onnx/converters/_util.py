"""Helpers shared by the converter families."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Value
from mlir_lite.ir.types import TensorType, i64

from ..context import NodeContext

__all__ = ["resolve_pads", "bool_attr", "full_like", "shape_of", "scalar_const", "static_shape",
           "norm_axes_for", "const_input_or_dynamic"]


def bool_attr(ctx: NodeContext, name: str, default: int = 0) -> bool:
    return bool(ctx.attr(name, default, "int"))


def static_shape(v: Value) -> Optional[Tuple[int, ...]]:
    t = v.type
    if isinstance(t, TensorType) and t.is_static:
        return tuple(t.shape)  # type: ignore[arg-type]
    return None


def shape_of(ctx: NodeContext, v: Value) -> Value:
    """The shape of `v` as a 1-D i64 value (a constant when static)."""
    s = static_shape(v)
    if s is not None:
        return ctx.constant(np.array(s, dtype=np.int64))
    return ctx.op("ml.shape", v)


def scalar_const(ctx: NodeContext, value: Any, like: Value) -> Value:
    """A rank-0 constant of `like`'s element type."""
    t = like.type
    assert isinstance(t, TensorType)  # converters make tensor values
    dt = t.element.np_dtype
    return ctx.constant(np.array(value, dtype=dt))


def full_like(ctx: NodeContext, x: Value, value: Any, dtype: Any) -> Value:
    """A tensor shaped like `x` filled with `value` of numpy `dtype`."""
    fill = DenseAttr(np.array([value], dtype=dtype))
    s = static_shape(x)
    if s is not None:
        return ctx.op("ml.constant_of_shape", shape=s, value=fill)
    return ctx.op("ml.constant_of_shape_dynamic", ctx.op("ml.shape", x), value=fill)


def norm_axes_for(ctx: NodeContext, axes: Sequence[int], rank: Optional[int]) -> Tuple[int, ...]:
    if rank is None:
        return tuple(axes)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ctx.error(f"axis {a} is out of range for rank {rank}")
        out.append(a + rank if a < 0 else a)
    return tuple(out)


def resolve_pads(ctx: NodeContext, x: Value, kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], n: int) -> Tuple[int, ...]:
    """Explicit `pads` (begins..., ends...) from `pads` / `auto_pad`."""
    auto = ctx.attr("auto_pad", "NOTSET", "string")
    pads = ctx.attr("pads", None, "ints")
    if auto in ("NOTSET", ""):
        p = tuple(pads) if pads else (0,) * (2 * n)
        if len(p) != 2 * n:
            raise ctx.error(f"pads {p} must have {2 * n} entries", attribute="pads")
        return p
    if auto == "VALID":
        return (0,) * (2 * n)
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise ctx.error(f"auto_pad {auto!r} is not NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                        attribute="auto_pad")
    t = x.type
    if not isinstance(t, TensorType) or t.shape is None or \
            any(type(d) is not int for d in t.shape[2:]):
        from ..registry import Unsupported
        raise Unsupported(f"auto_pad {auto} needs static spatial dims, got {t}")
    begins: List[int] = []
    ends: List[int] = []
    for i in range(n):
        size = t.shape[2 + i]
        out = -(-size // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        small, big = total // 2, total - total // 2
        if auto == "SAME_UPPER":
            begins.append(small)
            ends.append(big)
        else:
            begins.append(big)
            ends.append(small)
    return tuple(begins + ends)


def as_i64(ctx: NodeContext, v: Value) -> Value:
    return ctx.cast(v, i64)


def const_input_or_dynamic(ctx: NodeContext, op: str, attr: str) -> Value:
    """`op(input 0)` with input 1 as the ints attribute `attr` when input 1 is a constant,
    else `op_dynamic(input 0, input 1)`, which takes it as a run-time i64 tensor."""
    values = ctx.const_ints(1)
    if values is None:
        return ctx.op(f"{op}_dynamic", ctx.input(0), as_i64(ctx, ctx.input(1)))
    attrs: Dict[str, Any] = {attr: values}
    return ctx.op(op, ctx.input(0), **attrs)
