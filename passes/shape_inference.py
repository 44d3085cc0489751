"""`shape-inference`: re-run each op's type inference and keep the more precise result types.

    func.func @main(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
      %y = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<?x?xf32>
      "func.return"(%y) : (tensor<?x?xf32>) -> ()
  ->
    func.func @main(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
      %y = "ml.transpose"(%x) {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
      "func.return"(%y) : (tensor<3x2xf32>) -> ()

Shape computations count too: what a small integer tensor holds (`ml.shape` of a value, through
gather/slice/concat/(un)squeeze, shape_values.py) refines the ops whose result shape it is
(`ml.constant_of_shape_dynamic`, `ml.expand_dynamic`, `ml.reshape_dynamic`), keeping the
inputs' symbols.

Refinement only adds knowledge: an unranked type gets a rank, an unknown dim (`?`) gets a size
or a symbol; a declared symbolic dim stays symbolic and a declared size stays. Types flow through
`scf` regions: `scf.if` results take the type both branches yield; loop-carried values keep a
refined type only if the body yields that same type back (otherwise the loop is re-inferred with
its declared carried types). The scf ops require their yields, block arguments and results to
have exactly equal types; where refinement would break that, the values involved keep their
original types (less precise, still true). Function result types and the results of calls to
them follow, repeated until nothing changes.
"""
from __future__ import annotations

import dataclasses
from typing import AbstractSet, Dict, List, Optional

from mlir_lite.ir.core import Block, Operation, Value
from mlir_lite.ir.dim_expr import is_expression, symbols_of
from mlir_lite.ir.opdef import DeclaredOp
from mlir_lite.ir.types import FunctionType, TensorType, Type

from . import shape_values
from .manager import Pass, PassContext
from .registry import register_pass

__all__ = ["ShapeInference", "infer_shapes", "refine_type"]


def refine_type(declared: Type, inferred: Type, bound: Optional[AbstractSet[str]] = None
                ) -> Type:
    """`declared` with what `inferred` knows in addition; `declared` when they conflict. With
    `bound` (the symbols function arguments bind), a declared symbol outside it (ONNX shape
    inference's `unk__N` names of intermediate values) gives way to an inferred size, bound
    symbol or expression of bound symbols (`batch*seq`); without it every declared symbol
    stays."""
    if declared == inferred:
        return declared
    if not (isinstance(declared, TensorType) and isinstance(inferred, TensorType)):
        return declared
    if declared.element != inferred.element or inferred.shape is None:
        return declared
    if declared.shape is None:
        return inferred
    if len(declared.shape) != len(inferred.shape):
        return declared
    dims = []
    for d, i in zip(declared.shape, inferred.shape):
        if d is None or (bound is not None and type(d) is str and d not in bound and d != i
                         and (type(i) is int or (type(i) is str and i in bound) or
                              (is_expression(i) and symbols_of(i) <= bound))):
            dims.append(i)
        elif type(i) is int and type(d) is int and i != d:
            return declared  # a contradiction: leave it for the verifier to report
        else:
            dims.append(d)
    return declared.with_shape(dims)


def _stacked(t: Type) -> Type:
    if isinstance(t, TensorType) and t.shape is not None:
        return TensorType(t.element, (None,) + t.shape)
    return t


def _subtree_values(op: Operation) -> List[Value]:
    out: List[Value] = []
    for o in op.walk():
        out.extend(o.results)
        for r in o.regions:
            for b in r.blocks:
                out.extend(b.args)
    return out


