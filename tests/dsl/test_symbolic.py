"""The symbolic (TF1 style) DSL: the MNIST tutorial program, feeds and fetches, errors with
locations, the compile cache, and gradients against numpy formulas written here."""
from __future__ import annotations

import collections
import os

import numpy as np
import pytest

import mlir_lite.dsl as tf
from mlir_lite.dsl.datasets import get_mnist
from mlir_lite.errors import DslError, MlirLiteError

THIS = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_tf1_mnist_program_trains():
    # The program as written (50 steps), plus the tutorial's evaluation lines.
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))
    y_ = tf.placeholder(tf.float32, [None, 10])
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    learning_rate = 0.5
    W_grad = tf.gradients(cross_entropy, [W])[0]
    train_step = tf.assign(W, W - learning_rate * W_grad)
    sess = tf.Session()
    sess.run(tf.initialize_all_variables())
    mnist = get_mnist(flatten=True, onehot=True)
    correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    test_feed = {x: mnist.test.images, y_: mnist.test.labels}
    loss0, acc0 = sess.run([cross_entropy, accuracy], feed_dict=test_feed)
    assert abs(loss0 - np.log(10)) < 1e-5  # W = 0: uniform predictions
    for _i in range(50):
        batch_xs, batch_ys = mnist.train.next_batch(100)
        sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
    loss1, acc1 = sess.run([cross_entropy, accuracy], feed_dict=test_feed)
    assert loss1 < 0.6 * loss0
    assert acc1 > 0.8 and acc1 > acc0 + 0.5
    # train_step, the init op, and the evaluation pair: three compiled functions in all
    assert sess.compile_count == 3


def test_gradient_matches_numpy_formula():
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((7, 5)).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 7)]
    w0 = rng.standard_normal((5, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5])
    y_ = tf.placeholder(tf.float32, [None, 3])
    W = tf.Variable(w0)
    b = tf.Variable(tf.zeros([3]))
    logits = tf.matmul(x, W) + b
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    gW, gb = tf.gradients(loss, [W, b])
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    got_loss, got_gW, got_gb = sess.run([loss, gW, gb], {x: xs, y_: ys})
    p = np_softmax(xs @ w0)
    want_loss = -(ys * np.log(p)).sum(1).mean()
    d = (p - ys) / len(xs)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(got_gW, xs.T @ d, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_gb, d.sum(0), rtol=1e-4, atol=1e-6)


def test_gradients_none_for_unconnected_and_optimizer_step():
    x = tf.placeholder(tf.float32, [None, 2])
    W = tf.Variable(np.ones((2, 1), np.float32))
    unused = tf.Variable(np.ones(3, np.float32))
    loss = tf.reduce_sum(tf.square(tf.matmul(x, W)))
    assert tf.gradients(loss, [W, unused])[1] is None
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[W])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        xs = np.array([[1.0, 2.0]], np.float32)
        assert sess.run(step, {x: xs}) is None
        # d/dW sum((x W)^2) = 2 x^T (x W) = 2 * [1, 2]^T * 3
        np.testing.assert_allclose(W.eval(), 1 - 0.1 * np.array([[6.0], [12.0]]), rtol=1e-6)


def test_unfed_placeholder_names_it_and_its_line():
    x = tf.placeholder(tf.float32, [None, 4], name="images")
    labels = tf.placeholder(tf.float32, [None, 2])  # noqa: F841
    y = tf.reduce_sum(x * 2.0)
    sess = tf.Session()
    with pytest.raises(DslError) as e:
        sess.run(y)
    msg = str(e.value)
    assert "'x'" in msg and "images" in msg and "must be fed" in msg
    assert THIS in msg  # the location of the placeholder's creation
    assert e.value.loc.line == test_unfed_placeholder_names_it_and_its_line.__code__.co_firstlineno + 1


def test_feed_shape_mismatch_names_placeholder():
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.reduce_sum(x)
    sess = tf.Session()
    with pytest.raises(DslError, match=r"'x'.*shape \(2, 5\).*\(\?, 4\)"):
        sess.run(y, {x: np.zeros((2, 5), np.float32)})
    with pytest.raises(DslError, match="does not convert safely"):
        sess.run(y, {x: np.zeros((2, 4), np.complex64)})


