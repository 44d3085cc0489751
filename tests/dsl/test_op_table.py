"""The DSL's op surfaces are what frontends/dsl/op_table.py lists, and nothing else.

Each surface (tf.X, tf.nn.X, tf.math.X, the symbolic Tensor's operators, F.X, the eager
Tensor's methods and operators) must expose exactly the table's names (plus a short list of
non-op helpers), every row must name registered `ml` ops, and the generated functions must
carry their names, signatures and docstrings.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import mlir_lite  # noqa: F401  (registers the dialects)
import mlir_lite.dsl as tf
from mlir_lite.dsl import eager as E
from mlir_lite.frontends.dsl import eager, functional, graph, nn, op_table, ops, symbolic
from mlir_lite.ir.core import OP_REGISTRY

TABLE = op_table.TABLE

# the eager Tensor's public attributes that are not ops (properties, autograd, conversions)
TENSOR_NON_OPS = {"shape", "size", "ndim", "dim", "numel", "dtype", "is_leaf", "requires_grad_",
                  "numpy", "item", "tolist", "detach", "zero_grad", "backward"}
# the symbolic namespace's names that are not op functions
SYMBOLIC_NON_OPS = {"nn", "train", "random", "math", "float16", "bfloat16", "float32",
                    "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "bool_",
                    "as_dtype", "Executor", "InterpreterExecutor", "get_executor",
                    "register_executor", "gradients", "Graph", "Op", "Tensor",
                    "get_default_graph", "reset_default_graph", "Session", "InteractiveSession",
                    "Variable", "all_variables", "assign", "assign_add", "assign_sub",
                    "global_variables", "global_variables_initializer", "group",
                    "initialize_all_variables", "no_op", "placeholder", "random_normal",
                    "random_uniform", "set_random_seed", "trainable_variables",
                    "truncated_normal", "variables_initializer", "cond", "while_loop",
                    "constant", "fill", "ones", "ones_like", "zeros", "zeros_like"}
# operator dunders Python gives every class (object's comparisons, hashing, ...)
_OBJECT = set(dir(object))


def _operators(cls: type) -> set:
    """The op dunders `cls` defines (its own or inherited from a DSL base, not object's)."""
    names = set()
    for n in dir(cls):
        if not (n.startswith("__") and n.endswith("__")):
            continue
        if n in _OBJECT and getattr(cls, n) is getattr(object, n):
            continue
        fn = getattr(cls, n)
        if getattr(fn, "_op_row", None) is not None:
            names.add(n)
    return names


def test_rows_are_unique_and_name_registered_ops() -> None:
    assert len({d.name for d in TABLE}) == len(TABLE)
    for d in TABLE:
        assert d.kind in ("unary", "binary", "reduction", "custom"), d
        assert d.ops, d
        for op in d.ops:
            assert op in OP_REGISTRY, f"{d.name}: {op} is not a registered ml op"
        assert d.custom <= set(op_table.SURFACES), d
        for s in d.custom:
            assert d.names(s), f"{d.name}: custom on {s} but has no name there"
        if d.kind == "custom":  # nothing to generate: every function surface is hand-written
            for s in op_table.FUNCTION_SURFACES:
                assert not d.names(s) or s in d.custom, (d.name, s)
    for s in op_table.SURFACES:
        ns = op_table.names(s)
        assert len(ns) == len(set(ns)), f"duplicate names on {s}: {ns}"


def test_symbolic_ops_module_is_the_table() -> None:
    want = set(op_table.names("tf"))
    assert set(ops.__all__) == want | set(ops.HELPERS)
    for d in op_table.entries("tf"):
        fns = {id(getattr(ops, n)) for n in d.tf}
        assert len(fns) == 1, f"{d.name}: aliases {d.tf} must be one function"
        assert ops.IMPLS[d.name] is getattr(ops, d.tf[0])


def test_symbolic_namespace_is_the_table() -> None:
    want = set(op_table.names("tf"))
    assert set(tf.__all__) == want | SYMBOLIC_NON_OPS
    assert set(symbolic.__all__) == set(tf.__all__)
    for n in want:
        assert getattr(tf, n) is getattr(ops, n), n


def test_nn_is_the_table() -> None:
    assert set(nn.__all__) == set(op_table.names("nn"))
    for d in op_table.entries("nn"):
        fn = getattr(tf.nn, d.nn[0])
        assert all(getattr(tf.nn, n) is fn for n in d.nn)
        if d.tf and "nn" not in d.custom:  # one function on both: tf.nn.relu is tf.relu
            assert fn is getattr(tf, d.tf[0]), d.name


def test_math_is_the_table() -> None:
    assert set(vars(tf.math)) == set(op_table.names("math"))
    for d in op_table.entries("math"):
        want = getattr(tf, d.tf[0]) if d.tf else getattr(tf.nn, d.nn[0])
        assert all(getattr(tf.math, n) is want for n in d.math), d.name


def test_functional_is_the_table() -> None:
    assert set(functional.__all__) == set(op_table.names("torch")) | set(functional.HELPERS)
    public_e = set(E.__all__) - {"Tensor", "tensor", "no_grad", "enable_grad",
                                 "is_grad_enabled", "zeros", "ones", "randn", "from_numpy",
                                 "as_eager", "SGD"}
    assert public_e == set(functional.__all__)
    for d in op_table.entries("torch"):
        assert functional.IMPLS[d.name] is getattr(E, d.torch[0])


def test_eager_tensor_is_the_table() -> None:
    want = set(op_table.names("tensor"))
    public = {n for n in dir(eager.Tensor) if not n.startswith("_")}
    assert public - TENSOR_NON_OPS == {n for n in want if not n.startswith("_")}
    dunders = {n for n in want if n.startswith("__")}
    generated = {n for d in op_table.entries("tensor") if "tensor" not in d.custom
                 for n in d.tensor if n.startswith("__")}
    assert _operators(eager.Tensor) == generated
    for n in dunders:
        assert n in vars(eager.Tensor), n


def test_symbolic_tensor_is_the_table() -> None:
    want = set(op_table.names("graph"))
    assert _operators(graph.Tensor) == want
    assert not {n for n in want if not n.startswith("__")}  # no named methods there


def test_custom_rows_are_hand_written_and_generated_rows_are_not() -> None:
    mods = {"tf": ops, "nn": nn, "torch": functional}
    for d in TABLE:
        for s, mod in mods.items():
            for n in d.names(s):
                fn = getattr(mod, n)
                assert fn.__module__ == mod.__name__ or (s == "nn" and d.tf), (d.name, s, n)
                assert fn.__name__ == d.names(s)[0] or (s == "nn" and d.tf) \
                    or s in d.custom, (d.name, s, n, fn.__name__)
                if s not in d.custom:
                    assert fn.__doc__, (d.name, s, n)


def test_generated_signatures() -> None:
    sig = inspect.signature
    assert list(sig(tf.add).parameters) == ["x", "y", "name"]
    assert list(sig(tf.exp).parameters) == ["x", "name"]
    assert list(sig(tf.nn.leaky_relu).parameters) == ["features", "alpha", "name"]
    assert sig(tf.nn.leaky_relu).parameters["alpha"].default == 0.2
    assert list(sig(tf.reshape).parameters) == ["tensor", "shape", "name"]
    assert list(sig(E.add).parameters) == ["a", "b"]
    assert list(sig(E.exp).parameters) == ["x"]
    assert list(sig(E.softmax).parameters) == ["x", "dim"]
    assert list(sig(eager.Tensor.softmax).parameters) == ["self", "dim"]
    assert list(sig(eager.Tensor.sum).parameters) == ["self", "dim", "keepdim"]
    assert tf.sub is tf.subtract and tf.sub.__name__ == "subtract"
    assert E.sub.__name__ == "sub" and E.sub.__qualname__ == "sub"
    assert eager.Tensor.__add__.__qualname__ == "Tensor.__add__"
    with pytest.raises(TypeError):
        tf.add(1.0)
    with pytest.raises(TypeError):
        tf.exp(1.0, bogus=1)


def test_a_new_elementwise_row_reaches_every_surface() -> None:
    """What one more `unary(...)` row gives: tf.X, F.X and Tensor.X, each running the op."""
    d = op_table.unary("softsign_test", "ml.exp")
    tf_fn, e_fn = ops._generated(d, "softsign_test"), functional._generated(d, "softsign_test")
    assert d.tf == d.torch == d.tensor == ("softsign_test",)
    a = np.array([0.5, -1.0], np.float32)
    np.testing.assert_allclose(e_fn(E.tensor(a)).numpy(), np.exp(a), rtol=1e-6)
    with graph.Graph().as_default():
        y = tf_fn(tf.constant(a))
        assert y.op == "ml.exp" and y.shape == (2,)
    m = op_table._method(d, e_fn, "softsign_test")
    np.testing.assert_allclose(m(E.tensor(a)).numpy(), np.exp(a), rtol=1e-6)


def test_populate_checks_custom_and_generated() -> None:
    ns = {"__name__": "fake"}
    with pytest.raises(TypeError, match="custom"):  # a custom row without its wrapper
        op_table.populate("tf", ns, ops._generated)
    ns = {"__name__": "fake", "exp": lambda x: x}
    with pytest.raises(TypeError, match="hand-written"):  # a generated row written by hand
        op_table.populate("tf", ns, ops._generated)


def test_log1p_row_reaches_every_surface_with_values_and_gradients() -> None:
    """ml.log1p was added with one table row: tf.log1p / tf.math.log1p (compiled by the
    Session), F.log1p and Tensor.log1p, forward against numpy's log1p and d/dx = 1/(1+x)."""
    xv = np.array([[1e-7, 0.5, 3.0], [-0.5, 2.0, 1e-3]], np.float32)
    want = np.log1p(xv.astype(np.float64))
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.math.log1p(x)
    (g,) = tf.gradients(tf.reduce_sum(y), [x])
    got, grad = tf.Session().run([y, g], {x: xv})
    np.testing.assert_allclose(got, want, rtol=2e-7)
    np.testing.assert_allclose(grad, 1 / (1 + xv.astype(np.float64)), rtol=1e-6)
    assert tf.log1p is tf.math.log1p
    t = E.tensor(xv, requires_grad=True)
    (E.log1p(t) + t.log1p()).sum().backward()
    np.testing.assert_allclose(t.grad.data, 2 / (1 + xv.astype(np.float64)), rtol=1e-6)


def test_reduce_any_row_reaches_tf_and_torch_surfaces() -> None:
    """ml.reduce_any was added with one reduction row: tf.reduce_any / tf.math.reduce_any (with
    TF's axis / keepdims / reduction_indices), F.any and Tensor.any (torch's dim / keepdim)."""
    b = np.array([[True, False, False], [False, False, False]])
    tf.reset_default_graph()
    x = tf.placeholder(tf.bool, [None, 3])
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(tf.reduce_any(x, axis=1), {x: b}), [True, False])
    np.testing.assert_array_equal(sess.run(tf.math.reduce_any(x, reduction_indices=[0],
                                                              keep_dims=True), {x: b}),
                                  [[True, False, False]])
    assert bool(sess.run(tf.reduce_any(x), {x: b})) is True
    t = E.tensor(b)
    np.testing.assert_array_equal(E.any(t, dim=0).data, [True, False, False])
    np.testing.assert_array_equal(t.any(1, keepdim=True).data, [[True], [False]])
