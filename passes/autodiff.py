"""`autodiff`: reverse-mode automatic differentiation of a function, as new functions.

    func.func @main(%x: tensor<3xf32>, %w: tensor<3xf32>) -> tensor<f32> {
      %p = "ml.mul"(%x, %w) ...
      %l = "ml.reduce_sum"(%p) {keepdims = false} ...
      "func.return"(%l)
  -> autodiff{func=main wrt=1 mode=grad} appends
    func.func @main_grad(%x, %w) -> (tensor<f32>, tensor<3xf32>) {
      ... the forward ops ...
      %g = "ml.expand"(%one) {shape = [3]}        // d l / d p
      %dw = "ml.mul"(%g, %x)                       // d l / d w
      "func.return"(%l, %dw)

`build_vjp` makes `@f_vjp(params..., cotangents...) -> (results..., grads...)`; `build_grad`
makes `@f_grad(params...) -> (loss, grads...)` for a scalar result. Each op is differentiated by
its rule in `VJP_RULES` (mlir_lite.passes.autodiff_rules); `scf.if` and `scf.for` are handled
by rules that build backward regions. Only float values that depend on a `wrt` parameter carry
gradients, so comparisons, argmax, shapes and integer code need no rules; an op on the path
from a `wrt` parameter to an output without a rule is a PassError naming it. The inlined forward
gets one rewrite first: max_pool(relu(z)) -> relu(max_pool(z)) (equal values; the relu and its
gradient mask then run on the pooled tensor).
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from mlir_lite.errors import MlirLiteError, PassError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder, InsertionPoint
from mlir_lite.ir.core import Block, Operation, Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType, Type

from .autodiff_rules import VJP_RULES, VJPContext, free_values, is_float_type
from .dce import dce
from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["build_vjp", "build_grad", "differentiate_into", "lookup_function", "Autodiff",
           "VJP_RULES"]


class _Backprop:
    """Differentiates blocks in reverse order of their ops, accumulating cotangents."""

    def run(self, block: Block, seeds: Sequence[Tuple[Value, Value]], active_in: Set[Value],
            anchor: Optional[Operation] = None) -> Tuple[Dict[Value, Value], VJPContext]:
        """Differentiate `block` (the ops before `anchor`, if given), emitting the backward ops
        at its end (before `anchor`)."""
        active = _forward_active(block, active_in)
        grads: Dict[Value, Value] = {}
        builder = Builder(InsertionPoint(block, anchor))

        def accumulate(v: Value, c: Value) -> None:
            prev = grads.get(v)
            if prev is None:
                grads[v] = c
            else:
                grads[v] = builder.op("ml.add", prev, c, loc=v.owner.loc
                                      if isinstance(v.owner, Operation) else None)

        ctx = VJPContext(builder, active, self.run, accumulate)
        for v, c in seeds:
            if v in active:
                accumulate(v, c)
        ops = block.ops_reversed()
        if anchor is not None:
            ops = ops[ops.index(anchor) + 1:]
        for op in ops:
            cots = [grads.get(r) for r in op.results]
            if all(c is None for c in cots) or not any(r in active for r in op.results):
                continue
            rule = VJP_RULES.get(op.name)
            if rule is None:
                raise PassError(f"autodiff: no VJP rule for {op.name}, which lies on the path "
                                "from a differentiated parameter to the output; register one "
                                f"with @vjp({op.name!r}) in mlir_lite.passes.autodiff_rules",
                                op.loc)
            operands = list(op.operands)
            ctx.op = op
            try:
                in_cots = rule(ctx, op, cots)
            except MlirLiteError:
                raise
            except (ValueError, TypeError, KeyError, IndexError) as e:
                raise PassError(f"autodiff of {op.name} failed: {type(e).__name__}: {e}",
                                op.loc) from e
            for v, cot in zip(operands, in_cots):
                if cot is not None and v in active and is_float_type(v.type):
                    accumulate(v, cot)
        ctx.op = None
        return grads, ctx


def _forward_active(block: Block, active_in: Set[Value]) -> Set[Value]:
    """`active_in` and the float values of `block` that depend on them."""
    active = set(active_in)
    for op in block.ops:
        deps = list(op.operands) + (free_values(op) if op.regions else [])
        if any(d in active for d in deps):
            active.update(r for r in op.results if is_float_type(r.type))
    return active


def lookup_function(module: Operation, name: str) -> FuncOp:
    f = module.lookup(name) if hasattr(module, "lookup") else None
    if f is None or f.name != "func.func":
        names = ", ".join(g.attributes.get("sym_name", "?") for g in getattr(module, "functions",
                                                                             []))
        raise PassError(f"autodiff: no function @{name} (the module has: {names or 'none'})")
    if len(f.regions[0].blocks) != 1:
        raise PassError(f"autodiff: @{name} must have a body of one block (structured control "
                        "flow); run cf-to-scf first", f.loc)
    return f


def _check_wrt(f: FuncOp, wrt: Sequence[int]) -> List[int]:
    n = len(f.args)
    out = []
    for i in wrt:
        if not -n <= i < n:
            raise PassError(f"autodiff: @{f.sym_name} has {n} parameters; wrt index {i} is out "
                            "of range", f.loc)
        i = i % n
        if not is_float_type(f.args[i].type):
            raise PassError(f"autodiff: parameter #{i} of @{f.sym_name} has type "
                            f"{f.args[i].type}; only float parameters have gradients", f.loc)
        out.append(i)
    return out


def differentiate_into(block: Block, f: FuncOp, args: Sequence[Value], wrt: Sequence[int],
                       cotangents: Sequence[Optional[Value]]) -> Tuple[List[Value], List[Value]]:
    """Inline `f`'s body at the end of `block` (its parameters bound to `args`), then append the
    reverse pass seeded with `cotangents` (one per result of `f`; None for zero). Returns the
    results of `f` and the gradients for the `wrt` parameters, each of its parameter's type."""
    wrt = _check_wrt(f, wrt)
    mapping: Dict[Value, Value] = dict(zip(f.args, args))
    results: List[Value] = []
    pools = []
    for op in f.entry_block.ops:
        if op.name == "func.return":
            results = [mapping.get(v, v) for v in op.operands]
            break
        new = block.append(op.clone(mapping))
        if new.name == "ml.max_pool":
            pools.append(new)
    for p in pools:
        _pool_before_relu(p, results)
    if len(cotangents) != len(results):
        raise PassError(f"autodiff: @{f.sym_name} has {len(results)} results but "
                        f"{len(cotangents)} cotangents were given", f.loc)
    seeds = [(r, c) for r, c in zip(results, cotangents)
             if c is not None and is_float_type(r.type)]
    # The reverse pass may rebuild forward ops (loops record their carried values): hold the
    # results as operands of a placeholder so that they follow.
    keep = block.append(Operation.create("autodiff.results", results))
    grads, ctx = _Backprop().run(block, seeds, {args[i] for i in wrt}, anchor=keep)
    ctx.op = None
    outs = []
    for i in wrt:
        a = args[i]
        g = grads.get(a)
        outs.append(ctx.zeros_like(a) if g is None else ctx.refine(g, a.type))
    results = list(keep.operands)
    keep.erase()
    return results, outs


