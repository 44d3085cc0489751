"""A builder with an insertion point: the one way frontends and passes create ops.

    b = Builder.at_end(func.entry_block)
    y = b.op("ml.relu", x)                          # result types are inferred
    s = b.op("ml.softmax", y, axis=1, loc=NameLoc("sm"))
    b.op("func.return", s)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Sequence

from mlir_lite.errors import VerifyError
from mlir_lite.ir.attributes import UNKNOWN_LOC, Location
from mlir_lite.ir.core import OP_REGISTRY, Block, Operation, Region, Value
from mlir_lite.ir.types import Type

__all__ = ["Builder", "InsertionPoint"]


class InsertionPoint:
    """Where new ops go: at the end of a block, or before a given op."""

    __slots__ = ("block", "before")

    def __init__(self, block: Block, before: Optional[Operation] = None) -> None:
        self.block = block
        self.before = before

    def insert(self, op: Operation) -> Operation:
        if self.before is None:
            return self.block.append(op)
        return self.block.insert_before(self.before, op)


class Builder:
    """Creates ops at an insertion point, inferring result types from declarations."""

    def __init__(self, ip: Optional[InsertionPoint] = None, loc: Location = UNKNOWN_LOC) -> None:
        self.ip = ip
        self.loc = loc

    @classmethod
    def at_end(cls, block: Block) -> "Builder":
        return cls(InsertionPoint(block))

    @classmethod
    def before(cls, op: Operation) -> "Builder":
        if op.parent is None:
            raise ValueError(f"{op.name} is not in a block")
        return cls(InsertionPoint(op.parent, op))

    @classmethod
    def after(cls, op: Operation) -> "Builder":
        if op.parent is None:
            raise ValueError(f"{op.name} is not in a block")
        return cls(InsertionPoint(op.parent, op.next_op))

    def set_insertion_point_to_end(self, block: Block) -> None:
        self.ip = InsertionPoint(block)

    def set_insertion_point_before(self, op: Operation) -> None:
        self.ip = InsertionPoint(op.parent, op)  # type: ignore[arg-type]

    @contextmanager
    def at(self, block: Block) -> Iterator["Builder"]:
        """Temporarily insert at the end of `block` (e.g. to fill a region)."""
        saved = self.ip
        self.ip = InsertionPoint(block)
        try:
            yield self
        finally:
            self.ip = saved

    @contextmanager
    def location(self, loc: Location) -> Iterator["Builder"]:
        saved = self.loc
        self.loc = loc
        try:
            yield self
        finally:
            self.loc = saved

    def create(self, name: str, operands: Sequence[Value] = (),
               attrs: Optional[Dict[str, Any]] = None,
               result_types: Optional[Sequence[Type]] = None,
               regions: Sequence[Region] = (), loc: Optional[Location] = None) -> Operation:
        """Create op `name` at the insertion point and return it."""
        klass = OP_REGISTRY.get(name)
        loc = self.loc if loc is None else loc
        op: Operation
        if klass is not None and hasattr(klass, "build"):
            op = klass.build(operands, attrs, result_types, regions, loc)
        else:
            if result_types is None:
                raise VerifyError(f"op {name} is not registered: give its result types", loc)
            op = Operation.create(name, operands, result_types, attrs, regions, loc)
        if self.ip is not None:
            self.ip.insert(op)
        return op

    def op(self, name: str, *operands: Value, result_types: Optional[Sequence[Type]] = None,
           loc: Optional[Location] = None, **attrs: Any) -> Any:
        """Create op `name` and return its result (or a tuple of results, or None).

        Which of the three depends on the op named, so the return type is Any (as in
        `NodeContext.op`); `create` returns the typed `Operation`."""
        op = self.create(name, operands, attrs, result_types, (), loc)
        if len(op.results) == 1:
            return op.results[0]
        return tuple(op.results) if op.results else None
