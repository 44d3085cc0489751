"""Lowering: the part of the graph that some fetches need, as ONE `func.func`.

    prog = lower_program([loss, train_step], {x: tensor<?x784xf32, ["N"]>, y_: ...})
    # func.func @main(%x, %y_, %W) -> (loss, new W)
    #   params:  fed tensors, then the variables read, then the random tensors drawn
    #   results: the fetched values, then the new value of every assigned variable

Every node becomes the `ml` op it recorded, located at the user's line. Two graph-level
rewrites happen here: `log(softmax(z))` lowers to `log_softmax(z)` (the same value, but finite
where softmax underflows, and so is its gradient), and a `tf.gradients` node lowers by building
the forward function of its outputs, differentiating it with
`mlir_lite.passes.autodiff.build_vjp`, and inlining the result (see gradients.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType

from .graph import Op, Tensor, describe

__all__ = ["Program", "lower_program", "collect", "Emitter", "PARAM_KINDS", "dependencies"]

PARAM_KINDS = ("placeholder", "variable", "random")
Node = Union[Tensor, Op]


def dependencies(node: Node) -> Tuple[Node, ...]:
    """What must be computed before `node`."""
    if isinstance(node, Op):
        return node.deps
    if node.kind == "grad":
        return node.attrs["node"].inputs
    return node.inputs + node.control


@dataclass
class Subgraph:
    """The nodes to emit in order, and the leaves the subgraph reads."""

    order: List[Node] = field(default_factory=list)
    cuts: List[Tensor] = field(default_factory=list)       # reached tensors in `stop`
    leaves: List[Tensor] = field(default_factory=list)     # placeholders, variables, randoms
    assigns: List[Tensor] = field(default_factory=list)


def collect(targets: Sequence[Node], stop: Set[Tensor]) -> Subgraph:
    """Post-order walk from `targets`, not entering `stop` tensors (iterative: deep graphs are
    fine)."""
    sub = Subgraph()
    seen: Set[int] = set()
    for root in targets:
        if id(root) in seen:
            continue
        stack: List[Tuple[Node, int]] = [(root, 0)]
        seen.add(id(root))
        while stack:
            node, i = stack[-1]
            if isinstance(node, Tensor) and node in stop:
                stack.pop()
                sub.cuts.append(node)
                continue
            deps = dependencies(node)
            if i < len(deps):
                stack[-1] = (node, i + 1)
                d = deps[i]
                if id(d) not in seen:
                    seen.add(id(d))
                    stack.append((d, 0))
                continue
            stack.pop()
            if isinstance(node, Tensor) and node.kind in PARAM_KINDS:
                sub.leaves.append(node)
            else:
                sub.order.append(node)
                if isinstance(node, Tensor) and node.kind == "assign":
                    sub.assigns.append(node)
    return sub


class Emitter:
    """Emits the ops of graph nodes with a builder; `env` maps tensors to IR values."""

    def __init__(self, builder: Builder, env: Dict[Any, Any], fed: Set[Tensor]) -> None:
        self.b = builder
        self.env = env
        self.fed = fed

    def value(self, t: Tensor) -> Value:
        return self.env[t]

    def emit(self, order: Sequence[Node]) -> None:
        for node in order:
            if isinstance(node, Op) or node in self.env:
                continue
            self.env[node] = self._emit_tensor(node)

    def _emit_tensor(self, t: Tensor) -> Value:
        b = self.b
        if t.kind == "const":
            return b.op("ml.constant", value=DenseAttr(t.attrs["value"]), loc=t.loc)
        if t.kind == "assign":
            return self.env[t.inputs[0]]
        if t.kind == "grad":
            node = t.attrs["node"]
            if node not in self.env:
                from .gradients import emit_gradients
                self.env[node] = emit_gradients(self, node)
            return self.env[node][t.attrs["index"]]
        if t.kind == "cflow":  # tf.cond / tf.while_loop (control_flow.py)
            return t.attrs["node"].emit(self, t)
        if t.kind != "op":
            raise DslError(f"cannot lower {describe(t)}", t.loc)
        src = t.inputs[0] if t.inputs else None
        if (t.op == "ml.log" and src is not None and src.kind == "op"
                and src.op == "ml.softmax" and src not in self.fed):
            z = self.env[src.inputs[0]]
            return b.op("ml.log_softmax", z, axis=src.attrs.get("axis", -1), loc=t.loc)
        operands = [self.env[x] for x in t.inputs]
        assert t.op is not None  # an "op" node names its op
        try:
            op = b.create(t.op, operands, dict(t.attrs), loc=t.loc)
        except MlirLiteError as e:
            raise DslError(f"{t.op}: {e.message}", t.loc) from None
        return op.results[0]


@dataclass
class Program:
    """A lowered module and how to call it."""

    module: ModuleOp
    func_name: str
    fed: List[Tensor]
    variables: List[Tensor]
    randoms: List[Tensor]
    fetch_results: List[Optional[int]]   # per flat fetch: its result index (None for an Op)
    updates: List[Tensor]                # assigned variables, results after the fetches
    fn: Any = None

    @property
    def func(self) -> FuncOp:
        f = self.module[self.func_name]
        assert isinstance(f, FuncOp)
        return f


def _arg_name(t: Tensor) -> str:
    return re.sub(r"\W", "_", t.name)


def _check_unfed(sub: Subgraph) -> None:
    unfed = [t for t in sub.leaves if t.kind == "placeholder"]
    if not unfed:
        return
    first = unfed[0]
    others = "" if len(unfed) == 1 else " (also not fed: " + ", ".join(
        describe(t) for t in unfed[1:]) + ")"
    raise DslError(f"placeholder {describe(first)} must be fed: pass feed_dict={{"
                   f"{first.name}: <array of shape "
                   f"{'?' if first.shape is None else tuple(first.shape)} and dtype "
                   f"{first.dtype}>}}{others}", first.loc)


def lower_program(fetches: Sequence[Node], fed: Dict[Tensor, TensorType],
                  name: str = "main") -> Program:
    """Lower what `fetches` need into `func.func @name`; `fed` gives the type of each fed
    tensor (symbolic dims where the feeds may vary)."""
    sub = collect(fetches, set(fed))
    _check_unfed(sub)
    cuts = sorted(set(sub.cuts), key=lambda t: t.id)
    variables = sorted((t for t in sub.leaves if t.kind == "variable"), key=lambda t: t.id)
    randoms = sorted((t for t in sub.leaves if t.kind == "random"), key=lambda t: t.id)
    seen_vars: Dict[Tensor, Tensor] = {}
    for a in sub.assigns:
        prev = seen_vars.setdefault(a.ref, a)
        if prev is not a:
            raise DslError(f"variable {describe(a.ref)} is assigned twice in one run (by "
                           f"{prev.name} and {a.name}); run them separately", a.loc)
    params = cuts + variables + randoms
    types = [fed[t] if t in fed else t.type for t in params]
    module = ModuleOp.empty()
    f = FuncOp.make(name, types, [], [_arg_name(t) for t in params])
    module.append(f)
    b = Builder.at_end(f.entry_block)
    env: Dict[Any, Any] = dict(zip(params, f.args))
    Emitter(b, env, set(fed)).emit(sub.order)
    fetch_results: List[Optional[int]] = []
    results: List[Value] = []
    for t in fetches:
        if isinstance(t, Op):
            fetch_results.append(None)
        else:
            fetch_results.append(len(results))
            results.append(env[t])
    updates = [a.ref for a in sub.assigns]
    results.extend(env[a] for a in sub.assigns)
    b.create("func.return", results)
    f.update_type()
    return Program(module, name, cuts, variables, randoms, fetch_results, updates)


def ones_like_value(b: Builder, v: Value) -> Value:
    """A tensor of ones with `v`'s type (static shapes: a constant; else from `ml.shape`)."""
    t = v.type
    assert isinstance(t, TensorType)  # DSL values are tensors
    if t.is_static:
        return b.op("ml.constant", value=DenseAttr(np.ones(t.dims, t.element.np_dtype)))
    shp = b.op("ml.shape", v)
    return b.op("ml.constant_of_shape_dynamic", shp,
                value=DenseAttr(np.ones((1,), t.element.np_dtype)))
