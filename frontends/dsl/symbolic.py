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

from mlir_lite.driver.executors import (
                     Executor,
                     InterpreterExecutor,
                     get_executor,
                     register_executor,
)

from . import nn, train
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
from .ops import (
                     abs,
                     add,
                     add_n,
                     argmax,
                     argmin,
                     cast,
                     ceil,
                     concat,
                     constant,
                     cos,
                     div,
                     divide,
                     equal,
                     erf,
                     exp,
                     expand_dims,
                     fill,
                     floor,
                     greater,
                     greater_equal,
                     identity,
                     less,
                     less_equal,
                     log,
                     logical_and,
                     logical_not,
                     logical_or,
                     matmul,
                     maximum,
                     minimum,
                     mul,
                     multiply,
                     neg,
                     negative,
                     not_equal,
                     one_hot,
                     ones,
                     ones_like,
                     pow,
                     reciprocal,
                     reduce_max,
                     reduce_mean,
                     reduce_min,
                     reduce_prod,
                     reduce_sum,
                     relu,
                     reshape,
                     rsqrt,
                     sigmoid,
                     sign,
                     sin,
                     sqrt,
                     square,
                     squeeze,
                     sub,
                     subtract,
                     tanh,
                     transpose,
                     truediv,
                     where,
                     zeros,
                     zeros_like,
)
from .ops import shape_of as shape
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
math = SimpleNamespace(exp=exp, log=log, sqrt=sqrt, rsqrt=rsqrt, tanh=tanh, sigmoid=sigmoid,
                       abs=abs, square=square, reduce_sum=reduce_sum, reduce_mean=reduce_mean,
                       reduce_max=reduce_max, reduce_min=reduce_min, argmax=argmax,
                       argmin=argmin, equal=equal, maximum=maximum, minimum=minimum,
                       add=add, subtract=subtract, multiply=multiply, divide=divide,
                       negative=negative, pow=pow, log_softmax=nn.log_softmax,
                       softmax=nn.softmax, reciprocal=reciprocal)

__all__ = [
    "nn", "train", "random", "math", "float16", "bfloat16", "float32", "float64", "int8",
    "int16", "int32", "int64", "uint8", "bool", "bool_", "as_dtype", "Executor",
    "InterpreterExecutor", "get_executor", "register_executor", "gradients", "Graph", "Op",
    "Tensor", "get_default_graph", "reset_default_graph", "Session", "InteractiveSession",
    "Variable", "all_variables", "assign", "assign_add", "assign_sub",
    "global_variables", "global_variables_initializer", "group", "initialize_all_variables",
    "no_op", "placeholder", "random_normal", "random_uniform", "set_random_seed",
    "trainable_variables", "truncated_normal", "variables_initializer", "shape",
    "abs", "add", "add_n", "argmax", "argmin", "cast", "ceil", "concat", "constant", "cos",
    "div", "divide", "equal", "erf", "exp", "expand_dims", "fill", "floor", "greater",
    "greater_equal", "identity", "less", "less_equal", "log", "logical_and", "logical_not",
    "logical_or", "matmul", "maximum", "minimum", "mul", "multiply", "neg", "negative",
    "not_equal", "one_hot", "ones", "ones_like", "pow", "reciprocal", "reduce_max",
    "reduce_mean", "reduce_min", "reduce_prod", "reduce_sum", "relu", "reshape", "rsqrt",
    "sigmoid", "sign", "sin", "sqrt", "square", "squeeze", "sub", "subtract", "tanh",
    "transpose", "truediv", "where", "zeros", "zeros_like", "cond", "while_loop",
]
