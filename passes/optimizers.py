"""Optimizers as IR: one function that runs forward, backward and the parameter update.

    step = build_train_step(module, "loss", params=[0, 1], optimizer=Adam(lr=1e-3))
    # @loss_train_step(params..., state..., data...) -> (loss, new params..., new state...)

The train-step function takes the differentiated parameters (in the order of `params`), then
the optimizer state (`optimizer.state_types(...)`, documented per optimizer; zeros are a valid
initial state), then the remaining inputs of the loss function (the data, in their original
order). It returns the loss, the updated parameters and the updated state, so a training loop is
`outs = step(*params, *state, *batch); params, state = outs[1:1+P], outs[1+P:]`.

* `SGD(lr, momentum=0, nesterov=False, weight_decay=0)`: PyTorch's SGD (dampening 0). State: one
  momentum buffer per parameter when momentum > 0, else none.
* `Adam(lr, beta1, beta2, eps, weight_decay=0, decoupled=False)`: PyTorch's Adam (AdamW when
  `decoupled`). State: the step count (a scalar), then (m, v) per parameter.
* `Muon(lr, momentum=0.95, nesterov=True, ns_steps=5, ...)`: the reference Muon (Keller Jordan):
  for 2-D parameters, momentum m = beta m + (1 - beta) g, update u = (1 - beta) g + beta m
  (nesterov) or m, orthogonalized by quintic Newton-Schulz iterations (3.4445, -4.7750, 2.0315)
  and scaled by sqrt(max(1, rows / cols)); p = p (1 - lr wd) - lr u. Other parameters use Adam
  with `adam_lr`, `adam_betas`, `adam_eps` (as the reference's auxiliary Adam). State: the step
  count, then per parameter (m) for 2-D ones or (m, v) for the others.
"""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import PassError
from mlir_lite.ir.attributes import DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.dialects.func import FuncOp
from mlir_lite.ir.types import ElementType, TensorType, Type

from .autodiff import differentiate_into, lookup_function
from .autodiff_rules import VJPContext, is_float_type
from .dce import dce

__all__ = ["Optimizer", "SGD", "Adam", "Muon", "build_train_step", "NS_COEFFICIENTS"]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


class Optimizer:
    """An update rule: its state layout and the IR that applies one step."""

    def state_types(self, param_types: Sequence[TensorType]) -> List[Type]:
        raise NotImplementedError

    def update(self, e: VJPContext, params: Sequence[Value], grads: Sequence[Value],
               state: Sequence[Value]) -> Tuple[List[Value], List[Value]]:
        raise NotImplementedError


def _lerp(e: VJPContext, a: Value, b: Value, w: float) -> Value:
    """a + w (b - a) = (1 - w) a + w b."""
    return e.add(e.scale(a, 1.0 - w), e.scale(b, w))


def _element(v: Value) -> ElementType:
    t = v.type
    if not isinstance(t, TensorType):
        raise PassError(f"optimizer state must be tensors, got a value of type {t}")
    return t.element


def _step_type(param_types: Sequence[TensorType]) -> TensorType:
    return TensorType(param_types[0].element, ())


def _adam_direction(e: VJPContext, g: Value, m: Value, v: Value, t: Value, b1: float, b2: float,
                    eps: float) -> Tuple[Value, Value, Value]:
    """(m', v', mhat / (sqrt(vhat) + eps)) with bias correction at step t."""
    m2 = _lerp(e, m, g, 1.0 - b1)
    v2 = _lerp(e, v, e.mul(g, g), 1.0 - b2)
    one = e.scalar(1.0, t)
    c1 = e.sub(one, e.emit("ml.pow", e.scalar(b1, t), t))
    c2 = e.sub(one, e.emit("ml.pow", e.scalar(b2, t), t))
    c1, c2 = (e.emit("ml.cast", c, to=_element(g)) if _element(c) != _element(g)
              else c for c in (c1, c2))
    denom = e.add(e.emit("ml.sqrt", e.div(v2, c2)), e.scalar(eps, g))
    return m2, v2, e.div(e.div(m2, c1), denom)


