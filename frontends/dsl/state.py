"""Variables (state kept by a Session), assignments, initializers, `group`, random tensors.

A `Variable` is a Tensor of kind "variable": lowering makes it a function parameter and the
Session passes its current value. `assign(v, value)` is a Tensor of kind "assign" whose value
is the new value; lowering returns it as an extra function result and the Session stores it
back into `v` after the run. Initializers are groups of assignments of the initial values.
Random tensors (`random_normal`, ...) are parameters too, drawn by the Session on each run.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

from mlir_lite.errors import DslError
from mlir_lite.ir.dialects.ml._infer import dims_equal_or_unknown as _dims_ok

from .dtypes import as_dtype, float32
from .graph import Graph, Op, Tensor, describe, get_default_graph, shape_str, user_location
from .ops import as_tensor, static_shape

__all__ = ["Variable", "assign", "assign_add", "assign_sub", "group", "no_op",
           "global_variables_initializer", "initialize_all_variables", "variables_initializer",
           "global_variables", "all_variables", "trainable_variables", "random_normal",
           "truncated_normal", "random_uniform", "set_random_seed", "placeholder"]


def placeholder(dtype: Any, shape: Optional[Sequence[Optional[int]]] = None,
                name: Optional[str] = None) -> Tensor:
    """An input fed through `feed_dict`. `None` dims take any size at run time (one compiled
    function serves every size: they become symbolic dims)."""
    el = as_dtype(dtype)
    shp = None if shape is None else tuple(None if d is None or d == -1 else int(d)
                                           for d in shape)
    return Tensor("placeholder", el, shp, name=name or "Placeholder")


class Variable(Tensor):
    """State that lives in a Session, initialized from `initial_value` (data or a Tensor of
    static shape that does not depend on placeholders)."""

    def __init__(self, initial_value: Any, trainable: bool = True, name: Optional[str] = None,
                 dtype: Any = None, validate_shape: bool = True) -> None:
        loc = user_location()
        init = initial_value() if callable(initial_value) else initial_value
        init = as_tensor(init, None if dtype is None else as_dtype(dtype))
        if dtype is not None and init.dtype != as_dtype(dtype):
            from .ops import cast
            init = cast(init, dtype)
        if init.shape is None or not all(type(d) is int for d in init.shape):
            raise DslError(f"a Variable needs an initial value of static shape, got "
                           f"{describe(init)}", loc)
        super().__init__("variable", init.dtype, init.shape, name=name or "Variable", loc=loc,
                         graph=init.graph)
        self.initial_value = init
        self.trainable = trainable
        self.graph.variables.append(self)
        self.initializer = Op([Assign(self, init, loc)], f"{self.name}/Assign", self.graph)

    def assign(self, value: Any, name: Optional[str] = None) -> Tensor:
        return assign(self, value, name=name)

    def assign_add(self, delta: Any, name: Optional[str] = None) -> Tensor:
        return assign_add(self, delta, name=name)

    def assign_sub(self, delta: Any, name: Optional[str] = None) -> Tensor:
        return assign_sub(self, delta, name=name)

    def value(self) -> Tensor:
        return self

    read_value = value

    def initialized_value(self) -> Tensor:
        return self.initial_value

    def __repr__(self) -> str:
        return f"<Variable '{self.name}' shape={shape_str(self.shape)} dtype={self.dtype}>"


class Assign(Tensor):
    """`ref := value`; as a tensor it is the new value."""

    def __init__(self, ref: Variable, value: Tensor, loc: Any = None,
                 name: Optional[str] = None) -> None:
        super().__init__("assign", ref.dtype, ref.shape, (value,), name=name or "Assign",
                         loc=loc, graph=ref.graph)
        self.ref = ref


def assign(ref: Any, value: Any, validate_shape: bool = True, name: Optional[str] = None
           ) -> Tensor:
    """Store `value` into variable `ref` when this runs; the tensor is the new value."""
    loc = user_location()
    if not isinstance(ref, Variable):
        raise DslError(f"assign needs a Variable to assign to, got {ref!r}", loc)
    value = as_tensor(value, ref.dtype)
    if value.dtype != ref.dtype:
        raise DslError(f"assign: {describe(value)} has dtype {value.dtype} but variable "
                       f"{describe(ref)} has {ref.dtype}; tf.cast it", loc)
    if validate_shape and value.shape is not None and ref.shape is not None and (
            len(value.shape) != len(ref.shape)
            or not all(_dims_ok(a, b) for a, b in zip(value.shape, ref.shape))):
        raise DslError(f"assign: the value has shape {shape_str(value.shape)} but variable "
                       f"{describe(ref)} has shape {shape_str(ref.shape)}", loc)
    return Assign(ref, value, loc, name)


def assign_add(ref: Any, value: Any, name: Optional[str] = None) -> Tensor:
    return assign(ref, ref + value, name=name)


def assign_sub(ref: Any, value: Any, name: Optional[str] = None) -> Tensor:
    return assign(ref, ref - value, name=name)


def group(*inputs: Any, name: Optional[str] = None) -> Op:
    """An op that runs all of `inputs` (tensors, ops, or lists of them)."""
    deps: List[Any] = []
    for x in inputs:
        deps.extend(x if isinstance(x, (list, tuple)) else [x])
    for d in deps:
        if not isinstance(d, (Tensor, Op)):
            raise DslError(f"group takes tensors and ops, got {d!r}", user_location())
    return Op(deps, name or "group")


def no_op(name: Optional[str] = None) -> Op:
    return Op((), name or "NoOp")


def global_variables(graph: Optional[Graph] = None) -> List[Variable]:
    return [v for v in (graph or get_default_graph()).variables if isinstance(v, Variable)]


all_variables = global_variables


def trainable_variables(graph: Optional[Graph] = None) -> List[Variable]:
    return [v for v in global_variables(graph) if v.trainable]


def variables_initializer(var_list: Sequence[Variable], name: str = "init") -> Op:
    return Op([a for v in var_list for a in v.initializer.deps], name)


def global_variables_initializer() -> Op:
    """An op that sets every variable of the default graph to its initial value."""
    return variables_initializer(global_variables(), "init")


initialize_all_variables = global_variables_initializer


def set_random_seed(seed: int) -> None:
    """The graph-level seed: sessions of this graph draw reproducible random tensors."""
    get_default_graph().seed = int(seed)


def _random(dist: str, shape: Any, dtype: Any, seed: Optional[int], **params: float) -> Tensor:
    loc = user_location()
    el = as_dtype(dtype)
    shp = static_shape(shape, dist)
    if not el.is_float:
        raise DslError(f"random tensors need a float dtype, got {el}", loc)
    attrs = {"dist": dist, "seed": seed, **params}
    return Tensor("random", el, shp, attrs=attrs, name=dist, loc=loc)


def random_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                  seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    return _random("normal", shape, dtype, seed, mean=float(mean), stddev=float(stddev))


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                     seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    """Normal samples, redrawn while more than two standard deviations from the mean."""
    return _random("truncated_normal", shape, dtype, seed, mean=float(mean),
                   stddev=float(stddev))


def random_uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = float32,
                   seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    return _random("uniform", shape, dtype, seed, minval=float(minval), maxval=float(maxval))

