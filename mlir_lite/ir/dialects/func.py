"""The `func` dialect: functions, calls and returns."""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence

from mlir_lite.errors import VerifyError
from mlir_lite.ir.attributes import UNKNOWN_LOC, Location
from mlir_lite.ir.core import Block, BlockArgument, Operation, Region
from mlir_lite.ir.opdef import (
    TERMINATOR,
    DeclaredOp,
    Str,
    Sym,
    TypeAttr,
    define_op,
    types_compatible,
)
from mlir_lite.ir.types import FunctionType, Type

__all__ = ["FuncOp", "ReturnOp", "CallOp"]


class _FuncBase(DeclaredOp):
    __slots__ = ()

    @classmethod
    def make(cls, name: str, arg_types: Sequence[Type], result_types: Sequence[Type],
             arg_names: Sequence[Optional[str]] = (), loc: Location = UNKNOWN_LOC) -> "_FuncBase":
        """An empty function with an entry block whose arguments are the parameters."""
        ftype = FunctionType(tuple(arg_types), tuple(result_types))
        f = cls.build(attrs={"sym_name": name, "function_type": ftype}, result_types=[], loc=loc)
        f.regions[0].add_block(Block(list(arg_types), list(arg_names)))
        return f

    @property
    def sym_name(self) -> str:
        return self.attributes["sym_name"]

    @property
    def function_type(self) -> FunctionType:
        return self.attributes["function_type"]

    @property
    def body(self) -> Region:
        return self.regions[0]

    @property
    def entry_block(self) -> Block:
        return self.regions[0].blocks[0]

    @property
    def args(self) -> List[BlockArgument]:
        return self.entry_block.args

    @property
    def return_op(self) -> Operation:
        t = self.entry_block.last_op
        if t is None or t.name != "func.return":
            raise VerifyError(f"function @{self.sym_name} does not end with func.return", self.loc)
        return t

    def update_type(self) -> None:
        """Recompute `function_type` from the entry block arguments and the return op."""
        self.attributes["function_type"] = FunctionType(
            tuple(a.type for a in self.args), tuple(v.type for v in self.return_op.operands))


def _verify_func(op: Operation) -> None:
    ftype = op.attributes["function_type"]
    if not isinstance(ftype, FunctionType):
        raise VerifyError("func.func: function_type must be a function type", op.loc)
    body = op.regions[0]
    if not body.blocks:
        return  # a declaration
    entry = body.blocks[0]
    if tuple(a.type for a in entry.args) != ftype.inputs:
        raise VerifyError(f"func.func @{op.attributes['sym_name']}: entry block arguments "
                          f"({', '.join(str(a.type) for a in entry.args)}) do not match the "
                          f"signature {ftype}", op.loc)
    for block in body.blocks:
        term = block.last_op
        if term is None or term.name != "func.return":
            raise VerifyError(f"func.func @{op.attributes['sym_name']}: block does not end with "
                              "func.return", op.loc if term is None else term.loc)
        got = [v.type for v in term.operands]
        if len(got) != len(ftype.results) or not all(
                types_compatible(r, g) or types_compatible(g, r)
                for r, g in zip(ftype.results, got)):
            raise VerifyError(f"func.return returns ({', '.join(map(str, got))}) but "
                              f"@{op.attributes['sym_name']} declares {ftype}", term.loc)


_func_op = define_op("func.func", operands=[], results=[],
                     attrs={"sym_name": Str(), "function_type": TypeAttr(),
                            "sym_visibility": Str(None)},
                     regions=1, traits=frozenset({"IsolatedFromAbove", "Symbol"}),
                     verify=_verify_func, base=_FuncBase,
                     doc="A function: a region whose entry block arguments are its parameters.")
# The checker sees the hand-written base (every typed member is there; define_op adds
# only the attribute accessors, which `attr()` also reads); at run time it is the op class.
if TYPE_CHECKING:
    FuncOp = _FuncBase
else:
    FuncOp = _func_op


def _verify_return(op: Operation) -> None:
    parent = op.parent_op
    if parent is None or parent.name != "func.func":
        raise VerifyError("func.return must be directly inside func.func", op.loc)


ReturnOp = define_op("func.return", operands=["values*"], results=[], traits=TERMINATOR,
                     verify=_verify_return, doc="Return values from a function.")


def _verify_call(op: Operation) -> None:
    from mlir_lite.ir.dialects.builtin import ModuleOp
    mod: Optional[Operation] = op
    while mod is not None and not isinstance(mod, ModuleOp):
        mod = mod.parent_op
    if mod is None:
        return
    callee = mod.lookup(op.attributes["callee"].name)
    if callee is None or callee.name != "func.func":
        raise VerifyError(f"func.call: no function @{op.attributes['callee'].name}", op.loc)
    ftype = callee.attributes["function_type"]
    if tuple(v.type for v in op.operands) != ftype.inputs or \
            tuple(r.type for r in op.results) != ftype.results:
        raise VerifyError(f"func.call: types do not match @{callee.attributes['sym_name']} "
                          f"{ftype}", op.loc)


CallOp = define_op("func.call", operands=["args*"], results=["results*"],
                   attrs={"callee": Sym()}, verify=_verify_call,
                   doc="Call a function of the same module by symbol.")
