"""Load an ONNX model safely: parse, size every declared tensor before it is materialised, and
confine external data to the model's folder.

Every problem is an `OnnxImportError` whose message starts with the file name. Tensors are
checked from their declared dims and data type alone (no allocation), so a 10^12-element
initializer is refused before anything reads it.
"""
from __future__ import annotations

import os
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, TensorProto

from mlir_lite.errors import OnnxImportError

__all__ = ["ModelSource", "load_model", "check_tensors", "DEFAULT_MAX_TENSOR_BYTES",
           "tensor_nbytes", "ONNX_ITEMSIZE", "walk_graphs", "to_numpy"]

ModelSource = Union[str, os.PathLike, bytes, bytearray, memoryview, ModelProto]
DEFAULT_MAX_TENSOR_BYTES = 4 << 30

# bytes per element of each TensorProto data type that may hold data (sub-byte types round up)
ONNX_ITEMSIZE: Dict[int, int] = {
    TensorProto.FLOAT: 4, TensorProto.UINT8: 1, TensorProto.INT8: 1, TensorProto.UINT16: 2,
    TensorProto.INT16: 2, TensorProto.INT32: 4, TensorProto.INT64: 8, TensorProto.BOOL: 1,
    TensorProto.FLOAT16: 2, TensorProto.DOUBLE: 8, TensorProto.UINT32: 4, TensorProto.UINT64: 8,
    TensorProto.COMPLEX64: 8, TensorProto.COMPLEX128: 16, TensorProto.BFLOAT16: 2,
}
for _n in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT8E8M0"):
    if hasattr(TensorProto, _n):
        ONNX_ITEMSIZE[getattr(TensorProto, _n)] = 1
_PACKED4 = {getattr(TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1")
            if hasattr(TensorProto, n)}
_PACKED2 = {getattr(TensorProto, n) for n in ("INT2", "UINT2") if hasattr(TensorProto, n)}
# the typed repeated field that holds each data type when raw_data is not used
_FIELD: Dict[int, str] = {
    TensorProto.FLOAT: "float_data", TensorProto.COMPLEX64: "float_data",
    TensorProto.DOUBLE: "double_data", TensorProto.COMPLEX128: "double_data",
    TensorProto.INT64: "int64_data", TensorProto.UINT32: "uint64_data",
    TensorProto.UINT64: "uint64_data", TensorProto.STRING: "string_data",
}


def _dtype_name(dt: int) -> str:
    try:
        return TensorProto.DataType.Name(dt)
    except ValueError:
        return f"<unknown data type {dt}>"


def tensor_nbytes(t: TensorProto, where: str) -> Tuple[int, int]:
    """(element count, byte size) declared by `t`'s dims and data type; errors for bad dims."""
    n = 1
    for d in t.dims:
        if d < 0:
            raise OnnxImportError(f"{where}: dims {list(t.dims)} contain a negative size")
        n *= d
    if t.data_type in _PACKED4:
        return n, (n + 1) // 2
    if t.data_type in _PACKED2:
        return n, (n + 3) // 4
    if t.data_type == TensorProto.STRING:
        return n, n
    size = ONNX_ITEMSIZE.get(t.data_type)
    if size is None:
        raise OnnxImportError(f"{where}: data type {_dtype_name(t.data_type)} is not a valid "
                              "tensor data type")
    return n, n * size


def walk_graphs(g: GraphProto, path: str) -> Iterator[Tuple[GraphProto, str]]:
    """`g` and every subgraph nested in its nodes' attributes, with a readable path."""
    yield g, path
    for i, node in enumerate(g.node):
        for a in node.attribute:
            sub = []
            if a.type == AttributeProto.GRAPH or a.HasField("g"):
                sub = [a.g]
            elif a.graphs:
                sub = list(a.graphs)
            for k, sg in enumerate(sub):
                name = node.name or f"#{i}"
                yield from walk_graphs(sg, f"{path} > node {name!r} ({node.op_type}) attribute "
                                           f"{a.name!r}" + (f"[{k}]" if len(sub) > 1 else ""))


def _tensors(model: ModelProto) -> Iterator[Tuple[TensorProto, str]]:
    for g, path in walk_graphs(model.graph, f"graph {model.graph.name!r}"):
        for t in g.initializer:
            yield t, f"{path}: initializer {t.name!r}"
        for st in g.sparse_initializer:
            yield st.values, f"{path}: sparse initializer {st.values.name!r} (values)"
            yield st.indices, f"{path}: sparse initializer {st.values.name!r} (indices)"
        for i, node in enumerate(g.node):
            for a in node.attribute:
                nd = (f"{path}: node {node.name or '#' + str(i)!r} ({node.op_type}) "
                      f"attribute {a.name!r}")
                if a.HasField("t"):
                    yield a.t, nd
                for k, t in enumerate(a.tensors):
                    yield t, f"{nd}[{k}]"
                if a.HasField("sparse_tensor"):
                    yield a.sparse_tensor.values, nd + " (sparse values)"
                    yield a.sparse_tensor.indices, nd + " (sparse indices)"


def _check_inline(t: TensorProto, n: int, nbytes: int, where: str) -> None:
    if t.HasField("raw_data"):
        if t.data_type != TensorProto.STRING and len(t.raw_data) != nbytes:
            raise OnnxImportError(f"{where}: raw_data holds {len(t.raw_data)} bytes but dims "
                                  f"{list(t.dims)} of {_dtype_name(t.data_type)} need {nbytes}")
        return
    field = _FIELD.get(t.data_type, "int32_data")
    have = len(getattr(t, field))
    if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
        want = 2 * n
    elif t.data_type in _PACKED4:
        want = (n + 1) // 2
    elif t.data_type in _PACKED2:
        want = (n + 3) // 4
    else:
        want = n
    if have != want:
        raise OnnxImportError(f"{where}: {field} holds {have} values but dims {list(t.dims)} "
                              f"need {want}")


def _check_external(t: TensorProto, nbytes: int, base_dir: Optional[str], where: str) -> None:
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location")
    if base_dir is None:
        raise OnnxImportError(f"{where}: uses external data ({loc!r}), which can only be loaded "
                              "when the model is imported from a file path")
    if not loc:
        raise OnnxImportError(f"{where}: external data has no 'location'")
    if os.path.isabs(loc) or loc.startswith(("/", "\\")) or ":" in loc[:3]:
        raise OnnxImportError(f"{where}: external data location {loc!r} is an absolute path; "
                              "it must be relative to the model's folder")
    root = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(root, loc))
    if os.path.commonpath([root, full]) != root:
        raise OnnxImportError(f"{where}: external data location {loc!r} escapes the model's "
                              f"folder {base_dir!r}")
    if not os.path.isfile(full):
        raise OnnxImportError(f"{where}: external data file {loc!r} does not exist")
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise OnnxImportError(f"{where}: external data offset/length are not integers: "
                              f"{info}") from None
    size = os.path.getsize(full)
    if offset < 0 or (length is not None and length < 0):
        raise OnnxImportError(f"{where}: external data offset/length must be non-negative")
    avail = size - offset
    if length is None:
        length = avail
    if length > avail:
        raise OnnxImportError(f"{where}: external data ({loc!r}, offset {offset}, length "
                              f"{length}) runs past the end of the file ({size} bytes)")
    if t.data_type != TensorProto.STRING and length != nbytes:
        raise OnnxImportError(f"{where}: external data holds {length} bytes but dims "
                              f"{list(t.dims)} of {_dtype_name(t.data_type)} need {nbytes}")


