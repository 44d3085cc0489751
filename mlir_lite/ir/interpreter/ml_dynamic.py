"""Interpreter rules for the `*_dynamic` ops (dialects/ml/dynamic.py): read the run-time
parameters, then apply the static op's rule as if they were its attributes."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.core import OP_REGISTRY
from mlir_lite.ir.interpreter.rules import RULES, rule

__all__ = ["AttrView"]


class AttrView:
    """An op seen with some attributes replaced (what the static rules read)."""

    def __init__(self, op: Any, static: str, **attrs: Any) -> None:
        self._op = op
        self._over = attrs
        self.name = op.name
        self.loc = op.loc
        self.ATTRS = OP_REGISTRY[static].ATTRS
        self.attributes: Dict[str, Any] = {**op.attributes, **attrs}
        self.attributes.pop("operandSegmentSizes", None)

    def attr(self, name: str) -> Any:
        if name in self._over:
            return self._over[name]
        if name in self._op.attributes:
            return self._op.attributes[name]
        d = self.ATTRS.get(name)
        if d is None or d.required:
            raise KeyError(f"{self.name} has no attribute {name!r}")
        return d.default


def _ints(op: Any, a: np.ndarray, what: str) -> tuple:
    a = np.asarray(a)
    if a.ndim > 1 or a.dtype.kind not in "iu":
        raise ExecutionError(f"{op.name}: {what} must be a scalar or 1-D integer tensor, got "
                             f"{a.dtype}{list(a.shape)}", op.loc)
    return tuple(int(v) for v in a.ravel())


def _scalar(op: Any, a: np.ndarray, what: str) -> int:
    v = _ints(op, a, what)
    if len(v) != 1:
        raise ExecutionError(f"{op.name}: {what} must hold one value, got {len(v)}", op.loc)
    return v[0]


@rule("ml.trilu_dynamic")
def _trilu(op: Any, x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return RULES["ml.trilu"](AttrView(op, "ml.trilu", k=_scalar(op, k, "k")), x)


@rule("ml.cumsum_dynamic", "ml.cumprod_dynamic")
def _cumulative(op: Any, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    static = op.name[:-len("_dynamic")]
    return RULES[static](AttrView(op, static, axis=_scalar(op, axis, "axis")), x)


@rule("ml.pad_dynamic")
def _pad(op: Any, x: np.ndarray, pads: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    g = op.operand_groups()
    it = iter(rest)
    value = next(it) if g["constant_value"] else None
    axes = _ints(op, next(it), "axes") if g["axes"] else None
    view = AttrView(op, "ml.pad", pads=_ints(op, pads, "pads"), axes=axes)
    return RULES["ml.pad"](view, x, *([] if value is None else [value]))


@rule("ml.split_dynamic")
def _split(op: Any, x: np.ndarray, split: np.ndarray) -> List[np.ndarray]:
    sizes = _ints(op, split, "split")
    if len(sizes) != op.attr("num_outputs"):
        raise ExecutionError(f"{op.name}: split {sizes} has {len(sizes)} entries for "
                             f"{op.attr('num_outputs')} outputs", op.loc)
    return RULES["ml.split"](AttrView(op, "ml.split", split=sizes, num_outputs=None), x)


@rule("ml.unsqueeze_dynamic")
def _unsqueeze(op: Any, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
    return RULES["ml.unsqueeze"](AttrView(op, "ml.unsqueeze", axes=_ints(op, axes, "axes")), x)


@rule("ml.squeeze_dynamic")
def _squeeze(op: Any, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
    return RULES["ml.squeeze"](AttrView(op, "ml.squeeze", axes=_ints(op, axes, "axes")), x)


@rule("ml.tile_dynamic")
def _tile(op: Any, x: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    reps = _ints(op, repeats, "repeats")
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise ExecutionError(f"{op.name}: repeats {reps} must be {x.ndim} non-negative values",
                             op.loc)
    return RULES["ml.tile"](AttrView(op, "ml.tile", repeats=reps), x)


@rule("ml.one_hot_dynamic")
def _one_hot(op: Any, indices: np.ndarray, depth: np.ndarray, values: np.ndarray) -> np.ndarray:
    d = np.asarray(depth).ravel()
    if d.size != 1:
        raise ExecutionError(f"{op.name}: depth must hold one value, got {d.size}", op.loc)
    return RULES["ml.one_hot"](AttrView(op, "ml.one_hot", depth=int(d[0])), indices, values)


@rule("ml.resize_dynamic")
def _resize(op: Any, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    g = op.operand_groups()
    it = iter(rest)
    roi: Optional[tuple] = None
    if g["roi"]:
        r = np.asarray(next(it), dtype=np.float64).ravel()
        roi = tuple(float(v) for v in r) if r.size else None
    scales = sizes = None
    if g["scales"]:
        s = np.asarray(next(it), dtype=np.float64).ravel()
        scales = tuple(float(v) for v in s) if s.size else None
    if g["sizes"]:
        z = np.asarray(next(it)).ravel()
        sizes = tuple(int(v) for v in z) if z.size else None
    if op.attr("coordinate_transformation_mode") != "tf_crop_and_resize":
        roi = None
    view = AttrView(op, "ml.resize", scales=scales, sizes=sizes, roi=roi)
    return RULES["ml.resize"](view, x)
