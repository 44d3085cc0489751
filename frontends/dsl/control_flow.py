"""`tf.cond` and `tf.while_loop` for the symbolic DSL, lowered to `scf.if` / `scf.while`.

    r = tf.cond(x < y, lambda: tf.add(x, z), lambda: tf.square(y))
    i, s = tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s * 2.0), [i0, s0])

The branch and body functions run once, when the graph is built, recording their nodes as
usual. The returned tensors are of kind "cflow": one output of a `_ControlNode`, whose inputs
are the outside tensors the branches use (so the session's dependency walk reaches them).
Lowering emits the node once, as one region op, filling its regions with the nodes the
functions recorded (an Emitter per region, seeing the outer values); `scf-to-cf` can then
lower it to switch/merge dataflow.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Set, Tuple

from mlir_lite.errors import DslError
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Region, Value
from mlir_lite.ir.types import TensorType, i1

from .graph import Tensor, get_default_graph, shape_str, user_location
from .lowering import Emitter, Node, collect, dependencies
from .ops import as_tensor

__all__ = ["cond", "while_loop"]


def _flat(out: Any, what: str) -> Tuple[List[Tensor], bool]:
    if isinstance(out, (list, tuple)):
        return [as_tensor(o) for o in out], True
    if out is None:
        raise DslError(f"{what} must return a tensor (or a list of tensors), got None")
    return [as_tensor(out)], False


def _captures(outs: Sequence[Tensor], start: int, local: Set[Tensor]) -> List[Tensor]:
    """Tensors made before `start` (ids are increasing) that `outs` depend on."""
    found: Dict[int, Tensor] = {}
    seen: Set[int] = set()
    stack: List[Node] = list(outs)
    while stack:
        t = stack.pop()
        if id(t) in seen or t in local:
            continue
        seen.add(id(t))
        if isinstance(t, Tensor) and t.id < start:
            found[t.id] = t
            continue
        stack.extend(dependencies(t))
    return [found[k] for k in sorted(found)]


def _join_shape(a: Tensor, b: Tensor) -> Any:
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return None
    return tuple(x if x == y else None for x, y in zip(a.shape, b.shape))


def _emit_region(em: Emitter, block: Block, binds: Dict[Tensor, Value], outs: Sequence[Tensor],
                 stop: Set[Tensor]) -> List[Value]:
    env = dict(em.env)
    env.update(binds)
    inner = Emitter(Builder.at_end(block), env, em.fed)
    inner.emit(collect(list(outs), stop | set(binds)).order)
    return [env[o] for o in outs]


class _ControlNode:
    """One cond or while loop of the graph."""

    def __init__(self, kind: str, captures: List[Tensor], types: List[TensorType],
                 **parts: Any) -> None:
        self.kind = kind
        self.captures = captures
        self.types = types
        self.parts = parts

    def emit(self, em: Emitter, t: Tensor) -> Value:
        got = em.env.get(self)
        if got is None:
            got = em.env[self] = self._emit(em)
        return got[t.attrs["index"]]

    def _emit(self, em: Emitter) -> List[Value]:
        stop = set(self.captures)
        b, p = em.b, self.parts
        if self.kind == "cond":
            regions = [Region([Block()]), Region([Block()])]
            op = b.create("scf.if", [em.env[p["pred"]]], {}, self.types, regions, loc=p["loc"])
            for region, outs in zip(regions, (p["true"], p["false"])):
                vals = _emit_region(em, region.blocks[0], {}, outs, stop)
                with b.at(region.blocks[0]):
                    b.create("scf.yield", vals)
            return list(op.results)
        before, after = Block(self.types), Block(self.types)
        inits = [em.env[x] for x in p["inits"]]
        op = b.create("scf.while", inits, {}, self.types, [Region([before]), Region([after])],
                      loc=p["loc"])
        (c,) = _emit_region(em, before, dict(zip(p["cond_vars"], before.args)), [p["pred"]],
                            stop)
        with b.at(before):
            b.create("scf.condition", [c] + list(before.args))
        ys = _emit_region(em, after, dict(zip(p["body_vars"], after.args)), p["outs"], stop)
        with b.at(after):
            b.create("scf.yield", ys)
        return list(op.results)


def _outputs(node: _ControlNode, inputs: List[Tensor], types: List[TensorType]) -> List[Tensor]:
    return [Tensor("cflow", t.element, t.shape, inputs, attrs={"node": node, "index": i},
                   name=node.kind.capitalize(), loc=node.parts["loc"])
            for i, t in enumerate(types)]


def _check_pred(pred: Tensor, api: str) -> None:
    if pred.dtype != i1 or (pred.shape is not None and any(d != 1 for d in pred.shape)):
        raise DslError(f"{api}: the predicate must be a scalar bool tensor, got "
                       f"{shape_str(pred.shape)} {pred.dtype}", pred.loc)


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any],
         name: Any = None) -> Any:
    """`true_fn()` if `pred` else `false_fn()`, decided when the graph runs (`scf.if`)."""
    loc = user_location()
    pred = as_tensor(pred)
    _check_pred(pred, "cond")
    start = get_default_graph().next_id()
    t_out, t_seq = _flat(true_fn(), "cond: true_fn")
    f_out, _ = _flat(false_fn(), "cond: false_fn")
    if len(t_out) != len(f_out):
        raise DslError(f"cond: true_fn returns {len(t_out)} tensors but false_fn {len(f_out)}",
                       loc)
    types = []
    for i, (a, b) in enumerate(zip(t_out, f_out)):
        if a.dtype != b.dtype:
            raise DslError(f"cond: output #{i} is {a.dtype} in true_fn but {b.dtype} in "
                           "false_fn", loc)
        types.append(TensorType(a.dtype, _join_shape(a, b)))
    caps = _captures([pred] + t_out + f_out, start, set())
    node = _ControlNode("cond", caps, types, pred=pred, true=t_out, false=f_out, loc=loc)
    outs = _outputs(node, caps, types)
    return outs if t_seq else outs[0]


def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Sequence[Any],
               name: Any = None) -> Any:
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (`scf.while`); returns
    the final loop variables (a list, or one tensor when `loop_vars` is one tensor)."""
    loc = user_location()
    single = not isinstance(loop_vars, (list, tuple))
    inits = [as_tensor(v) for v in ([loop_vars] if single else loop_vars)]
    types = [TensorType(v.dtype, v.shape) for v in inits]
    start = get_default_graph().next_id()
    cvars = [Tensor("loopvar", v.dtype, v.shape, name="LoopVar", loc=loc) for v in inits]
    bvars = [Tensor("loopvar", v.dtype, v.shape, name="LoopVar", loc=loc) for v in inits]
    pred = as_tensor(cond(*cvars))
    _check_pred(pred, "while_loop")
    outs, _ = _flat(body(*bvars), "while_loop: body")
    if len(outs) != len(inits):
        raise DslError(f"while_loop: body returns {len(outs)} tensors for {len(inits)} loop "
                       "variables", loc)
    for i, (o, v) in enumerate(zip(outs, inits)):
        if o.dtype != v.dtype or o.shape != v.shape:
            raise DslError(f"while_loop: loop variable #{i} is {shape_str(v.shape)} {v.dtype} "
                           f"but the body returns {shape_str(o.shape)} {o.dtype}", loc)
    caps = _captures([pred] + outs, start, set(cvars) | set(bvars))
    node = _ControlNode("while", caps, types, pred=pred, outs=outs, inits=inits,
                        cond_vars=cvars, body_vars=bvars, loc=loc)
    res = _outputs(node, caps + [v for v in inits if v not in caps], types)
    return res[0] if single else res
