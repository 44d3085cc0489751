"""tf.cond and tf.while_loop in the symbolic DSL (scf ops in the lowered function), against
numpy written here; also through scf-to-cf (the dataflow form gives the same values)."""
from __future__ import annotations

import numpy as np
import pytest

import mlir_lite.dsl as tf
from mlir_lite.errors import DslError
from mlir_lite.ir.interpreter import run
from mlir_lite.passes import run_pipeline


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield


def test_seed_cond_matches_numpy():
    x, y, z = (tf.placeholder(tf.float32, []) for _ in range(3))
    r = tf.cond(x < y, lambda: tf.add(x, z), lambda: tf.square(y))
    sess = tf.Session()
    rng = np.random.default_rng(0)
    for _ in range(8):
        a, b, c = rng.standard_normal(3).astype(np.float32)
        want = a + c if a < b else b * b
        np.testing.assert_allclose(sess.run(r, {x: a, y: b, z: c}), want, rtol=1e-6)
    text = str(sess.lower(r, {x: 1.0, y: 2.0, z: 3.0}))
    assert '"scf.if"' in text and "cf.switch" not in text


def test_nested_cond_with_several_outputs_and_cf_lowering():
    x = tf.placeholder(tf.float32, [3])
    p = tf.placeholder(tf.bool, [])
    s = tf.reduce_sum(x)

    def inner():
        return tf.cond(s > 0.0, lambda: [x * 2.0, s], lambda: [-x, s * 0.0])
    a, b = tf.cond(p, inner, lambda: [tf.exp(x), tf.constant(1.0)])
    sess = tf.Session()
    rng = np.random.default_rng(1)
    for _ in range(6):
        xv = rng.standard_normal(3).astype(np.float32)
        pv = bool(rng.integers(2))
        sv = xv.sum()
        want = ((xv * 2, sv) if sv > 0 else (-xv, 0.0)) if pv else (np.exp(xv), 1.0)
        got = sess.run([a, b], {x: xv, p: pv})
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)
        m = sess.lower([a, b], {x: xv, p: pv})
        run_pipeline(m, "scf-to-cf")
        got2 = run(m, *[np.asarray(v) for v in (xv, np.array(pv))])
        np.testing.assert_allclose(got2[0], want[0], rtol=1e-5)


def test_while_loop_matches_numpy():
    n = tf.placeholder(tf.int64, [])
    v = tf.placeholder(tf.float32, [2])
    i, acc = tf.while_loop(lambda i, a: i < n,
                           lambda i, a: (i + 1, a * 0.5 + v), [tf.constant(0, tf.int64),
                                                               tf.zeros([2])])
    sess = tf.Session()
    for k in (0, 1, 5):
        vv = np.array([1.0, -2.0], np.float32)
        want = np.zeros(2, np.float32)
        for _ in range(k):
            want = want * 0.5 + vv
        got_i, got_a = sess.run([i, acc], {n: k, v: vv})
        assert got_i == k
        np.testing.assert_allclose(got_a, want, rtol=1e-6)


def test_while_loop_with_cond_in_body():
    x = tf.placeholder(tf.float32, [])
    # collatz-like: halve when > 1, else add 3; five steps
    def body(i, y):
        return i + 1, tf.cond(y > 1.0, lambda: y * 0.5, lambda: y + 3.0)
    _, r = tf.while_loop(lambda i, y: i < 5, body, [tf.constant(0), x])
    sess = tf.Session()
    for start in (0.3, 7.0, 100.0):
        y = np.float32(start)
        for _ in range(5):
            y = y * np.float32(0.5) if y > 1 else y + np.float32(3)
        np.testing.assert_allclose(sess.run(r, {x: start}), y, rtol=1e-6)


def test_errors_are_clear():
    x = tf.placeholder(tf.float32, [3])
    with pytest.raises(DslError, match="scalar bool"):
        tf.cond(x > 0.0, lambda: x, lambda: x)
    with pytest.raises(DslError, match="different|2 tensors"):
        tf.cond(tf.constant(True), lambda: [x, x], lambda: x)
    with pytest.raises(DslError, match="loop variable"):
        tf.while_loop(lambda a: tf.constant(True), lambda a: tf.concat([a, a], 0), [x])
