"""The imperative (PyTorch style, define-and-run) DSL: eager tensors and reverse-mode autograd.

    import mlir_lite as ml
    from mlir_lite.dsl import eager as F
    w = ml.types.tensor(np.random.randn(784, 10) * 0.01, requires_grad=True)
    loss = F.cross_entropy(x @ w, labels)
    loss.backward()              # w.grad is a Tensor
    with ml.no_grad():
        w -= 0.1 * w.grad
    w.grad = None

A `Tensor` holds a numpy array. Every op runs at once through the interpreter's rule table
(opcall.run_op), so eager and compiled code share one meaning per op. When grad mode is on
and an input requires grad, the op records a tape node (the op, its attributes, the input
arrays as they were, the parent tensors). `backward()` walks the tape in reverse topological
order and gets each node's input cotangents from the op's VJP, which is built once per
signature by the autodiff pass (`build_vjp` on a one-op function, compiled by the executor):
the same VJP rule table the symbolic DSL's gradients use. Gradients accumulate into `.grad` of
leaf tensors that require grad.

Updates never write into an array in place (`w -= ...` rebinds `w.data`), so the arrays the
tape saved stay valid.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import DslError
from mlir_lite.ir.types import ElementType, f32, f64

from .dtypes import as_dtype, default_dtype
from .op_table import OperatorStubs
from .opcall import op_vjp, run_op

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "apply_op",
           "as_eager", "zeros", "ones", "randn", "from_numpy"]

_STATE = threading.local()
# the active jit tracers (jit_trace.Tracer); empty outside `mlir_lite.jit` tracing
TRACE_HOOKS: List[Any] = []


def is_grad_enabled() -> bool:
    return getattr(_STATE, "enabled", True)


@contextmanager
def _grad_mode(on: bool) -> Iterator[None]:
    prev = is_grad_enabled()
    _STATE.enabled = on
    try:
        yield
    finally:
        _STATE.enabled = prev


class no_grad:
    """Context manager (and decorator): ops inside record nothing for backward."""

    def __enter__(self) -> None:
        self._cm = _grad_mode(False)
        self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)

    def __call__(self, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            with no_grad():
                return fn(*a, **k)
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class enable_grad(no_grad):
    """Turn recording back on inside a `no_grad` block."""

    def __enter__(self) -> None:
        self._cm = _grad_mode(True)
        self._cm.__enter__()


class _Node:
    """One recorded op: enough to compute its inputs' cotangents later."""

    __slots__ = ("op", "attrs", "arrays", "parents", "n_out", "out_meta")

    def __init__(self, op: str, attrs: Dict[str, Any], arrays: List[np.ndarray],
                 parents: List["Tensor"], outs: List[np.ndarray]) -> None:
        self.op = op
        self.attrs = attrs
        self.arrays = arrays
        self.parents = parents
        self.n_out = len(outs)
        self.out_meta = [(o.shape, o.dtype) for o in outs]


class Tensor(OperatorStubs):
    """An eager tensor backed by a numpy array (`.data`)."""

    __array_priority__ = 100

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            el = as_dtype(dtype)
        else:  # float64 data (numpy's default) becomes float32, the DSL's default float
            el = default_dtype(data)
            el = f32 if el == f64 else el
        self.data: np.ndarray = np.array(data, dtype=el.np_dtype)
        self.grad: Optional[Tensor] = None
        self._node: Optional[_Node] = None
        self._index = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, arr: np.ndarray) -> "Tensor":
        t = cls.__new__(cls)
        t.data = arr
        t.grad = None
        t._node = None
        t._index = 0
        t.requires_grad = False
        return t

    # -- properties ------------------------------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        return self.data.shape

    def size(self, dim: Optional[int] = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    @property
    def dtype(self) -> ElementType:
        from mlir_lite.ir.types import element_type_from_numpy
        return element_type_from_numpy(self.data.dtype)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def requires_grad_(self, on: bool = True) -> "Tensor":
        if on and self.data.dtype.kind not in "fV" and str(self.data.dtype) != "bfloat16":
            raise DslError(f"only float tensors can require grad, got {self.data.dtype}")
        if not self.is_leaf and not on:
            raise DslError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = on
        return self

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> Any:
        if self.data.size != 1:
            raise DslError(f"item() needs a one-element tensor, got shape {self.data.shape}")
        if TRACE_HOOKS:
            TRACE_HOOKS[-1].concrete(self, "item")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> "Tensor":
        return Tensor._wrap(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float32:
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if TRACE_HOOKS:
            TRACE_HOOKS[-1].concrete(self, "bool")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    # -- autograd ---------------------------------------------------------------------------
    def backward(self, gradient: Any = None) -> None:
        """Accumulate d(self)/d(leaf) (times `gradient`) into `.grad` of every leaf that
        requires grad. Without `gradient`, self must have one element."""
        if not self.requires_grad:
            raise DslError("backward() on a tensor that does not require grad (no input of "
                           "the computation had requires_grad=True, or it ran under no_grad)")
        if gradient is None:
            if self.data.size != 1:
                raise DslError(f"backward() without a gradient needs a one-element tensor, got "
                               f"shape {self.data.shape}; pass gradient=")
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient,
                              dtype=self.data.dtype)
            seed = np.broadcast_to(seed, self.data.shape).copy()
        _backward(self, seed)

    # -- ops ----------------------------------------------------------------------------------
    # The operators (`+`, `@`, `<`, `+=`, `x[i]`) and the methods named like the functions
    # (`exp`, `sum`, `max`, `clone`, ...) are attached by functional.py from op_table.TABLE
    # ("tensor"); the ones below take arguments the functions do not.
    def _inplace(self, result: "Tensor") -> "Tensor":
        if is_grad_enabled() and (self.requires_grad or result.requires_grad):
            raise DslError("in-place update of a tensor that requires grad: do it under "
                           "`with no_grad():`")
        self.data = result.data.astype(self.data.dtype, copy=False)
        return self

    def reshape(self, *shape: Any) -> "Tensor":
        return _F.IMPLS["reshape"](self, shape[0] if len(shape) == 1 and
                          isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def flatten(self, start_dim: int = 0) -> "Tensor":
        return _F.flatten(self, start_dim)

    def transpose(self, dim0: int = 0, dim1: int = 1) -> "Tensor":
        return _F.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> "Tensor":
        return _F.IMPLS["permute"](self, dims[0] if len(dims) == 1 else dims)

    @property
    def T(self) -> "Tensor":
        return _F.IMPLS["permute"](self, tuple(range(self.ndim - 1, -1, -1)))

    def float(self) -> "Tensor":
        return _F.cast(self, "float32")

    def long(self) -> "Tensor":
        return _F.cast(self, "int64")

    def to(self, dtype: Any) -> "Tensor":
        return _F.cast(self, dtype)


# -- creating tensors --------------------------------------------------------------------------
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of `data`. Without `dtype`, float data (float64 numpy
    arrays included) becomes float32, ints int64, bools bool."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(a: np.ndarray) -> Tensor:
    return Tensor._wrap(np.asarray(a))


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = "float32") -> Tensor:
    shp = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.zeros(shp), requires_grad, dtype)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = "float32") -> Tensor:
    shp = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.ones(shp), requires_grad, dtype)