def check_tensors(model: ModelProto, file: str, base_dir: Optional[str],
                  max_tensor_bytes: int) -> bool:
    """Check every tensor of `model`; True when some tensor has external data."""
    external = False
    for t, where in _tensors(model):
        where = f"{file}: {where}"
        n, nbytes = tensor_nbytes(t, where)
        if nbytes > max_tensor_bytes:
            raise OnnxImportError(f"{where}: tensor of dims {list(t.dims)} "
                                  f"({_dtype_name(t.data_type)}) needs {nbytes} bytes, more "
                                  f"than the limit of {max_tensor_bytes} (max_tensor_bytes)")
        if t.data_location == TensorProto.EXTERNAL:
            _check_external(t, nbytes, base_dir, where)
            external = True
        elif t.external_data:
            raise OnnxImportError(f"{where}: has external_data entries but data_location is "
                                  "not EXTERNAL")
        else:
            _check_inline(t, n, nbytes, where)
    return external


def _parse(data: bytes, file: str) -> ModelProto:
    if not data:
        raise OnnxImportError(f"{file}: empty input (0 bytes): not an ONNX model")
    try:
        m = onnx.load_model_from_string(bytes(data))
    except DecodeError as e:
        raise OnnxImportError(f"{file}: not a valid ONNX protobuf (truncated or corrupt: "
                              f"{e})") from None
    except Exception as e:  # protobuf raises a few other kinds on hostile input
        raise OnnxImportError(f"{file}: cannot parse as ONNX: {type(e).__name__}: {e}") from None
    if not m.HasField("graph") and not m.opset_import:
        raise OnnxImportError(f"{file}: parsed as protobuf but holds no ONNX graph and no opset "
                              "imports: not an ONNX model")
    return m


def load_model(src: ModelSource, max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
               ) -> Tuple[ModelProto, str, Optional[str]]:
    """(model with external data loaded, display name, folder) from a path, bytes or proto."""
    if isinstance(src, ModelProto):
        file, base_dir, model = "<ModelProto>", None, src
    elif isinstance(src, (bytes, bytearray, memoryview)):
        file, base_dir = "<bytes>", None
        model = _parse(bytes(src), file)
    elif isinstance(src, (str, os.PathLike)):
        file = os.fspath(src)
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError as e:
            raise OnnxImportError(f"{file}: cannot read: {e.strerror}") from None
        base_dir = os.path.dirname(os.path.abspath(file))
        model = _parse(data, file)
    else:
        raise OnnxImportError(f"import_onnx expects a path, bytes or onnx.ModelProto, got "
                              f"{type(src).__name__}")
    if check_tensors(model, file, base_dir, max_tensor_bytes):
        assert base_dir is not None  # check_tensors refuses external data without a file path
        from onnx.external_data_helper import load_external_data_for_model
        try:
            load_external_data_for_model(model, base_dir)
        except Exception as e:
            raise OnnxImportError(f"{file}: cannot load external data: {e}") from None
    return model, file, base_dir


def to_numpy(t: TensorProto, where: str) -> np.ndarray:
    """The array of an inline tensor (after `check_tensors`), via onnx.numpy_helper."""
    from onnx import numpy_helper
    try:
        return numpy_helper.to_array(t)
    except Exception as e:
        raise OnnxImportError(f"{where}: cannot read tensor data: {e}") from None
