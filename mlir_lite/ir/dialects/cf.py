"""The `cf` dialect: TensorFlow-style dataflow control primitives.

* `cf.switch(data, pred) -> (false_out, true_out)`: forwards `data` to the output selected by
  `pred`; the other output is *dead*. Ops with a dead input produce dead outputs.
* `cf.merge(inputs...) -> (output, value_index)`: forwards the first live input and its index.
* Loops (TensorFlow's design): `cf.enter` brings a value into a loop frame, `cf.loop_cond` marks
  the loop predicate, `cf.exit` leaves the frame, and the back edge is split into a
  `cf.next_iteration_source` (at the top: the value of the previous iteration) and a
  `cf.next_iteration_sink` (at the bottom) paired by a token, so the IR stays in SSA form.
"""
from __future__ import annotations

from typing import Any, Dict, List

from mlir_lite.errors import VerifyError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.dialects.scf import is_scalar_bool
from mlir_lite.ir.opdef import Int, Str, define_op
from mlir_lite.ir.types import TensorType, Type, i32, i64

__all__ = ["SwitchOp", "MergeOp", "EnterOp", "ExitOp", "LoopCondOp",
           "NextIterationSourceOp", "NextIterationSinkOp", "TOKEN"]

TOKEN = TensorType(i64, ())  # next-iteration tokens are typed as scalars for simplicity


def _switch_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    if not is_scalar_bool(types[1]):
        raise ValueError(f"the predicate must be a scalar i1, got {types[1]}")
    return [types[0], types[0]]


def _merge_infer(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    if not types:
        raise ValueError("cf.merge needs at least one input")
    return [types[0], TensorType(i32, ())]


def _verify_merge(op: Operation) -> None:
    t0 = op.operands[0].type
    for v in op.operands[1:]:
        if v.type != t0:
            raise VerifyError(f"cf.merge: inputs have different types {t0} and {v.type}", op.loc)


def _same(types: List[Type], attrs: Dict[str, Any]) -> List[Type]:
    return [types[0]]


SwitchOp = define_op("cf.switch", operands=["data", "pred"], results=["output_false",
                                                                     "output_true"],
                     infer=_switch_infer, doc="Route data to one of two outputs by a predicate.")
MergeOp = define_op("cf.merge", operands=["inputs*"], results=["output", "value_index"],
                    infer=_merge_infer, verify=_verify_merge,
                    doc="Forward the first live input.")
EnterOp = define_op("cf.enter", operands=["data"], attrs={"frame_name": Str(),
                                                          "is_constant": Int(0)},
                    infer=_same, doc="Enter a loop frame.")
ExitOp = define_op("cf.exit", operands=["data"], infer=_same, doc="Leave a loop frame.")
LoopCondOp = define_op("cf.loop_cond", operands=["pred"], infer=_same,
                       doc="The predicate of a dataflow loop.")
NextIterationSourceOp = define_op(
    "cf.next_iteration_source", operands=[], results=["output", "token"],
    doc="The value a loop variable had at the end of the previous iteration.")
NextIterationSinkOp = define_op("cf.next_iteration_sink", operands=["token", "data"], results=[],
                                doc="Send a loop variable's value to the next iteration.")