def test_construction_shape_error_points_at_the_line():
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([785, 10]))
    with pytest.raises(DslError) as e:
        tf.matmul(x, W)
    line = test_construction_shape_error_points_at_the_line.__code__.co_firstlineno + 4
    assert e.value.loc.line == line and THIS in str(e.value)
    assert "784" in str(e.value) and "785" in str(e.value) and "'W'" in str(e.value)
    assert isinstance(e.value, MlirLiteError)


def test_runtime_shape_mismatch_between_feeds():
    a = tf.placeholder(tf.float32, [None, 3])
    b = tf.placeholder(tf.float32, [None, 3])
    s = a + b
    with pytest.raises(DslError) as e:
        tf.Session().run(s, {a: np.zeros((2, 3)), b: np.zeros((4, 3))})
    assert e.value.loc.line == test_runtime_shape_mismatch_between_feeds.__code__.co_firstlineno + 3


def test_uninitialized_variable_and_assign_shape():
    v = tf.Variable(tf.zeros([2, 2]))
    with pytest.raises(DslError, match="before it is initialized"):
        tf.Session().run(v)
    with pytest.raises(DslError, match="shape"):
        tf.assign(v, tf.zeros([3]))


def test_fetch_structures():
    x = tf.placeholder(tf.float32, [None])
    a, b = x * 2.0, x + 1.0
    init = tf.no_op()
    sess = tf.Session()
    feed = {x: [1.0, 2.0]}
    out = sess.run({"a": a, "pair": (b, [a, init])}, feed)
    np.testing.assert_allclose(out["a"], [2, 4])
    np.testing.assert_allclose(out["pair"][0], [2, 3])
    assert isinstance(out["pair"], tuple) and out["pair"][1][1] is None
    P = collections.namedtuple("P", "first second")
    p = sess.run(P(a, b), feed)
    assert isinstance(p, P) and p.second[1] == 3
    s = sess.run(tf.reduce_sum(a), feed)
    assert isinstance(s, np.float32) and s == 6
    with pytest.raises(DslError, match="cannot fetch"):
        sess.run([a, 3], feed)


def test_one_compile_per_signature_across_batch_sizes():
    x = tf.placeholder(tf.float32, [None, 3])
    W = tf.Variable(np.ones((3, 2), np.float32))
    y = tf.matmul(x, W)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    assert sess.compile_count == 1
    for n in (1, 5, 17, 5):
        assert sess.run(y, {x: np.ones((n, 3))}).shape == (n, 2)
    assert sess.compile_count == 2
    sess.run([y, tf.reduce_sum(y)], {x: np.ones((4, 3))})  # other fetches: a new function
    assert sess.compile_count == 3
    text = str(sess.lower(y, {x: np.ones((2, 3))}))
    assert 'tensor<?x3xf32, ["N", 3]>' in text


def test_assign_reads_old_value_and_updates_state():
    v = tf.Variable(np.array([1.0, 2.0], np.float32))
    inc = tf.assign_add(v, [10.0, 10.0])
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    old, new = sess.run([v, inc])
    np.testing.assert_allclose(old, [1, 2])
    np.testing.assert_allclose(new, [11, 12])
    np.testing.assert_allclose(sess.run(v), [11, 12])
    got = sess.run(v)
    got[0] = 99.0  # the returned array is the caller's
    np.testing.assert_allclose(sess.run(v), [11, 12])
    with pytest.raises(DslError, match="assigned twice"):
        sess.run([tf.assign(v, v * 2.0), tf.assign(v, v * 3.0)])


