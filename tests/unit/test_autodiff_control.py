"""Gradients through `scf.if` and `scf.for` (static and run-time trip counts, scan outputs,
captured values, nested regions) against central finite differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest

from mlir_lite.errors import PassError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.core import Block, Region
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.types import TensorType, i1, i64
from mlir_lite.passes.autodiff import build_grad, build_vjp

from ._autodiff_util import check_grads, f64, make_module

I64 = TensorType(i64, ())
I1 = TensorType(i1, ())


def _const(b, value, dtype=np.float64):
    return b.op("ml.constant", value=DenseAttr(np.asarray(value, dtype)))


def _if(b, cond, types, then_fn, else_fn):
    op = b.create("scf.if", [cond], result_types=types, regions=[Region([Block()]),
                                                                Region([Block()])])
    for region, fn in zip(op.regions, (then_fn, else_fn)):
        with b.at(region.blocks[0]):
            outs = fn(b)
            b.op("scf.yield", *(outs if isinstance(outs, (list, tuple)) else [outs]))
    return op.results


def _for(b, lb, ub, step, inits, body_fn, n_scan=0, scan_types=()):
    types = [v.type for v in inits]
    op = b.create("scf.for", [lb, ub, step] + list(inits), {"num_scan_outputs": n_scan},
                  result_types=types + list(scan_types),
                  regions=[Region([Block([I64] + types)])])
    block = op.regions[0].blocks[0]
    with b.at(block):
        b.op("scf.yield", *body_fn(b, block.args[0], *block.args[1:]))
    return op.results


def _if_module():
    """if c: (sin(x) * w, x) else: (x * x + w, w); captured x and w, one outer value yielded."""
    def body(b, c, x, w):
        r = _if(b, c, [x.type, x.type],
                lambda b: [b.op("ml.mul", b.op("ml.sin", x), w), x],
                lambda b: [b.op("ml.add", b.op("ml.mul", x, x), w), w])
        return b.op("ml.mul", r[0], r[1])
    return make_module([I1, f64(3, 4), f64(3, 4)], body)


@pytest.mark.parametrize("cond", [True, False])
def test_scf_if(cond):
    rng = np.random.default_rng(int(cond))
    check_grads(_if_module(), [np.array(cond), rng.standard_normal((3, 4)),
                               rng.standard_normal((3, 4))])


@pytest.mark.parametrize("cond", [True, False])
def test_nested_scf_if_with_computed_condition(cond):
    def body(b, x, y):
        s = b.op("ml.reduce_sum", x, keepdims=False)
        c = b.op("ml.greater", s, _const(b, 0.0))
        inner = lambda b: _if(b, c, [x.type], lambda b: b.op("ml.exp", y),    # noqa: E731
                              lambda b: b.op("ml.tanh", x))[0]
        (r,) = _if(b, c, [x.type], lambda b: b.op("ml.mul", inner(b), x),
                   lambda b: b.op("ml.sub", y, inner(b)))
        return r
    m = make_module([f64(4), f64(4)], body)
    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal(4)) * (1 if cond else -1)
    check_grads(m, [x, rng.standard_normal(4)])


def _rnn(lb=None, ub=None, with_scan=True):
    """h_{t+1} = tanh(W h_t + x[t]); returns (h_T, stacked h's) (and reads x[t] with gather)."""
    def body(b, *args):
        if lb is None:
            lo, hi, xs, w, h0 = args
        else:
            xs, w, h0 = args
            lo, hi = _const(b, lb, np.int64), _const(b, ub, np.int64)
        one = _const(b, 1, np.int64)

        def step(b, iv, h):
            xt = b.op("ml.gather", xs, iv, axis=0)
            hn = b.op("ml.tanh", b.op("ml.add", b.op("ml.matmul", w, h), xt))
            return [hn, hn] if with_scan else [hn]
        scan = [TensorType(h0.type.element, (None, 3))] if with_scan else []
        return _for(b, lo, hi, one, [h0], step, n_scan=len(scan), scan_types=scan)
    if lb is None:
        return make_module([I64, I64, f64(5, 3), f64(3, 3), f64(3)], body)
    return make_module([f64(5, 3), f64(3, 3), f64(3)], body)


def test_scf_for_static_trip_count_with_scan():
    rng = np.random.default_rng(3)
    check_grads(_rnn(0, 5), [rng.standard_normal((5, 3)), rng.standard_normal((3, 3)) * 0.5,
                             rng.standard_normal(3)])


@pytest.mark.parametrize("lo,hi", [(0, 5), (1, 4), (2, 3), (3, 3), (4, 1)])
def test_scf_for_run_time_trip_count(lo, hi):
    rng = np.random.default_rng(lo + hi)
    m = _rnn()
    ins = [np.int64(lo), np.int64(hi), rng.standard_normal((5, 3)),
           rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3)]
    check_grads(m, ins)


def test_scf_for_step_two_and_integer_carried_counter():
    """for i in range(1, 8, 2): acc = acc * x + k * w; k += 1 (k an integer carried value)."""
    def body(b, x, w):
        lo, hi, st = (_const(b, v, np.int64) for v in (1, 8, 2))

        def step(b, iv, acc, k):
            kf = b.op("ml.cast", k, to=x.type.element)
            acc2 = b.op("ml.add", b.op("ml.mul", acc, x), b.op("ml.mul", kf, w))
            return [acc2, b.op("ml.add", k, _const(b, 1, np.int64))]
        acc, _ = _for(b, lo, hi, st, [w, _const(b, 0, np.int64)], step)
        return acc
    m = make_module([f64(2, 3), f64(2, 3)], body)
    rng = np.random.default_rng(4)
    check_grads(m, [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))])


