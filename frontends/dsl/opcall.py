"""Run one `ml` op on numpy arrays through the interpreter's rule table, and build (once per
signature) the compiled VJP of one op; the eager DSL is made of these two calls.

    (y,) = run_op("ml.softmax", [x], {"axis": -1})
    grads = op_vjp("ml.matmul", {}, [a, b], wrt=(0, 1))(a, b, g)   # [dL/da, dL/db]

`run_op` builds the op against typed placeholder values with the op class's `build` (so result
types, and shape errors, come from the op declaration), caches it per (op, attributes, operand
types) and calls `RULES[op](op, *arrays)`, casting results to the declared element types as the
interpreter does. `op_vjp` wraps the op in a one-op function, differentiates it with
`mlir_lite.passes.autodiff.build_vjp`, keeps only the gradients, runs the pass pipeline and
compiles it with `VJP_EXECUTOR` (the interpreter, like the eager forward).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, List, Sequence, Tuple

import numpy as np

from mlir_lite.driver.compile import CompileOptions, compile
from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import OP_REGISTRY, Operation, Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType, element_type_from_numpy

__all__ = ["run_op", "op_vjp", "array_type", "attrs_key", "clear_caches"]

_MAX_CACHE = 4096
_OPS: "OrderedDict[Hashable, Operation]" = OrderedDict()
_VJPS: "OrderedDict[Hashable, Callable[..., List[np.ndarray]]]" = OrderedDict()
# The eager forward runs the interpreter's numpy rules, and so do the one-op VJPs: compiling
# each through TVM made examples/cnn_eager.py ~3x slower per step (259 vs 90 ms), since these
# functions are tiny. Sessions and @jit (whole graphs) use the registry default (tvm).
VJP_EXECUTOR = "interpreter"


def array_type(a: np.ndarray) -> TensorType:
    return TensorType(element_type_from_numpy(a.dtype), a.shape)


def attrs_key(attrs: Dict[str, Any]) -> Hashable:
    return tuple(sorted((k, type(v).__name__, v) for k, v in attrs.items()))


def _remember(cache: "OrderedDict[Hashable, Any]", key: Hashable, value: Any) -> Any:
    cache[key] = value
    if len(cache) > _MAX_CACHE:
        cache.popitem(last=False)
    return value


def clear_caches() -> None:
    _OPS.clear()
    _VJPS.clear()


def _op(name: str, types: Tuple[TensorType, ...], attrs: Dict[str, Any]) -> Operation:
    key = (name, types, attrs_key(attrs))
    op = _OPS.get(key)
    if op is not None:
        return op
    cls = OP_REGISTRY[name]
    try:
        op = cls.build([Value(t) for t in types], dict(attrs))
    except MlirLiteError as e:
        shapes = ", ".join(f"{t.dims} {t.element}" for t in types)
        raise DslError(f"{name[3:]}: {e.message.split(': ', 2)[-1]} (operands: {shapes})") \
            from None
    return _remember(_OPS, key, op)


def run_op(name: str, arrays: Sequence[np.ndarray], attrs: Dict[str, Any]) -> List[np.ndarray]:
    """The results of `ml` op `name` on `arrays` (one array per result)."""
    from mlir_lite.ir.interpreter import RULES
    op = _op(name, tuple(array_type(a) for a in arrays), attrs)
    try:
        with np.errstate(all="ignore"):
            outs = RULES[name](op, *arrays)
    except MlirLiteError as e:
        raise DslError(f"{name[3:]} failed: {e.message}") from None
    except (ArithmeticError, ValueError, TypeError, IndexError) as e:
        raise DslError(f"{name[3:]} failed: {e}") from None
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    return [np.asarray(o).astype(_np_dtype(r), copy=False) for o, r in zip(outs, op.results)]


def _np_dtype(v: Value) -> np.dtype:
    t = v.type
    assert isinstance(t, TensorType)  # ml ops have tensor results
    return t.element.np_dtype


def op_vjp(name: str, attrs: Dict[str, Any], arrays: Sequence[np.ndarray],
           wrt: Tuple[int, ...]) -> Callable[..., List[np.ndarray]]:
    """A compiled `f(*inputs, *cotangents) -> [grad of each wrt input]` for one op."""
    types = tuple(array_type(a) for a in arrays)
    key = (name, types, attrs_key(attrs), wrt)
    fn = _VJPS.get(key)
    if fn is not None:
        return fn
    from mlir_lite.passes.autodiff import build_vjp
    module = ModuleOp.empty()
    f = FuncOp.make("op", list(types), [])
    module.append(f)
    b = Builder.at_end(f.entry_block)
    op = b.create(name, f.args, dict(attrs))
    b.create("func.return", op.results)
    f.update_type()
    try:
        vjp = build_vjp(module, "op", list(wrt), name="vjp")
    except MlirLiteError as e:
        raise DslError(f"backward of {name[3:]}: {e.message}") from None
    ret = vjp.return_op
    ret.set_operands(list(ret.operands)[len(op.results):])
    vjp.update_type()
    compiled = compile(module, CompileOptions(target=VJP_EXECUTOR, func="vjp"))
    return _remember(_VJPS, key, compiled)
