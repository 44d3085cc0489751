"""The IR object model: values, operations, blocks, regions.

Values, ops, blocks and regions are mutable and compared by identity. Every value keeps an exact
use list (a dict keyed by `(user_op, operand_index)`, so one op using a value twice has two uses),
and every mutation below keeps it exact. Blocks hold their ops in a doubly linked list, so
inserting and erasing are O(1) at any position.

Registered ops are subclasses of `Operation` declared in `mlir_lite.ir.opdef`; an op whose name is
not registered is a plain `Operation` and still prints, parses and verifies structurally.
"""
from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
)

from mlir_lite.errors import VerifyError
from mlir_lite.ir.attributes import UNKNOWN_LOC, Location
from mlir_lite.ir.types import Type

if TYPE_CHECKING:
    from mlir_lite.ir.opdef import DeclaredOp

__all__ = ["Value", "OpResult", "BlockArgument", "Use", "Operation", "Block", "Region",
           "OP_REGISTRY", "lookup_op_class"]


class Use(NamedTuple):
    """One use of a value: operand `index` of operation `owner`."""

    owner: "Operation"
    index: int  # type: ignore[assignment]  # the field shadows tuple.index, on purpose


class Value:
    """An SSA value: the result of an op or an argument of a block."""

    __slots__ = ("type", "name_hint", "_uses")

    def __init__(self, type: Type, name_hint: Optional[str] = None) -> None:
        self.type = type
        self.name_hint = name_hint
        self._uses: Dict[tuple, None] = {}

    @property
    def uses(self) -> List[Use]:
        return [Use(op, i) for (op, i) in self._uses]

    @property
    def users(self) -> List["Operation"]:
        """The distinct ops that use this value, in first-use order."""
        return list(dict.fromkeys(op for (op, _) in self._uses))

    @property
    def num_uses(self) -> int:
        return len(self._uses)

    def has_uses(self) -> bool:
        return bool(self._uses)

    def replace_all_uses_with(self, new: "Value") -> None:
        if new is self:
            return
        for (op, i) in list(self._uses):
            op._operands[i] = new
            new._uses[(op, i)] = None
        self._uses.clear()

    def replace_uses_where(self, new: "Value", pred: Callable[["Operation"], bool]) -> None:
        for (op, i) in list(self._uses):
            if pred(op):
                op.set_operand(i, new)

    @property
    def owner(self) -> Any:
        raise NotImplementedError


class OpResult(Value):
    """Result `index` of operation `op`."""

    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: "Operation", index: int) -> None:
        Value.__init__(self, type)
        self.op = op
        self.index = index

    @property
    def owner(self) -> "Operation":
        return self.op

    def __repr__(self) -> str:
        return f"<OpResult #{self.index} of {self.op.name} : {self.type}>"


class BlockArgument(Value):
    """Argument `index` of `block` (function parameters, loop-carried values)."""

    __slots__ = ("block", "index")

    def __init__(self, type: Type, block: "Block", index: int, name_hint: Optional[str] = None):
        Value.__init__(self, type, name_hint)
        self.block = block
        self.index = index

    @property
    def owner(self) -> "Block":
        return self.block

    def __repr__(self) -> str:
        return f"<BlockArgument #{self.index} : {self.type}>"


class _OpRegistry(Dict[str, "type[DeclaredOp]"]):
    """The op registry. Its first lookup imports `mlir_lite.ir.dialects` (which registers the
    ops), since `import mlir_lite` no longer does: no import order can leave it empty."""

    _loaded = False

    def _load(self) -> None:
        if not _OpRegistry._loaded:
            _OpRegistry._loaded = True
            import importlib
            importlib.import_module("mlir_lite.ir.dialects")

    def __getitem__(self, name: str) -> type[DeclaredOp]:
        self._load()
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        self._load()
        return dict.get(self, name, default)

    def __contains__(self, name: object) -> bool:
        self._load()
        return dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        self._load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._load()
        return dict.keys(self)

    def values(self) -> Any:
        self._load()
        return dict.values(self)

    def items(self) -> Any:
        self._load()
        return dict.items(self)


