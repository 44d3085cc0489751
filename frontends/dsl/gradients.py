"""`tf.gradients`: symbolic gradients through the autodiff pass.

    g_W, g_b = tf.gradients(loss, [W, b])

records a gradients node whose outputs are graph tensors. When a Session lowers a graph that
uses them, `emit_gradients` lowers the forward computation of `ys` into a function whose
parameters are `xs` and every other leaf that `ys` reads (with exactly the types they have in
the function being built, symbolic dims included), differentiates it with
`mlir_lite.passes.autodiff.build_vjp` (cotangents: ones, or `grad_ys`), and inlines the
gradient function at the use. The forward ops that the inlined code recomputes are the same
ops as the caller's, so `cse` merges them.

Like TensorFlow, the gradient of `ys` with respect to an `x` that `ys` does not depend on is
None, and several `ys` are summed.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set

from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp

from .graph import Op, Tensor, describe, user_location
from .lowering import Emitter, collect, dependencies, ones_like_value
from .ops import as_tensor

__all__ = ["gradients", "GradientsNode", "emit_gradients"]


class GradientsNode:
    """d(sum of ys)/d(xs): the inputs it needs are ys, xs and grad_ys."""

    def __init__(self, ys: List[Tensor], xs: List[Tensor], grad_ys: List[Optional[Tensor]],
                 loc: Any) -> None:
        self.ys = ys
        self.xs = xs
        self.grad_ys = grad_ys
        self.loc = loc
        self.inputs = tuple(ys) + tuple(xs) + tuple(g for g in grad_ys if g is not None)

    def __hash__(self) -> int:
        return id(self)


def _listify(v: Any) -> List[Any]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _ancestors(ys: Sequence[Tensor]) -> Set[int]:
    seen: Set[int] = set()
    stack: List[Any] = list(ys)
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(dependencies(n))
    return seen


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients",
              stop_gradients: Any = None, **unused: Any) -> List[Optional[Tensor]]:
    """Symbolic d(sum(ys))/d(x) for each x in `xs` (None where ys does not depend on x)."""
    loc = user_location()
    ys_l = [as_tensor(y) for y in _listify(ys)]
    xs_l = _listify(xs)
    for x in xs_l:
        if not isinstance(x, Tensor) or isinstance(x, Op):
            raise DslError(f"gradients: xs must be tensors, got {x!r}", loc)
    for y in ys_l:
        if not y.dtype.is_float:
            raise DslError(f"gradients: {describe(y)} is not a float tensor", loc)
    gys: List[Optional[Tensor]] = [None] * len(ys_l)
    if grad_ys is not None:
        gl = _listify(grad_ys)
        if len(gl) != len(ys_l):
            raise DslError(f"gradients: {len(gl)} grad_ys for {len(ys_l)} ys", loc)
        gys = [None if g is None else as_tensor(g, y.dtype) for g, y in zip(gl, ys_l)]
    if stop_gradients is not None:
        raise DslError("gradients: stop_gradients is not supported", loc)
    reach = _ancestors(ys_l)
    live = [x for x in xs_l if id(x) in reach and x.dtype.is_float]
    if not live:
        return [None] * len(xs_l)
    node = GradientsNode(ys_l, live, gys, loc)
    out: List[Optional[Tensor]] = []
    for x in xs_l:
        if x in live:
            t = Tensor("grad", x.dtype, x.shape, attrs={"node": node, "index": live.index(x)},
                       name=f"{name}/{x.name}_grad", loc=loc, graph=x.graph)
            out.append(t)
        else:
            out.append(None)
    return out


def emit_gradients(em: Emitter, node: GradientsNode) -> List[Value]:
    """Emit the gradient values of `node` into the function `em` is building."""
    try:
        from mlir_lite.passes.autodiff import build_vjp
    except ImportError as e:  # the pass is not there yet
        raise DslError(f"gradients need mlir_lite.passes.autodiff ({e})", node.loc) from None
    stop = set(node.xs) | {t for t in em.fed if t in em.env}
    sub = collect(node.ys, stop)
    others = sorted((set(sub.cuts) - set(node.xs)) | set(sub.leaves), key=lambda t: t.id)
    params = list(node.xs) + others
    module = ModuleOp.empty()
    fwd = FuncOp.make("forward", [em.env[t].type for t in params], [],
                      [t.name for t in params])
    module.append(fwd)
    fb = Builder.at_end(fwd.entry_block)
    env: Dict[Any, Any] = dict(zip(params, fwd.args))
    Emitter(fb, env, em.fed).emit(sub.order)
    fb.create("func.return", [env[y] for y in node.ys], loc=node.loc)
    fwd.update_type()
    try:
        vjp = build_vjp(module, "forward", list(range(len(node.xs))), name="vjp")
    except MlirLiteError as e:
        raise DslError(f"gradients: cannot differentiate: {e}", node.loc) from None
    cots = []
    for y, g in zip(node.ys, node.grad_ys):
        cots.append(em.env[g] if g is not None else ones_like_value(em.b, em.env[y]))
    mapping: Dict[Value, Value] = dict(zip(vjp.args, [em.env[t] for t in params] + cots))
    ret = None
    ip = em.b.ip
    assert ip is not None  # the lowering builder always has an insertion point
    for op in list(vjp.entry_block.ops):
        if op.name == "func.return":
            ret = op
            break
        ip.insert(op.clone(mapping))
    assert ret is not None
    outs = [mapping.get(v, v) for v in ret.operands]
    return outs[len(node.ys):]
