"""`Session`: runs parts of a graph. It owns the variables' values and a cache of compiled
functions, one per signature.

    sess = tf.Session()                  # executor: the default, "tvm" (driver/executors.py)
    sess.run(tf.global_variables_initializer())
    loss_v, _ = sess.run([loss, train_step], feed_dict={x: xs, y_: ys})

`run(fetches, feed_dict)` flattens the fetches (a tensor, an op, or lists/tuples/dicts of
them), checks the feeds against their placeholders, and looks the signature up in the cache:
the fetched nodes, the fed tensors and their dtypes and shapes, where a dim the placeholder
declares as None is replaced by a symbol shared by all the None dims of equal size (so one
compiled function serves every batch size). On a miss it lowers the subgraph into one
`func.func` (lowering.py) and compiles it with the driver (`mlir_lite.driver.compile`: the
pipeline of `opt_level` for the executor's target, then the executor), so graphs and training
steps get the same fusion and layout passes as ONNX models.
Then it calls the function with the feeds, the variables and fresh random draws, stores the
new values of assigned variables and returns the fetched values (numpy scalars for rank 0).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mlir_lite.driver.compile import CompileOptions, compile
from mlir_lite.driver.executors import Executor, get_executor
from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.types import TensorType

from .graph import Graph, Op, Tensor, describe, get_default_graph, shape_str, user_location
from .lowering import Program, lower_program

__all__ = ["Session", "InteractiveSession", "default_session"]
_SESSIONS: List["Session"] = []


def default_session() -> "Session":
    if not _SESSIONS:
        raise DslError("no default session: use `with tf.Session() as sess:` or pass session=",
                       user_location())
    return _SESSIONS[-1]


def _flatten(fetches: Any, flat: List[Any]) -> Callable[[List[Any]], Any]:
    """Append the leaves of `fetches` to `flat`; return how to rebuild the structure."""
    if isinstance(fetches, (Tensor, Op)):
        i = len(flat)
        flat.append(fetches)
        return lambda vals: vals[i]
    if isinstance(fetches, dict):
        parts = {k: _flatten(v, flat) for k, v in fetches.items()}
        return lambda vals: type(fetches)((k, p(vals)) for k, p in parts.items()) \
            if type(fetches) is not dict else {k: p(vals) for k, p in parts.items()}
    if isinstance(fetches, (list, tuple)):
        items = [_flatten(v, flat) for v in fetches]
        if isinstance(fetches, tuple) and hasattr(fetches, "_fields"):
            return lambda vals: type(fetches)(*(p(vals) for p in items))
        kind = type(fetches)
        return lambda vals: kind(p(vals) for p in items)
    raise DslError(f"cannot fetch {fetches!r}: fetch a Tensor, an op, or a list/tuple/dict of "
                   "them", user_location())


def _fed_note(feeds: Dict[Tensor, np.ndarray], types: Dict[Tensor, TensorType]) -> str:
    """Which fed placeholder bound which symbolic dim (the compiled kernels name the symbols)."""
    parts = []
    for t in sorted(feeds, key=lambda t: t.id):
        dims = types[t].shape or ()
        if any(type(d) is str for d in dims):
            sym = ", ".join(str(d) for d in dims)
            parts.append(f"{describe(t)} fed shape {tuple(feeds[t].shape)} as ({sym})")
    return "; placeholders: " + "; ".join(parts) if parts else ""


class Session:
    """Runs graph fetches; holds variable values and the compiled-function cache."""

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config: Any = None,
                 executor: Union[str, Executor, None] = None, opt_level: int = 2) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        self.executor = get_executor(executor)
        self.opt_level = opt_level
        self.compile_count = 0
        self.last_program: Optional[Program] = None
        self._values: Dict[Tensor, np.ndarray] = {}
        self._cache: Dict[Tuple[Any, ...], Program] = {}
        self._rng = np.random.default_rng(self.graph.seed)
        self._rngs: Dict[Tensor, np.random.Generator] = {}
        self._closed = False

    # -- context management ---------------------------------------------------------------------
    def __enter__(self) -> "Session":
        _SESSIONS.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if _SESSIONS and _SESSIONS[-1] is self:
            _SESSIONS.pop()
        self.close()

    def close(self) -> None:
        self._closed = True
        self._values.clear()
        self._cache.clear()

    # -- running --------------------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: Optional[Dict[Any, Any]] = None,
            options: Any = None, run_metadata: Any = None) -> Any:
        """Compute `fetches` given `feed_dict`; assigned variables keep their new values."""
        if self._closed:
            raise DslError("this session is closed", user_location())
        flat: List[Any] = []
        rebuild = _flatten(fetches, flat)
        feeds, types = self._feeds(feed_dict or {})
        for node in flat:
            if node.graph is not self.graph:
                raise DslError(f"{node!r} belongs to another graph than this session's",
                               user_location())
        prog = self._program(flat, types)
        args = [feeds[t] for t in prog.fed]
        args += [self._value_of(v) for v in prog.variables]
        args += [self._draw(r) for r in prog.randoms]
        try:
            outs = prog.fn(*args)
        except MlirLiteError as e:
            raise DslError(f"running the graph failed: {e.message}{_fed_note(feeds, types)}",
                           e.loc) from e
        n_fetch = sum(1 for r in prog.fetch_results if r is not None)
        inputs = {id(a) for a in args}
        for v, new in zip(prog.updates, outs[n_fetch:]):
            new = np.asarray(new)
            if new.shape != v.shape:
                raise DslError(f"the value assigned to variable {describe(v)} has shape "
                               f"{new.shape}", v.loc)
            self._values[v] = new
        vals: List[Optional[np.ndarray]] = []
        for r in prog.fetch_results:
            if r is None:
                vals.append(None)
                continue
            out = np.asarray(outs[r])
            if id(outs[r]) in inputs:
                out = out.copy()
            vals.append(out[()] if out.ndim == 0 else out)
        return rebuild(vals)

    def lower(self, fetches: Any, feed_dict: Optional[Dict[Any, Any]] = None) -> ModuleOp:
        """The module that `run(fetches, feed_dict)` executes (after the pass pipeline)."""
        flat: List[Any] = []
        _flatten(fetches, flat)
        _, types = self._feeds(feed_dict or {})
        return self._program(flat, types).module

    def _program(self, flat: Sequence[Any], types: Dict[Tensor, TensorType]) -> Program:
        key = (tuple(n.id for n in flat),
               tuple(sorted((t.id, types[t].shape) for t in types)))
        prog = self._cache.get(key)
        if prog is None:
            prog = self._compile(flat, types)
            self._cache[key] = prog
        self.last_program = prog
        return prog

    def _compile(self, flat: Sequence[Any], types: Dict[Tensor, TensorType]) -> Program:
        prog = lower_program(flat, types)
        try:
            compiled = compile(prog.module, CompileOptions(
                target=self.executor, opt_level=self.opt_level, func=prog.func_name))
            prog.module, prog.fn = compiled.module, compiled
        except DslError:
            raise
        except MlirLiteError as e:
            raise DslError(f"compiling the graph failed: {e.message}", e.loc) from e
        self.compile_count += 1
        return prog

    # -- feeds, variables, random draws ---------------------------------------------------------
    def _feeds(self, feed_dict: Dict[Any, Any]) -> Tuple[Dict[Tensor, np.ndarray],
                                                          Dict[Tensor, TensorType]]:
        feeds: Dict[Tensor, np.ndarray] = {}
        for k, v in feed_dict.items():
            if not isinstance(k, Tensor):
                raise DslError(f"feed_dict keys must be tensors (placeholders), got {k!r}",
                               user_location())
            feeds[k] = self._convert_feed(k, v)
        symbols: Dict[int, str] = {}
        types: Dict[Tensor, TensorType] = {}
        for t in sorted(feeds, key=lambda t: t.id):
            arr = feeds[t]
            declared = t.shape if t.shape is not None else (None,) * arr.ndim
            dims: List[Union[int, str]] = []
            for d, n in zip(declared, arr.shape):
                if type(d) is int:
                    dims.append(d)
                else:
                    if n not in symbols:
                        symbols[n] = "N" if not symbols else f"N{len(symbols)}"
                    dims.append(symbols[n])
            types[t] = TensorType(t.dtype, tuple(dims))
        return feeds, types

    def _convert_feed(self, t: Tensor, v: Any) -> np.ndarray:
        want = t.dtype.np_dtype
        arr = np.asarray(v)
        if arr.dtype != want:
            if not np.can_cast(arr.dtype, want, "same_kind") and not (
                    arr.dtype.kind in "iub" and want.kind in "iuf"):
                raise DslError(f"the value fed to {describe(t)} has dtype {arr.dtype}, which "
                               f"does not convert safely to {t.dtype}", t.loc)
            arr = arr.astype(want)
        if t.shape is not None and (arr.ndim != len(t.shape) or any(
                type(d) is int and d != n for d, n in zip(t.shape, arr.shape))):
            raise DslError(f"the value fed to {describe(t)} has shape {tuple(arr.shape)}, which "
                           f"does not match its declared shape {shape_str(t.shape)}", t.loc)
        return arr

    def _value_of(self, v: Tensor) -> np.ndarray:
        try:
            return self._values[v]
        except KeyError:
            raise DslError(f"variable {describe(v)} is read before it is initialized: run "
                           "tf.global_variables_initializer() (or its initializer) first",
                           v.loc) from None

    def _draw(self, r: Tensor) -> np.ndarray:
        a = r.attrs
        rng = self._rng
        if a.get("seed") is not None:
            seeded = self._rngs.get(r)
            if seeded is None:
                seeded = self._rngs[r] = np.random.default_rng([self.graph.seed or 0, a["seed"]])
            rng = seeded
        shape, dist = r.shape, a["dist"]
        if dist == "uniform":
            out = rng.uniform(a["minval"], a["maxval"], shape)
        else:
            z = rng.standard_normal(shape)
            if dist == "truncated_normal":
                bad = np.abs(z) > 2
                while bad.any():
                    z[bad] = rng.standard_normal(int(bad.sum()))
                    bad = np.abs(z) > 2
            out = a["mean"] + a["stddev"] * z
        return np.asarray(out, dtype=r.dtype.np_dtype)


class InteractiveSession(Session):
    """A Session that makes itself the default on creation (for `t.eval()` in notebooks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _SESSIONS.append(self)

    def close(self) -> None:
        if self in _SESSIONS:
            _SESSIONS.remove(self)
        super().close()
