"""The symbolic (TensorFlow 1 style, define-then-run) DSL in one namespace.

    import mlir_lite.dsl as tf
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))
    ...
    sess = tf.Session(); sess.run(tf.global_variables_initializer())

Building: graph.py (nodes, locations), ops.py (math, arrays, reductions), nn.py (`tf.nn`),
state.py (placeholders, variables, assigns, initializers, random tensors), gradients.py
(`tf.gradients` via the autodiff pass), train.py (`tf.train` optimizers). Running: session.py
(signature cache, variables), lowering.py (graph -> one `func.func`), executor.py (the seam
to the interpreter or a compiled backend).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mlir_lite.driver.executors import (
                     Executor,
                     InterpreterExecutor,
                     get_executor,
                     register_executor,
)

from . import nn, op_table, ops, train
from .control_flow import cond, while_loop
from .dtypes import (
                     as_dtype,
                     bfloat16,
                     bool_,
                     float16,
                     float32,
                     float64,
                     int8,
                     int16,
                     int32,
                     int64,
                     uint8,
)
from .gradients import gradients
from .graph import Graph, Op, Tensor, get_default_graph, reset_default_graph
from .ops import constant, fill, ones, ones_like, zeros, zeros_like
from .session import InteractiveSession, Session
from .state import (
                     Variable,
                     all_variables,
                     assign,
                     assign_add,
                     assign_sub,
                     global_variables,
                     global_variables_initializer,
                     group,
                     initialize_all_variables,
                     no_op,
                     placeholder,
                     random_normal,
                     random_uniform,
                     set_random_seed,
                     trainable_variables,
                     truncated_normal,
                     variables_initializer,
)

bool = bool_  # noqa: A001  (tf.bool)
random = SimpleNamespace(normal=random_normal, uniform=random_uniform,
                         truncated_normal=truncated_normal, set_seed=set_random_seed)
# the op functions, tf.math and __all__'s op names come from op_table.TABLE ("tf", "math")
globals().update({n: getattr(ops, n) for n in op_table.names("tf")})
math = SimpleNamespace(**{n: (ops.IMPLS.get(d.name) or nn.IMPLS[d.name])
                          for d in op_table.entries("math") for n in d.math})

__all__ = [
    "nn", "train", "random", "math", "float16", "bfloat16", "float32", "float64", "int8",
    "int16", "int32", "int64", "uint8", "bool", "bool_", "as_dtype", "Executor",
    "InterpreterExecutor", "get_executor", "register_executor", "gradients", "Graph", "Op",
    "Tensor", "get_default_graph", "reset_default_graph", "Session", "InteractiveSession",
    "Variable", "all_variables", "assign", "assign_add", "assign_sub",
    "global_variables", "global_variables_initializer", "group", "initialize_all_variables",
    "no_op", "placeholder", "random_normal", "random_uniform", "set_random_seed",
    "trainable_variables", "truncated_normal", "variables_initializer", "cond", "while_loop",
    "constant", "fill", "ones", "ones_like", "zeros", "zeros_like",
] + op_table.names("tf")


def __getattr__(name: str) -> Any:
    """For type checkers: the op names set above from the table are this module's functions."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
