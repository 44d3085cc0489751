"""VJP rules of elementwise ops against central finite differences (float64, random shapes)."""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.ir.attributes import DenseAttr

from ._autodiff_util import check_grads, f64, make_module

SEEDS = (0, 1)


def _dims(rng, n, lo=1, hi=4):
    return [int(d) for d in rng.integers(lo, hi + 1, n)]


def _away(rng, shape, lo=0.2, hi=1.5):
    """Values with |x| in [lo, hi): away from the kinks of relu, abs, ..."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def _const(b, value):
    return b.op("ml.constant", value=DenseAttr(np.asarray(value, np.float64)))


# -- unary ops: (op, attrs, input generator) ------------------------------------------------------
UNARY = {
    "ml.neg": ({}, lambda r, s: r.standard_normal(s)),
    "ml.exp": ({}, lambda r, s: r.standard_normal(s)),
    "ml.log": ({}, lambda r, s: r.uniform(0.5, 2.0, s)),
    "ml.log1p": ({}, lambda r, s: r.uniform(-0.5, 2.0, s)),
    "ml.sqrt": ({}, lambda r, s: r.uniform(0.5, 2.0, s)),
    "ml.rsqrt": ({}, lambda r, s: r.uniform(0.5, 2.0, s)),
    "ml.reciprocal": ({}, lambda r, s: _away(r, s, 0.5)),
    "ml.abs": ({}, _away),
    "ml.relu": ({}, _away),
    "ml.leaky_relu": ({"alpha": 0.1}, _away),
    "ml.elu": ({"alpha": 0.7}, _away),
    "ml.selu": ({}, _away),
    "ml.celu": ({"alpha": 1.3}, _away),
    "ml.thresholded_relu": ({"alpha": 0.5}, lambda r, s: 0.5 + _away(r, s, 0.1)),
    "ml.hard_sigmoid": ({}, lambda r, s: r.choice([-4.0, 0.0, 4.0], s) + r.uniform(-1, 1, s)),
    "ml.hard_swish": ({}, lambda r, s: r.choice([-5.0, 0.0, 5.0], s) + r.uniform(-1, 1, s)),
    "ml.mish": ({}, lambda r, s: r.standard_normal(s)),
    "ml.gelu": ({}, lambda r, s: r.standard_normal(s)),
    "ml.tanh": ({}, lambda r, s: r.standard_normal(s)),
    "ml.sigmoid": ({}, lambda r, s: r.standard_normal(s)),
    "ml.softplus": ({}, lambda r, s: r.standard_normal(s)),
    "ml.softsign": ({}, _away),
    "ml.erf": ({}, lambda r, s: r.standard_normal(s)),
    "ml.sin": ({}, lambda r, s: r.standard_normal(s)),
    "ml.cos": ({}, lambda r, s: r.standard_normal(s)),
    "ml.tan": ({}, lambda r, s: r.uniform(-1.0, 1.0, s)),
    "ml.sinh": ({}, lambda r, s: r.standard_normal(s)),
    "ml.cosh": ({}, lambda r, s: r.standard_normal(s)),
    "ml.atan": ({}, lambda r, s: r.standard_normal(s)),
    "ml.asin": ({}, lambda r, s: r.uniform(-0.8, 0.8, s)),
    "ml.acos": ({}, lambda r, s: r.uniform(-0.8, 0.8, s)),
    "ml.asinh": ({}, lambda r, s: r.standard_normal(s)),
    "ml.acosh": ({}, lambda r, s: r.uniform(1.2, 3.0, s)),
    "ml.atanh": ({}, lambda r, s: r.uniform(-0.8, 0.8, s)),
    "ml.identity": ({}, lambda r, s: r.standard_normal(s)),
    "ml.dropout": ({"ratio": 0.3}, lambda r, s: r.standard_normal(s)),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, seed):
    attrs, gen = UNARY[name]
    rng = np.random.default_rng(seed)
    shape = _dims(rng, rng.integers(1, 4))
    m = make_module([f64(*shape)], lambda b, x: b.op(name, x, **attrs))
    check_grads(m, [gen(rng, tuple(shape))], seed=seed)


def test_gelu_tanh_approximation():
    rng = np.random.default_rng(3)
    m = make_module([f64(3, 5)], lambda b, x: b.op("ml.gelu", x, approximate="tanh"))
    check_grads(m, [rng.standard_normal((3, 5)) * 2])


# -- binary ops with broadcasting ---------------------------------------------------------------
def _broadcast_pairs(rng):
    n, k, c = _dims(rng, 3, 2, 4)
    return [((n, k), (n, k)), ((n, k), (k,)), ((n, 1), (1, k)), ((c, n, k), (n, 1)), ((), (n, k))]


BINARY = {
    "ml.add": lambda r, s: r.standard_normal(s),
    "ml.sub": lambda r, s: r.standard_normal(s),
    "ml.mul": lambda r, s: r.standard_normal(s),
    "ml.div": lambda r, s: _away(r, s, 0.5),
    "ml.pow": lambda r, s: r.uniform(0.5, 2.0, s),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast(name, seed):
    rng = np.random.default_rng(seed)
    gen = BINARY[name]
    for sa, sb in _broadcast_pairs(rng):
        for a_shape, b_shape in ((sa, sb), (sb, sa)):
            m = make_module([f64(*a_shape), f64(*b_shape)], lambda b, x, y: b.op(name, x, y))
            check_grads(m, [gen(rng, a_shape), gen(rng, b_shape)], seed=seed)


def test_pow_constant_exponent():
    rng = np.random.default_rng(0)
    for e in (2.0, 3.0, 0.5, -1.5):
        m = make_module([f64(3, 4)], lambda b, x: b.op("ml.pow", x, _const(b, e)))
        check_grads(m, [rng.uniform(0.5, 2.0, (3, 4))])


def test_pow_integer_exponent_tensor():
    m = make_module([f64(4)], lambda b, x: b.op(
        "ml.pow", x, b.op("ml.constant", value=DenseAttr(np.array([1, 2, 3, 0], np.int64)))))
    check_grads(m, [np.array([0.7, 1.3, -1.1, 2.0])])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["ml.max", "ml.min", "ml.sum", "ml.mean"])
def test_variadic(name, seed):
    rng = np.random.default_rng(seed)
    n, k = _dims(rng, 2, 2, 4)
    shapes = [(n, k), (k,), (n, 1)]
    m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op(name, *xs))
    # distinct values everywhere, so the max/min is unique
    vals = rng.permutation(n * k + k + n).astype(np.float64) * 0.1
    ins, pos = [], 0
    for s in shapes:
        size = int(np.prod(s))
        ins.append(vals[pos:pos + size].reshape(s))
        pos += size
    check_grads(m, ins, seed=seed)


def test_max_two_operands_routes_to_the_larger():
    from mlir_lite.ir.interpreter import run
    from mlir_lite.passes.autodiff import build_vjp
    m = make_module([f64(3), f64(3)], lambda b, x, y: b.op("ml.max", x, y))
    build_vjp(m, "main", [0, 1])
    _, gx, gy = run(m, np.array([1.0, 5.0, 2.0]), np.array([3.0, 4.0, 0.0]),
                    np.array([10.0, 20.0, 30.0]), func="main_vjp")
    np.testing.assert_array_equal(gx, [0.0, 20.0, 30.0])
    np.testing.assert_array_equal(gy, [10.0, 0.0, 0.0])


def test_where_and_prelu():
    rng = np.random.default_rng(1)
    cond = rng.integers(0, 2, (3, 4)).astype(bool)
    m = make_module([f64(3, 4), f64(4)], lambda b, x, y: b.op(
        "ml.where", b.op("ml.constant", value=DenseAttr(cond)), x, y))
    check_grads(m, [rng.standard_normal((3, 4)), rng.standard_normal(4)])
    m = make_module([f64(2, 3, 4), f64(3, 1)], lambda b, x, s: b.op("ml.prelu", x, s))
    check_grads(m, [_away(rng, (2, 3, 4)), rng.standard_normal((3, 1))])


def test_where_condition_from_comparison_gets_no_gradient():
    rng = np.random.default_rng(2)
    m = make_module([f64(5)], lambda b, x: b.op(
        "ml.where", b.op("ml.greater", x, _const(b, 0.0)), b.op("ml.mul", x, x), b.op("ml.neg", x)))
    check_grads(m, [_away(rng, (5,))])


def test_clip_with_and_without_bounds():
    rng = np.random.default_rng(4)
    x = rng.choice([-2.0, 0.0, 2.0], (4, 5)) + rng.uniform(-0.4, 0.4, (4, 5))
    m = make_module([f64(4, 5), f64(), f64()], lambda b, x, lo, hi: b.op("ml.clip", x, lo, hi))
    check_grads(m, [x, np.array(-1.0), np.array(1.0)])
    m = make_module([f64(4, 5)], lambda b, x: b.op("ml.clip", x, _const(b, -1.0)))
    check_grads(m, [x])


def test_cast_between_floats_and_through_integers():
    rng = np.random.default_rng(5)
    from mlir_lite.ir.types import f32, i64

    def body(b, x):
        y = b.op("ml.cast", b.op("ml.cast", x, to=f32), to=x.type.element)
        k = b.op("ml.cast", b.op("ml.cast", x, to=i64), to=x.type.element)  # no gradient
        return b.op("ml.add", b.op("ml.mul", y, y), k)
    m = make_module([f64(6)], body)
    x = rng.uniform(0.2, 0.8, 6) + rng.integers(-3, 3, 6)
    # f32 rounds x to ~1e-7 relative; finite differences with eps=1e-3 see that as ~1e-4
    check_grads(m, [x], rtol=1e-3, eps=1e-3)


def test_non_differentiable_float_ops_stop_gradients():
    rng = np.random.default_rng(6)

    def body(b, x):
        return b.op("ml.add", b.op("ml.mul", b.op("ml.floor", x), x), b.op("ml.sign", x))
    m = make_module([f64(5)], body)
    x = rng.uniform(0.2, 0.8, 5) + rng.integers(-3, 3, 5)
    check_grads(m, [x])
