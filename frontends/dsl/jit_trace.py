"""Tracing eager code into IR for `mlir_lite.jit`: one `Tracer` per traced call.

While a tracer is active, every eager op (`eager.apply_op`) still runs at once, and is also
recorded into the current *piece* (a `func.func`) with the tensors' types, where the dims that
the guards made symbolic are symbols. A tensor the trace has not seen is a function input when
the function's closure or globals hold it (a weight: its current data is read on every call), or
else a constant (made from Python data during the call). When the traced code converts a traced
tensor to a Python value (`bool(t)`, `t.item()`, `int(t)`, `float(t)`), the piece ends: its
results are that tensor and every traced tensor still alive, and the next piece starts with
those as its inputs; the value seen decides which continuation the replay takes later.
`mlir_lite.cond` records an `scf.if` instead (both branches are traced; the taken one's values
are the call's result).
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set

import numpy as np

from mlir_lite.errors import DslError, MlirLiteError
from mlir_lite.ir.attributes import DenseAttr, FileLineColLoc, Location
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Region, Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import TensorType, Type, element_type_from_numpy

from . import eager
from .graph import user_location
from .opcall import attrs_key

__all__ = ["Piece", "Tracer", "GraphBreak", "where"]


def where(loc: Location) -> str:
    if isinstance(loc, FileLineColLoc):
        return f"{os.path.basename(loc.file)}:{loc.line}"
    return "an unknown place"


class GraphBreak(Exception):
    """Raised inside the traced function when a trace cannot go on (e.g. a conversion inside
    `mlir_lite.cond`)."""


@dataclass
class Piece:
    """One compiled straight-line part of a traced function."""

    module: ModuleOp
    func: FuncOp
    n_inputs: int                      # inputs coming from the previous piece (or the call)
    captured: List[Any]                # eager Tensors whose current data is appended as inputs
    kind: Optional[str] = None         # None: the last piece; "bool" / "item": a split
    split_loc: Location = None         # type: ignore[assignment]
    next: Dict[Any, "Piece"] = field(default_factory=dict)
    fn: Any = None                     # the compiled callable
    n_ops: int = 0
    out_spec: Any = None               # the last piece: the structure of the result


class Tracer:
    """Records eager ops into pieces (see the module docstring)."""

    def __init__(self, in_types: List[TensorType], inputs: List[Any], capturable: Set[int],
                 sym_values: Dict[int, str]) -> None:
        self.capturable = capturable
        self.sym_values = sym_values          # concrete value -> symbol, for symbolic dims
        self.pieces: List[Piece] = []
        self.decisions: List[Any] = []
        self.specialized: List[str] = []      # why a symbolic dim cannot stay symbolic
        self.keep: List[Any] = []             # keeps traced tensors alive (stable ids)
        self.cond_depth = 0
        self.fingerprint: List[Any] = []     # (op, attributes) recorded, to compare traces
        self._start(in_types, inputs)

    # -- pieces -----------------------------------------------------------------------------
    def _start(self, types: Sequence[Type], tensors: List[Any]) -> None:
        self.module = ModuleOp.empty()
        self.func = FuncOp.make(f"piece{len(self.pieces)}", types, [])
        self.module.append(self.func)
        self.b = Builder.at_end(self.func.entry_block)
        self.values: Dict[int, Value] = {}
        self.live: Dict[int, Any] = {}
        self.captured: List[Any] = []
        self.n_inputs = len(types)
        for t, v in zip(tensors, self.func.args):
            self._bind(t, v)

    def _bind(self, t: Any, v: Value) -> None:
        self.values[id(t)] = v
        self.live[id(t)] = weakref.ref(t)
        self.keep.append(t)

    def _finish(self, outs: List[Value], kind: Optional[str], loc: Location) -> Piece:
        self.b.create("func.return", outs)
        self.func.update_type()
        n_ops = sum(1 for _ in self.func.walk()) - 2
        p = Piece(self.module, self.func, self.n_inputs, self.captured, kind, loc, n_ops=n_ops)
        self.pieces.append(p)
        return p

    def finish(self, outs: List[Any]) -> Piece:
        return self._finish([self.value(t) for t in outs], None, user_location())

    # -- values -------------------------------------------------------------------------------
    def _type(self, a: np.ndarray) -> TensorType:
        shape = tuple(self.sym_values.get(d, d) if d >= 2 else d for d in a.shape)
        return TensorType(element_type_from_numpy(a.dtype), shape)

    def value(self, t: Any) -> Value:
        v = self.values.get(id(t))
        if v is not None:
            return v
        if id(t) in self.capturable or t.requires_grad:
            arg = self.func.entry_block.add_arg(self._type(t.data))
            self.captured.append(t)
            self._bind(t, arg)
            return arg
        self._check_const(t.data)
        data = np.ascontiguousarray(t.data)
        self.fingerprint.append(("const", data.shape, hash(data.tobytes())))
        v = self.b.op("ml.constant", value=DenseAttr(np.array(t.data)), loc=user_location())
        self._bind(t, v)
        return v

    def _check_const(self, a: np.ndarray) -> None:
        if not self.sym_values:
            return
        if a.size <= 16 and a.dtype.kind in "iuf":
            for x in a.reshape(-1).tolist():
                if x in self.sym_values and float(x).is_integer():
                    self.specialized.append(f"a constant made from Python data equals the size "
                                            f"{int(x)} of a symbolic dim, at "
                                            f"{where(user_location())}")
                    return
        if any(d in self.sym_values for d in a.shape):
            self.specialized.append(f"a tensor made inside the function has shape {a.shape}, "
                                    f"which holds a symbolic dim's size, at "
                                    f"{where(user_location())}")

    def _check_attrs(self, op: str, attrs: Dict[str, Any]) -> None:
        if not self.sym_values:
            return
        for k, v in attrs.items():
            vals = v if isinstance(v, tuple) else (v,)
            for x in vals:
                if type(x) is int and x in self.sym_values:
                    self.specialized.append(f"attribute {k}={v} of {op} equals the size {x} of "
                                            f"a symbolic dim, at {where(user_location())}")
                    return

    # -- hooks called by the eager DSL --------------------------------------------------------
    def record(self, op: str, inputs: Sequence[Any], attrs: Dict[str, Any],
               results: Sequence[Any]) -> None:
        operands = [self.value(t) for t in inputs]
        self._check_attrs(op, attrs)
        self.fingerprint.append((op, attrs_key(attrs)))
        try:
            new = self.b.create(op, operands, dict(attrs), loc=user_location())
        except MlirLiteError as e:
            raise GraphBreak(f"{op} does not type-check with symbolic dims: {e.message}") from e
        for t, r in zip(results, new.results):
            self._bind(t, r)

    def concrete(self, t: Any, kind: str) -> None:
        if id(t) not in self.values:
            return
        loc = user_location()
        if self.cond_depth:
            raise GraphBreak(f"{kind}() of a traced tensor inside mlir_lite.cond at {where(loc)}")
        live = [(k, r()) for k, r in self.live.items()]
        alive = [x for k, x in live if x is not None and x is not t]
        outs = [self.values[id(t)]] + [self.values[id(x)] for x in alive]
        value = bool(t.data) if kind == "bool" else t.data.reshape(()).item()
        self._finish(outs, kind, loc)
        self.decisions.append(value)
        self._start([v.type for v in outs[1:]], alive)

    def cond(self, pred: Any, true_fn: Any, false_fn: Any) -> Any:
        """Trace both branches into an `scf.if`; returns the taken branch's tensors."""
        p = self.value(pred)
        regions = [Region([Block()]), Region([Block()])]
        saved = self.b
        outs: List[List[Any]] = []
        self.cond_depth += 1
        try:
            for region, fn in zip(regions, (true_fn, false_fn)):
                self.b = Builder.at_end(region.blocks[0])
                values, live = dict(self.values), dict(self.live)
                res = fn()
                seq = isinstance(res, (list, tuple))
                flat = [eager.as_eager(r) for r in (res if seq else [res])]
                self.b.create("scf.yield", [self.value(r) for r in flat])
                outs.append(flat)
                self.values, self.live = values, live  # branch values stay in the branch
        finally:
            self.b = saved
            self.cond_depth -= 1
        if len(outs[0]) != len(outs[1]):
            raise DslError("mlir_lite.cond: the branches return different numbers of tensors")
        types = []
        for a, c in zip(*outs):
            ta, tc = self._type(a.data), self._type(c.data)
            if ta.element != tc.element or len(a.shape) != len(c.shape):
                raise DslError(f"mlir_lite.cond: branch results differ: {ta} and {tc}")
            types.append(TensorType(ta.element, tuple(x if x == y else None
                                                      for x, y in zip(ta.dims, tc.dims))))
        op = self.b.create("scf.if", [p], {}, types, regions, loc=user_location())
        taken = outs[0] if bool(pred.data) else outs[1]
        res = [eager.Tensor._wrap(t.data) for t in taken]
        for t, r in zip(res, op.results):
            self._bind(t, r)
        return res if seq else res[0]
