"""VJP rules of linear-algebra and neural-network ops against central finite differences
(float64, random shapes): matmul, gemm, einsum, conv, pooling, softmax family, normalizations."""
from __future__ import annotations

import numpy as np
import pytest

from ._autodiff_util import check_grads, f64, make_module

SEEDS = (0, 1)


def _dims(rng, n, lo=1, hi=4):
    return [int(d) for d in rng.integers(lo, hi + 1, n)]


MATMUL_SHAPES = [
    lambda b, m, k, n: ((m, k), (k, n)),
    lambda b, m, k, n: ((b, m, k), (k, n)),
    lambda b, m, k, n: ((m, k), (b, k, n)),
    lambda b, m, k, n: ((b, 1, m, k), (b, k, n)),
    lambda b, m, k, n: ((k,), (k, n)),
    lambda b, m, k, n: ((m, k), (k,)),
    lambda b, m, k, n: ((k,), (k,)),
    lambda b, m, k, n: ((k,), (b, k, n)),
    lambda b, m, k, n: ((b, m, k), (k,)),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", range(len(MATMUL_SHAPES)))
def test_matmul(case, seed):
    rng = np.random.default_rng(seed)
    sa, sb = MATMUL_SHAPES[case](*_dims(rng, 4, 2, 4))
    m = make_module([f64(*sa), f64(*sb)], lambda b, x, y: b.op("ml.matmul", x, y))
    check_grads(m, [rng.standard_normal(sa), rng.standard_normal(sb)], seed=seed)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("c_shape", ["none", "row", "full", "scalar"])
def test_gemm(ta, tb, c_shape):
    rng = np.random.default_rng(int(ta) * 2 + int(tb))
    m_, k, n = _dims(rng, 3, 2, 4)
    sa = (k, m_) if ta else (m_, k)
    sb = (n, k) if tb else (k, n)
    shapes = [sa, sb] + {"none": [], "row": [(n,)], "full": [(m_, n)], "scalar": [()]}[c_shape]
    attrs = dict(alpha=0.7, beta=1.3, trans_a=ta, trans_b=tb)
    m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op("ml.gemm", *xs, **attrs))
    check_grads(m, [rng.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("ij->ji", [(3, 4)]),
])
def test_einsum(eq, shapes):
    rng = np.random.default_rng(0)
    m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op("ml.einsum", *xs, equation=eq))
    check_grads(m, [rng.standard_normal(s) for s in shapes])


