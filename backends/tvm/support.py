"""What the compiled path will do with each op of a function, before compiling it.

    for note in compiled_path_notes(func):    # after the target's pipeline ran
        print(note.kind, note.op, note.loc, note.detail)

Kinds: `run-time shape` (a result dim is decided by run-time values: the plan runs the op's
shape function and binds the size before the op's kernel, as build.py does), `host loop` and
`host branch` (control flow the host runs, calling the kernels of each region), and
`not compiled` (no lowering rule, or an element type the backend has no dtype for: compiling
fails with that reason). Ops compiled to plain kernels with sizes known from the inputs get no
note. The run-time-shape decision is build.py's, made on types: a dim is known when it is
static, or a symbol the function's arguments, the op's operands or an earlier shape step bind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Set

from mlir_lite.errors import CompileError
from mlir_lite.ir.core import Operation
from mlir_lite.ir.types import TensorType

from .build import unsupported_ops
from .lower import tvm_dtype
from .shape_functions import SHAPE_FUNCTIONS

__all__ = ["CompiledNote", "compiled_path_notes"]


@dataclass(frozen=True)
class CompiledNote:
    kind: str
    op: str
    loc: str
    detail: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "op": self.op, "loc": self.loc, "detail": self.detail}


def _symbols(t: object) -> Set[str]:
    if isinstance(t, TensorType) and t.shape is not None:
        return {d for d in t.shape if type(d) is str}
    return set()


def compiled_path_notes(func: Operation) -> List[CompiledNote]:
    """The notes for `func` (a func.func, after the pipeline), in program order."""
    notes: List[CompiledNote] = []
    missing = {id(op) for op in unsupported_ops(func)}
    bound: Set[str] = set()
    for a in func.regions[0].blocks[0].args:
        bound |= _symbols(a.type)
    for op in func.walk():
        if op is func:
            continue
        loc = str(op.loc)
        if id(op) in missing:
            notes.append(CompiledNote("not compiled", op.name, loc, "no TVM lowering rule"))
            continue
        if op.name in ("scf.for", "scf.while"):
            notes.append(CompiledNote("host loop", op.name, loc, "the host runs the loop and "
                                      "calls the body's kernels at each iteration"))
        elif op.name == "scf.if":
            notes.append(CompiledNote("host branch", op.name, loc, "the host reads the "
                                      "condition and runs one region's kernels"))
        bad = _unsupported_element(op)
        if bad:
            notes.append(CompiledNote("not compiled", op.name, loc, bad))
            continue
        for region in op.regions:
            for b in region.blocks:
                for a in b.args:  # bound by the host when it binds the region's arguments
                    bound |= _symbols(a.type)
        if op.name.startswith("scf."):
            for r in op.results:  # bound by the host when the loop or branch ends
                bound |= _symbols(r.type)
        if op.name not in SHAPE_FUNCTIONS:
            continue
        known = set(bound)
        for v in op.operands:
            known |= _symbols(v.type)
        unknown = []
        for i, r in enumerate(op.results):
            t = r.type
            if not isinstance(t, TensorType) or t.shape is None:
                continue
            for j, d in enumerate(t.shape):
                if d is None or (type(d) is str and d not in known):
                    unknown.append(f"dim {j} of result #{i} ({d if d is not None else '?'})")
                    if type(d) is str:
                        bound.add(d)
        if unknown:
            notes.append(CompiledNote(
                "run-time shape", op.name, loc,
                f"{', '.join(unknown)} decided by the values of its operands: a shape kernel "
                "computes the size and the plan binds it before the op's kernel runs"))
    return notes


def _unsupported_element(op: Operation) -> str:
    for v in list(op.operands) + list(op.results):
        t = v.type
        if isinstance(t, TensorType):
            try:
                tvm_dtype(t.element)
            except CompileError as e:
                return str(e)
    return ""