class _Inference:
    def __init__(self) -> None:
        self.orig: Dict[Value, Type] = {}
        self.groups: List[List[Value]] = []  # values whose types must stay exactly equal
        self.funcs: Dict[str, Operation] = {}
        self.held: shape_values.Held = {}  # what small integer tensors hold (shape_values.py)
        self.bound: AbstractSet[str] = frozenset()  # the symbols function arguments bind

    def set_type(self, v: Value, t: Type) -> None:
        if v.type != t:
            self.orig.setdefault(v, v.type)
            v.type = t

    def refine(self, v: Value, t: Type) -> None:
        self.set_type(v, refine_type(v.type, t, self.bound))

    # -- walking -----------------------------------------------------------------------------
    def block(self, b: Block) -> None:
        for op in b.ops:
            self.op(op)

    def op(self, op: Operation) -> None:
        if op.name == "scf.if":
            self._if(op)
        elif op.name in ("scf.for", "scf.while"):
            self._loop(op)
        else:
            for region in op.regions:
                for b in region.blocks:
                    self.block(b)
            self._infer(op)

    def _infer(self, op: Operation) -> None:
        if op.name == "func.call":
            callee = self.funcs.get(op.attributes["callee"].name)
            if callee is not None:
                for r, t in zip(op.results, callee.attributes["function_type"].results):
                    self.refine(r, t)
            return
        if not isinstance(op, DeclaredOp) or op.INFER is None:
            return
        inferred = type(op).infer_result_types([v.type for v in op.operands], op.attributes,
                                               op.loc)
        if len(inferred) == len(op.results):
            for r, t in zip(op.results, inferred):
                self.refine(r, t)
        from_values = shape_values.result_types(op, self.held)
        if from_values is not None:
            for r, t in zip(op.results, from_values):
                self.refine(r, t)
        shape_values.record(op, self.held)

    def _if(self, op: Operation) -> None:
        for region in op.regions:
            for b in region.blocks:
                self.block(b)
        last = [r.blocks[0].last_op for r in op.regions if r.blocks]
        yields = [y for y in last if y is not None]
        if len(last) != 2 or len(yields) != 2:
            return
        for i, r in enumerate(op.results):
            a, b = yields[0].operands[i].type, yields[1].operands[i].type
            if a == b:
                self.refine(r, a)
            self.groups.append([r, yields[0].operands[i], yields[1].operands[i]])

    def _loop(self, op: Operation) -> None:
        snapshot = {v: v.type for v in _subtree_values(op)}
        if self._loop_attempt(op, refine_args=True):
            return
        for v, t in snapshot.items():  # the refined carried types were not loop invariant
            v.type = t
        self._loop_attempt(op, refine_args=False)

    def _loop_attempt(self, op: Operation, refine_args: bool) -> bool:
        """Infer a loop; True when every carried value comes back with its argument's type."""
        is_for = op.name == "scf.for"
        inits = list(op.operands[3:] if is_for else op.operands)
        n_scan = op.attributes.get("num_scan_outputs", 0)
        first = op.regions[0].blocks[0]
        args = first.args[1:] if is_for else first.args
        if refine_args:
            for a, v in zip(args, inits):
                self.refine(a, v.type)
        self.block(first)
        groups: List[List[Value]] = []
        if is_for:
            carried_yield = first.last_op
            results_from = list(args)
        else:
            cond = first.last_op
            assert cond is not None  # verified: the before region ends with scf.condition
            after = op.regions[1].blocks[0]
            for a, v in zip(after.args, cond.operands[1:]):
                self.refine(a, v.type)
            self.block(after)
            carried_yield = after.last_op
            results_from = list(cond.operands[1:])
            for j, (a, v) in enumerate(zip(after.args, cond.operands[1:])):
                groups.append([a, v, op.results[j]])
        assert carried_yield is not None  # verified: the body ends with its yield
        n_carried = len(inits)
        ok = True
        for i in range(n_carried):
            y = carried_yield.operands[i]
            groups.append([inits[i], args[i], y] + ([op.results[i]] if is_for else []))
            if y.type != args[i].type:
                ok = False
        if refine_args and not ok:
            return False
        for r, v in zip(op.results, results_from):
            self.refine(r, v.type)
        scan_vals = carried_yield.operands[n_carried:n_carried + n_scan]
        n_fwd = len(results_from)
        for k, v in enumerate(scan_vals):
            if n_fwd + k < len(op.results):
                self.refine(op.results[n_fwd + k], _stacked(v.type))
        self.groups.extend(groups)
        return True

    # -- keeping the exact-equality rules of scf ---------------------------------------------
    def repair(self) -> None:
        while True:
            reverted = False
            for g in self.groups:
                if len({v.type for v in g}) > 1:
                    for v in g:
                        o = self.orig.get(v)
                        if o is not None and v.type != o:
                            v.type = o
                            reverted = True
            if not reverted:
                return

    def update_functions(self, module: Operation) -> None:
        for f in self.funcs.values():
            if not f.regions or not f.regions[0].blocks:
                continue
            ret = f.regions[0].blocks[0].last_op
            ft: FunctionType = f.attributes["function_type"]
            if ret is None or ret.name != "func.return" or len(ret.operands) != len(ft.results):
                continue
            results = tuple(refine_type(d, v.type, self.bound)
                            for d, v in zip(ft.results, ret.operands))
            if results != ft.results:
                f.attributes["function_type"] = FunctionType(ft.inputs, results)


def _argument_symbols(module: Operation) -> AbstractSet[str]:
    out = set()
    for op in module.walk():
        if op.name == "func.func":
            for t in op.attributes["function_type"].inputs:
                if isinstance(t, TensorType) and t.shape is not None:
                    out |= {d for d in t.shape if type(d) is str}
    return frozenset(out)


def infer_shapes(module: Operation, max_rounds: int = 8) -> bool:
    """Refine result types under `module` in place; True when some type became more precise."""
    before = {}
    for op in module.walk():
        if op.name == "func.func":
            before[op] = op.attributes["function_type"]
    changed = False
    inf = _Inference()
    inf.bound = _argument_symbols(module)  # argument types do not change here, results do
    for _ in range(max(1, max_rounds)):
        inf.groups = []
        inf.held = {}
        inf.funcs = {op.attributes["sym_name"]: op for op in module.walk()
                     if op.name == "func.func" and "sym_name" in op.attributes}
        state = {v: v.type for v in _subtree_values(module)}
        for region in module.regions:
            for b in region.blocks:
                inf.block(b)
        inf.repair()
        inf.update_functions(module)
        moved = any(v.type != t for v, t in state.items())
        changed |= moved
        if not moved:
            break
    changed |= any(op.attributes["function_type"] != t for op, t in before.items())
    return changed


@register_pass
@dataclasses.dataclass(frozen=True)
class ShapeInference(Pass):
    """Refine result types (unknown dims and ranks) from each op's type inference."""

    name = "shape-inference"
    summary = "refine unknown dims from type inference, through scf regions and functions"

    max_rounds: int = 8

    def run(self, module: Operation, ctx: PassContext) -> bool:
        return infer_shapes(module, self.max_rounds)
