"""Hypothesis strategies that build random, well-typed modules through the builder."""
from __future__ import annotations

from typing import List

import numpy as np
from hypothesis import strategies as st

import mlir_lite as ml
from mlir_lite.ir.attributes import UNKNOWN_LOC, DenseAttr, FileLineColLoc, NameLoc
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import OP_REGISTRY, Block, Region, Value
from mlir_lite.ir.dialects.func import FuncOp

SHAPES = [(), (3,), (2, 3), ("N", 3), (None, 3), (2, "M", 3)]
UNARY = ["ml.relu", "ml.neg", "ml.exp", "ml.tanh", "ml.sigmoid", "ml.abs"]
BINARY = ["ml.add", "ml.sub", "ml.mul", "ml.max", "ml.min"]
HINTS = st.one_of(st.none(), st.text("abcxyz_.0123-", min_size=1, max_size=6))
LOCS = st.one_of(st.just(UNKNOWN_LOC), st.builds(NameLoc, st.text(max_size=8)),
                 st.builds(FileLineColLoc, st.text("ab/.py", min_size=1, max_size=6),
                           st.integers(1, 999), st.integers(1, 99)))


def _static(shape: tuple) -> tuple:
    return tuple(d if isinstance(d, int) else 2 for d in shape)


@st.composite
def modules(draw: st.DrawFn, max_ops: int = 12, allow_regions: bool = True) -> ml.ModuleOp:
    """A module with one function @main over f32 tensors of one shape (symbols included)."""
    shape = draw(st.sampled_from(SHAPES))
    t = ml.types.tensor(shape, "f32")
    n_args = draw(st.integers(1, 3))
    m = ml.ModuleOp.empty()
    f = FuncOp.make("main", [t] * n_args, [t], [draw(HINTS) for _ in range(n_args)])
    m.append(f)
    unary = [n for n in UNARY if n in OP_REGISTRY]
    binary = [n for n in BINARY if n in OP_REGISTRY]

    def fill(b: Builder, pool: List[Value], budget: int, depth: int) -> Value:
        for _ in range(budget):
            kind = draw(st.integers(0, 9))
            loc = draw(LOCS)
            if kind <= 3:
                v = b.op(draw(st.sampled_from(unary)), draw(st.sampled_from(pool)), loc=loc)
            elif kind <= 6:
                v = b.op(draw(st.sampled_from(binary)), draw(st.sampled_from(pool)),
                         draw(st.sampled_from(pool)), loc=loc)
            elif kind <= 8:
                cshape = draw(st.sampled_from([(), (1,), (3,)] if (shape and shape[-1] == 3)
                                              else [()]))
                big = draw(st.booleans())
                arr = np.asarray(draw(st.lists(st.floats(-4, 4, width=32), min_size=1,
                                               max_size=1))[0], dtype=np.float32)
                arr = np.full(cshape, arr, dtype=np.float32) if not big else \
                    (np.arange(int(np.prod(cshape)) or 1, dtype=np.float32) / 7).reshape(cshape)
                c = b.op("ml.constant", value=DenseAttr(arr), loc=loc)
                v = b.op(draw(st.sampled_from(binary)), draw(st.sampled_from(pool)), c)
            elif allow_regions and depth < 2 and "ml.greater" in OP_REGISTRY:
                x = draw(st.sampled_from(pool))
                zero = b.op("ml.constant", value=DenseAttr(np.array(0.0, np.float32)))
                s = b.op("ml.reduce_sum", x, axes=(), keepdims=False) \
                    if "ml.reduce_sum" in OP_REGISTRY else None
                if s is None or s.type.shape != ():
                    continue
                cond = b.op("ml.greater", s, zero)
                if_op = b.create("scf.if", [cond], result_types=[t],
                                 regions=[Region([Block()]), Region([Block()])], loc=loc)
                for r in if_op.regions:
                    inner = Builder.at_end(r.blocks[0])
                    y = fill(inner, list(pool), draw(st.integers(0, 3)), depth + 1)
                    inner.op("scf.yield", y)
                v = if_op.results[0]
            else:
                continue
            v.name_hint = draw(HINTS)
            pool.append(v)
        return pool[-1]

    b = Builder.at_end(f.entry_block)
    out = fill(b, list(f.args), draw(st.integers(1, max_ops)), 0)
    b.op("func.return", out)
    return m


def random_inputs(m: ml.ModuleOp, seed: int) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(_static(a.type.shape)).astype(np.float32)
            for a in m["main"].args]
