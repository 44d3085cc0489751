"""Import an ONNX model as an mlir-lite module with one `func.func @main`.

    module = import_onnx("model.onnx")      # or bytes, or an onnx.ModelProto

The graph inputs that are not initializers become the parameters of @main (dim_param names
become symbolic dims, unknown dims stay unknown), initializers become `ml.constant` ops that
share the arrays onnx.numpy_helper produced, node names become `loc("...")`, and each node goes
through the converter registered for its op and opset (`frontends/onnx/converters/`).

Before anything is converted the model passes the gates of `loader` (parse, tensor sizes,
external data confined to the model's folder), `validate` (IR/opset ranges, names, cycles,
attributes against the schemas) and `onnx.checker` with full checks; ONNX shape inference then
gives every value a type, which is merged with what the op declarations infer (a contradiction
is an error). Nodes that no converter handles are collected: the import fails with one
`UnsupportedOpError` that lists every one of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import onnx
from onnx import GraphProto, ModelProto, NodeProto, TensorProto, TypeProto

from mlir_lite.errors import MlirLiteError, OnnxImportError, UnsupportedOpError
from mlir_lite.ir.attributes import DenseAttr, NameLoc
from mlir_lite.ir.builder import Builder, InsertionPoint
from mlir_lite.ir.core import Block, OpResult, Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType, Type, f32

from . import converters  # noqa: F401  (registers the converters)
from .context import NodeContext
from .dtypes import ONNX_OF, dtype_name, element_of, tensor_type_of
from .functions import function_body
from .loader import DEFAULT_MAX_TENSOR_BYTES, ModelSource, load_model, to_numpy
from .registry import DOMAINS, Unsupported, canonical_domain, lookup
from .validate import node_desc, validate_model

__all__ = ["import_onnx", "import_onnx_with_names", "UnsupportedNode", "prepare_model",
           "PreparedModel", "convert", "merge_types", "format_unsupported"]

PLACEHOLDER = "onnx.unsupported"
_INFER_KEEP_BYTES = 1 << 16  # initializers kept with their data for ONNX shape inference

GraphKey = Tuple[Tuple[int, str, int], ...]


@dataclass(frozen=True)
class UnsupportedNode:
    """One node the importer cannot convert, and why."""

    op_type: str
    domain: str
    opset: int
    name: str
    index: int
    graph: str
    dtype: str
    reason: str

    @property
    def op(self) -> str:
        return f"{self.domain}::{self.op_type}" if self.domain else self.op_type

    def describe(self) -> str:
        name = repr(self.name) if self.name else "<unnamed>"
        return (f"{self.op} (opset {self.opset}) node {name} (#{self.index} in {self.graph}), "
                f"dtype {self.dtype}: {self.reason}")


def format_unsupported(file: str, items: List[UnsupportedNode]) -> str:
    ops = sorted({u.op for u in items})
    lines = [f"{file}: {len(items)} unsupported node(s) (ops: {', '.join(ops)}):"]
    lines += [f"  - {u.describe()}" for u in items]
    return "\n".join(lines)


@dataclass
class PreparedModel:
    """A model that passed every gate, with the types ONNX shape inference gave its values."""

    model: ModelProto
    file: str
    opsets: Dict[str, int]
    types: Dict[GraphKey, Dict[str, TypeProto]]


def _walk_keys(g: GraphProto, key: GraphKey = ()):
    yield key, g
    for i, node in enumerate(g.node):
        for a in node.attribute:
            subs = [a.g] if a.HasField("g") else list(a.graphs)
            for k, sg in enumerate(subs):
                yield from _walk_keys(sg, key + ((i, a.name, k),))


def _missing_function_defaults(node: NodeProto, opsets: Mapping[str, int]
                               ) -> List[onnx.AttributeProto]:
    """The schema defaults of the attributes `node` leaves out, when its operator is defined by
    a function body: onnx.checker's full check expands the body without them, so an attribute
    reference to a default (MeanVarianceNormalization's `axes`) reads nothing and the check
    fails, where onnxruntime and the reference implementation use the default."""
    dom = canonical_domain(node.domain)
    if dom not in opsets:
        return []
    try:
        schema = onnx.defs.get_schema(node.op_type, opsets[dom], dom)
    except onnx.defs.SchemaError:
        return []
    if not any(getattr(schema, f) for f in ("has_function", "has_context_dependent_function")):
        return []
    have = {a.name for a in node.attribute}
    return [a.default_value for name, a in schema.attributes.items()
            if name not in have and a.default_value.name]


def _with_function_defaults(model: ModelProto, opsets: Mapping[str, int]) -> ModelProto:
    """`model`, or a copy whose function-defined nodes carry their default attributes (for the
    checker and shape inference only: converters see the model as written)."""
    if not any(_missing_function_defaults(n, opsets)
               for _, g in _walk_keys(model.graph) for n in g.node):
        return model
    copy = ModelProto()
    copy.CopyFrom(model)
    for _, g in _walk_keys(copy.graph):
        for n in g.node:
            n.attribute.extend(_missing_function_defaults(n, opsets))
    return copy


def _skeleton(model: ModelProto) -> ModelProto:
    """A copy of `model` for shape inference, without the data of large initializers."""
    skel = ModelProto()
    skel.ir_version = model.ir_version
    skel.opset_import.extend(model.opset_import)
    g, sg = model.graph, skel.graph
    sg.name = g.name
    sg.node.extend(g.node)
    sg.input.extend(g.input)
    sg.output.extend(g.output)
    sg.value_info.extend(g.value_info)
    sg.sparse_initializer.extend(g.sparse_initializer)
    for t in g.initializer:
        if t.ByteSize() <= _INFER_KEEP_BYTES:
            sg.initializer.append(t)
        else:
            s = sg.initializer.add()
            s.name, s.data_type = t.name, t.data_type
            s.dims.extend(t.dims)
            s.data_location = TensorProto.EXTERNAL  # tells readers the data lives elsewhere
            e = s.external_data.add()
            e.key, e.value = "location", "__stripped__"
    return skel


def prepare_model(src: ModelSource, max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES
                  ) -> PreparedModel:
    """Load and check a model (every gate) and run ONNX shape inference on it."""
    model, file, _ = load_model(src, max_tensor_bytes)
    opsets = validate_model(model, file)
    if model.functions:
        try:
            from onnx import inliner
            model = inliner.inline_local_functions(model)
        except Exception as e:
            raise OnnxImportError(f"{file}: cannot inline the model's local functions: "
                                  f"{e}") from None
        opsets = validate_model(model, file)
    checked = _with_function_defaults(model, opsets)
    try:
        onnx.checker.check_model(checked, full_check=True)
    except Exception as e:
        msg = str(e).strip().replace("\n\n", "\n")
        raise OnnxImportError(f"{file}: rejected by onnx.checker: {msg}") from None
    try:
        inferred = onnx.shape_inference.infer_shapes(_skeleton(checked), check_type=True,
                                                     strict_mode=True, data_prop=True)
    except Exception as e:
        raise OnnxImportError(f"{file}: ONNX shape inference failed (contradictory types or "
                              f"shapes): {str(e).strip()}") from None
    types: Dict[GraphKey, Dict[str, TypeProto]] = {}
    for key, g in _walk_keys(inferred.graph):
        d: Dict[str, TypeProto] = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            if vi.HasField("type"):
                d[vi.name] = vi.type
        types[key] = d
    return PreparedModel(model, file, opsets, types)


def merge_types(ours: Type, theirs: Optional[TensorType]) -> Type:
    """The more specific of two compatible types; ValueError when they contradict."""
    if theirs is None or not isinstance(ours, TensorType):
        return ours
    if ours.element != theirs.element:
        raise ValueError(f"element types differ ({ours.element} vs {theirs.element})")
    if theirs.shape is None:
        return ours
    if ours.shape is None:
        return theirs
    if len(ours.shape) != len(theirs.shape):
        raise ValueError(f"ranks differ ({len(ours.shape)} vs {len(theirs.shape)})")
    dims = []
    for a, b in zip(ours.shape, theirs.shape):
        if type(a) is int and type(b) is int and a != b:
            raise ValueError(f"dims {a} and {b} differ")
        dims.append(a if type(a) is int else b if type(b) is int else
                    a if type(a) is str else b)
    return ours.with_shape(dims)


class _Scope:
    __slots__ = ("values", "types", "key", "path")

    def __init__(self, key: GraphKey, types: Dict[str, TypeProto], path: str) -> None:
        self.values: Dict[str, Value] = {}
        self.types = types
        self.key = key
        self.path = path


class GraphImporter:
    """Converts the (main and nested) graphs of a prepared model into IR."""

    def __init__(self, prep: PreparedModel, collect: bool = False) -> None:
        self.prep = prep
        self.file = prep.file
        self.opsets = prep.opsets
        self.collect = collect
        self.unsupported: List[UnsupportedNode] = []
        self.scopes: List[_Scope] = []
        self.builder = Builder()
        self.expansions = 0  # function bodies expanded so far (unique name prefixes)
        self._body_note = ""
        self.function_depth = 0

    # -- scopes ---------------------------------------------------------------------------------
    def lookup_value(self, name: str) -> Optional[Value]:
        for s in reversed(self.scopes):
            v = s.values.get(name)
            if v is not None:
                return v
        return None

    def onnx_type(self, name: str) -> Optional[TypeProto]:
        for s in reversed(self.scopes):
            t = s.types.get(name)
            if t is not None:
                return t
        return None

    # -- the module -----------------------------------------------------------------------------
    def run(self) -> ModuleOp:
        g = self.prep.model.graph
        scope = _Scope((), self.prep.types.get((), {}), f"graph {g.name!r}")
        self.scopes.append(scope)
        inits = {t.name for t in g.initializer} | {s.values.name for s in g.sparse_initializer}
        params: List[Tuple[str, Type]] = []
        for vi in g.input:
            if vi.name in inits:
                continue
            params.append((vi.name, self._input_type(vi.name, vi.type, scope)))
        module = ModuleOp.empty()
        func = FuncOp.make("main", [t for _, t in params], [], [n for n, _ in params])
        module.append(func)
        for (name, _), arg in zip(params, func.args):
            scope.values[name] = arg
        self.builder.ip = InsertionPoint(func.entry_block)
        self._initializers(g, scope)
        self._nodes(g, scope)
        outs = [self._output(vi.name, vi.type, scope) for vi in g.output]
        self.builder.create("func.return", outs, loc=NameLoc(g.name or "main"))
        func.update_type()
        self.scopes.pop()
        _drop_unused_constants(func)
        return module

    def _input_type(self, name: str, tp: TypeProto, scope: _Scope) -> Type:
        try:
            t = tensor_type_of(tp)
        except Unsupported as u:
            self._record_other("<graph input>", name, scope.path, u.reason,
                               _type_dtype(tp))
            return TensorType(f32, None)
        if t is None:
            raise OnnxImportError(f"{self.file}: {scope.path}: input {name!r} has no tensor type")
        return t

    def _output(self, name: str, tp: TypeProto, scope: _Scope) -> Value:
        v = self.lookup_value(name)
        if v is None:
            raise OnnxImportError(f"{self.file}: {scope.path}: output {name!r} is not produced")
        try:
            declared = tensor_type_of(scope.types.get(name, tp))
            merge_types(v.type, declared)
        except Unsupported:
            pass
        except ValueError as e:
            raise OnnxImportError(f"{self.file}: {scope.path}: output {name!r} is declared as "
                                  f"{declared} but computed as {v.type}: {e}") from None
        return v

    def _record_other(self, what: str, name: str, path: str, reason: str, dtype: str) -> None:
        self.unsupported.append(UnsupportedNode(what, "", self.opsets.get("", 0), name, -1,
                                                path, dtype, reason))

    def _initializers(self, g: GraphProto, scope: _Scope) -> None:
        for t in g.initializer:
            where = f"{self.file}: {scope.path}: initializer {t.name!r}"
            try:
                element_of(t.data_type)
            except Unsupported as u:
                self._record_other("<initializer>", t.name, scope.path, u.reason,
                                   dtype_name(t.data_type))
                scope.values[t.name] = self._placeholder([], TensorType(f32, tuple(t.dims)),
                                                         NameLoc(t.name))
                continue
            arr = to_numpy(t, where)
            scope.values[t.name] = self._constant(arr, t.name)
        for st in g.sparse_initializer:
            where = f"{self.file}: {scope.path}: sparse initializer {st.values.name!r}"
            scope.values[st.values.name] = self._constant(_densify(st, where), st.values.name)

    def _constant(self, arr: np.ndarray, name: str) -> Value:
        op = self.builder.create("ml.constant", [], {"value": DenseAttr(arr)}, loc=NameLoc(name))
        op.results[0].name_hint = name
        return op.results[0]

    def _placeholder(self, operands: List[Value], t: Type, loc: Any) -> Value:
        return self.builder.create(PLACEHOLDER, operands, {}, [t], loc=loc).results[0]

    # -- nodes ----------------------------------------------------------------------------------
    def _nodes(self, g: GraphProto, scope: _Scope) -> None:
        for i, node in enumerate(g.node):
            self._node(node, i, scope)

    def _node(self, node: NodeProto, index: int, scope: _Scope) -> None:
        dom = canonical_domain(node.domain)
        opset = self.opsets.get(dom, 0)
        where = f"{self.file}: {scope.path}: {node_desc(node, index)}"
        loc = NameLoc(node.name or f"{node.op_type}#{index}")
        inputs: List[Optional[Value]] = []
        for k, x in enumerate(node.input):
            if not x:
                inputs.append(None)
                continue
            v = self.lookup_value(x)
            if v is None:
                raise OnnxImportError(f"{where}: input #{k} {x!r} is not defined")
            inputs.append(v)
        ctx = NodeContext(self, node, index, opset, where, loc, inputs)
        saved_ip = self.builder.ip
        if dom not in DOMAINS:
            fn, reason = None, f"domain {dom!r} is not supported (no converters registered)"
        else:
            fn, reason = lookup(dom, node.op_type, opset)
        results: List[Optional[Value]]
        try:
            for x in node.input:
                if x:
                    tensor_type_of(self.onnx_type(x))  # sequence / string inputs are unsupported
            if fn is None:
                raise Unsupported(reason)
            results = list(fn(ctx))
            ignored = ctx.ignored_attributes()
            if ignored:
                raise Unsupported(f"attribute(s) {', '.join(ignored)} not handled by the "
                                  f"converter")
        except Unsupported as u:
            self.builder.ip = saved_ip
            _erase_unused(ctx.created)
            self._body_note = ""
            if self._expand_function(node, index, opset, scope, u.reason):
                return
            self._unsupported(node, index, opset, scope, u.reason + self._body_note)
            results = self._placeholders(ctx)
        except OnnxImportError:
            self.builder.ip = saved_ip
            if self.collect and self.unsupported and any(
                    isinstance(v, OpResult) and v.op.name == PLACEHOLDER for v in inputs):
                results = self._placeholders(ctx)  # downstream of an unsupported node
            else:
                raise
        except MlirLiteError as e:
            raise OnnxImportError(f"{where}: {e}") from None
        self.builder.ip = saved_ip
        self._bind(ctx, results, scope)

    def _expand_function(self, node: NodeProto, index: int, opset: int, scope: _Scope,
                         reason: str) -> bool:
        """Convert `node` through its schema's function body, if it has one (see functions)."""
        if any(x and (t := self.onnx_type(x)) is not None and _type_dtype(t) in
               ("sequence", "map", "optional", "string") for x in node.input):
            return False
        self.expansions += 1
        prefix = f"{node.op_type}_fn{self.expansions}_"
        types = [self._type_proto(x) if x else None for x in node.input]
        body = function_body(node, opset, types, prefix)
        if body is None:
            return False
        nodes, fopsets = body
        first = len(self.unsupported)
        block = self.builder.ip.block  # type: ignore[union-attr]
        before = {id(op) for op in block.ops}
        bound = dict(scope.values)
        saved = self.opsets
        self.opsets = {**self.opsets, **fopsets}
        self.function_depth += 1
        try:
            for k, inner in enumerate(nodes):
                inner.name = f"{node.name or node.op_type}/{inner.name or inner.op_type}#{k}"
                self._node(inner, index, scope)
        except OnnxImportError:
            inner_errors = True
        else:
            inner_errors = False
        finally:
            self.opsets = saved
            self.function_depth -= 1
        if len(self.unsupported) == first and not inner_errors:
            return True
        # the body does not import either: undo it and report the node itself
        missing = sorted({f"{u.op}: {u.reason}" for u in self.unsupported[first:]})
        del self.unsupported[first:]
        _erase_unused([op for op in block.ops if id(op) not in before])
        scope.values.clear()
        scope.values.update(bound)
        if missing:
            self._body_note = f"; its function body needs {'; '.join(missing)}"
        return False

    def _type_proto(self, name: str) -> Optional[TypeProto]:
        tp = self.onnx_type(name)
        if tp is not None and tp.WhichOneof("value") is not None:
            return tp
        v = self.lookup_value(name)
        t = None if v is None else v.type
        if not isinstance(t, TensorType) or t.element not in ONNX_OF:
            return None
        shape = None if t.shape is None else [d if type(d) in (int, str) else None
                                              for d in t.shape]
        return onnx.helper.make_tensor_type_proto(ONNX_OF[t.element], shape)

    def _placeholders(self, ctx: NodeContext) -> List[Optional[Value]]:
        ops = [v for v in ctx.inputs if v is not None]
        out: List[Optional[Value]] = []
        for name in ctx.node.output:
            if not name:
                out.append(None)
                continue
            try:
                t = tensor_type_of(self.onnx_type(name)) or TensorType(f32, None)
            except Unsupported:
                t = TensorType(f32, None)
            out.append(self._placeholder(ops, t, ctx.loc))
        return out

    def _unsupported(self, node: NodeProto, index: int, opset: int, scope: _Scope,
                     reason: str) -> None:
        dtype = "-"
        for x in list(node.input) + list(node.output):
            tp = self.onnx_type(x) if x else None
            if tp is not None:
                dtype = _type_dtype(tp)
                break
        self.unsupported.append(UnsupportedNode(node.op_type, canonical_domain(node.domain),
                                                opset, node.name, index, scope.path, dtype,
                                                reason))

    def _bind(self, ctx: NodeContext, results: List[Optional[Value]], scope: _Scope) -> None:
        created = {id(op) for op in ctx.created}
        for k, name in enumerate(ctx.node.output):
            if not name:
                continue
            v = results[k] if k < len(results) else None
            if v is None:
                raise OnnxImportError(f"{ctx.where}: output #{k} {name!r} is not supported by "
                                      "the converter")
            mine = isinstance(v, OpResult) and id(v.op) in created
            # region ops' types must match their yields
            refine = mine and isinstance(v, OpResult) and not v.op.regions
            try:
                theirs = tensor_type_of(scope.types.get(name))
            except Unsupported:
                theirs = None
            try:
                merged = merge_types(v.type, theirs)
            except ValueError as e:
                raise OnnxImportError(f"{ctx.where}: output #{k} {name!r}: ONNX shape inference "
                                      f"gives {theirs} but the op gives {v.type}: {e}") from None
            if merged != v.type and refine:
                v.type = merged
            if mine or v.name_hint is None:
                v.name_hint = name
            scope.values[name] = v

    # -- subgraphs ------------------------------------------------------------------------------
    def convert_subgraph(self, ctx: NodeContext, attr: str, g: GraphProto, block: Block,
                         bindings: Mapping[str, Value]) -> List[Value]:
        """Convert `g` (attribute `attr` of ctx's node) into `block`; returns its outputs."""
        parent = self.scopes[-1]
        idx = [a.name for a in ctx.node.attribute].index(attr)
        key = parent.key + ((ctx.index, attr, 0),)
        if self.function_depth:  # a subgraph of a function body: ONNX inference never saw it
            key = parent.key + ((-1, f"{ctx.node.name}:{attr}", 0),)
        del idx
        scope = _Scope(key, self.prep.types.get(key, {}),
                       f"{parent.path} > {node_desc(ctx.node, ctx.index)} attribute {attr!r}")
        for vi in g.input:
            if vi.name not in bindings:
                raise ctx.error(f"subgraph input {vi.name!r} is not bound", attribute=attr)
        scope.values.update(bindings)
        saved = self.builder.ip
        self.scopes.append(scope)
        self.builder.ip = InsertionPoint(block)
        try:
            self._initializers(g, scope)
            self._nodes(g, scope)
            return [self._output(vi.name, vi.type, scope) for vi in g.output]
        finally:
            self.scopes.pop()
            self.builder.ip = saved


def _erase_unused(ops: List[Any]) -> None:
    """Erase the ops a converter created before it gave up (last first, while unused)."""
    for op in reversed(ops):
        if op.parent is not None and not any(r.has_uses() for r in op.results):
            op.erase()


def _type_dtype(tp: TypeProto) -> str:
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return dtype_name(tp.tensor_type.elem_type)
    return kind.replace("_type", "") if kind else "-"


def _densify(st: onnx.SparseTensorProto, where: str) -> np.ndarray:
    vals = to_numpy(st.values, where)
    idx = to_numpy(st.indices, where).astype(np.int64)
    dims = tuple(int(d) for d in st.dims)
    out = np.zeros(dims, dtype=vals.dtype)
    n = int(np.prod(dims)) if dims else 1
    if idx.ndim == 1:
        flat = idx
    elif idx.ndim == 2 and idx.shape[1] == len(dims):
        if np.any(idx < 0) or np.any(idx >= np.array(dims)):
            raise OnnxImportError(f"{where}: sparse indices are out of range for dims {dims}")
        flat = np.ravel_multi_index(tuple(idx.T), dims) if idx.size else idx.reshape(-1)
    else:
        raise OnnxImportError(f"{where}: sparse indices of shape {idx.shape} do not fit dims "
                              f"{dims}")
    if flat.shape[0] != vals.size or np.any(flat < 0) or np.any(flat >= n):
        raise OnnxImportError(f"{where}: sparse indices are out of range or do not match the "
                              "values")
    out.reshape(-1)[flat] = vals.ravel()
    return out


def _drop_unused_constants(func: FuncOp) -> None:
    for op in reversed(list(func.walk())):
        if op.name == "ml.constant" and not op.results[0].has_uses():
            op.erase()


def convert(prep: PreparedModel, collect: bool = False) -> Tuple[ModuleOp, List[UnsupportedNode]]:
    """Convert a prepared model; with `collect`, unsupported nodes become placeholders and are
    returned instead of raising."""
    imp = GraphImporter(prep, collect=True)
    module = imp.run()
    if imp.unsupported and not collect:
        raise UnsupportedOpError(format_unsupported(prep.file, imp.unsupported))
    return module, imp.unsupported


def import_onnx(src: ModelSource, *, max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
                verify: bool = True) -> ModuleOp:
    """Import an ONNX model (a path, bytes or ModelProto) as a module with `@main`."""
    return import_onnx_with_names(src, max_tensor_bytes=max_tensor_bytes, verify=verify)[0]


def import_onnx_with_names(src: ModelSource, *,
                           max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
                           verify: bool = True) -> Tuple[ModuleOp, List[str], List[str]]:
    """`import_onnx`, and the graph's input (initializers aside) and output names; the file
    is parsed once."""
    prep = prepare_model(src, max_tensor_bytes)
    module, _ = convert(prep)
    if verify:
        from mlir_lite.ir.verifier import verify as verify_ir
        try:
            verify_ir(module)
        except MlirLiteError as e:
            raise OnnxImportError(f"{prep.file}: the imported IR does not verify: {e}") from None
    g = prep.model.graph
    inits = {t.name for t in g.initializer} | {t.values.name for t in g.sparse_initializer}
    inputs = [vi.name for vi in g.input if vi.name not in inits]
    return module, inputs, [vi.name for vi in g.output]