CONV_CASES = [
    dict(),
    dict(strides=(2, 2)),
    dict(pads=(1, 1, 1, 1)),
    dict(pads=(0, 1, 2, 1), strides=(2, 1)),
    dict(dilations=(2, 2), pads=(1, 1, 1, 1)),
    dict(strides=(3, 2), pads=(1, 0, 0, 1), dilations=(1, 2)),
    dict(group=2, pads=(1, 1, 1, 1)),
    dict(group=4, strides=(2, 2)),  # depthwise
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d(case, bias):
    attrs = dict(CONV_CASES[case])
    rng = np.random.default_rng(case)
    g = attrs.get("group", 1)
    n, h, w = int(rng.integers(1, 3)), int(rng.integers(5, 8)), int(rng.integers(5, 8))
    c, m_ = 4, 4 if g == 4 else 6
    kh, kw = _dims(rng, 2, 1, 3)
    shapes = [(n, c, h, w), (m_, c // g, kh, kw)] + ([(m_,)] if bias else [])
    mod = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op("ml.conv", *xs, **attrs))
    check_grads(mod, [rng.standard_normal(s) for s in shapes])


def test_conv1d_and_conv3d():
    rng = np.random.default_rng(7)
    for shapes, attrs in (([(2, 3, 9), (4, 3, 3)], dict(strides=(2,), pads=(1, 2))),
                          ([(1, 2, 4, 5, 4), (3, 2, 2, 2, 2)], dict(pads=(1, 0, 1, 0, 1, 0)))):
        m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op("ml.conv", *xs, **attrs))
        check_grads(m, [rng.standard_normal(s) for s in shapes])


def test_conv_symbolic_batch():
    """The batch dim is a symbol: the gradient code is shape-polymorphic in it."""
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp
    rng = np.random.default_rng(8)
    xt = tensor(["N", 4, 7, 7], "f64")
    m = make_module([xt, f64(4, 2, 3, 3)], lambda b, x, w: b.op(
        "ml.conv", x, w, strides=(2, 2), pads=(1, 1, 1, 1), group=2))
    build_vjp(m, "main", [0, 1])
    for n in (1, 3):
        x, w = rng.standard_normal((n, 4, 7, 7)), rng.standard_normal((4, 2, 3, 3))
        check = make_module([f64(n, 4, 7, 7), f64(4, 2, 3, 3)], lambda b, x, w: b.op(
            "ml.conv", x, w, strides=(2, 2), pads=(1, 1, 1, 1), group=2))
        check_grads(check, [x, w])
        y = run(m, x, w)[0]
        got = run(m, x, w, np.ones_like(y), func="main_vjp")[1:]
        want = run(check, x, w, np.ones_like(y), func="main_vjp_check")[1:]
        for a, b_ in zip(got, want):
            np.testing.assert_allclose(a, b_, rtol=1e-12)


def test_conv_symbolic_spatial_with_stride():
    """Spatial dims unknown: dx is built larger and cropped at run time."""
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp
    rng = np.random.default_rng(9)
    attrs = dict(strides=(2, 2), pads=(1, 1, 1, 1))
    m = make_module([tensor([1, 2, "H", "W"], "f64"), f64(3, 2, 3, 3)],
                    lambda b, x, w: b.op("ml.conv", x, w, **attrs))
    build_vjp(m, "main", [0, 1])
    for h, w_ in ((6, 7), (5, 8)):
        x, w = rng.standard_normal((1, 2, h, w_)), rng.standard_normal((3, 2, 3, 3))
        static = make_module([f64(1, 2, h, w_), f64(3, 2, 3, 3)],
                             lambda b, x, w: b.op("ml.conv", x, w, **attrs))
        check_grads(static, [x, w])
        y = run(m, x, w)[0]
        cot = rng.standard_normal(y.shape)
        got = run(m, x, w, cot, func="main_vjp")[1:]
        want = run(static, x, w, cot, func="main_vjp_check")[1:]
        for a, b_ in zip(got, want):
            assert a.shape == b_.shape
            np.testing.assert_allclose(a, b_, rtol=1e-12)


POOL_CASES = [
    dict(kernel_shape=(2, 2), strides=(2, 2)),
    dict(kernel_shape=(3, 3), strides=(1, 1)),
    dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
    dict(kernel_shape=(2, 3), strides=(2, 1), dilations=(2, 1)),
    dict(kernel_shape=(3, 3), strides=(2, 2), ceil_mode=True),
    dict(kernel_shape=(3, 2), strides=(2, 2), pads=(1, 0, 1, 1), ceil_mode=True),
]


@pytest.mark.parametrize("case", range(len(POOL_CASES)))
@pytest.mark.parametrize("name", ["ml.max_pool", "ml.avg_pool", "avg_pool_count_pad"])
def test_pool2d(name, case):
    attrs = dict(POOL_CASES[case])
    if name == "avg_pool_count_pad":
        name, attrs["count_include_pad"] = "ml.avg_pool", True
    rng = np.random.default_rng(case)
    shape = (2, 3, int(rng.integers(6, 9)), int(rng.integers(6, 9)))
    m = make_module([f64(*shape)], lambda b, x: b.op(name, x, **attrs))
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01  # distinct: unique maxima
    check_grads(m, [x])


@pytest.mark.parametrize("name", ["ml.global_avg_pool", "ml.global_max_pool"])
def test_global_pool(name):
    rng = np.random.default_rng(0)
    m = make_module([f64(2, 3, 4, 5)], lambda b, x: b.op(name, x))
    check_grads(m, [rng.permutation(120).reshape(2, 3, 4, 5) * 0.1])


def test_max_pool_symbolic_batch():
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import tensor
    from mlir_lite.passes.autodiff import build_vjp
    m = make_module([tensor(["N", 2, 6, 6], "f64")], lambda b, x: b.op(
        "ml.max_pool", x, kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)))
    build_vjp(m, "main", [0])
    x = np.random.default_rng(1).permutation(3 * 72).reshape(3, 2, 6, 6) * 0.1
    y = run(m, x)[0]
    (dx,) = run(m, x, np.ones_like(y), func="main_vjp")[1:]
    # every output position sends 1 to exactly one input position: its window's maximum
    assert dx.sum() == y.size
    for n, c, i, j in np.ndindex(*y.shape):
        win = np.pad(x[n, c], 1, constant_values=-np.inf)[2 * i:2 * i + 3, 2 * j:2 * j + 3]
        assert win.max() == y[n, c, i, j]


