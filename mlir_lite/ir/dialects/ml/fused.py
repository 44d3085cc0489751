"""`ml.fused` and `ml.yield`: a group of ops that runs as one kernel.

    %y = "ml.fused"(%x, %w, %b) ({
    ^bb0(%x0: tensor<4x8xf32>, %w0: tensor<8x3xf32>, %b0: tensor<3xf32>):
      %m = "ml.matmul"(%x0, %w0) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
      %a = "ml.add"(%m, %b0) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
      %r = "ml.relu"(%a) : (tensor<4x3xf32>) -> tensor<4x3xf32>
      "ml.yield"(%r) : (tensor<4x3xf32>) -> ()
    }) {kind = "gemm_epilogue", kernel = "fused_matmul_add_relu"}
       : (tensor<4x8xf32>, tensor<8x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>

The operands are the group's external inputs, the region's single block takes them as its
arguments (the region is isolated from above: scalar constants are cloned into it, everything
else comes in as an argument) and `ml.yield` returns the values used outside. `kind` names the
compute pattern (elementwise, injective, reduction, gemm_epilogue, conv_epilogue,
pool_epilogue); `kernel` is a readable kernel name. The fusion pass (`mlir_lite.passes.fusion`)
builds these ops; the interpreter runs the region, so fused modules keep their meaning.
"""
from __future__ import annotations

from typing import List

from mlir_lite.errors import VerifyError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.opdef import PURE, TERMINATOR, Str, define_op, types_compatible

__all__ = ["FusedOp", "YieldOp", "FUSION_KINDS", "fused_body"]

FUSION_KINDS = ("elementwise", "injective", "reduction", "gemm_epilogue", "conv_epilogue",
                "pool_epilogue", "opaque")


def fused_body(op: Operation) -> List[Operation]:
    """The ops of a fused region, terminator excluded."""
    return [o for o in op.regions[0].blocks[0].ops if o.name != "ml.yield"]


def _compatible(a: object, b: object) -> bool:
    return types_compatible(a, b) or types_compatible(b, a)  # type: ignore[arg-type]


def _verify_fused(op: Operation) -> None:
    kind = op.attributes.get("kind")
    if kind not in FUSION_KINDS:
        raise VerifyError(f"ml.fused: kind must be one of {', '.join(FUSION_KINDS)}, got "
                          f"{kind!r}", op.loc)
    blocks = op.regions[0].blocks
    if len(blocks) != 1:
        raise VerifyError(f"ml.fused: the region must have one block, it has {len(blocks)}",
                          op.loc)
    block = blocks[0]
    if len(block.args) != op.num_operands:
        raise VerifyError(f"ml.fused: the block takes {len(block.args)} arguments but the op "
                          f"has {op.num_operands} operands", op.loc)
    for i, (a, v) in enumerate(zip(block.args, op.operands)):
        if not _compatible(a.type, v.type):
            raise VerifyError(f"ml.fused: block argument #{i} has type {a.type} but operand "
                              f"#{i} has type {v.type}", op.loc)
    term = block.last_op
    if term is None or term.name != "ml.yield":
        raise VerifyError("ml.fused: the region must end with ml.yield", op.loc)
    if len(term.operands) != len(op.results):
        raise VerifyError(f"ml.fused: ml.yield returns {len(term.operands)} values for "
                          f"{len(op.results)} results", term.loc)
    for i, (v, r) in enumerate(zip(term.operands, op.results)):
        if not _compatible(r.type, v.type):
            raise VerifyError(f"ml.fused: result #{i} has type {r.type} but the region yields "
                              f"{v.type}", term.loc)
    for inner in block.ops:
        if inner.regions:
            raise VerifyError(f"ml.fused: {inner.name} has regions; a fused kernel holds "
                              "region-free ops only", inner.loc)


def _verify_yield(op: Operation) -> None:
    p = op.parent_op
    if p is None or p.name != "ml.fused":
        raise VerifyError("ml.yield must end the region of ml.fused", op.loc)


FusedOp = define_op("ml.fused", operands=["inputs*"], results=["outputs*"], regions=1,
                    attrs={"kind": Str(), "kernel": Str(None)},
                    traits=PURE | {"IsolatedFromAbove"}, verify=_verify_fused,
                    doc="A group of ops compiled and run as one kernel.")
YieldOp = define_op("ml.yield", operands=["values*"], results=[], traits=TERMINATOR,
                    verify=_verify_yield, doc="Return the values of an ml.fused region.")
