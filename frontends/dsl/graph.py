"""The symbolic DSL's graph: every API call records a node here; nothing runs until a Session.

    g = Graph()                      # or the default graph
    with g.as_default():
        x = placeholder(f32, [None, 784])     # a Tensor of kind "placeholder"
        y = x * 2.0                            # a Tensor of kind "op" (ml.mul), with its loc

A `Tensor` is one value: its `kind` says how the lowering treats it ("op": one `ml` op;
"const"; "placeholder", "variable" and "random": function parameters; "assign": a variable
update whose value is the new value; "grad": one output of a `tf.gradients` node). An `Op` is a
node without a value (`group`, the variables initializer); running it runs its dependencies.
Each node remembers the Python `file:line:col` of the user code that created it, as a
`FileLineColLoc`, which lowering puts on the ops so errors point at the user's line.
"""
from __future__ import annotations

import inspect
import itertools
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mlir_lite.ir.attributes import UNKNOWN_LOC, FileLineColLoc, Location
from mlir_lite.ir.types import ElementType, TensorType, dim_str

from .op_table import OperatorStubs

__all__ = ["Graph", "Tensor", "Op", "get_default_graph", "reset_default_graph", "user_location",
           "shape_str", "describe", "python_name"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP_DIRS = (_HERE + os.sep, os.path.join(os.path.dirname(os.path.dirname(_HERE)), "mlir_lite",
                                           "dsl") + os.sep)
_POSITIONS: Dict[Any, list] = {}


def _internal(filename: str) -> bool:
    return filename.startswith(_SKIP_DIRS) or filename.startswith("<frozen")


def _user_frame() -> Any:
    f = inspect.currentframe()
    while f is not None and _internal(os.path.abspath(f.f_code.co_filename)):
        f = f.f_back
    return f


def user_location() -> Location:
    """`file:line:col` (1-based column) of the innermost caller outside the DSL package."""
    f = _user_frame()
    if f is None:
        return UNKNOWN_LOC
    code = f.f_code
    col = 0
    positions = _POSITIONS.get(code)
    if positions is None:
        positions = list(code.co_positions())
        if len(_POSITIONS) > 4096:
            _POSITIONS.clear()
        _POSITIONS[code] = positions
    i = f.f_lasti // 2
    if 0 <= i < len(positions) and positions[i][2] is not None:
        col = positions[i][2] + 1
    return FileLineColLoc(code.co_filename, f.f_lineno, col)


def python_name(obj: Any) -> Optional[str]:
    """The name the user's code binds to `obj` (searched in the calling user frame's locals,
    then its globals), for error messages; None when it has none."""
    f = _user_frame()
    for scope in ((f.f_locals, f.f_globals) if f is not None else ()):
        for k, v in list(scope.items()):
            if v is obj and not k.startswith("_"):
                return k
    return None


def shape_str(shape: Optional[Sequence[Any]]) -> str:
    if shape is None:
        return "<unknown rank>"
    return "(" + ", ".join(dim_str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _short_loc(loc: Location) -> str:
    if isinstance(loc, FileLineColLoc):
        return f"{os.path.basename(loc.file)}:{loc.line}"
    return "an unknown place"


def describe(t: "Tensor") -> str:
    """`'x' (placeholder Placeholder_1 (?, 784) f32, created at mnist.py:3)`."""
    pyname = python_name(t)
    who = f"'{pyname}' ({t.kind} {t.name}" if pyname else f"{t.kind} '{t.name}' ("
    sep = ", " if pyname else ""
    return f"{who}{sep}{shape_str(t.shape)} {t.dtype}, created at {_short_loc(t.loc)})"


class Graph:
    """A container of nodes; unique names; the collection of variables."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._names: Dict[str, int] = {}
        self.variables: List["Tensor"] = []
        self.seed: Optional[int] = None

    def next_id(self) -> int:
        return next(self._ids)

    def unique_name(self, base: str) -> str:
        n = self._names.get(base)
        if n is None:
            self._names[base] = 0
            return base
        while True:
            n += 1
            cand = f"{base}_{n}"
            if cand not in self._names:
                self._names[base] = n
                self._names[cand] = 0
                return cand

    @contextmanager
    def as_default(self) -> Iterator["Graph"]:
        _STACK.append(self)
        try:
            yield self
        finally:
            _STACK.pop()


_STACK: List[Graph] = [Graph()]


def get_default_graph() -> Graph:
    return _STACK[-1]


def reset_default_graph() -> None:
    """Start a fresh default graph (tensors of the old one keep working with their graph)."""
    if len(_STACK) != 1:
        raise RuntimeError("reset_default_graph() inside a `with graph.as_default()` block")
    _STACK[0] = Graph()


class Tensor(OperatorStubs):
    """A symbolic value of the graph (see the module docstring for the kinds)."""

    __array_priority__ = 100  # numpy defers `ndarray op Tensor` to us

    def __init__(self, kind: str, dtype: ElementType, shape: Optional[Tuple[Any, ...]],
                 inputs: Sequence["Tensor"] = (), op: Optional[str] = None,
                 attrs: Optional[Dict[str, Any]] = None, name: Optional[str] = None,
                 loc: Optional[Location] = None, graph: Optional[Graph] = None) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        self.id = self.graph.next_id()
        self.kind = kind
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs or {})
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.name = self.graph.unique_name(name or _default_name(kind, op))
        self.loc = loc if loc is not None else user_location()
        self.control: Tuple[Any, ...] = ()  # extra dependencies (`control_dependencies`)

    @property
    def type(self) -> TensorType:
        return TensorType(self.dtype, self.shape)

    def get_shape(self) -> Optional[Tuple[Any, ...]]:
        return self.shape

    @property
    def ndim(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    def __repr__(self) -> str:
        return (f"<Tensor '{self.name}' {self.kind} shape={shape_str(self.shape)} "
                f"dtype={self.dtype}>")

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of symbolic tensor '{self.name}' is not known until it "
                        "runs; use tf.equal/tf.where, or fetch it with Session.run")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"symbolic tensor '{self.name}' is not iterable")

    def eval(self, feed_dict: Optional[Dict[Any, Any]] = None, session: Any = None) -> Any:
        """The value in `session` (default: the session of the enclosing `with`)."""
        from .session import default_session
        return (session or default_session()).run(self, feed_dict)

    # operators (`x + y`, `x[0]`, ...): attached by ops.py from op_table.TABLE ("graph")


class Op:
    """A node without a value (`tf.group`, the variables initializer). Fetching it runs its
    dependencies and gives None."""

    def __init__(self, deps: Sequence[Any], name: str, graph: Optional[Graph] = None) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        self.id = self.graph.next_id()
        self.deps = tuple(deps)
        self.name = self.graph.unique_name(name)
        self.loc = user_location()

    def run(self, feed_dict: Optional[Dict[Any, Any]] = None, session: Any = None) -> None:
        from .session import default_session
        (session or default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<Op '{self.name}' ({len(self.deps)} dependencies)>"


def _default_name(kind: str, op: Optional[str]) -> str:
    if kind == "op" and op:
        return "".join(p.capitalize() for p in op.split(".", 1)[-1].split("_"))
    return {"placeholder": "Placeholder", "variable": "Variable", "const": "Const",
            "random": "Random", "assign": "Assign", "grad": "Gradient"}.get(kind, kind)


from . import ops as _ops  # noqa: E402,F401  (attaches the operators; ops.py imports this module)
