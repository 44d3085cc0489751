"""VJP rules of reductions, shape ops and indexing ops against central finite differences
(float64, random shapes)."""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.ir.attributes import DenseAttr

from ._autodiff_util import check_grads, f64, make_module


def _ints(b, values):
    return b.op("ml.constant", value=DenseAttr(np.asarray(values, np.int64)))


REDUCE = {
    "ml.reduce_sum": lambda r, s: r.standard_normal(s),
    "ml.reduce_mean": lambda r, s: r.standard_normal(s),
    "ml.reduce_max": lambda r, s: r.permutation(int(np.prod(s))).reshape(s) * 0.1,
    "ml.reduce_min": lambda r, s: r.permutation(int(np.prod(s))).reshape(s) * 0.1,
    "ml.reduce_prod": lambda r, s: r.uniform(0.5, 1.5, s),
    "ml.reduce_l1": lambda r, s: r.choice([-1.0, 1.0], s) * r.uniform(0.2, 1.0, s),
    "ml.reduce_l2": lambda r, s: r.standard_normal(s),
    "ml.reduce_sum_square": lambda r, s: r.standard_normal(s),
    "ml.reduce_log_sum": lambda r, s: r.uniform(0.5, 1.5, s),
    "ml.reduce_log_sum_exp": lambda r, s: r.standard_normal(s),
}


@pytest.mark.parametrize("axes,keepdims", [((1,), False), ((0, 2), True), ((), False),
                                           ((-1,), True)])
@pytest.mark.parametrize("name", sorted(REDUCE))
def test_reduce(name, axes, keepdims):
    rng = np.random.default_rng(len(axes))
    shape = tuple(int(d) for d in rng.integers(2, 5, 3))
    m = make_module([f64(*shape)], lambda b, x: b.op(name, x, axes=axes, keepdims=keepdims))
    check_grads(m, [REDUCE[name](rng, shape)])


def test_reduce_max_ties_share_the_gradient():
    from mlir_lite.ir.interpreter import run
    from mlir_lite.passes.autodiff import build_grad
    m = make_module([f64(4)], lambda b, x: b.op("ml.reduce_max", x, keepdims=False))
    build_grad(m, "main", [0])
    _, g = run(m, np.array([1.0, 3.0, 3.0, 0.0]), func="main_grad")
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])


def test_reduce_noop_with_empty_axes_and_cumsum():
    rng = np.random.default_rng(0)
    m = make_module([f64(3, 4)], lambda b, x: b.op("ml.reduce_sum", x, noop_with_empty_axes=True))
    check_grads(m, [rng.standard_normal((3, 4))])
    for excl in (False, True):
        for rev in (False, True):
            m = make_module([f64(3, 4)], lambda b, x: b.op("ml.cumsum", x, axis=1,
                                                           exclusive=excl, reverse=rev))
            check_grads(m, [rng.standard_normal((3, 4))])


SHAPE_CASES = {
    "reshape": ("ml.reshape", (2, 3, 4), dict(shape=(4, -1))),
    "flatten": ("ml.flatten", (2, 3, 4), dict(axis=2)),
    "squeeze": ("ml.squeeze", (2, 1, 4, 1), dict(axes=(1, 3))),
    "unsqueeze": ("ml.unsqueeze", (2, 4), dict(axes=(0, 2))),
    "transpose": ("ml.transpose", (2, 3, 4), dict(perm=(2, 0, 1))),
    "transpose_default": ("ml.transpose", (2, 3, 4), {}),
    "expand": ("ml.expand", (3, 1), dict(shape=(2, 3, 4))),
    "tile": ("ml.tile", (2, 3), dict(repeats=(2, 3))),
    "slice": ("ml.slice", (5, 6), dict(starts=(1, 0), ends=(4, 100), axes=(0, 1))),
    "slice_step": ("ml.slice", (7, 6), dict(starts=(1, -1), ends=(7, -100), axes=(0, 1),
                                            steps=(2, -2))),
    "slice_negative": ("ml.slice", (5, 6), dict(starts=(-3,), ends=(-1,), axes=(1,))),
    "pad": ("ml.pad", (3, 4), dict(pads=(1, 0, 2, 3))),
    "pad_crop": ("ml.pad", (3, 4), dict(pads=(-1, 2, 0, -1))),
    "pad_axes": ("ml.pad", (3, 4, 2), dict(pads=(1, 2), axes=(1,))),
    "depth_to_space": ("ml.depth_to_space", (1, 8, 2, 3), dict(blocksize=2)),
    "space_to_depth": ("ml.space_to_depth", (1, 2, 4, 6), dict(blocksize=2)),
    "depth_to_space_crd": ("ml.depth_to_space", (1, 8, 2, 3), dict(blocksize=2, mode="CRD")),
    "space_to_depth_crd": ("ml.space_to_depth", (1, 2, 4, 6), dict(blocksize=2, mode="CRD")),
}


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_shape_op(case):
    name, shape, attrs = SHAPE_CASES[case]
    rng = np.random.default_rng(0)
    m = make_module([f64(*shape)], lambda b, x: b.op(name, x, **attrs))
    check_grads(m, [rng.standard_normal(shape)])


