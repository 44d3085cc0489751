"""The `scf` dialect: structured control flow with regions.

    %r = "scf.if"(%cond) ({ "scf.yield"(%a) } , { "scf.yield"(%b) }) : (tensor<i1>) -> tensor<4xf32>

* `scf.if`: a scalar i1 condition, a then-region and an else-region; each ends with `scf.yield`
  of values of the result types.
* `scf.for`: operands `(lb, ub, step, inits...)` (scalar i64 tensors for the bounds); the body's
  arguments are `(iv, carried...)`; it yields `(next carried..., scan elements...)`. Results are
  the final carried values followed by the scan outputs, each stacked along a new leading dim.
* `scf.while`: operands are the initial carried values. The `before` region (arguments: carried)
  ends with `scf.condition(%cond, forwarded...)`; the `after` region (arguments: forwarded) yields
  `(next carried..., scan elements...)`. Results: the forwarded values at exit, then the stacked
  scan outputs. `num_scan_outputs` counts the scan elements of both loops.
"""
from __future__ import annotations

from mlir_lite.errors import VerifyError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.opdef import TERMINATOR, Int, define_op
from mlir_lite.ir.types import TensorType, i1

__all__ = ["IfOp", "ForOp", "WhileOp", "YieldOp", "ConditionOp", "is_scalar_bool"]


def is_scalar_bool(t: object) -> bool:
    return t == i1 or (isinstance(t, TensorType) and t.element == i1 and
                       t.shape is not None and all(d == 1 for d in t.shape))


def _yield_of(op: Operation, region: int) -> Operation:
    blocks = op.regions[region].blocks
    if len(blocks) != 1:
        raise VerifyError(f"{op.name}: region #{region} must have exactly one block", op.loc)
    term = blocks[0].last_op
    if term is None or term.name not in ("scf.yield", "scf.condition"):
        raise VerifyError(f"{op.name}: region #{region} must end with scf.yield", op.loc)
    return term


def _check_types(op: Operation, what: str, got: list, want: list) -> None:
    if [str(t) for t in got] != [str(t) for t in want]:
        raise VerifyError(f"{op.name}: {what} has types ({', '.join(map(str, got))}) but "
                          f"({', '.join(map(str, want))}) are expected", op.loc)


def _stacked(t: object) -> object:
    if isinstance(t, TensorType) and t.shape is not None:
        return TensorType(t.element, (None,) + t.shape)
    return t


def _verify_if(op: Operation) -> None:
    if not is_scalar_bool(op.operands[0].type):
        raise VerifyError(f"scf.if: condition must be a scalar i1, got {op.operands[0].type}",
                          op.loc)
    for r in (0, 1):
        y = _yield_of(op, r)
        if op.regions[r].blocks[0].args:
            raise VerifyError("scf.if: regions take no arguments", op.loc)
        _check_types(op, f"yield of region #{r}", [v.type for v in y.operands], op.result_types)


def _verify_for(op: Operation) -> None:
    if op.num_operands < 3:
        raise VerifyError("scf.for expects (lb, ub, step, inits...)", op.loc)
    n_scan = op.attributes.get("num_scan_outputs", 0)
    inits = [v.type for v in op.operands[3:]]
    body = op.regions[0].blocks[0] if op.regions[0].blocks else None
    if body is None:
        raise VerifyError("scf.for: body region is empty", op.loc)
    _check_types(op, "body arguments", [a.type for a in body.args[1:]], inits)
    y = _yield_of(op, 0)
    yt = [v.type for v in y.operands]
    _check_types(op, "yielded carried values", yt[:len(inits)], inits)
    if len(yt) != len(inits) + n_scan or len(op.results) != len(inits) + n_scan:
        raise VerifyError(f"scf.for: {len(inits)} carried values and {n_scan} scan outputs "
                          f"need as many yielded values and results", op.loc)


def _verify_while(op: Operation) -> None:
    n_scan = op.attributes.get("num_scan_outputs", 0)
    inits = [v.type for v in op.operands]
    before = op.regions[0].blocks[0] if op.regions[0].blocks else None
    after = op.regions[1].blocks[0] if op.regions[1].blocks else None
    if before is None or after is None:
        raise VerifyError("scf.while needs a before and an after region", op.loc)
    _check_types(op, "before-region arguments", [a.type for a in before.args], inits)
    cond = _yield_of(op, 0)
    if cond.name != "scf.condition":
        raise VerifyError("scf.while: the before region must end with scf.condition", op.loc)
    fwd = [v.type for v in cond.operands[1:]]
    _check_types(op, "after-region arguments", [a.type for a in after.args], fwd)
    y = _yield_of(op, 1)
    yt = [v.type for v in y.operands]
    _check_types(op, "yielded carried values", yt[:len(inits)], inits)
    if len(yt) != len(inits) + n_scan:
        raise VerifyError(f"scf.while: the after region must yield {len(inits)} carried values "
                          f"and {n_scan} scan elements", op.loc)
    _check_types(op, "results", op.result_types[:len(fwd)], fwd)
    if len(op.results) != len(fwd) + n_scan:
        raise VerifyError("scf.while: results must be the forwarded values and scan outputs",
                          op.loc)


IfOp = define_op("scf.if", operands=["condition"], results=["results*"], regions=2,
                 verify=_verify_if, doc="Run the then- or the else-region.")
ForOp = define_op("scf.for", operands=["lower_bound", "upper_bound", "step", "inits*"],
                  results=["results*"], regions=1, attrs={"num_scan_outputs": Int(0)},
                  verify=_verify_for, doc="A counted loop with carried values and scan outputs.")
WhileOp = define_op("scf.while", operands=["inits*"], results=["results*"], regions=2,
                    attrs={"num_scan_outputs": Int(0)}, verify=_verify_while,
                    doc="A loop that tests a condition before each iteration.")


def _verify_yield(op: Operation) -> None:
    p = op.parent_op
    if p is None or p.dialect != "scf":
        raise VerifyError("scf.yield must end a region of an scf op", op.loc)


def _verify_condition(op: Operation) -> None:
    p = op.parent_op
    if p is None or p.name != "scf.while":
        raise VerifyError("scf.condition must end the before region of scf.while", op.loc)
    if not op.operands or not is_scalar_bool(op.operands[0].type):
        raise VerifyError("scf.condition: the first operand must be a scalar i1", op.loc)


YieldOp = define_op("scf.yield", operands=["values*"], results=[], traits=TERMINATOR,
                    verify=_verify_yield, doc="Yield values out of an scf region.")
ConditionOp = define_op("scf.condition", operands=["condition", "forwarded*"], results=[],
                        traits=TERMINATOR, verify=_verify_condition,
                        doc="Continue an scf.while loop while the condition holds.")
