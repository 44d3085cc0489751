"""The executor runs a memory plan: intermediate buffers are views of one 64-byte-aligned arena
per shape bucket, at offsets packed so that no two live buffers overlap. Checked here with the
buffers' real addresses against lifetimes recomputed from the plan's steps (independently of
mlir_lite.arena), the measured peak (the highest byte any planned buffer reaches) equal to the
planned arena size, and results equal to the interpreter's (rtol 1e-3, atol 1e-4), also after
the arena is filled with garbage between runs."""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

pytest.importorskip("tvm")

from mlir_lite.backends.tvm.driver import compile_model, load_source, pipeline_for  # noqa: E402
from mlir_lite.frontends.onnx import import_onnx  # noqa: E402
from mlir_lite.interpreter import run  # noqa: E402
from mlir_lite.passes.memory_plan import plan_memory  # noqa: E402
from mlir_lite.passes.registry import run_pipeline  # noqa: E402
from mlir_lite.plan import KernelCall, ViewStep  # noqa: E402
from tests.golden.models import MODELS, inputs_for  # noqa: E402


def _lifetimes(plan) -> Dict[int, Tuple[int, int]]:  # noqa: ANN001
    """(first, last) top-level step of every buffer, a view counting as its source."""
    src: Dict[int, int] = {}
    life: Dict[int, List[int]] = {}
    for t, s in enumerate(plan.steps):
        ids = [s.src] if isinstance(s, ViewStep) else list(s.args) if isinstance(
            s, KernelCall) else []
        if isinstance(s, ViewStep):
            src[s.dst] = src.get(s.src, s.src)
        for b in ids:
            b = src.get(b, b)
            life.setdefault(b, [t, t])[1] = t
    return {b: (f, la) for b, (f, la) in life.items()}


def _compiled(name: str, level: int):  # noqa: ANN202
    model = MODELS[name]()
    fn, info = compile_model(model, opt_level=level)
    feed = inputs_for(model, batch=1, seed=5)
    args = [feed[k] for k in info.input_names]
    return model, fn, args


@pytest.mark.parametrize("name,level", [("mlp", 2), ("small_cnn", 2), ("transformer_layer", 1),
                                        ("transformer_layer", 2), ("if_loop", 1)])
def test_intermediates_live_in_one_arena_without_overlap(name: str, level: int) -> None:
    model, fn, args = _compiled(name, level)
    want = run(import_onnx(model), *args)
    got = fn(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)
    ex = fn.executor._real
    (key, layout), = ex.arena_layouts.items()
    if not layout.offsets:
        return
    arena = np.from_dlpack(ex.arenas[key])
    assert arena.nbytes == layout.arena_bytes and arena.ctypes.data % 64 == 0
    bufs = ex._arena[key][0]
    base = arena.ctypes.data
    spans = {}
    for b in layout.offsets:
        a = np.from_dlpack(bufs[b])
        lo = a.ctypes.data - base
        assert lo % 64 == 0 and 0 <= lo and lo + a.nbytes <= arena.nbytes, b
        spans[b] = (lo, lo + a.nbytes)
    # the measured peak: the highest byte a planned buffer reaches, rounded to the alignment
    peak = max(-(-hi // 64) * 64 for _, hi in spans.values())
    assert peak == layout.arena_bytes
    life = _lifetimes(fn.plan)
    planned = sorted(spans)
    for i, p in enumerate(planned):
        for q in planned[i + 1:]:
            (f1, l1), (f2, l2) = life[p], life[q]
            if f1 <= l2 and f2 <= l1:  # live at a common step
                (a1, e1), (a2, e2) = spans[p], spans[q]
                assert e1 <= a2 or e2 <= a1 or a1 == e1 or a2 == e2, (p, q)
    # garbage in the arena between runs changes nothing
    arena[:] = 0xFF
    for g, w in zip(fn(*args), want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["mlp", "small_cnn"])
def test_arena_at_o2_equals_the_ir_memory_plan(name: str) -> None:
    """At -O2 the runtime arena has the size that passes/memory_plan.py plans for the same
    function and sizes, and is smaller than giving every intermediate its own memory."""
    model, fn, args = _compiled(name, 2)
    fn(*args)
    (key, layout), = fn.executor._real.arena_layouts.items()
    module, _, _ = load_source(model)
    run_pipeline(module, pipeline_for(2))
    assert layout.arena_bytes == plan_memory(module["main"], dict(key)).arena_bytes
    assert layout.arena_bytes < sum(layout.sizes.values())
