"""Expand an ONNX node into its schema's function body.

Many ONNX operators are *defined* by a function of simpler operators (Attention, RotaryEmbedding,
CenterCropPad, the window functions, ...). When no converter handles a node, the importer asks
for that body (`function_body`) and converts its nodes instead, as the ONNX spec allows and as
onnx's own `_expanded` test cases do. Formal inputs and outputs are renamed to the node's
actual names, every internal name gets a prefix unique to the node, and attributes that refer
to the node's attributes (`ref_attr_name`) take their values (or the schema's defaults).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple, cast

import onnx
from onnx import AttributeProto, FunctionProto, GraphProto, NodeProto, TypeProto

__all__ = ["function_body"]


def _pick(versions: Sequence[int], opset: int) -> Optional[int]:
    ok = [v for v in versions if v <= opset]
    return max(ok) if ok else None


class _FunctionSchema(Protocol):
    """The function members of onnx.defs.OpSchema, which onnx's type stub leaves out."""

    has_function: bool
    function_opset_versions: Sequence[int]
    has_context_dependent_function: bool
    context_dependent_function_opset_versions: Sequence[int]

    def get_function_with_opset_version(self, version: int) -> bytes: ...

    def get_context_dependent_function_with_opset_version(
            self, version: int, node: bytes, input_types: Sequence[bytes]) -> bytes: ...


def _proto(op_schema: onnx.defs.OpSchema, node: NodeProto, opset: int,
           input_types: Sequence[Optional[TypeProto]]) -> Optional[FunctionProto]:
    schema = cast(_FunctionSchema, op_schema)
    fp = FunctionProto()
    if schema.has_function:
        v = _pick(schema.function_opset_versions, opset)
        if v is not None:
            fp.ParseFromString(schema.get_function_with_opset_version(v))
            return fp
    if schema.has_context_dependent_function:
        v = _pick(schema.context_dependent_function_opset_versions, opset)
        if v is None:
            return None
        types = [(t or TypeProto()).SerializeToString() for t in input_types]
        try:
            data = schema.get_context_dependent_function_with_opset_version(
                v, _with_defaults(node, op_schema).SerializeToString(), types)
        except Exception:  # noqa: BLE001  (the builder rejects what it cannot expand)
            return None
        if not data:
            return None
        fp.ParseFromString(data)
        return fp
    return None


def _with_defaults(node: NodeProto, schema: onnx.defs.OpSchema) -> NodeProto:
    out = NodeProto()
    out.CopyFrom(node)
    have = {a.name for a in node.attribute}
    for name, a in schema.attributes.items():
        if name not in have and a.default_value and a.default_value.type:
            d = AttributeProto()
            d.CopyFrom(a.default_value)
            d.name = name
            out.attribute.append(d)
    return out


def _rename_graph(g: GraphProto, rename: Callable[[str], str],
                  attrs: Dict[str, AttributeProto]) -> None:
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = rename(vi.name)
    for t in g.initializer:
        t.name = rename(t.name)
    for st in g.sparse_initializer:
        st.values.name = rename(st.values.name)
        st.indices.name = rename(st.indices.name)
    nodes = [_rename_node(n, rename, attrs) for n in g.node]
    del g.node[:]
    g.node.extend(nodes)


def _rename_node(n: NodeProto, rename: Callable[[str], str],
                 attrs: Dict[str, AttributeProto]) -> NodeProto:
    out = NodeProto()
    out.CopyFrom(n)
    del out.input[:]
    del out.output[:]
    del out.attribute[:]
    out.input.extend(rename(x) for x in n.input)
    out.output.extend(rename(x) for x in n.output)
    for a in n.attribute:
        if a.ref_attr_name:
            src = attrs.get(a.ref_attr_name)
            if src is None:
                continue
            b = AttributeProto()
            b.CopyFrom(src)
            b.name = a.name
            out.attribute.append(b)
            continue
        b = AttributeProto()
        b.CopyFrom(a)
        if b.type == AttributeProto.GRAPH:
            _rename_graph(b.g, rename, attrs)
        elif b.type == AttributeProto.GRAPHS:
            for sg in b.graphs:
                _rename_graph(sg, rename, attrs)
        out.attribute.append(b)
    return out


def function_body(node: NodeProto, opset: int, input_types: Sequence[Optional[TypeProto]],
                  prefix: str) -> Optional[Tuple[List[NodeProto], Dict[str, int]]]:
    """The nodes of `node`'s function body (renamed into the caller's graph) and the opsets the
    body imports; None when the operator has no function body at this opset."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    fp = _proto(schema, node, opset, input_types)
    if fp is None or not fp.node:
        return None
    attrs = {a.name: a for a in _with_defaults(node, schema).attribute}
    io: Dict[str, str] = {}
    for i, name in enumerate(fp.input):
        io[name] = node.input[i] if i < len(node.input) else ""
    for i, name in enumerate(fp.output):
        if i < len(node.output) and node.output[i]:
            io[name] = node.output[i]

    def rename(name: str) -> str:
        if name in io:
            return io[name]
        return name and prefix + name

    nodes = [_rename_node(n, rename, attrs) for n in fp.node]
    opsets = {("" if o.domain in ("", "ai.onnx") else o.domain): int(o.version)
              for o in fp.opset_import}
    return nodes, opsets
