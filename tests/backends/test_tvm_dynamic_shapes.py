"""TVM lowering of `ml.expand_dynamic` (a run-time shape tensor whose dims are known at compile
time as expressions) against the reference interpreter, compiled DSL training against the
interpreter executor (same losses, rtol 1e-4), and the exporters' shape computations (Shape ->
Gather -> Unsqueeze -> Concat -> Reshape/Expand/Slice) keeping the inputs' symbols so that one
compile serves every size (exact results against numpy)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

pytest.importorskip("tvm")

from mlir_lite import DenseAttr, FuncOp, ModuleOp  # noqa: E402
from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.ir.types import tensor  # noqa: E402

R = np.random.default_rng(1)


def _module(arg_types, body) -> ModuleOp:
    f = FuncOp.make("main", arg_types, [])
    b = Builder.at_end(f.entry_block)
    b.op("func.return", *body(b, f.args))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m


def test_expand_dynamic_to_the_shape_of_a_symbolic_value() -> None:
    # x [N, 1] expanded to shape(y), y [N, 4]; and a constant target shape [2, 3, 1] for z [3, 5]
    m = _module([tensor(["N", 1]), tensor(["N", 4]), tensor([3, 5])], lambda b, a: [
        b.op("ml.expand_dynamic", a[0], b.op("ml.shape", a[1])),
        b.op("ml.expand_dynamic", a[2], b.op("ml.constant", value=DenseAttr(
            np.array([2, 3, 1], np.int64))))])
    cf = compile_function(m)
    for n in (1, 5):
        args = [R.standard_normal((n, 1)).astype(np.float32),
                R.standard_normal((n, 4)).astype(np.float32),
                R.standard_normal((3, 5)).astype(np.float32)]
        got, want = cf(*args), run(m, *args)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=0, atol=0)
    # oracle independent of the interpreter for one case
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    np.testing.assert_array_equal(cf(x, np.zeros((3, 4), np.float32), args[2])[0],
                                  np.broadcast_to(x, (3, 4)))


def test_expand_dynamic_runtime_shape_mismatch_is_an_error() -> None:
    # x [N, 1] expanded to the constant shape [2, 3]: N must be 1 or 2 at run time
    m = _module([tensor(["N", 1])], lambda b, a: [
        b.op("ml.expand_dynamic", a[0], b.op("ml.constant", value=DenseAttr(
            np.array([2, 3], np.int64))))])
    cf = compile_function(m)
    got = cf(np.array([[1.0], [2.0]], np.float32))[0]
    np.testing.assert_array_equal(got, np.array([[1.0] * 3, [2.0] * 3], np.float32))
    with pytest.raises(ExecutionError, match="expand_dynamic"):
        cf(np.ones((3, 1), np.float32))


def test_expand_dynamic_to_a_shape_known_only_at_run_time() -> None:
    """The result dims come from the values of the shape operand: a shape step binds them."""
    m = _module([tensor([2, 1]), tensor([2], "i64")], lambda b, a: [
        b.op("ml.expand_dynamic", a[0], a[1])])
    cf = compile_function(m)
    x = np.array([[1.0], [2.0]], np.float32)
    for shape in ([2, 3], [2, 1], [1, 5]):
        np.testing.assert_array_equal(cf(x, np.array(shape, np.int64))[0],
                                      np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)))
    with pytest.raises(ExecutionError):
        cf(x, np.array([3, 3], np.int64))  # 2 does not broadcast to 3


def test_tf1_softmax_regression_tvm_matches_interpreter() -> None:
    import mlir_lite.dsl as tf
    rng = np.random.default_rng(0)
    xs = (0.05 * rng.standard_normal((5, 16, 784))).astype(np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, (5, 16))]
    losses = {}
    for ex in ("interpreter", "tvm"):
        x = tf.placeholder(tf.float32, [None, 784])
        y_ = tf.placeholder(tf.float32, [None, 10])
        W = tf.Variable(tf.zeros([784, 10]))
        y = tf.nn.softmax(tf.matmul(x, W))
        ce = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
        step = tf.assign(W, W - 0.5 * tf.gradients(ce, [W])[0])
        sess = tf.Session(executor=ex)
        sess.run(tf.initialize_all_variables())
        out = []
        for i in range(5):
            out.append(float(sess.run(ce, feed_dict={x: xs[i], y_: ys[i]})))
            sess.run(step, feed_dict={x: xs[i], y_: ys[i]})
        losses[ex] = out
    assert losses["interpreter"][0] == pytest.approx(np.log(10), rel=1e-5)
    assert losses["interpreter"][-1] < losses["interpreter"][0]
    np.testing.assert_allclose(losses["tvm"], losses["interpreter"], rtol=1e-4)


def _i64(*v: int):
    return lambda b: b.op("ml.constant", value=DenseAttr(np.array(v, np.int64)))


def _shape_chain_module() -> ModuleOp:
    """The exporters' shape computations: Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    (a multi-head split back to [N, 768]), Expand of a class token to [N, 1, 64], and a
    ConstantOfShape of a value's shape."""
    def body(b, a):
        x, tok = a
        zero = b.op("ml.constant", value=DenseAttr(np.array(0, np.int64)))  # a 0-d index
        n = b.op("ml.unsqueeze", b.op("ml.gather", b.op("ml.shape", x), zero, axis=0),
                 axes=(0,))
        flat = b.op("ml.reshape_dynamic", x, b.op("ml.concat", n, _i64(-1)(b), axis=0))
        cls = b.op("ml.expand_dynamic", tok, b.op("ml.concat", n, _i64(1, 1)(b), axis=0))
        ones = b.op("ml.constant_of_shape_dynamic", b.op("ml.shape", x),
                    value=DenseAttr(np.ones((1,), np.float32)))
        return [flat, cls, ones]
    return _module([tensor(["N", 12, 64]), tensor([1, 1, 64])], body)