@pytest.mark.parametrize("name", ["ml.softmax", "ml.log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family(name, axis):
    rng = np.random.default_rng(abs(axis))
    m = make_module([f64(3, 4, 5)], lambda b, x: b.op(name, x, axis=axis))
    check_grads(m, [rng.standard_normal((3, 4, 5)) * 2])


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("bias", [False, True])
def test_layer_norm(axis, bias):
    rng = np.random.default_rng(abs(axis) + 2 * bias)
    shape = (2, 3, 4)
    ps = shape[axis % 3:]
    shapes = [shape, ps] + ([ps] if bias else [])
    m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op(
        "ml.layer_norm", *xs, axis=axis, epsilon=1e-3))
    check_grads(m, [rng.standard_normal(s) for s in shapes])


def test_layer_norm_broadcast_scale():
    rng = np.random.default_rng(3)
    m = make_module([f64(2, 3, 4), f64(4)], lambda b, x, s: b.op("ml.layer_norm", x, s, axis=1))
    check_grads(m, [rng.standard_normal((2, 3, 4)), rng.standard_normal(4)])


def test_rms_norm():
    rng = np.random.default_rng(4)
    m = make_module([f64(2, 3, 4), f64(4)], lambda b, x, s: b.op("ml.rms_norm", x, s,
                                                                 epsilon=1e-3))
    check_grads(m, [rng.standard_normal((2, 3, 4)), rng.standard_normal(4)])


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 5)])
def test_batch_norm_inference(shape):
    rng = np.random.default_rng(5)
    c = shape[1]
    m = make_module([f64(*shape)] + [f64(c)] * 4, lambda b, *xs: b.op("ml.batch_norm", *xs,
                                                                      epsilon=1e-3))
    check_grads(m, [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c),
                    rng.standard_normal(c), rng.uniform(0.5, 2.0, c)])


def test_instance_and_group_norm():
    rng = np.random.default_rng(6)
    ins = [rng.standard_normal((2, 4, 3, 3)), rng.standard_normal(4), rng.standard_normal(4)]
    m = make_module([f64(2, 4, 3, 3), f64(4), f64(4)], lambda b, *xs: b.op(
        "ml.instance_norm", *xs, epsilon=1e-3))
    check_grads(m, ins)
    m = make_module([f64(2, 4, 3, 3), f64(4), f64(4)], lambda b, *xs: b.op(
        "ml.group_norm", *xs, num_groups=2, epsilon=1e-3))
    check_grads(m, ins)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 2])
def test_nll_loss(reduction, weighted, ignore):
    from mlir_lite.ir.attributes import DenseAttr
    rng = np.random.default_rng(11)
    target = np.array([[0, 2, 1], [2, 2, 3]])   # (N, d) targets for a (N, C, d) input
    wts = rng.uniform(0.5, 2.0, 4)

    def body(b, x):
        ops = [x, b.op("ml.constant", value=DenseAttr(target))]
        if weighted:
            ops.append(b.op("ml.constant", value=DenseAttr(wts)))
        attrs = {"reduction": reduction}
        if ignore is not None:
            attrs["ignore_index"] = ignore
        return b.op("ml.nll_loss", *ops, **attrs)
    m = make_module([f64(2, 4, 3)], body)
    check_grads(m, [rng.standard_normal((2, 4, 3))])


@pytest.mark.parametrize("attrs", [dict(), dict(strides=(2, 2), pads=(1, 0, 1, 1)),
                                   dict(strides=(2, 3), output_padding=(1, 2), dilations=(1, 2)),
                                   dict(group=2, strides=(2, 2))])
def test_conv_transpose(attrs):
    rng = np.random.default_rng(12)
    g = attrs.get("group", 1)
    shapes = [(2, 4, 4, 5), (4, 6 // g, 3, 2), (6,)]
    m = make_module([f64(*s) for s in shapes], lambda b, *xs: b.op("ml.conv_transpose", *xs,
                                                                    **attrs))
    check_grads(m, [rng.standard_normal(s) for s in shapes])