def test_pad_constant_value_gradient():
    rng = np.random.default_rng(1)
    m = make_module([f64(3, 4), f64()], lambda b, x, v: b.op("ml.pad", x, v, pads=(1, 1, 0, 2)))
    check_grads(m, [rng.standard_normal((3, 4)), np.array(0.3)])


def test_concat_and_split():
    rng = np.random.default_rng(2)
    m = make_module([f64(2, 3), f64(2, 1), f64(2, 4)], lambda b, *xs: b.op("ml.concat", *xs,
                                                                            axis=1))
    check_grads(m, [rng.standard_normal(s) for s in ((2, 3), (2, 1), (2, 4))])

    def body(b, x):
        p, q, r = b.op("ml.split", x, axis=1, split=(1, 2, 3))
        return b.op("ml.mul", p, p), r  # q unused: its cotangent is zero
    m = make_module([f64(2, 6)], body)
    check_grads(m, [rng.standard_normal((2, 6))])


def test_reshape_and_concat_with_symbolic_dims():
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp

    def body(b, x, y):
        c = b.op("ml.concat", x, y, axis=0)                    # (N + M, 3)
        return b.op("ml.reshape", b.op("ml.mul", c, c), shape=(-1,))
    m = make_module([tensor(["N", 3], "f64"), tensor(["M", 3], "f64")], body)
    build_vjp(m, "main", [0, 1])
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    cot = rng.standard_normal(18)
    _, gx, gy = run(m, x, y, cot, func="main_vjp")
    c = np.concatenate([x, y])
    want = 2 * c * cot.reshape(6, 3)
    np.testing.assert_allclose(gx, want[:2], rtol=1e-12)
    np.testing.assert_allclose(gy, want[2:], rtol=1e-12)


