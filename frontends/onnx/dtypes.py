"""ONNX data types and value types as mlir-lite types."""
from __future__ import annotations

from typing import Dict, List, Optional, Union

from onnx import TensorProto, TypeProto

from mlir_lite.ir.types import (
    ElementType,
    TensorType,
    bf16,
    element_type,
    f16,
    f32,
    f64,
    i1,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
)

from .registry import Unsupported

__all__ = ["ELEMENT_OF", "ONNX_OF", "element_of", "tensor_type_of", "dtype_name"]

ELEMENT_OF: Dict[int, ElementType] = {
    TensorProto.FLOAT: f32, TensorProto.DOUBLE: f64, TensorProto.FLOAT16: f16,
    TensorProto.BFLOAT16: bf16, TensorProto.BOOL: i1, TensorProto.INT8: i8,
    TensorProto.INT16: i16, TensorProto.INT32: i32, TensorProto.INT64: i64,
    TensorProto.UINT8: u8, TensorProto.UINT16: u16, TensorProto.UINT32: u32,
    TensorProto.UINT64: u64,
    TensorProto.FLOAT8E4M3FN: element_type("f8E4M3FN"),
    TensorProto.FLOAT8E4M3FNUZ: element_type("f8E4M3FNUZ"),
    TensorProto.FLOAT8E5M2: element_type("f8E5M2"),
    TensorProto.FLOAT8E5M2FNUZ: element_type("f8E5M2FNUZ"),
    TensorProto.FLOAT4E2M1: element_type("f4E2M1FN"),
    TensorProto.INT4: element_type("i4"), TensorProto.UINT4: element_type("u4"),
    TensorProto.INT2: element_type("i2"), TensorProto.UINT2: element_type("u2"),
}
ONNX_OF = {v: k for k, v in ELEMENT_OF.items()}


def dtype_name(dt: int) -> str:
    """`float32`-style name of an ONNX data type (as onnx.helper spells numpy dtypes)."""
    try:
        return TensorProto.DataType.Name(dt).lower()
    except ValueError:
        return f"dtype#{dt}"


def element_of(dt: int) -> ElementType:
    """The element type of ONNX data type `dt`; `Unsupported` for strings, complex, float8..."""
    el = ELEMENT_OF.get(dt)
    if el is None:
        raise Unsupported(f"data type {dtype_name(dt)} is not supported")
    return el


def tensor_type_of(tp: Optional[TypeProto]) -> Optional[TensorType]:
    """The tensor type of a TypeProto (dim_param -> symbol, missing dims -> None); None when
    `tp` says nothing; `Unsupported` for sequence / map / optional / sparse types."""
    if tp is None:
        return None
    kind = tp.WhichOneof("value")
    if kind is None:
        return None
    if kind != "tensor_type":
        raise Unsupported(f"{kind.replace('_type', '')} values are not supported (tensors only)")
    tt = tp.tensor_type
    if tt.elem_type == 0:
        return None
    el = element_of(tt.elem_type)
    if not tt.HasField("shape"):
        return TensorType(el, None)
    dims: List[Union[int, str, None]] = []
    for d in tt.shape.dim:
        which = d.WhichOneof("value")
        if which == "dim_value" and d.dim_value >= 0:
            dims.append(int(d.dim_value))
        elif which == "dim_param" and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return TensorType(el, tuple(dims))
