"""Types of the IR: element types, tensor types with static / symbolic / unknown dims, tuples.

All types are immutable, hashable values. A dim is an `int` (static), a `str` (a named symbolic
dim, equal wherever the name is equal) or `None` (unknown). A `TensorType` with `shape=None` is
unranked. Text forms follow MLIR's builtin syntax; symbolic names ride in the tensor encoding:
`tensor<?x4xf32, ["N", 4]>` is written for a tensor whose first dim is the symbol `N`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union, overload

import ml_dtypes
import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "Type", "ElementType", "TensorType", "TupleType", "FunctionType", "IndexType", "NoneType",
    "Dim", "Shape", "f16", "bf16", "f32", "f64", "i1", "i8", "i16", "i32", "i64", "u8", "u16",
    "u32", "u64", "index", "element_type", "element_type_from_numpy", "tensor",
    "is_static_shape", "broadcast_shapes", "dim_str",
]

Dim = Union[int, str, None]
Shape = tuple


class Type:
    """Base of all IR types."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ElementType(Type):
    """A scalar element type (`f32`, `i64`, `i1`, ...); also usable as a scalar value type."""

    name: str

    @property
    def np_dtype(self) -> np.dtype:
        return _NUMPY[self.name]

    @property
    def is_float(self) -> bool:
        return self.name[0] in "fb"

    @property
    def is_int(self) -> bool:
        return self.name[0] in "iu"

    @property
    def is_signed(self) -> bool:
        return self.name[0] != "u"

    @property
    def bitwidth(self) -> int:
        return 16 if self.name == "bf16" else int(self.name[1:].split("E")[0])

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class IndexType(Type):
    """MLIR's `index`: the type of loop induction variables."""

    def __str__(self) -> str:
        return "index"


@dataclass(frozen=True, slots=True)
class NoneType(Type):
    """The type of an absent optional value (`none`)."""

    def __str__(self) -> str:
        return "none"


_NUMPY = {
    "f16": np.dtype(np.float16), "bf16": np.dtype(ml_dtypes.bfloat16),
    "f32": np.dtype(np.float32), "f64": np.dtype(np.float64), "i1": np.dtype(np.bool_),
    "i8": np.dtype(np.int8), "i16": np.dtype(np.int16), "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64), "u8": np.dtype(np.uint8), "u16": np.dtype(np.uint16),
    "u32": np.dtype(np.uint32), "u64": np.dtype(np.uint64),
    # narrow types of quantized and low-precision models (MLIR's names; numpy via ml_dtypes)
    "f8E4M3FN": np.dtype(ml_dtypes.float8_e4m3fn),
    "f8E4M3FNUZ": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "f8E5M2": np.dtype(ml_dtypes.float8_e5m2), "f8E5M2FNUZ": np.dtype(ml_dtypes.float8_e5m2fnuz),
    "f4E2M1FN": np.dtype(ml_dtypes.float4_e2m1fn), "i4": np.dtype(ml_dtypes.int4),
    "u4": np.dtype(ml_dtypes.uint4), "i2": np.dtype(ml_dtypes.int2),
    "u2": np.dtype(ml_dtypes.uint2),
}
_ELEMENT_TYPES = {name: ElementType(name) for name in _NUMPY}
_FROM_NUMPY = {dt: _ELEMENT_TYPES[name] for name, dt in _NUMPY.items()}

f16, bf16, f32, f64 = (_ELEMENT_TYPES[n] for n in ("f16", "bf16", "f32", "f64"))
i1, i8, i16, i32, i64 = (_ELEMENT_TYPES[n] for n in ("i1", "i8", "i16", "i32", "i64"))
u8, u16, u32, u64 = (_ELEMENT_TYPES[n] for n in ("u8", "u16", "u32", "u64"))
index = IndexType()


def element_type(name: str) -> ElementType:
    """The element type called `name` (`"f32"`, ...); KeyError names the known ones."""
    try:
        return _ELEMENT_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown element type {name!r}; known: "
                       f"{', '.join(_ELEMENT_TYPES)}") from None


