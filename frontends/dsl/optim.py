"""Optimizers for eager tensors: `SGD` (with momentum and weight decay).

    opt = SGD([w1, b1, w2, b2], lr=0.1, momentum=0.9)
    loss.backward(); opt.step(); opt.zero_grad()
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from .eager import Tensor, no_grad

__all__ = ["SGD"]


class SGD:
    """p -= lr * v, v = momentum * v + (grad + weight_decay * p) (PyTorch's form)."""

    def __init__(self, params: Sequence[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        self.params: List[Tensor] = list(params)
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._velocity: Dict[int, np.ndarray] = {}

    def step(self) -> None:
        with no_grad():
            for p in self.params:
                if p.grad is None:
                    continue
                g = p.grad.data
                if self.weight_decay:
                    g = g + self.weight_decay * p.data
                if self.momentum:
                    v = self._velocity.get(id(p))
                    v = g if v is None else self.momentum * v + g
                    self._velocity[id(p)] = v
                    g = v
                p.data = (p.data - self.lr * g).astype(p.data.dtype, copy=False)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
