"""Random nested control-flow programs for the scf <-> cf tests.

A program is a list of statements over a state `s` (tensor<4xf32>), with inputs `x`
(tensor<4xf32>), `p` (a bool) and `n` (an i64 trip count):
  ("un", op)            s = op(s)                  (tanh, sin, neg, half)
  ("addx",)             s = s + x
  ("if", A, B)          s = A(s) if sum(s) > 0 else B(s)
  ("ifp", A, B)         s = A(s) if p else B(s)
  ("for", k, A, scan)   s = A(s) k times (k: 0..2, or n when k is -1); with scan: also the
                        stack of the states, whose sum is added to s afterwards
  ("while", A)          c = 0; while c < n: s = A(s); c += 1
`numpy_eval` is the independent oracle.
"""
from __future__ import annotations

from typing import Any, List

import numpy as np
from hypothesis import strategies as st

from mlir_lite import FuncOp, ModuleOp
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Block, Region
from mlir_lite.ir.types import TensorType, f32, i1, i64

V4 = TensorType(f32, (4,))
I64 = TensorType(i64, ())
B1 = TensorType(i1, ())
UNARY = {"tanh": np.tanh, "sin": np.sin, "neg": np.negative,
         "half": lambda v: v * np.float32(0.5)}

leaf = st.one_of(st.sampled_from([("un", k) for k in UNARY]), st.just(("addx",)))


def _extend(children: Any) -> Any:
    block = st.lists(children, min_size=0, max_size=3)
    return st.one_of(
        st.tuples(st.just("if"), block, block),
        st.tuples(st.just("ifp"), block, block),
        st.tuples(st.just("for"), st.integers(-1, 2), block, st.booleans()),
        st.tuples(st.just("while"), block))


programs = st.lists(st.recursive(leaf, _extend, max_leaves=8), min_size=1, max_size=4)


def numpy_eval(prog: List[Any], s: np.ndarray, x: np.ndarray, p: bool, n: int) -> np.ndarray:
    for stmt in prog:
        k = stmt[0]
        if k == "un":
            s = UNARY[stmt[1]](s).astype(np.float32)
        elif k == "addx":
            s = (s + x).astype(np.float32)
        elif k == "if":
            s = numpy_eval(stmt[1] if s.sum(dtype=np.float32) > 0 else stmt[2], s, x, p, n)
        elif k == "ifp":
            s = numpy_eval(stmt[1] if p else stmt[2], s, x, p, n)
        elif k == "for":
            trips = n if stmt[1] < 0 else stmt[1]
            states = []
            for _ in range(trips):
                s = numpy_eval(stmt[2], s, x, p, n)
                states.append(s)
            if stmt[3]:
                s = (s + np.stack(states).sum(0) if states else s).astype(np.float32)
        elif k == "while":
            for _ in range(n):
                s = numpy_eval(stmt[1], s, x, p, n)
    return s


def _c(b: Builder, v: Any) -> Any:
    return b.op("ml.constant", value=DenseAttr(np.asarray(v)))


def _region(types: List[TensorType]) -> Region:
    return Region([Block(types)])


def _emit(b: Builder, prog: List[Any], s: Any, x: Any, p: Any, n: Any) -> Any:
    for stmt in prog:
        k = stmt[0]
        if k == "un":
            s = (b.op("ml.mul", s, _c(b, np.full(4, 0.5, np.float32))) if stmt[1] == "half"
                 else b.op(f"ml.{stmt[1]}", s))
        elif k == "addx":
            s = b.op("ml.add", s, x)
        elif k in ("if", "ifp"):
            if k == "if":
                tot = b.op("ml.reduce_sum", s, axes=(0,), keepdims=False)
                pred = b.op("ml.greater", tot, _c(b, np.float32(0)))
            else:
                pred = p
            op = b.create("scf.if", [pred], {}, [V4], [_region([]), _region([])])
            for r, body in zip(op.regions, stmt[1:]):
                with b.at(r.blocks[0]):
                    b.op("scf.yield", _emit(b, body, s, x, p, n))
            s = op.results[0]
        elif k == "for":
            ub = n if stmt[1] < 0 else _c(b, np.int64(stmt[1]))
            scan = stmt[3]
            rtypes = [V4] + ([TensorType(f32, (None, 4))] if scan else [])
            op = b.create("scf.for", [_c(b, np.int64(0)), ub, _c(b, np.int64(1)), s],
                          {"num_scan_outputs": int(scan)}, rtypes, [_region([I64, V4])])
            blk = op.regions[0].blocks[0]
            with b.at(blk):
                y = _emit(b, stmt[2], blk.args[1], x, p, n)
                b.op("scf.yield", *([y, y] if scan else [y]))
            s = op.results[0]
            if scan:
                tot = b.op("ml.reduce_sum", op.results[1], axes=(0,), keepdims=False)
                s = b.op("ml.add", s, tot)
        elif k == "while":
            op = b.create("scf.while", [_c(b, np.int64(0)), s], {}, [I64, V4],
                          [_region([I64, V4]), _region([I64, V4])])
            bef, aft = op.regions[0].blocks[0], op.regions[1].blocks[0]
            with b.at(bef):
                b.op("scf.condition", b.op("ml.less", bef.args[0], n), *bef.args)
            with b.at(aft):
                c2 = b.op("ml.add", aft.args[0], _c(b, np.int64(1)))
                b.op("scf.yield", c2, _emit(b, stmt[1], aft.args[1], x, p, n))
            s = op.results[1]
    return s


def build(prog: List[Any]) -> ModuleOp:
    """`@main(s, x, p, n) -> s` running `prog`."""
    m = ModuleOp.empty()
    f = FuncOp.make("main", [V4, V4, B1, I64], [], ["s", "x", "p", "n"])
    m.append(f)
    b = Builder.at_end(f.entry_block)
    b.op("func.return", _emit(b, prog, *f.args))
    f.update_type()
    return m