def _pool_before_relu(pool: Operation, results: List[Value]) -> None:
    """max_pool(relu(z)) -> relu(max_pool(z)) when the relu feeds only the pool: equal values
    (a max commutes with a non-decreasing map), and the relu and its gradient mask then run on
    the pooled tensor (1/window the size) instead of the full one. Gradients agree too: where
    the window's max is <= 0 both give 0; elsewhere both route to the first maximum."""
    relu = pool.operands[0].owner
    if not isinstance(relu, Operation) or relu.name != "ml.relu" or len(pool.results) != 1 \
            or relu.result.num_uses != 1 or relu.parent is not pool.parent \
            or any(r is relu.result for r in results):
        return
    after = Operation.create("ml.relu", [pool.result], [pool.result.type], loc=relu.loc)
    pool.block.insert_after(pool, after)
    pool.result.replace_uses_where(after.result, lambda user: user is not after)
    pool.set_operand(0, relu.operands[0])
    relu.erase()
    for i, r in enumerate(results):
        if r is pool.result:
            results[i] = after.result


def _new_function(module: ModuleOp, name: str, inputs: Sequence[Type],
                  results: Sequence[Type], like: FuncOp) -> FuncOp:
    if module.lookup(name) is not None:
        raise PassError(f"autodiff: the module already has a symbol @{name}; pass another name")
    names = [a.name_hint for a in like.args]
    return FuncOp.make(name, list(inputs), list(results), names, loc=like.loc)