def test_ops_against_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3, 4])
    fetch = {
        "sum1k": tf.reduce_sum(x, axis=1, keepdims=True),
        "mean": tf.reduce_mean(x, reduction_indices=[0, 2], keep_dims=False),
        "max": tf.reduce_max(x, -1),
        "all": tf.reduce_sum(x),
        "argmin": tf.argmin(x, 2),
        "tr": tf.transpose(x, [2, 0, 1]),
        "rs": tf.reshape(x, [-1, 12]),
        "cat": tf.concat([x, x * 2.0], axis=2),
        "bc": x - tf.constant([1.0, 2.0, 3.0, 4.0]),
        "act": tf.nn.relu(x) + tf.sigmoid(x) * tf.tanh(x),
        "lsm": tf.nn.log_softmax(x),
        "idx": x[:, 1, ::2],
        "div": 1.0 / (tf.exp(x) + 1.0),
        "mm": tf.matmul(x, x, transpose_b=True),
    }
    out = tf.Session().run(fetch, {x: a})
    want = {
        "sum1k": a.sum(1, keepdims=True), "mean": a.mean((0, 2)), "max": a.max(-1),
        "all": a.sum(), "argmin": a.argmin(2), "tr": a.transpose(2, 0, 1),
        "rs": a.reshape(-1, 12), "cat": np.concatenate([a, 2 * a], 2),
        "bc": a - np.array([1, 2, 3, 4]), "act": np.maximum(a, 0) + np.tanh(a) / (1 + np.exp(-a)),
        "lsm": np.log(np_softmax(a)), "idx": a[:, 1, ::2], "div": 1 / (np.exp(a) + 1),
        "mm": a @ a.transpose(0, 2, 1),
    }
    for k, v in want.items():
        np.testing.assert_allclose(out[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    assert out["argmin"].dtype == np.int64


def test_random_initializers_are_seeded_and_truncated():
    tf.set_random_seed(7)
    v = tf.Variable(tf.truncated_normal([1000], stddev=0.1))
    u = tf.Variable(tf.random_uniform([3], minval=2.0, maxval=3.0))
    s1 = tf.Session()
    s1.run(tf.global_variables_initializer())
    s2 = tf.Session()
    s2.run(tf.global_variables_initializer())
    a = s1.run(v)
    np.testing.assert_array_equal(a, s2.run(v))
    assert np.abs(a).max() <= 0.2 + 1e-6 and 0.07 < a.std() < 0.1
    assert np.all((s1.run(u) >= 2) & (s1.run(u) < 3))


def test_conv2d_and_pool_nhwc_against_numpy():
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    ws = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    y = tf.nn.conv2d(x, tf.constant(ws), strides=[1, 1, 1, 1], padding="SAME")
    p = tf.nn.max_pool(y, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    got_y, got_p = tf.Session().run([y, p], {x: xs})
    pad = np.pad(xs, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((2, 6, 6, 4), np.float32)
    for i in range(6):
        for j in range(6):
            want[:, i, j, :] = np.einsum("nhwc,hwco->no", pad[:, i:i + 3, j:j + 3, :], ws)
    np.testing.assert_allclose(got_y, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_p, want.reshape(2, 3, 2, 3, 2, 4).max((2, 4)), rtol=1e-4,
                               atol=1e-4)


def test_executor_seam_compiles_once_per_signature():
    calls = []

    class Counting(tf.InterpreterExecutor):
        name = "counting"

        def compile(self, module, func, options):
            calls.append(str(module))
            return super().compile(module, func, options)

    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.reduce_sum(x * x, axis=1)
    sess = tf.Session(executor=Counting())
    for n in (3, 8):
        np.testing.assert_allclose(sess.run(y, {x: np.ones((n, 2))}), np.full(n, 2.0))
    assert len(calls) == 1 and "func.func @main" in calls[0]
    with pytest.raises(MlirLiteError, match="unknown executor"):
        tf.Session(executor="nope")


def test_forward_through_tvm_executor():
    pytest.importorskip("tvm")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((6, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6])
    labels = tf.placeholder(tf.float32, [None, 3])
    W = tf.Variable(w0)
    y = tf.nn.softmax(tf.matmul(x, W))
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y, 1), tf.argmax(labels, 1)), tf.float32))
    xs = rng.standard_normal((10, 6)).astype(np.float32)
    ls = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 10)]
    sess = tf.Session(executor="tvm")
    sess.run(tf.global_variables_initializer())
    got_y, got_acc = sess.run([y, acc], {x: xs, labels: ls})
    np.testing.assert_allclose(got_y, np_softmax(xs @ w0), rtol=1e-5, atol=1e-6)
    assert got_acc == np.float32(((xs @ w0).argmax(1) == ls.argmax(1)).mean())
