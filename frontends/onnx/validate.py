"""Checks on an ONNX model that `onnx.checker` does not make (or makes with vaguer messages):
IR and opset ranges, opset imports, names (dangling, duplicate), cycles and order, and node
attributes against the operator schemas. Each failure is an `OnnxImportError` naming the file,
the graph path, the node (name and index), the op and the attribute.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import onnx
import onnx.defs
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto

from mlir_lite.errors import OnnxImportError

from .registry import DOMAINS, canonical_domain

__all__ = ["MIN_IR_VERSION", "MAX_IR_VERSION", "validate_model", "node_desc", "opset_map",
           "ATTR_KIND"]

MIN_IR_VERSION = 3
MAX_IR_VERSION = onnx.IR_VERSION
ATTR_KIND = {v: k.lower() for k, v in AttributeProto.AttributeType.items()}


def _kind(spec: onnx.defs.OpSchema.Attribute) -> int:
    """The AttributeProto type of a schema attribute (OpSchema.AttrType is an int enum)."""
    return int(spec.type)  # type: ignore[call-overload]  # onnx's stub gives AttrType no __int__


def node_desc(node: NodeProto, index: int) -> str:
    dom = canonical_domain(node.domain)
    op = f"{dom}::{node.op_type}" if dom else node.op_type
    name = repr(node.name) if node.name else "<unnamed>"
    return f"node {name} (#{index}, {op})"


def opset_map(model: ModelProto, file: str) -> Dict[str, int]:
    """domain -> imported version, after checking the imports and the IR version."""
    if not MIN_IR_VERSION <= model.ir_version <= MAX_IR_VERSION:
        raise OnnxImportError(f"{file}: IR version {model.ir_version} is outside the supported "
                              f"range [{MIN_IR_VERSION}, {MAX_IR_VERSION}]")
    out: Dict[str, int] = {}
    for imp in model.opset_import:
        dom = canonical_domain(imp.domain)
        if dom in out:
            raise OnnxImportError(f"{file}: opset_import lists domain "
                                  f"{imp.domain or 'ai.onnx'!r} twice")
        out[dom] = int(imp.version)
    # A model may import only other domains (an ai.onnx.ml model of TreeEnsemble nodes, as
    # onnxruntime accepts): a node of the default domain without its import is refused by node.
    for dom, ver in out.items():
        rng = DOMAINS.get(dom)
        if rng is not None and not rng[0] <= ver <= rng[1]:
            raise OnnxImportError(f"{file}: opset {ver} of domain {dom or 'ai.onnx'!r} is "
                                  f"outside the supported range [{rng[0]}, {rng[1]}]")
    return out


def _check_attrs(node: NodeProto, where: str, version: int) -> None:
    dom = canonical_domain(node.domain)
    seen: Set[str] = set()
    for a in node.attribute:
        if not a.name:
            raise OnnxImportError(f"{where}: has an attribute without a name")
        if a.name in seen:
            raise OnnxImportError(f"{where}: attribute {a.name!r} is given twice")
        seen.add(a.name)
    if dom != "" and dom != "ai.onnx.ml":
        return
    try:
        schema = onnx.defs.get_schema(node.op_type, version, dom)
    except onnx.defs.SchemaError:
        if dom == "" and not onnx.defs.has(node.op_type, dom):
            raise OnnxImportError(f"{where}: {node.op_type!r} is not an operator of the ai.onnx "
                                  f"domain") from None
        raise OnnxImportError(f"{where}: operator {node.op_type!r} does not exist at opset "
                              f"{version} of domain {dom or 'ai.onnx'!r}") from None
    given = {a.name: a for a in node.attribute}
    for name, spec in schema.attributes.items():
        a = given.get(name)
        if a is None:
            if spec.required:
                raise OnnxImportError(f"{where}: missing required attribute {name!r} "
                                      f"({ATTR_KIND.get(_kind(spec), '?')})")
            continue
        if a.ref_attr_name:
            continue
        if int(a.type) != _kind(spec):
            raise OnnxImportError(
                f"{where}: attribute {name!r} must be of type "
                f"{ATTR_KIND.get(_kind(spec), '?')}, got {ATTR_KIND.get(int(a.type), '?')}")
    for name in given:
        if name not in schema.attributes:
            raise OnnxImportError(f"{where}: unknown attribute {name!r} for {node.op_type} at "
                                  f"opset {version}")


def _find_cycle(nodes: List[NodeProto]) -> Optional[List[int]]:
    producer: Dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer[o] = i
    deps = [[producer[x] for x in n.input if x in producer] for n in nodes]
    color = [0] * len(nodes)
    for start in range(len(nodes)):
        if color[start]:
            continue
        stack = [(start, iter(deps[start]))]
        path = [start]
        color[start] = 1
        while stack:
            v, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[v] = 2
                stack.pop()
                path.pop()
            elif color[nxt] == 1:
                return path[path.index(nxt):]
            elif color[nxt] == 0:
                color[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
                path.append(nxt)
    return None


def _check_graph(g: GraphProto, path: str, outer: Set[str], opsets: Dict[str, int],
                 file: str) -> None:
    defined: Set[str] = set()
    where_g = f"{file}: {path}"

    def define(name: str, what: str) -> None:
        if not name:
            raise OnnxImportError(f"{where_g}: {what} has an empty name")
        if name in defined:
            raise OnnxImportError(f"{where_g}: duplicate name {name!r} ({what} redefines it)")
        defined.add(name)

    init_names = set()
    for t in g.initializer:
        if t.name in init_names:
            raise OnnxImportError(f"{where_g}: duplicate initializer {t.name!r}")
        init_names.add(t.name)
    for st in g.sparse_initializer:
        if st.values.name in init_names:
            raise OnnxImportError(f"{where_g}: duplicate initializer {st.values.name!r}")
        init_names.add(st.values.name)
    for vi in g.input:
        define(vi.name, f"graph input {vi.name!r}")
    for name in init_names:
        if name not in defined:
            define(name, f"initializer {name!r}")
    producers: Dict[str, int] = {}
    for i, n in enumerate(g.node):
        for o in n.output:
            if o:
                producers.setdefault(o, i)
    for i, node in enumerate(g.node):
        where = f"{where_g}: {node_desc(node, i)}"
        if not node.op_type:
            raise OnnxImportError(f"{where}: has no op_type")
        dom = canonical_domain(node.domain)
        if dom not in opsets:
            if dom == "":
                raise OnnxImportError(f"{where}: uses the default domain (ai.onnx), which the "
                                      "model does not import (missing opset import); add "
                                      "opset_import {domain: '', version: N}")
            raise OnnxImportError(f"{where}: uses domain {node.domain!r}, which the model does "
                                  "not import (missing opset import)")
        for k, x in enumerate(node.input):
            if not x or x in defined or x in outer:
                continue
            p = producers.get(x)
            if p is None:
                raise OnnxImportError(f"{where}: input #{k} {x!r} is not produced by any node, "
                                      "graph input or initializer (dangling name)")
            cyc = _find_cycle(list(g.node))
            if cyc is not None:
                names = " -> ".join(node_desc(g.node[j], j) for j in cyc + cyc[:1])
                raise OnnxImportError(f"{where_g}: the graph has a cycle: {names}")
            raise OnnxImportError(f"{where}: input #{k} {x!r} is used before "
                                  f"{node_desc(g.node[p], p)} produces it (nodes must be "
                                  "topologically sorted)")
        _check_attrs(node, where, opsets[dom])
        for a in node.attribute:
            subs = [a.g] if a.HasField("g") else list(a.graphs)
            for sg in subs:
                _check_graph(sg, f"{path} > {node_desc(node, i)} attribute {a.name!r}",
                             outer | defined, opsets, file)
        for o in node.output:
            if o:
                if o in outer:
                    raise OnnxImportError(f"{where}: output {o!r} shadows a name of an outer "
                                          "graph")
                define(o, f"output of {node_desc(node, i)}")
    for what, vis in (("input", g.input), ("output", g.output)):
        for vi in vis:
            kind = vi.type.WhichOneof("value") if vi.HasField("type") else None
            if kind is None:
                if outer:  # a subgraph may leave its types to inference (ONNX IR spec)
                    continue
                raise OnnxImportError(f"{where_g}: graph {what} {vi.name!r} has no type")
            if kind == "tensor_type" and not outer and not vi.type.tensor_type.HasField("shape"):
                raise OnnxImportError(f"{where_g}: graph {what} {vi.name!r} has no shape (give "
                                      "its rank, with dim_param names for unknown sizes)")
    for vi in g.output:
        if vi.name not in defined and vi.name not in outer:
            raise OnnxImportError(f"{where_g}: graph output {vi.name!r} is not produced by any "
                                  "node (dangling output)")


def validate_model(model: ModelProto, file: str) -> Dict[str, int]:
    """Check `model`'s structure; returns the opset of each imported domain."""
    opsets = opset_map(model, file)
    if not model.HasField("graph"):
        raise OnnxImportError(f"{file}: the model has no graph")
    _check_graph(model.graph, f"graph {model.graph.name!r}", set(), opsets, file)
    return opsets