@dataclasses.dataclass(frozen=True)
class SGD(Optimizer):
    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    def state_types(self, param_types: Sequence[TensorType]) -> List[Type]:
        return list(param_types) if self.momentum else []

    def update(self, e: VJPContext, params: Sequence[Value], grads: Sequence[Value],
               state: Sequence[Value]) -> Tuple[List[Value], List[Value]]:
        new_p, new_s = [], []
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay:
                g = e.add(g, e.scale(p, self.weight_decay))
            if self.momentum:
                buf = e.add(e.scale(state[i], self.momentum), g)
                new_s.append(buf)
                g = e.add(g, e.scale(buf, self.momentum)) if self.nesterov else buf
            new_p.append(e.sub(p, e.scale(g, self.lr)))
        return new_p, new_s


@dataclasses.dataclass(frozen=True)
class Adam(Optimizer):
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled: bool = False

    def state_types(self, param_types: Sequence[TensorType]) -> List[Type]:
        out: List[Type] = [_step_type(param_types)]
        return out + [t for t in param_types for _ in range(2)]

    def update(self, e: VJPContext, params: Sequence[Value], grads: Sequence[Value],
               state: Sequence[Value]) -> Tuple[List[Value], List[Value]]:
        t = e.add(state[0], e.scalar(1.0, state[0]))
        new_p, new_s = [], [t]
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay and not self.decoupled:
                g = e.add(g, e.scale(p, self.weight_decay))
            if self.weight_decay and self.decoupled:
                p = e.scale(p, 1.0 - self.lr * self.weight_decay)
            m, v, d = _adam_direction(e, g, state[1 + 2 * i], state[2 + 2 * i], t, self.beta1,
                                      self.beta2, self.eps)
            new_s += [m, v]
            new_p.append(e.sub(p, e.scale(d, self.lr)))
        return new_p, new_s


def newton_schulz(e: VJPContext, g: Value, steps: int) -> Value:
    """The orthogonalization of Muon: X ~ U V^T of G = U S V^T, by quintic Newton-Schulz
    iterations on G / ||G||_F (transposed so that rows <= cols)."""
    rows, cols = e.shape(g)
    a, b, c = NS_COEFFICIENTS
    x = e.transpose(g, [1, 0]) if rows > cols else g
    norm = e.emit("ml.sqrt", e.emit("ml.reduce_sum", e.mul(x, x), keepdims=False))
    x = e.div(x, e.add(norm, e.scalar(1e-7, x)))
    for _ in range(steps):
        aa = e.emit("ml.matmul", x, e.transpose(x, [1, 0]))
        bb = e.add(e.scale(aa, b), e.scale(e.emit("ml.matmul", aa, aa), c))
        x = e.add(e.scale(x, a), e.emit("ml.matmul", bb, x))
    return e.transpose(x, [1, 0]) if rows > cols else x


