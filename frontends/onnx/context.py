"""What a converter sees of one ONNX node: inputs as IR values, typed attribute access,
constant inputs as numpy arrays, and a builder that stamps the node's location on every op.

    @converter("Reshape", since=5)
    def _reshape(ctx):
        shape = ctx.const_ints(1)
        if shape is not None:
            return [ctx.op("ml.reshape", ctx.input(0), shape=shape)]
        return [ctx.op("ml.reshape_dynamic", ctx.input(0), ctx.input(1))]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from onnx import AttributeProto, GraphProto, NodeProto, helper
from onnx import defs as onnx_defs

from mlir_lite.errors import MlirLiteError, OnnxImportError
from mlir_lite.ir.attributes import DenseAttr, Location
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import OP_REGISTRY, Block, Operation, Region, Value
from mlir_lite.ir.types import ElementType, TensorType, Type

from .dtypes import element_of, tensor_type_of
from .loader import to_numpy
from .registry import Unsupported
from .validate import ATTR_KIND

if TYPE_CHECKING:
    from .importer import GraphImporter

__all__ = ["NodeContext", "REQUIRED", "constant_value", "FOLD_LIMIT"]

REQUIRED: Any = object()
FOLD_LIMIT = 4096  # fold integer/bool ops of constants up to this many elements (shape math)


def constant_value(v: Optional[Value]) -> Optional[np.ndarray]:
    """The array of `v` when an `ml.constant` defines it."""
    if v is None:
        return None
    op = getattr(v, "op", None)
    if op is not None and op.name == "ml.constant":
        return op.attributes["value"].array
    return None


class NodeContext:
    """One node being converted: inputs, attributes, constants, op creation."""

    def __init__(self, importer: "GraphImporter", node: NodeProto, index: int, opset: int,
                 where: str, loc: Location, inputs: List[Optional[Value]]) -> None:
        self.importer = importer
        self.node = node
        self.index = index
        self.opset = opset
        self.where = where
        self.loc = loc
        self.inputs = inputs
        self.created: List[Operation] = []
        self._attrs = {a.name: a for a in node.attribute}
        self._read: set = set()  # the attributes the converter asked for

    # -- inputs ---------------------------------------------------------------------------------
    @property
    def builder(self) -> Builder:
        return self.importer.builder

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.node.output)

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] is not None

    def input(self, i: int) -> Value:
        if not self.has_input(i):
            raise self.error(f"input #{i} is required but missing")
        return self.inputs[i]  # type: ignore[return-value]

    def opt_input(self, i: int) -> Optional[Value]:
        return self.inputs[i] if i < len(self.inputs) else None

    def has_output(self, i: int) -> bool:
        return i < len(self.node.output) and bool(self.node.output[i])

    def type(self, i: int) -> TensorType:
        t = self.input(i).type
        if not isinstance(t, TensorType):
            raise self.error(f"input #{i} is not a tensor ({t})")
        return t

    def rank(self, i: int) -> Optional[int]:
        return self.type(i).rank

    def onnx_out_type(self, i: int) -> Optional[TensorType]:
        """The type ONNX shape inference gives output `i` (None if unknown)."""
        if not self.has_output(i):
            return None
        return tensor_type_of(self.importer.onnx_type(self.node.output[i]))

    def const(self, i: int) -> Optional[np.ndarray]:
        """Input `i` as an array when it is a constant (initializer, Constant node, folded)."""
        return constant_value(self.inputs[i]) if self.has_input(i) else None

    def const_ints(self, i: int) -> Optional[Tuple[int, ...]]:
        a = self.const(i)
        if a is None:
            return None
        if a.dtype.kind not in "iub":
            raise self.error(f"input #{i} must hold integers, got {a.dtype}")
        return tuple(int(x) for x in a.ravel())

    def const_floats(self, i: int) -> Optional[Tuple[float, ...]]:
        a = self.const(i)
        return None if a is None else tuple(float(x) for x in a.ravel())

    def const_scalar(self, i: int) -> Optional[Any]:
        a = self.const(i)
        if a is None:
            return None
        if a.size != 1:
            raise self.error(f"input #{i} must hold a single value, got shape {a.shape}")
        return a.ravel()[0].item()

    # -- attributes -----------------------------------------------------------------------------
    def ignored_attributes(self) -> List[str]:
        """`name=value` of each attribute set on the node that the converter never read and
        whose value is not the operator schema's default: a newer opset's attribute that the
        converter does not know would otherwise be dropped silently (a wrong answer)."""
        out = []
        for name, a in self._attrs.items():
            if name in self._read:
                continue
            value = helper.get_attribute_value(a)
            try:
                schema = onnx_defs.get_schema(self.node.op_type, self.opset, self.node.domain)
                default = schema.attributes[name].default_value
                if default.type != AttributeProto.UNDEFINED and \
                        helper.get_attribute_value(default) == value:
                    continue
            except (onnx_defs.SchemaError, KeyError):
                pass
            shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            out.append(f"{name}={shown!r}"[:80])
        return out

    def ignore(self, *names: str) -> None:
        """Mark attributes that cannot change an inference result (a training momentum, a
        random seed) as handled, so `ignored_attributes` does not report them."""
        self._read.update(names)

    def has_attr(self, name: str) -> bool:
        self._read.add(name)
        return name in self._attrs

    def attr(self, name: str, default: Any = REQUIRED, kind: Optional[str] = None) -> Any:
        """Attribute `name` as a Python value (ints/floats/strings as tuples, tensors as arrays,
        graphs as GraphProto); `kind` ('int', 'ints', ...) checks its type."""
        self._read.add(name)
        a = self._attrs.get(name)
        if a is None:
            if default is REQUIRED:
                raise self.error(f"missing required attribute {name!r}", attribute=name)
            return default
        got = ATTR_KIND.get(int(a.type), "undefined")
        if kind is not None and got != kind:
            raise self.error(f"attribute {name!r} must be of type {kind}, got {got}",
                             attribute=name)
        if a.type == AttributeProto.STRING:
            try:
                return a.s.decode("utf-8")
            except UnicodeDecodeError:
                raise self.error(f"attribute {name!r} is not UTF-8 text", attribute=name) from None
        if a.type == AttributeProto.STRINGS:
            try:
                return tuple(s.decode("utf-8") for s in a.strings)
            except UnicodeDecodeError:
                raise self.error(f"attribute {name!r} is not UTF-8 text", attribute=name) from None
        if a.type == AttributeProto.INT:
            return int(a.i)
        if a.type == AttributeProto.FLOAT:
            return float(a.f)
        if a.type == AttributeProto.INTS:
            return tuple(int(x) for x in a.ints)
        if a.type == AttributeProto.FLOATS:
            return tuple(float(x) for x in a.floats)
        if a.type == AttributeProto.TENSOR:
            return to_numpy(a.t, f"{self.where}: attribute {name!r}")
        if a.type == AttributeProto.GRAPH:
            return a.g
        try:
            return helper.get_attribute_value(a)
        except Exception as e:
            raise self.error(f"attribute {name!r}: {e}", attribute=name) from None

    def int_attr(self, name: str, default: Any = REQUIRED) -> int:
        return self.attr(name, default, "int")

    # -- ops ------------------------------------------------------------------------------------
    def create(self, name: str, operands: Sequence[Value] = (),
               attrs: Optional[Dict[str, Any]] = None,
               result_types: Optional[Sequence[Type]] = None,
               regions: Sequence[Region] = ()) -> Operation:
        """Create op `name` at the insertion point with this node's location."""
        klass = OP_REGISTRY.get(name)
        attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
        op: Operation
        try:
            if klass is not None and hasattr(klass, "build"):
                op = klass.build(operands, attrs, result_types, regions, self.loc)
            else:
                op = Operation.create(name, operands, result_types or [], attrs, regions,
                                      self.loc)
        except MlirLiteError as e:
            raise self.error(e.message) from None
        if not regions and name != "ml.constant" and self._foldable(op):
            folded = self._fold(op)
            if folded is not None:
                op._drop_references()
                return self.create("ml.constant", [], {"value": DenseAttr(folded)})
        self.builder.ip.insert(op)  # type: ignore[union-attr]
        self.created.append(op)
        return op

    def op(self, name: str, *operands: Value, result_types: Optional[Sequence[Type]] = None,
           **attrs: Any) -> Any:
        """Create op `name`; its single result (or a tuple of results)."""
        op = self.create(name, operands, attrs, result_types)
        if len(op.results) == 1:
            return op.results[0]
        return tuple(op.results)

    def constant(self, value: Any, dtype: Any = None) -> Value:
        arr = np.asarray(value, dtype=dtype)
        return self.op("ml.constant", value=DenseAttr(arr))

    def cast(self, v: Value, element: ElementType) -> Value:
        if isinstance(v.type, TensorType) and v.type.element == element:
            return v
        return self.op("ml.cast", v, to=element)

    def retype(self, v: Value, t: Type) -> Value:
        """`v` seen as the (less specific) type `t` (an `ml.identity` acting as a type cast)."""
        if v.type == t:
            return v
        return self.op("ml.identity", v, result_types=[t])

    def element(self, dt: int) -> ElementType:
        return element_of(dt)

    def subgraph(self, attr: str, block: Block, bindings: Mapping[str, Value]) -> List[Value]:
        """Convert graph attribute `attr` into `block` with the graph inputs bound as given;
        returns the values of the graph outputs."""
        g = self.attr(attr, kind="graph")
        return self.importer.convert_subgraph(self, attr, g, block, bindings)

    def subgraph_proto(self, attr: str) -> GraphProto:
        return self.attr(attr, kind="graph")

    # -- errors ---------------------------------------------------------------------------------
    def error(self, message: str, attribute: Optional[str] = None) -> OnnxImportError:
        at = f" attribute {attribute!r}:" if attribute and f"{attribute!r}" not in message else ""
        return OnnxImportError(f"{self.where}:{at} {message}")

    def unsupported(self, reason: str) -> Unsupported:
        return Unsupported(reason)

    # -- folding --------------------------------------------------------------------------------
    def _foldable(self, op: Operation) -> bool:
        if "Pure" not in op.TRAITS or not op.results or not op.operands:
            return False
        for v in op.operands:
            a = constant_value(v)
            if a is None or a.size > FOLD_LIMIT:
                return False
        for r in op.results:
            t = r.type
            if not isinstance(t, TensorType) or not (t.element.is_int or t.element.name == "i1"):
                return False
            if t.num_elements is not None and t.num_elements > FOLD_LIMIT:
                return False
        return len(op.results) == 1

    def _fold(self, op: Operation) -> Optional[np.ndarray]:
        from mlir_lite.ir import interpreter  # noqa: F401  (registers the rules)
        from mlir_lite.ir.interpreter.rules import RULES
        fn = RULES.get(op.name)
        if fn is None:
            return None
        try:
            with np.errstate(all="ignore"):
                out = fn(op, *[constant_value(v) for v in op.operands])
            if isinstance(out, (list, tuple)):
                out = out[0]
            arr = np.asarray(out)
            t = op.results[0].type
            assert isinstance(t, TensorType)  # ml ops fold to tensors
            arr = arr.astype(t.element.np_dtype, copy=False)
            if arr.size > FOLD_LIMIT or (t.shape is not None and (
                    arr.ndim != len(t.shape) or any(type(d) is int and d != s
                                                    for d, s in zip(t.shape, arr.shape)))):
                return None
            return arr
        except Exception:
            return None
