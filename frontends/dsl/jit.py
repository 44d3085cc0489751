"""`@mlir_lite.jit`: compile a Python function over eager tensors, guarded and piecewise.

    @mlir_lite.jit
    def step(x, w):
        h = (x @ w).relu()
        if h.sum() > 0:               # data-dependent: the trace splits here
            return h * 2
        return h
    step(x, w); print(step.explain())

The first call *traces* the function (it runs eagerly while every op is recorded into IR, see
jit_trace.py), compiles each piece with an executor (the registry default, the TVM backend; the
same seam as `tf.Session`: `executor="interpreter"` or `register_executor`) and caches the result
under *guards*: the structure of the arguments and their Python scalar values, each tensor's
dtype and shape. A later call whose arguments pass an entry's guards replays its pieces; the
value a split tensor takes picks the next piece (a continuation not seen yet is traced then).

Dynamic shapes: a dim that has taken `dynamic_after` distinct values (sizes 0 and 1 excepted)
becomes a symbol, so one compilation serves every size; dims with equal sizes share a symbol
(the guard checks they stay equal). When the trace shows that a symbolic size was baked into
the program (an attribute or a constant equal to it), that entry is kept static instead, and
`explain()` says where. After `recompile_limit` compilations the function warns once and runs
eagerly from then on. While gradients are being recorded (an input requires grad and grad mode
is on) calls run eagerly: gradients through jit are not supported.

Limits: Python side effects of the function are not replayed (only its tensor computation), and
tensors it builds from other tensors' numpy data become constants of the trace.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from mlir_lite.driver.compile import CompileOptions, compile
from mlir_lite.driver.executors import get_executor
from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType, element_type_from_numpy

from . import eager
from .graph import user_location
from .jit_trace import GraphBreak, Piece, Tracer, where

__all__ = ["jit", "cond", "JitFunction"]

_SCALARS = (bool, int, float, str, type(None))


def _flatten(obj: Any, tensors: List[Any]) -> Any:
    """A hashable structure of `obj` with tensors replaced by their position in `tensors`."""
    if isinstance(obj, eager.Tensor):
        tensors.append(obj)
        return ("T",)
    if isinstance(obj, np.ndarray):
        tensors.append(eager.from_numpy(obj))
        return ("T",)
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__,) + tuple(_flatten(x, tensors) for x in obj)
    if isinstance(obj, dict):
        return ("dict",) + tuple((k, _flatten(v, tensors)) for k, v in sorted(obj.items()))
    if isinstance(obj, _SCALARS):
        return ("S", type(obj).__name__, obj)
    raise DslError(f"mlir_lite.jit: cannot guard an argument of type {type(obj).__name__}; "
                   "pass tensors, numpy arrays, Python scalars, or lists/tuples/dicts of them")


def _unflatten(spec: Any, it: Any) -> Any:
    tag = spec[0]
    if tag == "T":
        return next(it)
    if tag == "S":
        return spec[2]
    if tag == "dict":
        return {k: _unflatten(v, it) for k, v in spec[1:]}
    items = [_unflatten(s, it) for s in spec[1:]]
    return tuple(items) if tag == "tuple" else items


@dataclass
class Entry:
    """One compilation: guards and the tree of pieces."""

    key: Any
    dtypes: Tuple[Any, ...]
    shapes: Tuple[Tuple[Any, ...], ...]     # ints, or symbol names
    root: Piece
    sym_groups: List[List[Tuple[int, int]]] = field(default_factory=list)
    static_sig: Optional[Tuple[Any, ...]] = None   # fast path when no dim is symbolic
    why: str = ""
    calls: int = 0

    def check(self, arrays: Sequence[np.ndarray]) -> bool:
        """The guards on tensor dtypes and shapes."""
        if self.static_sig is not None:
            return tuple((a.dtype, a.shape) for a in arrays) == self.static_sig
        for a, dt, shp in zip(arrays, self.dtypes, self.shapes):
            if a.dtype != dt or len(a.shape) != len(shp):
                return False
            for d, s in zip(a.shape, shp):
                if d != s and (type(s) is int or d < 2):
                    return False
        for group in self.sym_groups:
            (i0, d0), rest = group[0], group[1:]
            size = arrays[i0].shape[d0]
            for i, d in rest:
                if arrays[i].shape[d] != size:
                    return False
        return True


def _capturable(fn: Callable) -> Set[int]:
    """ids of the tensors the function's closure and globals hold (one level into containers
    and objects), which the trace takes as inputs rather than constants."""
    out: Set[int] = set()

    def add(x: Any, depth: int = 0) -> None:
        if isinstance(x, eager.Tensor):
            out.add(id(x))
        elif depth < 2 and isinstance(x, (list, tuple)):
            for y in x:
                add(y, depth + 1)
        elif depth < 2 and isinstance(x, dict):
            for y in x.values():
                add(y, depth + 1)
        elif depth < 1 and hasattr(x, "__dict__") and not inspect.ismodule(x) \
                and not callable(x):
            for y in vars(x).values():
                add(y, depth + 1)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            add(cell.cell_contents)
        except ValueError:
            pass
    code = getattr(fn, "__code__", None)
    g = getattr(fn, "__globals__", {})
    for name in (code.co_names if code else ()):
        if name in g:
            add(g[name])
    return out


class JitFunction:
    """A jitted function: call it like the original; `explain()` tells what was compiled."""

    __name__: str  # the wrapped function's, from functools.update_wrapper

    def __init__(self, fn: Callable, dynamic_after: int = 2, recompile_limit: int = 8,
                 executor: Any = None, opt_level: int = 2) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.dynamic_after = dynamic_after
        self.recompile_limit = recompile_limit
        self.executor = executor
        self.opt_level = opt_level
        self.entries: Dict[Any, List[Entry]] = {}
        self.seen_sizes: Dict[Any, List[Set[int]]] = {}
        self.fingerprints: Dict[Any, Tuple[Any, List[Any]]] = {}
        self.static_only: Set[Any] = set()
        self.compiles = 0
        self.events: List[str] = []
        self.eager_only: Optional[str] = None
        self.calls = 0
        self._warned = False

    # -- calling ------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        tensors: List[Any] = []
        key = (_flatten(args, tensors), _flatten(kwargs, tensors))
        if self.eager_only is not None or eager.TRACE_HOOKS or (
                eager.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return self.fn(*args, **kwargs)
        arrays = [t.data for t in tensors]
        for entry in self.entries.get(key, ()):
            if entry.check(arrays):
                entry.calls += 1
                try:
                    out = self._replay(entry, arrays, args, kwargs)
                except MlirLiteError as e:
                    if entry.static_sig is not None:
                        raise
                    self._drop_symbolic(key, entry, arrays, e)
                    break
                if out is not _MISSING:
                    return out
                break
        return self._compile_and_run(key, tensors, args, kwargs)

    def _drop_symbolic(self, key: Any, entry: Entry, arrays: List[np.ndarray],
                       e: Exception) -> None:
        self.entries[key].remove(entry)
        self.static_only.add((key, tuple((a.dtype, a.ndim) for a in arrays)))
        self.events.append(f"call {self.calls}: the symbolic entry failed at run time ({e}); "
                           "compiling static shapes from now on")

    def guard_check(self, *args: Any, **kwargs: Any) -> Optional[Entry]:
        """Only the guard check of a call (for measuring its cost): the matching entry."""
        tensors: List[Any] = []
        key = (_flatten(args, tensors), _flatten(kwargs, tensors))
        arrays = [t.data for t in tensors]
        for entry in self.entries.get(key, ()):
            if entry.check(arrays):
                return entry
        return None

    def _replay(self, entry: Entry, arrays: List[np.ndarray], args: Any, kwargs: Any) -> Any:
        piece = entry.root
        vals: List[Any] = arrays
        while True:
            outs = piece.fn(*vals, *[t.data for t in piece.captured])
            if piece.kind is None:
                return _unflatten(piece.out_spec, iter(eager.Tensor._wrap(np.asarray(o))
                                                       for o in outs))
            d = outs[0]
            decision = bool(d) if piece.kind == "bool" else np.asarray(d).reshape(()).item()
            nxt = piece.next.get(decision)
            if nxt is None:
                self.events.append(f"call {self.calls}: continuation for {piece.kind}() = "
                                   f"{decision!r} at {where(piece.split_loc)} not compiled yet; "
                                   "tracing it")
                return _MISSING
            vals = list(outs[1:])
            piece = nxt

    # -- tracing and compiling ---------------------------------------------------------------
    def _signature(self, key: Any, arrays: List[np.ndarray]) -> Tuple[List[TensorType], str,
                                                                     Dict[int, str]]:
        hist_key = (key, tuple((a.dtype, a.ndim) for a in arrays))
        hist = self.seen_sizes.setdefault(hist_key, [set() for _ in range(
            sum(a.ndim for a in arrays))])
        sym_of_size: Dict[int, str] = {}
        types, reasons, k = [], [], 0
        for i, a in enumerate(arrays):
            shape = []
            for j, d in enumerate(a.shape):
                hist[k].add(d)
                dynamic = len(hist[k]) >= self.dynamic_after and d >= 2
                k += 1
                if dynamic:
                    sym = sym_of_size.setdefault(d, f"s{len(sym_of_size)}")
                    shape.append(sym)
                    reasons.append(f"input {i} dim {j} took {len(hist[k - 1])} sizes "
                                   f"({', '.join(map(str, sorted(hist[k - 1])))}): symbolic "
                                   f"{sym}")
                else:
                    shape.append(d)
            types.append(TensorType(element_type_from_numpy(a.dtype), tuple(shape)))
        return types, "; ".join(reasons), {d: s for d, s in sym_of_size.items()}

    def _trace(self, types: List[TensorType], tensors: List[Any], sym: Dict[int, str],
               args: Any, kwargs: Any) -> Tuple[Tracer, Any]:
        tracer = Tracer(types, tensors, _capturable(self.fn), sym)
        eager.TRACE_HOOKS.append(tracer)
        try:
            with eager.no_grad():
                out = self.fn(*args, **kwargs)
            flat: List[Any] = []
            spec = _flatten(out, flat)
            tracer.finish(flat)
        finally:
            eager.TRACE_HOOKS.pop()
        return tracer, (out, spec)

    def _compile_piece(self, p: Piece) -> None:
        compiled = compile(p.module, CompileOptions(target=get_executor(self.executor),
                                                    opt_level=self.opt_level,
                                                    func=p.func.sym_name))
        func = compiled.module[p.func.sym_name]
        assert isinstance(func, FuncOp)
        p.module, p.func, p.fn = compiled.module, func, compiled

    def _compile_and_run(self, key: Any, tensors: List[Any], args: Any, kwargs: Any) -> Any:
        loc = user_location()
        arrays = [t.data for t in tensors]
        if self.compiles >= self.recompile_limit:
            return self._give_up(f"the recompile limit ({self.recompile_limit}) was reached at "
                                 f"{where(loc)}", args, kwargs)
        types, why, sym = self._signature(key, arrays)
        hist_key = (key, tuple((a.dtype, a.ndim) for a in arrays))
        if sym and hist_key in self.static_only:
            types, why, sym = [TensorType(t.element, tuple(a.shape))
                               for t, a in zip(types, arrays)], "", {}
        try:
            tracer, (out, spec) = self._trace(types, tensors, sym, args, kwargs)
            sizes = tuple(a.shape for a in arrays)
            prev = self.fingerprints.get(hist_key)
            if sym and not tracer.specialized and prev is not None and prev[0] != sizes:
                diff = _first_difference(prev[1], tracer.fingerprint)
                if diff:
                    tracer.specialized.append(f"{diff} differs between the traces at sizes "
                                              f"{prev[0]} and {sizes}")
            self.fingerprints[hist_key] = (sizes, tracer.fingerprint)
            if tracer.specialized:
                self.static_only.add(hist_key)
                self.events.append(f"call {self.calls}: kept static: " + tracer.specialized[0])
                types = [TensorType(t.element, tuple(a.shape)) for t, a in zip(types, arrays)]
                tracer, (out, spec) = self._trace(types, tensors, {}, args, kwargs)
                why = "static shapes (a symbolic size was baked in)"
        except GraphBreak as e:
            return self._give_up(str(e), args, kwargs)
        self.compiles += 1
        for p in tracer.pieces:
            self._compile_piece(p)
        entry = self._graft(key, types, arrays, tracer, spec)
        reason = "first call" if self.compiles == 1 else "no entry's guards passed"
        self.events.append(f"call {self.calls}: compile #{self.compiles} ({reason}) at "
                           f"{where(loc)}: {len(tracer.pieces)} piece(s)"
                           + (f"; {why}" if why else ""))
        for p, d in zip(tracer.pieces, tracer.decisions):
            self.events.append(f"  split: {p.kind}() of a traced tensor at {where(p.split_loc)} "
                               f"(value {d!r}); the decision runs in Python")
        del entry
        return out

    def _graft(self, key: Any, types: List[TensorType], arrays: List[np.ndarray],
               tracer: Tracer, spec: Any) -> Entry:
        """Add the new trace: into an entry with the same guards (a new continuation), or as
        a new entry."""
        pieces, decisions = tracer.pieces, tracer.decisions
        shapes = tuple(t.dims for t in types)
        dtypes = tuple(a.dtype for a in arrays)
        pieces[-1].out_spec = spec
        for p, d, q in zip(pieces, decisions, pieces[1:]):
            p.next[d] = q
        for e in self.entries.get(key, ()):
            if e.shapes != shapes or e.dtypes != dtypes:
                continue
            node = e.root
            for i, d in enumerate(decisions):
                if node.kind != pieces[i].kind or \
                        node.func.function_type != pieces[i].func.function_type:
                    break
                if d not in node.next:
                    node.next[d] = pieces[i + 1]
                    return e
                node = node.next[d]
        root = pieces[0]
        groups: Dict[str, List[Tuple[int, int]]] = {}
        for i, shp in enumerate(shapes):
            for j, s in enumerate(shp):
                if type(s) is str:
                    groups.setdefault(s, []).append((i, j))
        static = None if groups else tuple((dt, tuple(s)) for dt, s in zip(dtypes, shapes))
        e = Entry(key, dtypes, shapes, root, list(groups.values()), static)
        self.entries.setdefault(key, []).insert(0, e)
        return e

    def _give_up(self, why: str, args: Any, kwargs: Any) -> Any:
        self.eager_only = why
        self.events.append(f"call {self.calls}: running eagerly from now on: {why}")
        if not self._warned:
            self._warned = True
            warnings.warn(f"mlir_lite.jit({self.__name__}): {why}; running eagerly from now "
                          "on (see .explain())", RuntimeWarning, stacklevel=3)
        return self.fn(*args, **kwargs)

    # -- explaining ---------------------------------------------------------------------------
    def explain(self) -> str:
        """The compiled pieces, the guards of each entry, and why each compile or split
        happened (with the responsible file:line)."""
        lines = [f"mlir_lite.jit({self.__name__}): {self.calls} call(s), {self.compiles} "
                 f"compilation(s) (limit {self.recompile_limit}, dims symbolic after "
                 f"{self.dynamic_after} sizes)"]
        if self.eager_only:
            lines.append(f"  EAGER: {self.eager_only}")
        for key, entries in self.entries.items():
            for n, e in enumerate(entries):
                lines.append(f"entry {n}: {e.calls} replayed call(s)")
                lines.append(f"  guards: arguments {_describe_key(key)}")
                for i, (dt, shp) in enumerate(zip(e.dtypes, e.shapes)):
                    lines.append(f"    tensor {i}: dtype {dt}, shape "
                                 f"({', '.join(str(s) for s in shp)})")
                for g in e.sym_groups:
                    if len(g) > 1:
                        lines.append(f"    equal dims: {g}")
                _pieces(e.root, "  ", lines, "root")
        lines.append("events:")
        lines.extend(f"  {ev}" for ev in self.events)
        return "\n".join(lines)


def _first_difference(a: List[Any], b: List[Any]) -> str:
    """The first recorded op whose attributes (or constant) differ, on the common path."""
    for x, y in zip(a, b):
        if x[0] != y[0]:
            return ""        # a different control path, not a size dependence
        if x != y:
            return f"{x[0][3:] if x[0].startswith('ml.') else 'a constant'}"
    return ""


def _describe_key(key: Any) -> str:
    def show(spec: Any) -> str:
        tag = spec[0]
        if tag == "T":
            return "<tensor>"
        if tag == "S":
            return repr(spec[2])
        if tag == "dict":
            return "{" + ", ".join(f"{k}: {show(v)}" for k, v in spec[1:]) + "}"
        return ("(" if tag == "tuple" else "[") + ", ".join(show(s) for s in spec[1:]) + \
            (")" if tag == "tuple" else "]")
    return f"{show(key[0])} {show(key[1])}"


def _pieces(p: Piece, indent: str, lines: List[str], label: str) -> None:
    ftype = p.func.function_type
    ins = ", ".join(str(t) for t in ftype.inputs)
    head = f"{indent}piece @{p.func.sym_name} [{label}]: {p.n_ops} op(s), inputs ({ins})"
    if p.kind is None:
        lines.append(head + " -> result")
        return
    lines.append(head + f" -> split on {p.kind}() at {where(p.split_loc)}")
    for d, q in p.next.items():
        _pieces(q, indent + "  ", lines, f"{p.kind}() == {d!r}")


_MISSING = object()


def jit(fn: Optional[Callable] = None, *, dynamic_after: int = 2, recompile_limit: int = 8,
        executor: Any = None, opt_level: int = 2) -> Any:
    """Decorator (with or without options) making a `JitFunction`."""
    if dynamic_after < 1 or recompile_limit < 1:
        raise ValueError("dynamic_after and recompile_limit must be at least 1")
    if fn is None:
        return lambda f: JitFunction(f, dynamic_after, recompile_limit, executor, opt_level)
    return JitFunction(fn, dynamic_after, recompile_limit, executor, opt_level)


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """`true_fn()` if `pred` else `false_fn()`; inside a jit trace, an `scf.if` in the compiled
    code (no split)."""
    if eager.TRACE_HOOKS and isinstance(pred, eager.Tensor):
        return eager.TRACE_HOOKS[-1].cond(pred, true_fn, false_fn)
    return true_fn() if bool(pred) else false_fn()