OP_REGISTRY: Dict[str, type[DeclaredOp]] = _OpRegistry()


def lookup_op_class(name: str) -> type[Operation]:
    """The class registered for op `name`, or `Operation` for an unregistered op."""
    return OP_REGISTRY.get(name, Operation)


class Operation:
    """An operation: name, operands, results, attributes, regions and a location."""

    __slots__ = ("name", "_operands", "results", "attributes", "regions", "loc", "parent",
                 "_prev", "_next", "__weakref__")

    # Declaration data, overridden by ops declared in mlir_lite.ir.opdef.
    OPERANDS: tuple = ()
    RESULTS: tuple = ()
    ATTRS: dict = {}
    TRAITS: frozenset = frozenset()
    NUM_REGIONS: Optional[int] = None
    DIALECT: str = ""
    OP_NAME: str = ""

    def __init__(self, name: Optional[str] = None, operands: Sequence[Value] = (),
                 result_types: Sequence[Type] = (), attributes: Optional[Dict[str, Any]] = None,
                 regions: Sequence["Region"] = (), loc: Location = UNKNOWN_LOC,
                 num_regions: int = 0) -> None:
        self.name = name or self.OP_NAME
        self._operands: List[Value] = list(operands)
        for i, v in enumerate(self._operands):
            v._uses[(self, i)] = None
        self.results = [OpResult(t, self, i) for i, t in enumerate(result_types)]
        self.attributes: Dict[str, Any] = dict(attributes) if attributes else {}
        self.regions: List[Region] = []
        for r in regions:
            self.add_region(r)
        for _ in range(num_regions - len(self.regions)):
            self.add_region(Region())
        self.loc = loc
        self.parent: Optional[Block] = None
        self._prev: Optional[Operation] = None
        self._next: Optional[Operation] = None

    @classmethod
    def create(cls, name: str, operands: Sequence[Value] = (), result_types: Sequence[Type] = (),
               attributes: Optional[Dict[str, Any]] = None, regions: Sequence["Region"] = (),
               loc: Location = UNKNOWN_LOC) -> "Operation":
        """Make an op of the class registered for `name` (a generic op if there is none)."""
        klass: type[Operation] = OP_REGISTRY.get(name, Operation)
        op = klass.__new__(klass)
        Operation.__init__(op, name, operands, result_types, attributes, regions, loc)
        return op

    # -- operands -----------------------------------------------------------------------------
    @property
    def operands(self) -> tuple:
        return tuple(self._operands)

    @property
    def num_operands(self) -> int:
        return len(self._operands)

    def operand(self, i: int) -> Value:
        return self._operands[i]

    def set_operand(self, i: int, value: Value) -> None:
        old = self._operands[i]
        del old._uses[(self, i)]
        self._operands[i] = value
        value._uses[(self, i)] = None

    def set_operands(self, values: Sequence[Value]) -> None:
        self._drop_operand_uses()
        self._operands = list(values)
        for i, v in enumerate(self._operands):
            v._uses[(self, i)] = None

    def _drop_operand_uses(self) -> None:
        for i, v in enumerate(self._operands):
            v._uses.pop((self, i), None)

    # -- results ------------------------------------------------------------------------------
    @property
    def result(self) -> OpResult:
        """The single result; an error for ops with zero or several results."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def result_types(self) -> List[Type]:
        return [r.type for r in self.results]

    # -- regions ------------------------------------------------------------------------------
    def add_region(self, region: "Region") -> "Region":
        if region.parent is not None:
            raise ValueError("region already belongs to an op")
        region.parent = self
        self.regions.append(region)
        return region

    # -- attributes ---------------------------------------------------------------------------
    def attr(self, name: str) -> Any:
        """An attribute's value, or its declared default (`ATTRS`, for declared ops)."""
        if name in self.attributes:
            return self.attributes[name]
        d = self.ATTRS.get(name)
        if d is None or d.required:
            raise KeyError(f"{self.name} has no attribute {name!r}")
        return d.default

    @classmethod
    def attrs_with_defaults(cls, attrs: Dict[str, Any]) -> Dict[str, Any]:
        """`attrs` and the declared defaults (`ATTRS`) of the attributes it does not set."""
        full = {k: d.default for k, d in cls.ATTRS.items() if not d.required}
        full.update(attrs)
        return full

    # -- traits and declaration helpers ---------------------------------------------------------
    def has_trait(self, trait: str) -> bool:
        return trait in self.TRAITS

    @property
    def is_registered(self) -> bool:
        return type(self) is not Operation

    @property
    def dialect(self) -> str:
        return self.name.split(".", 1)[0]

    def verify_op(self) -> None:
        """Op-specific verification; declared ops override or extend it."""

    # -- position -----------------------------------------------------------------------------
    @property
    def next_op(self) -> Optional["Operation"]:
        return self._next

    @property
    def prev_op(self) -> Optional["Operation"]:
        return self._prev

    @property
    def parent_op(self) -> Optional["Operation"]:
        b = self.parent
        if b is None or b.parent is None:
            return None
        return b.parent.parent

    def is_ancestor_of(self, other: "Operation") -> bool:
        o: Optional[Operation] = other
        while o is not None:
            if o is self:
                return True
            o = o.parent_op
        return False

    def detach(self) -> "Operation":
        """Unlink from the parent block, keeping operands and regions."""
        if self.parent is not None:
            self.parent._unlink(self)
        return self

    def erase(self) -> None:
        """Remove from the IR. Results must have no uses left."""
        for r in self.results:
            if r._uses:
                users = ", ".join(sorted({u.name for (u, _) in r._uses}))
                raise VerifyError(f"cannot erase {self.name}: its result is still used by {users}",
                                  self.loc)
        self.detach()
        self._drop_references()

    def _drop_references(self) -> None:
        self._drop_operand_uses()
        self._operands = []
        for region in self.regions:
            for block in region.blocks:
                for op in list(block.ops):
                    op._drop_references()

    def move_before(self, other: "Operation") -> None:
        block = other.block
        self.detach()
        block.insert_before(other, self)

    def move_after(self, other: "Operation") -> None:
        block = other.block
        self.detach()
        block.insert_after(other, self)

    @property
    def block(self) -> "Block":
        """The block holding this op (`parent`), for ops known to be in one; an error if not."""
        if self.parent is None:
            raise ValueError(f"{self.name} is not in a block")
        return self.parent

    # -- traversal ----------------------------------------------------------------------------
    def walk(self, post_order: bool = False) -> Iterator["Operation"]:
        """Every op nested in this one (this one included), in pre-order (or post-order)."""
        if not post_order:
            stack: list = [self]
            while stack:
                op = stack.pop()
                yield op
                for region in reversed(op.regions):
                    for block in reversed(region.blocks):
                        stack.extend(block.ops_reversed())
        else:
            yield from self._walk_post()

    def _walk_post(self) -> Iterator["Operation"]:
        for region in self.regions:
            for block in region.blocks:
                for op in list(block.ops):
                    yield from op._walk_post()
        yield self

    # -- copying ------------------------------------------------------------------------------
    def clone(self, mapping: Optional[Dict[Value, Value]] = None) -> "Operation":
        """A deep copy (regions included). Operands are remapped through `mapping`, which the
        clone extends with this op's results and every nested value."""
        mapping = {} if mapping is None else mapping
        new = Operation.create(self.name, [mapping.get(v, v) for v in self._operands],
                               [r.type for r in self.results], self.attributes, (), self.loc)
        for r_old, r_new in zip(self.results, new.results):
            r_new.name_hint = r_old.name_hint
            mapping[r_old] = r_new
        for region in self.regions:
            new.add_region(region.clone(mapping))
        return new

    def __repr__(self) -> str:
        from mlir_lite.ir.printer import print_op
        try:
            return print_op(self).rstrip()
        except Exception:  # a half-built op must still have a repr
            return f"<{self.name} op>"