@dataclasses.dataclass(frozen=True)
class Muon(Optimizer):
    lr: float = 0.02
    momentum: float = 0.95
    nesterov: bool = True
    ns_steps: int = 5
    weight_decay: float = 0.0
    adam_lr: float = 3e-4
    adam_betas: Tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-10

    @staticmethod
    def uses_muon(t: Type) -> bool:
        return isinstance(t, TensorType) and t.shape is not None and len(t.shape) == 2

    def state_types(self, param_types: Sequence[TensorType]) -> List[Type]:
        out: List[Type] = [_step_type(param_types)]
        for t in param_types:
            out += [t] if self.uses_muon(t) else [t, t]
        return out

    def update(self, e: VJPContext, params: Sequence[Value], grads: Sequence[Value],
               state: Sequence[Value]) -> Tuple[List[Value], List[Value]]:
        t = e.add(state[0], e.scalar(1.0, state[0]))
        new_p, new_s, pos = [], [t], 1
        for p, g in zip(params, grads):
            decay = self.weight_decay
            if self.uses_muon(p.type):
                rows, cols = e.shape(p)
                if type(rows) is not int or type(cols) is not int:
                    raise PassError(f"Muon needs static 2-D parameter shapes, got {p.type}")
                m = _lerp(e, state[pos], g, 1.0 - self.momentum)
                pos += 1
                new_s.append(m)
                u = _lerp(e, g, m, self.momentum) if self.nesterov else m
                u = e.scale(newton_schulz(e, u, self.ns_steps), math.sqrt(max(1.0, rows / cols)))
                lr = self.lr
            else:
                m, v, u = _adam_direction(e, g, state[pos], state[pos + 1], t,
                                          self.adam_betas[0], self.adam_betas[1], self.adam_eps)
                pos += 2
                new_s += [m, v]
                lr = self.adam_lr
            if decay:
                p = e.scale(p, 1.0 - lr * decay)
            new_p.append(e.sub(p, e.scale(u, lr)))
        return new_p, new_s


def build_train_step(module: ModuleOp, loss_func: str, params: Sequence[int],
                     optimizer: Optimizer, *, name: Optional[str] = None) -> FuncOp:
    """Append `@{name or loss_func + '_train_step'}(params..., state..., data...) -> (loss,
    new params..., new state...)`: forward, backward and `optimizer`'s update in one function.
    `params` index the parameters of `loss_func`, whose result #0 must be a scalar float."""
    f = lookup_function(module, loss_func)
    ft = f.function_type
    n = len(ft.inputs)
    params = [i % n if -n <= i < n else i for i in params]
    for i in params:
        if not (0 <= i < n) or not is_float_type(ft.inputs[i]):
            raise PassError(f"build_train_step: parameter #{i} of @{loss_func} is not a float "
                            "parameter", f.loc)
    if len(set(params)) != len(params):
        raise PassError(f"build_train_step: params {list(params)} repeat an index", f.loc)
    loss_t = ft.results[0] if ft.results else None
    if not (isinstance(loss_t, TensorType) and loss_t.shape == () and loss_t.element.is_float):
        raise PassError(f"build_train_step: result #0 of @{loss_func} must be a scalar float "
                        f"loss, got {loss_t}", f.loc)
    data = [j for j in range(n) if j not in params]
    ptypes = [ft.inputs[i] for i in params]
    stypes = optimizer.state_types(ptypes)
    sym = name or f"{loss_func}_train_step"
    if module.lookup(sym) is not None:
        raise PassError(f"build_train_step: the module already has a symbol @{sym}")
    g = FuncOp.make(sym, ptypes + stypes + [ft.inputs[j] for j in data],
                    [loss_t] + ptypes + stypes, loc=f.loc)
    np_, ns_ = len(ptypes), len(stypes)
    args = list(g.args)
    fargs: List[Optional[Value]] = [None] * n
    for k, i in enumerate(params):
        fargs[i] = args[k]
    for k, j in enumerate(data):
        fargs[j] = args[np_ + ns_ + k]
    b = Builder.at_end(g.entry_block)
    one = b.op("ml.constant", value=DenseAttr(np.ones((), loss_t.element.np_dtype)))
    cots: List[Optional[Value]] = [one] + [None] * (len(ft.results) - 1)
    inputs = [a for a in fargs if a is not None]
    assert len(inputs) == n  # params and data are every parameter
    results, grads = differentiate_into(g.entry_block, f, inputs, params, cots)
    e = VJPContext(b, set(), lambda *a: None, lambda *a: None)
    new_p, new_s = optimizer.update(e, args[:np_], grads, args[np_:np_ + ns_])
    outs = [results[0]] + [e.refine(v, t) for v, t in zip(new_p, ptypes)] + \
        [e.refine(v, t) for v, t in zip(new_s, stypes)]
    b.op("func.return", *outs)
    dce(g)
    module.append(g)
    return g
