"""`tf.train`: optimizers that build their update ops in the graph (gradients + assigns).

    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)

`minimize` is `apply_gradients(compute_gradients(loss))`: one `tf.gradients` node for all
variables and one assignment per variable, grouped; a Session compiles the whole step
(forward, backward, update) into one function.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import DslError

from .gradients import gradients
from .graph import Op, Tensor, user_location
from .state import Variable, assign, group, trainable_variables

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer"]


class Optimizer:
    """Base: subclasses define `_update(var, grad) -> list of assigns`."""

    def compute_gradients(self, loss: Tensor, var_list: Optional[Sequence[Variable]] = None
                          ) -> List[Tuple[Optional[Tensor], Variable]]:
        vs = list(var_list) if var_list is not None else trainable_variables(loss.graph)
        if not vs:
            raise DslError("minimize: there are no trainable variables", user_location())
        return list(zip(gradients(loss, vs), vs))

    def apply_gradients(self, grads_and_vars: Sequence[Tuple[Optional[Tensor], Variable]],
                        global_step: Any = None, name: Optional[str] = None) -> Op:
        ups: List[Any] = []
        for g, v in grads_and_vars:
            if g is not None:
                ups.extend(self._update(v, g))
        if global_step is not None:
            ups.append(assign(global_step, global_step + 1))
        return group(*ups, name=name or type(self).__name__)

    def minimize(self, loss: Tensor, global_step: Any = None,
                 var_list: Optional[Sequence[Variable]] = None, name: Optional[str] = None) -> Op:
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    def _update(self, var: Variable, grad: Tensor) -> List[Tensor]:
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """var -= learning_rate * grad."""

    def __init__(self, learning_rate: float, use_locking: bool = False,
                 name: str = "GradientDescent") -> None:
        self.learning_rate = learning_rate

    def _update(self, var: Variable, grad: Tensor) -> List[Tensor]:
        return [assign(var, var - self.learning_rate * grad)]


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + grad; var -= learning_rate * accum (TensorFlow's form)."""

    def __init__(self, learning_rate: float, momentum: float, use_locking: bool = False,
                 name: str = "Momentum", use_nesterov: bool = False) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.use_nesterov = use_nesterov

    def _update(self, var: Variable, grad: Tensor) -> List[Tensor]:
        acc = Variable(np.zeros(var.shape, var.dtype.np_dtype), trainable=False,
                       name=f"{var.name}/Momentum")
        new_acc = assign(acc, self.momentum * acc + grad)
        step = grad + self.momentum * new_acc if self.use_nesterov else new_acc
        return [new_acc, assign(var, var - self.learning_rate * step)]