def test_shape_computations_keep_the_inputs_symbols() -> None:
    from mlir_lite.ir.types import TensorType, f32
    from mlir_lite.passes.registry import run_pipeline
    m = _shape_chain_module()
    ret = m["main"].return_op
    assert all(v.type.shape is None or None in v.type.shape for v in ret.operands)
    run_pipeline(m, "shape-inference")
    assert [v.type for v in ret.operands] == [
        TensorType(f32, ("N", 768)), TensorType(f32, ("N", 1, 64)),
        TensorType(f32, ("N", 12, 64))]


def test_shape_computations_compile_for_every_batch_size() -> None:
    """Before the shape values were tracked these refused to lower ('dim 0 of the result (?)
    is decided by run-time values'); one compile now serves N = 1, 3, 8."""
    from mlir_lite.driver import compile
    m = _shape_chain_module()
    fn = compile(m, opt_level=1)
    for n in (1, 3, 8):
        args = [R.standard_normal((n, 12, 64)).astype(np.float32),
                R.standard_normal((1, 1, 64)).astype(np.float32)]
        got = fn(*args)
        np.testing.assert_array_equal(got[0], args[0].reshape(n, 768))
        np.testing.assert_array_equal(got[1], np.broadcast_to(args[1], (n, 1, 64)))
        np.testing.assert_array_equal(got[2], np.ones((n, 12, 64), np.float32))


def test_dsl_gradient_of_a_non_scalar_target_keeps_the_batch_symbol() -> None:
    """tf.gradients seeds a non-scalar target with ones of its shape: from ml.shape, so the
    seed is [N, 3], not [?, ?], and the graph compiles (it did not) for any batch size."""
    import mlir_lite.dsl as tf
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    (g,) = tf.gradients(x * x + 1.0, [x])
    sess = tf.Session()
    for n in (2, 5):
        xv = R.standard_normal((n, 3)).astype(np.float32)
        np.testing.assert_allclose(sess.run(g, {x: xv}), 2 * xv, rtol=1e-6)
    assert sess.compile_count == 1


def _position_slice_model(max_len: int = 512) -> onnx.ModelProto:
    """BERT's position ids as both exporters write them: a [1, 512] buffer sliced to the input's
    sequence length (Shape -> Gather -> Unsqueeze -> Slice ends), added to the embeddings."""
    from onnx import TensorProto, helper, numpy_helper
    pos = numpy_helper.from_array(np.arange(max_len, dtype=np.float32).reshape(1, max_len), "pos")
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              (("one", 1), ("zeros", [0]), ("axes", [1]))]
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "one"], ["seq"], axis=0),
             helper.make_node("Unsqueeze", ["seq", "zeros"], ["end"]),
             helper.make_node("Slice", ["pos", "zeros", "end", "axes"], ["p"]),
             helper.make_node("Add", ["x", "p"], ["y"])]
    g = helper.make_graph(nodes, "pos", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["batch", "seq"])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["batch", "seq"])], [pos] + consts)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_buffer_sliced_to_the_sequence_length_compiles_once_for_every_length() -> None:
    """`pos[:, :seq]` is Min(512, seq): compiled as seq under a run-time guard, so one compile
    serves seq = 1..512 and a longer input is an ExecutionError naming the slice, never a
    wrong answer."""
    from mlir_lite.driver import compile
    fn = compile(_position_slice_model())
    for b, s in ((1, 8), (2, 64), (1, 512)):
        x = R.standard_normal((b, s)).astype(np.float32)
        np.testing.assert_array_equal(fn(x)[0], x + np.arange(s, dtype=np.float32))
    with pytest.raises(ExecutionError, match="slice"):
        fn(np.zeros((1, 600), np.float32))


def test_run_time_axes_and_repeats_with_known_entries_take_the_static_forms() -> None:
    from mlir_lite.ir.types import TensorType, f32
    from mlir_lite.passes.registry import run_pipeline
    m = _module([tensor(["N", 3])], lambda b, a: [
        b.op("ml.unsqueeze_dynamic", a[0], _i64(0, 2)(b)),
        b.op("ml.tile_dynamic", a[0], b.op("ml.concat", _i64(2)(b), _i64(1)(b), axis=0))])
    run_pipeline(m, "shape-inference")
    ret = m["main"].return_op
    assert [v.type for v in ret.operands] == [TensorType(f32, (1, "N", 1, 3)),
                                              TensorType(f32, ("2*N", 3))]  # N tiled twice