def test_broadcast_against_symbolic_dims():
    """x: (N, 1) times y: (N, K) where N, K are symbols; x's 1 is summed over statically; a
    (?)-dim operand that may be 1 or not is resolved at run time."""
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp
    m = make_module([tensor(["N", 1], "f64"), tensor(["N", "K"], "f64"), tensor([None], "f64")],
                    lambda b, x, y, z: b.op("ml.mul", b.op("ml.mul", x, y), z))
    build_vjp(m, "main", [0, 1, 2])
    rng = np.random.default_rng(4)
    for zk in (1, 5):
        x, y, z = rng.standard_normal((3, 1)), rng.standard_normal((3, 5)), \
            rng.standard_normal(zk)
        cot = rng.standard_normal((3, 5))
        _, gx, gy, gz = run(m, x, y, z, cot, func="main_vjp")
        np.testing.assert_allclose(gx, (cot * y * z).sum(1, keepdims=True), rtol=1e-12)
        np.testing.assert_allclose(gy, cot * x * z, rtol=1e-12)
        want_z = (cot * x * y).sum(0)
        np.testing.assert_allclose(gz, want_z.sum(keepdims=True) if zk == 1 else want_z,
                                   rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather(axis):
    rng = np.random.default_rng(axis)
    shape = (4, 5, 3)
    idx = rng.integers(-shape[axis], shape[axis], (2, 3))  # repeats and negative indices
    m = make_module([f64(*shape)], lambda b, x: b.op("ml.gather", x, _ints(b, idx), axis=axis))
    check_grads(m, [rng.standard_normal(shape)])


def test_gather_scalar_index_and_embedding():
    rng = np.random.default_rng(5)
    m = make_module([f64(6, 4)], lambda b, t: b.op("ml.gather", t, _ints(b, 2), axis=0))
    check_grads(m, [rng.standard_normal((6, 4))])
    ids = np.array([[1, 1, 3], [0, 5, 1]])
    m = make_module([f64(6, 4)], lambda b, t: b.op("ml.gather", t, _ints(b, ids), axis=0))
    check_grads(m, [rng.standard_normal((6, 4))])


def test_gather_elements_gather_nd():
    rng = np.random.default_rng(6)
    idx = rng.integers(0, 4, (3, 2))
    m = make_module([f64(3, 4)], lambda b, x: b.op("ml.gather_elements", x, _ints(b, idx),
                                                   axis=1))
    check_grads(m, [rng.standard_normal((3, 4))])
    nd = np.array([[0, 1], [2, 3], [0, 1]])
    m = make_module([f64(3, 4, 2)], lambda b, x: b.op("ml.gather_nd", x, _ints(b, nd)))
    check_grads(m, [rng.standard_normal((3, 4, 2))])


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_elements_and_scatter_nd(reduction):
    rng = np.random.default_rng(7)
    idx = np.array([[0, 2], [1, 3], [3, 0]])  # distinct per row: "none" is well defined
    m = make_module([f64(3, 4), f64(3, 2)], lambda b, x, u: b.op(
        "ml.scatter_elements", x, _ints(b, idx), u, axis=1, reduction=reduction))
    check_grads(m, [rng.standard_normal((3, 4)), rng.standard_normal((3, 2))])
    nd = np.array([[1], [3]])
    m = make_module([f64(4, 3), f64(2, 3)], lambda b, x, u: b.op(
        "ml.scatter_nd", x, _ints(b, nd), u, reduction=reduction))
    check_grads(m, [rng.standard_normal((4, 3)), rng.standard_normal((2, 3))])


def test_topk_trilu_reverse_sequence():
    rng = np.random.default_rng(8)

    def body(b, x):
        vals, _ = b.op("ml.topk", x, k=2, axis=1)
        return vals
    m = make_module([f64(3, 5)], body)
    check_grads(m, [rng.permutation(15).reshape(3, 5) * 0.1])
    m = make_module([f64(2, 4, 4)], lambda b, x: b.op("ml.trilu", x, upper=0, k=1))
    check_grads(m, [rng.standard_normal((2, 4, 4))])
    m = make_module([f64(4, 3, 2)], lambda b, x: b.op(
        "ml.reverse_sequence", x, _ints(b, [4, 1, 2]), batch_axis=1, time_axis=0))
    check_grads(m, [rng.standard_normal((4, 3, 2))])


def test_unknown_batch_dim_needs_no_run_time_unbroadcast():
    """(?, 4) + (4,): the other operand has no dim 0, so dim 0 of x cannot be a broadcast 1."""
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp
    m = make_module([tensor([None, 4], "f64"), f64(4)], lambda b, x, y: b.op("ml.add", x, y))
    g = build_vjp(m, "main", [0, 1])
    names = [op.name for op in g.walk()]
    assert "ml.slice_dynamic" not in names and "ml.where" not in names
    assert names.count("ml.reduce_sum") == 1


def test_dynamic_reshape_and_expand():
    rng = np.random.default_rng(9)
    m = make_module([f64(2, 6)], lambda b, x: b.op("ml.reshape_dynamic", x, _ints(b, [3, 4])))
    check_grads(m, [rng.standard_normal((2, 6))])
    m = make_module([f64(3, 1)], lambda b, x: b.op("ml.expand_dynamic", x, _ints(b, [2, 3, 5])))
    check_grads(m, [rng.standard_normal((3, 1))])


def test_every_vjp_rule_is_exercised_by_a_test():
    """Each op with a (non-trivial) VJP rule appears in a finite-difference test."""
    from pathlib import Path

    from mlir_lite.passes.autodiff_rules import VJP_RULES, no_gradient
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("*autodiff*.py"))
    missing = sorted(n for n, fn in VJP_RULES.items()
                     if fn is not no_gradient and f'"{n}"' not in text)
    assert not missing, f"VJP rules without a test: {missing}"