class Block:
    """A list of ops with block arguments, inside a region."""

    __slots__ = ("args", "parent", "_first", "_last", "_len")

    def __init__(self, arg_types: Sequence[Type] = (), arg_names: Sequence[Optional[str]] = ()):
        names = list(arg_names) + [None] * (len(arg_types) - len(arg_names))
        self.args: List[BlockArgument] = [BlockArgument(t, self, i, n)
                                          for i, (t, n) in enumerate(zip(arg_types, names))]
        self.parent: Optional[Region] = None
        self._first: Optional[Operation] = None
        self._last: Optional[Operation] = None
        self._len = 0

    def add_arg(self, type: Type, name_hint: Optional[str] = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name_hint)
        self.args.append(arg)
        return arg

    def erase_arg(self, index: int) -> None:
        arg = self.args[index]
        if arg._uses:
            raise VerifyError(f"cannot erase block argument #{index}: it still has uses")
        del self.args[index]
        for i, a in enumerate(self.args):
            a.index = i

    @property
    def ops(self) -> Iterator[Operation]:
        op = self._first
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def ops_reversed(self) -> List[Operation]:
        out = []
        op = self._last
        while op is not None:
            out.append(op)
            op = op._prev
        return out

    def __len__(self) -> int:
        return self._len

    @property
    def first_op(self) -> Optional[Operation]:
        return self._first

    @property
    def last_op(self) -> Optional[Operation]:
        return self._last

    @property
    def terminator(self) -> Optional[Operation]:
        last = self._last
        return last if last is not None and last.has_trait("Terminator") else None

    @property
    def parent_op(self) -> Optional[Operation]:
        return None if self.parent is None else self.parent.parent

    def _link(self, op: Operation, prev: Optional[Operation], nxt: Optional[Operation]) -> None:
        if op.parent is not None:
            raise ValueError(f"{op.name} is already in a block; detach it first")
        op.parent = self
        op._prev, op._next = prev, nxt
        if prev is None:
            self._first = op
        else:
            prev._next = op
        if nxt is None:
            self._last = op
        else:
            nxt._prev = op
        self._len += 1

    def _unlink(self, op: Operation) -> None:
        if op._prev is None:
            self._first = op._next
        else:
            op._prev._next = op._next
        if op._next is None:
            self._last = op._prev
        else:
            op._next._prev = op._prev
        op.parent = None
        op._prev = op._next = None
        self._len -= 1

    def append(self, op: Operation) -> Operation:
        self._link(op, self._last, None)
        return op

    def prepend(self, op: Operation) -> Operation:
        self._link(op, None, self._first)
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        self._link(op, anchor._prev, anchor)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        self._link(op, anchor, anchor._next)
        return op

    def clone_into(self, region: "Region", mapping: Dict[Value, Value]) -> "Block":
        nb = Block([a.type for a in self.args], [a.name_hint for a in self.args])
        for a_old, a_new in zip(self.args, nb.args):
            mapping[a_old] = a_new
        region.add_block(nb)
        for op in self.ops:
            nb.append(op.clone(mapping))
        return nb


class Region:
    """A list of blocks owned by an op (function bodies, if/loop bodies)."""

    __slots__ = ("blocks", "parent")

    def __init__(self, blocks: Iterable[Block] = ()) -> None:
        self.blocks: List[Block] = []
        self.parent: Optional[Operation] = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        if block.parent is not None:
            raise ValueError("block already belongs to a region")
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        """The only block of a single-block region."""
        if len(self.blocks) != 1:
            raise ValueError(f"region has {len(self.blocks)} blocks, not one")
        return self.blocks[0]

    def clone(self, mapping: Optional[Dict[Value, Value]] = None) -> "Region":
        mapping = {} if mapping is None else mapping
        r = Region()
        for b in self.blocks:
            b.clone_into(r, mapping)
        return r
