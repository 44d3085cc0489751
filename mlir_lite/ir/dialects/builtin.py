"""The `builtin.module` op: the top-level container of functions."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, List, Optional

from mlir_lite.errors import VerifyError
from mlir_lite.ir.attributes import UNKNOWN_LOC, Location
from mlir_lite.ir.core import Block, Operation
from mlir_lite.ir.opdef import DeclaredOp, Str, define_op

__all__ = ["ModuleOp", "Module"]


class _ModuleBase(DeclaredOp):
    __slots__ = ()

    @classmethod
    def empty(cls, name: Optional[str] = None, loc: Location = UNKNOWN_LOC) -> "_ModuleBase":
        m = cls.build(attrs={"sym_name": name} if name else {}, result_types=[], loc=loc)
        m.regions[0].add_block(Block())
        return m

    @property
    def body(self) -> Block:
        return self.regions[0].blocks[0]

    @property
    def functions(self) -> List[Operation]:
        return [op for op in self.body.ops if op.name == "func.func"]

    def lookup(self, name: str) -> Optional[Operation]:
        for op in self.body.ops:
            if op.attributes.get("sym_name") == name:
                return op
        return None

    def __getitem__(self, name: str) -> Operation:
        f = self.lookup(name)
        if f is None:
            names = ", ".join(op.attributes.get("sym_name", "?") for op in self.functions)
            raise KeyError(f"module has no function @{name} (it has: {names or 'none'})")
        return f

    def __iter__(self) -> Iterator[Operation]:
        return iter(list(self.body.ops))

    def append(self, op: Operation) -> Operation:
        return self.body.append(op)


def _verify_module(op: Operation) -> None:
    if len(op.regions[0].blocks) != 1:
        raise VerifyError("builtin.module must have exactly one block", op.loc)
    names: Dict[str, Operation] = {}
    for child in op.regions[0].blocks[0].ops:
        sym = child.attributes.get("sym_name")
        if isinstance(sym, str):
            if sym in names:
                raise VerifyError(f"symbol @{sym} is defined twice in the module", child.loc)
            names[sym] = child


_module_op = define_op("builtin.module", operands=[], results=[],
                       attrs={"sym_name": Str(None)},
                       regions=1, traits=frozenset({"IsolatedFromAbove", "NoTerminator",
                                                    "SymbolTable"}),
                       verify=_verify_module, base=_ModuleBase,
                       doc="A container of functions; the root of every IR file.")
# The checker sees the hand-written base (every typed member is there; define_op adds
# only the attribute accessors, which `attr()` also reads); at run time it is the op class.
if TYPE_CHECKING:
    ModuleOp = _ModuleBase
else:
    ModuleOp = _module_op
Module = ModuleOp
