"""Session's executor: the compiled TVM path by default, the interpreter by name; a run-time
shape error is located at the user's op and names the placeholders and their fed shapes."""
from __future__ import annotations

import numpy as np
import pytest

import mlir_lite.dsl as tf
from mlir_lite.driver.executors import get_executor
from mlir_lite.errors import DslError


def test_default_executor_is_tvm_and_interpreter_selectable():
    assert tf.Session().executor.name == "tvm"
    assert get_executor().name == "tvm"
    x = tf.placeholder(tf.float32, [None, 2])
    y = x * 3.0 + 1.0
    xs = np.arange(6, dtype=np.float32).reshape(3, 2)
    want = xs * 3 + 1  # numpy oracle
    for name in ("tvm", "interpreter"):
        sess = tf.Session(executor=name)
        assert sess.executor.name == name
        np.testing.assert_allclose(sess.run(y, {x: xs}), want, rtol=1e-6)


@pytest.mark.parametrize("executor", ["tvm", "interpreter"])
def test_shape_mismatch_names_placeholders(executor):
    a = tf.placeholder(tf.float32, [None, 3], name="lhs")
    b = tf.placeholder(tf.float32, [None, 3], name="rhs")
    s = a + b
    line = test_shape_mismatch_names_placeholders.__code__.co_firstlineno + 4  # the decorator
    with pytest.raises(DslError) as e:
        tf.Session(executor=executor).run(s, {a: np.zeros((2, 3)), b: np.zeros((4, 3))})
    assert e.value.loc.line == line
    msg = str(e.value)
    assert "placeholder lhs" in msg and "fed shape (2, 3)" in msg
    assert "placeholder rhs" in msg and "fed shape (4, 3)" in msg
