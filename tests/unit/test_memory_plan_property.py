"""Properties of memory plans on random graphs (hypothesis):

* `verify_plan` agrees with a brute-force oracle (a byte x step occupancy grid) on random,
  often invalid, plans;
* plans of random graphs (unfused and fused) verify, sit between the lower bound and the
  no-reuse total, and running the graph with every intermediate stored in the arena at its
  planned offset gives exactly the interpreter's results.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlir_lite as ml
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.interpreter import run
from mlir_lite.passes.memory_plan import Buffer, MemoryPlan, PlanError, plan_memory, verify_plan
from mlir_lite.passes.registry import run_pipeline

from .test_memory_plan import run_planned

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _oracle_ok(plan: MemoryPlan) -> bool:
    """Brute force: mark every (step, 64-byte unit) cell each buffer occupies."""
    owner: dict = {}
    for k, b in plan.buffers.items():
        if b.offset % plan.alignment or b.offset + b.size > plan.arena_bytes or \
                b.first_step > b.last_step or b.last_step >= len(plan.steps):
            return False
        for s in range(b.first_step, b.last_step + 1):
            for u in range(b.offset // 64, (b.offset + b.size + 63) // 64):
                other = owner.get((s, u))
                if other is not None:
                    ob = plan.buffers[other]
                    pair = (plan.inplace_of.get(k) == other and ob.last_step == s == b.first_step
                            or plan.inplace_of.get(other) == k and b.last_step == s ==
                            ob.first_step or _root(plan, k) == _root(plan, other))
                    if not pair or ob.offset != b.offset:
                        return False
                owner[(s, u)] = k
    return True


def _root(plan: MemoryPlan, k: str) -> str:
    """A view's source (views are one tensor with their source)."""
    while k in plan.view_of:
        k = plan.view_of[k]
    return k


@st.composite
def random_plans(draw: st.DrawFn) -> MemoryPlan:
    n = draw(st.integers(1, 7))
    steps = draw(st.integers(1, 6))
    bufs = {}
    for i in range(n):
        first = draw(st.integers(0, steps - 1))
        last = draw(st.integers(first, steps - 1))
        bufs[f"v{i}"] = Buffer(64 * draw(st.integers(0, 6)), 64 * draw(st.integers(1, 3)),
                               first, last)
    inplace = {}
    for i in range(1, n):
        if draw(st.booleans()) and draw(st.booleans()):
            inplace[f"v{i}"] = f"v{draw(st.integers(0, i - 1))}"
    return MemoryPlan(64 * draw(st.integers(1, 9)), bufs, ["op"] * steps, inplace_of=inplace)


@SETTINGS
@given(plan=random_plans())
def test_verify_plan_agrees_with_brute_force(plan: MemoryPlan) -> None:
    try:
        verify_plan(plan)
        ok = True
    except PlanError:
        ok = False
    assert ok == _oracle_ok(plan)


@st.composite
def graphs(draw: st.DrawFn) -> ml.ModuleOp:
    """Random DAGs over f32 tensors of varied shapes: elementwise (in-place candidates),
    broadcasts, reductions, transposes, concats (written over their first operand), reshapes
    (views), matmuls; one or two outputs."""
    a, b = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    t = ml.types.tensor((a, b), "f32")
    m = ml.ModuleOp.empty()
    outs = draw(st.integers(1, 2))
    f = FuncOp.make("main", [t], [t] * outs)
    m.append(f)
    bld = Builder.at_end(f.entry_block)
    pool = [f.args[0]]
    for _ in range(draw(st.integers(1, 16))):
        x = draw(st.sampled_from(pool))
        xs = x.type.shape
        k = draw(st.integers(0, 7))
        if k <= 2:
            v = bld.op(draw(st.sampled_from(["ml.exp", "ml.neg", "ml.tanh", "ml.relu"])), x)
        elif k == 3:
            same = [p for p in pool if p.type.shape == xs]
            v = bld.op(draw(st.sampled_from(["ml.add", "ml.mul", "ml.sub"])), x,
                       draw(st.sampled_from(same)))
        elif k == 4:
            v = bld.op("ml.reduce_sum", x, axes=(1,), keepdims=True)
            v = bld.op("ml.add", x, v) if draw(st.booleans()) else v
        elif k == 5:
            v = bld.op("ml.transpose", x, perm=(1, 0))
        elif k == 6 and xs[0] <= 12:
            v = bld.op("ml.concat", x, x, axis=0)  # over x's memory when x dies here
        elif k == 7 and draw(st.booleans()):  # a view: shares x's memory
            v = bld.op("ml.reshape", x, shape=(xs[1], xs[0]))
        else:
            v = bld.op("ml.matmul", x, bld.op("ml.transpose", x, perm=(1, 0)))
        pool.append(v)
    finals = []
    for v in reversed(pool):
        if v.type.shape == (a, b) and len(finals) < outs:
            finals.append(v)
    while len(finals) < outs:
        finals.append(f.args[0])
    bld.op("func.return", *finals)
    return m


@SETTINGS
@given(m=graphs(), fuse=st.booleans(), include_outputs=st.booleans(), seed=st.integers(0, 99))
def test_random_graph_plans_are_valid_and_execute(m, fuse: bool, include_outputs: bool,  # noqa: ANN001
                                                  seed: int) -> None:
    if fuse:
        run_pipeline(m, "fuse")
    plan = plan_memory(m["main"], include_outputs=include_outputs)
    verify_plan(plan)
    assert _oracle_ok(plan)
    # only views of inputs and memory returned through a view are left to the runtime
    assert all("view" in why for why in plan.unplanned.values()), plan.unplanned
    assert plan.lower_bound_bytes <= plan.arena_bytes
    aligned_total = sum((b.size + 63) // 64 * 64 for b in plan.buffers.values())
    assert plan.arena_bytes <= aligned_total
    x = np.random.default_rng(seed).standard_normal(m["main"].args[0].type.shape)
    x = x.astype(np.float32)
    for got, want in zip(run_planned(m, plan, x), run(m, x)):
        np.testing.assert_array_equal(got, want)