def randn(*shape: Any, requires_grad: bool = False, dtype: Any = "float32",
          generator: Optional[np.random.Generator] = None) -> Tensor:
    shp = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    rng = generator if generator is not None else np.random.default_rng()
    return Tensor(rng.standard_normal(shp), requires_grad, dtype)


def as_eager(v: Any, like: Optional[Tensor] = None) -> Tensor:
    """`v` as a Tensor (Python/numpy data takes `like`'s dtype when given)."""
    if isinstance(v, Tensor):
        return v
    if like is not None:
        return Tensor._wrap(np.asarray(v, dtype=like.data.dtype))
    return Tensor(v)


# -- running ops -------------------------------------------------------------------------------
def apply_op(op: str, inputs: Sequence[Tensor], attrs: Optional[Dict[str, Any]] = None
             ) -> Any:
    """Run `ml` op `op` on `inputs` now; record it for backward when needed. Returns a Tensor
    (or a tuple of them for multi-result ops)."""
    attrs = attrs or {}
    arrays = [t.data for t in inputs]
    outs = run_op(op, arrays, attrs)
    results = [Tensor._wrap(o) for o in outs]
    if is_grad_enabled() and any(t.requires_grad for t in inputs):
        node = _Node(op, attrs, arrays, list(inputs), outs)
        for i, r in enumerate(results):
            if r.data.dtype.kind == "f" or str(r.data.dtype) == "bfloat16":
                r.requires_grad = True
                r._node = node
                r._index = i
    if TRACE_HOOKS:
        TRACE_HOOKS[-1].record(op, inputs, attrs, results)
    return results[0] if len(results) == 1 else tuple(results)


def _topo(root: Tensor) -> List[_Node]:
    order: List[_Node] = []
    seen = set()
    if root._node is None:
        return order
    stack: List[Tuple[_Node, int]] = [(root._node, 0)]
    seen.add(id(root._node))
    while stack:
        node, i = stack[-1]
        if i < len(node.parents):
            stack[-1] = (node, i + 1)
            p = node.parents[i]._node
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                stack.append((p, 0))
            continue
        stack.pop()
        order.append(node)
    return order


def _backward(root: Tensor, seed: np.ndarray) -> None:
    if root._node is None:  # a leaf
        _accumulate_leaf(root, seed)
        return
    cots: Dict[int, List[Optional[np.ndarray]]] = {id(root._node): [None] * root._node.n_out}
    cots[id(root._node)][root._index] = seed
    for node in reversed(_topo(root)):
        outs = cots.pop(id(node), None)
        if outs is None or all(c is None for c in outs):
            continue
        wrt = tuple(i for i, p in enumerate(node.parents) if p.requires_grad)
        if not wrt:
            continue
        full = [c if c is not None else np.zeros(s, d) for c, (s, d) in zip(outs, node.out_meta)]
        fn = op_vjp(node.op, node.attrs, node.arrays, wrt)
        grads = fn(*node.arrays, *full)
        for i, g in zip(wrt, grads):
            p = node.parents[i]
            g = np.asarray(g, dtype=p.data.dtype)
            if p._node is None:
                _accumulate_leaf(p, g)
            else:
                slot = cots.setdefault(id(p._node), [None] * p._node.n_out)
                prev = slot[p._index]
                slot[p._index] = g if prev is None else prev + g


def _accumulate_leaf(t: Tensor, g: np.ndarray) -> None:
    if not t.requires_grad:
        return
    if t.grad is None:
        t.grad = Tensor._wrap(np.array(g, dtype=t.data.dtype))
    else:
        t.grad = Tensor._wrap(t.grad.data + g)


from . import functional as _F  # noqa: E402  (ops; functional.py imports this module)