def element_type_from_numpy(dtype: DTypeLike) -> ElementType:
    """The element type of a numpy dtype (bool -> i1, bfloat16 via ml_dtypes)."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"numpy dtype {np.dtype(dtype)} has no mlir-lite element type") from None


def dim_str(d: Dim) -> str:
    return "?" if d is None else str(d)


@dataclass(frozen=True, slots=True)
class TensorType(Type):
    """A tensor of `element` with `shape` (a tuple of dims), or unranked when `shape` is None."""

    element: ElementType
    shape: Optional[tuple] = ()

    def __post_init__(self) -> None:
        if self.shape is not None:
            if not isinstance(self.shape, tuple):
                object.__setattr__(self, "shape", tuple(self.shape))
            for d in self.shape:
                if not (d is None or type(d) is str or (type(d) is int and d >= 0)):
                    if isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
                        continue
                    raise ValueError(f"bad dim {d!r} in tensor shape {self.shape!r}")
            if any(isinstance(d, np.integer) for d in self.shape):
                object.__setattr__(self, "shape", tuple(int(d) if isinstance(d, np.integer) else d
                                                        for d in self.shape))

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def dims(self) -> tuple:
        """The shape of a ranked tensor; TypeError for an unranked one (as indexing None is)."""
        if self.shape is None:
            raise TypeError(f"{self} is unranked: it has no dims")
        return self.shape

    @property
    def is_ranked(self) -> bool:
        return self.shape is not None

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(type(d) is int for d in self.shape)

    @property
    def num_elements(self) -> Optional[int]:
        if not self.is_static:
            return None
        n = 1
        for d in self.dims:
            n *= d
        return n

    def with_shape(self, shape: Optional[Sequence[Dim]]) -> "TensorType":
        return TensorType(self.element, None if shape is None else tuple(shape))

    def with_element(self, element: ElementType) -> "TensorType":
        return TensorType(element, self.shape)

    def __str__(self) -> str:
        return _tensor_str(self)


_TENSOR_STR_CACHE: dict = {}


def _tensor_str(t: TensorType) -> str:
    s = _TENSOR_STR_CACHE.get(t)
    if s is not None:
        return s
    if t.shape is None:
        s = f"tensor<*x{t.element.name}>"
    else:
        dims = "".join(("?" if type(d) is not int else str(d)) + "x" for d in t.shape)
        if any(type(d) is str for d in t.shape):
            enc = ", ".join(f'"{d}"' if type(d) is str else ('"?"' if d is None else str(d))
                            for d in t.shape)
            s = f"tensor<{dims}{t.element.name}, [{enc}]>"
        else:
            s = f"tensor<{dims}{t.element.name}>"
    if len(_TENSOR_STR_CACHE) < 100_000:
        _TENSOR_STR_CACHE[t] = s
    return s


@dataclass(frozen=True, slots=True)
class TupleType(Type):
    """A fixed-size heterogeneous collection (`tuple<tensor<f32>, i64>`)."""

    types: tuple

    def __str__(self) -> str:
        return f"tuple<{', '.join(str(t) for t in self.types)}>"


@dataclass(frozen=True, slots=True)
class FunctionType(Type):
    """`(inputs) -> results`, the type of a function or of a generic op."""

    inputs: tuple
    results: tuple

    def __str__(self) -> str:
        ins = ", ".join(str(t) for t in self.inputs)
        if len(self.results) == 1 and not isinstance(self.results[0], FunctionType):
            return f"({ins}) -> {self.results[0]}"
        return f"({ins}) -> ({', '.join(str(t) for t in self.results)})"


def tensor(shape: Optional[Iterable[Dim]], element: Union[ElementType, str] = f32) -> TensorType:
    """Shorthand: `tensor([4, "N", None], "f32")`."""
    el = element_type(element) if isinstance(element, str) else element
    return TensorType(el, None if shape is None else tuple(shape))


def is_static_shape(shape: Optional[Sequence[Dim]]) -> bool:
    return shape is not None and all(type(d) is int for d in shape)


def _broadcast_dim(a: Dim, b: Dim) -> Dim:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if type(a) is int and type(b) is int:
        raise ValueError(f"dims {a} and {b} do not broadcast")
    if a is None or b is None:
        # An unknown dim against a known one: the result is the known one unless it is 1 (handled
        # above), since any other pairing would be an error at run time.
        other = b if a is None else a
        return other if type(other) is int else None
    if type(a) is int:
        return a  # a symbolic dim broadcast against a static one must be that static one or 1
    if type(b) is int:
        return b
    return None  # two different symbols: unknown


@overload
def broadcast_shapes(*shapes: Sequence[Dim]) -> tuple: ...
@overload
def broadcast_shapes(*shapes: Optional[Sequence[Dim]]) -> Optional[tuple]: ...
def broadcast_shapes(*shapes: Optional[Sequence[Dim]]) -> Optional[tuple]:
    """Numpy-style broadcast of shapes with symbolic dims; None if any is unranked."""
    ranked = [s for s in shapes if s is not None]
    if len(ranked) != len(shapes):
        return None
    rank = max((len(s) for s in ranked), default=0)
    out: list = [1] * rank
    for s in ranked:
        pad = rank - len(s)
        for i, d in enumerate(s):
            out[pad + i] = _broadcast_dim(out[pad + i], d)
    return tuple(out)