def _finish(module: ModuleOp, g: FuncOp, outs: Sequence[Value]) -> FuncOp:
    Builder.at_end(g.entry_block).op("func.return", *outs)
    dce(g)
    module.append(g)
    return g


def build_vjp(module: ModuleOp, func_name: str, wrt: Sequence[int], *,
              name: Optional[str] = None) -> FuncOp:
    """Append `@{name or func_name + '_vjp'}(params..., cotangents...) -> (results...,
    grads...)`: one cotangent per result of `func_name` (its type), one gradient per `wrt`
    parameter index (that parameter's type)."""
    f = lookup_function(module, func_name)
    ft = f.function_type
    wrt = _check_wrt(f, wrt)
    g = _new_function(module, name or f"{func_name}_vjp", list(ft.inputs) + list(ft.results),
                      list(ft.results) + [ft.inputs[i] for i in wrt], f)
    n = len(ft.inputs)
    args = g.args[:n]
    cots = [c if is_float_type(c.type) else None for c in g.args[n:]]
    results, grads = differentiate_into(g.entry_block, f, args, wrt, cots)
    return _finish(module, g, list(results) + grads)


def build_grad(module: ModuleOp, func_name: str, wrt: Sequence[int], *, output: int = 0,
               name: Optional[str] = None) -> FuncOp:
    """Append `@{name or func_name + '_grad'}(params...) -> (out, grads...)` where `out` is the
    scalar float result #`output` of `func_name` and grads its gradients wrt the `wrt` params."""
    f = lookup_function(module, func_name)
    ft = f.function_type
    wrt = _check_wrt(f, wrt)
    if not -len(ft.results) <= output < len(ft.results):
        raise PassError(f"autodiff: @{func_name} has {len(ft.results)} results; output {output} "
                        "is out of range", f.loc)
    output %= len(ft.results)
    t = ft.results[output]
    if not (isinstance(t, TensorType) and t.shape == () and t.element.is_float):
        raise PassError(f"autodiff: result #{output} of @{func_name} has type {t}; a gradient "
                        "needs a scalar (rank-0) float result (use build_vjp otherwise)", f.loc)
    g = _new_function(module, name or f"{func_name}_grad", list(ft.inputs),
                      [t] + [ft.inputs[i] for i in wrt], f)
    b = Builder.at_end(g.entry_block)
    one = b.op("ml.constant", value=DenseAttr(np.ones((), t.element.np_dtype)))
    cots: List[Optional[Value]] = [None] * len(ft.results)
    cots[output] = one
    results, grads = differentiate_into(g.entry_block, f, list(g.args), wrt, cots)
    return _finish(module, g, [results[output]] + grads)


@register_pass
@dataclasses.dataclass(frozen=True)
class Autodiff(Pass):
    """Append the gradient (mode=grad) or VJP (mode=vjp) function of `func` wrt the parameters
    listed in `wrt` (comma-separated indices; empty: every float parameter)."""

    name = "autodiff"
    summary = "reverse-mode autodiff: append @<func>_grad or @<func>_vjp"

    func: str = "main"
    wrt: str = ""
    mode: str = "grad"
    output: int = 0
    result_name: str = ""

    def run(self, module: Operation, ctx: PassContext) -> bool:
        if not isinstance(module, ModuleOp):
            raise PassError(f"autodiff runs on a module, not on {module.name}", module.loc)
        f = lookup_function(module, self.func)
        if self.wrt.strip():
            try:
                wrt = [int(p) for p in self.wrt.replace(";", ",").split(",") if p.strip()]
            except ValueError:
                raise PassError(f"autodiff: wrt={self.wrt!r} must list parameter indices "
                                "(wrt=0,2)") from None
        else:
            wrt = [i for i, a in enumerate(f.args) if is_float_type(a.type)]
        name = self.result_name or None
        if self.mode == "grad":
            build_grad(module, self.func, wrt, output=self.output, name=name)
        elif self.mode == "vjp":
            build_vjp(module, self.func, wrt, name=name)
        else:
            raise PassError(f"autodiff: mode must be 'grad' or 'vjp', got {self.mode!r}")
        return True