def test_scf_for_nested_loop_and_if_in_body():
    """Outer loop over i; an inner loop of i-dependent length; an scf.if on the parity of i."""
    def body(b, x, w):
        zero, one, four = (_const(b, v, np.int64) for v in (0, 1, 4))

        def outer(b, i, acc):
            (inner_acc,) = _for(b, zero, i, one, [acc],
                                lambda b, j, a: [b.op("ml.sin", b.op("ml.mul", a, w))])
            odd = b.op("ml.equal", b.op("ml.mod", i, _const(b, 2, np.int64)),
                       _const(b, 1, np.int64))
            (r,) = _if(b, odd, [acc.type], lambda b: b.op("ml.add", inner_acc, x),
                       lambda b: b.op("ml.mul", inner_acc, x))
            return [r]
        (out,) = _for(b, zero, four, one, [x], outer)
        return out
    m = make_module([f64(3), f64(3)], body)
    rng = np.random.default_rng(5)
    check_grads(m, [rng.standard_normal(3), rng.standard_normal(3)])


def test_scf_for_grad_of_scalar_loss():
    """build_grad of sum(scan outputs), checked against an independent numpy RNN."""
    from mlir_lite.ir.builder import Builder
    m = _rnn(0, 4)
    f = m["main"]
    ret = f.return_op
    loss = Builder.before(ret).op("ml.reduce_sum", ret.operands[1], keepdims=False)
    ret.set_operands([loss])
    f.update_type()
    g = build_grad(m, "main", [1, 2])
    rng = np.random.default_rng(6)
    xs, w, h0 = rng.standard_normal((5, 3)), rng.standard_normal((3, 3)) * 0.5, \
        rng.standard_normal(3)
    val, gw, gh = run(m, xs, w, h0, func=g.sym_name)

    def ref(w, h0):
        h, total = h0, 0.0
        for t in range(4):
            h = np.tanh(w @ h + xs[t])
            total += h.sum()
        return total
    assert np.isclose(val, ref(w, h0))
    eps = 1e-6
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        d = np.zeros((3, 3))
        d[i, j] = eps
        np.testing.assert_allclose(gw[i, j], (ref(w + d, h0) - ref(w - d, h0)) / (2 * eps),
                                   rtol=1e-6)


def test_op_without_rule_on_the_path_raises_with_location():
    from mlir_lite.ir.attributes import NameLoc

    def body(b, x):
        with b.location(NameLoc("my_lp_pool")):
            y = b.op("ml.lp_pool", x, kernel_shape=(2,))
        return b.op("ml.reduce_sum", y, keepdims=False)
    m = make_module([f64(1, 1, 4)], body)
    with pytest.raises(PassError) as e:
        build_grad(m, "main", [0])
    assert "ml.lp_pool" in str(e.value) and "my_lp_pool" in str(e.value)


def test_op_without_rule_off_the_path_is_fine():
    def body(b, x, y):
        side = b.op("ml.lp_pool", y, kernel_shape=(2,))  # y is not differentiated
        return b.op("ml.add", b.op("ml.reduce_sum", b.op("ml.mul", x, x), keepdims=False),
                    b.op("ml.reduce_sum", side, keepdims=False))
    m = make_module([f64(1, 1, 4), f64(1, 1, 4)], body)
    rng = np.random.default_rng(7)
    check_grads(m, [rng.standard_normal((1, 1, 4)), rng.standard_normal((1, 1, 4))], wrt=[0])


def test_wrt_parameter_the_output_does_not_depend_on_gets_zeros():
    m = make_module([f64(3), f64(2, 2)], lambda b, x, y: b.op("ml.exp", x))
    build_vjp(m, "main", [0, 1])
    _, gx, gy = run(m, np.ones(3), np.ones((2, 2)), np.ones(3), func="main_vjp")
    np.testing.assert_allclose(gx, np.e * np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros((2, 2)))


def test_errors_for_bad_requests():
    m = make_module([f64(3), TensorType(i64, (3,))], lambda b, x, k: b.op("ml.exp", x))
    with pytest.raises(PassError, match="only float parameters"):
        build_vjp(m, "main", [1])
    with pytest.raises(PassError, match="scalar"):
        build_grad(m, "main", [0])
    with pytest.raises(PassError, match="no function @nope"):
        build_vjp(m, "nope", [0])
    build_vjp(m, "main", [0])
    with pytest.raises(PassError, match="already has a symbol"):
        build_vjp(m, "main", [0])


def test_autodiff_pass_from_a_pipeline_string():
    from mlir_lite.passes import parse_pipeline, run_pipeline
    (p,) = parse_pipeline("autodiff{func=main wrt=0,1 mode=grad}")
    assert p.wrt == "0,1" and p.mode == "grad"

    def body(b, x, w):
        return b.op("ml.reduce_sum", b.op("ml.mul", b.op("ml.mul", x, w), x), keepdims=False)
    m = make_module([f64(3), f64(3)], body)
    run_pipeline(m, "autodiff{func=main wrt=0,1 mode=grad},autodiff{wrt=1 mode=vjp}")
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    loss, gx, gw = run(m, x, w, func="main_grad")
    np.testing.assert_allclose([loss], [np.sum(x * x * w)])
    np.testing.assert_allclose(gx, 2 * x * w)
    np.testing.assert_allclose(gw, x * x)
    _, gw2 = run(m, x, w, np.array(2.0), func="main_vjp")
    np.testing.assert_allclose(gw2, 2 * x * x)
