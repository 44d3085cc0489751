"""The execution plan (plain data) and the executor that runs it with compiled TVM kernels.

    plan = Plan(buffers, inputs, outputs, steps, constants)
    ex = Executor(plan, tvm_module, tvm.cpu())
    outs = ex.run([x])            # numpy arrays in, numpy arrays out

A buffer's shape is a tuple of shape expressions (`shape_expr.py`) over the function's symbols;
the executor binds the symbols from the input shapes, checks every input against its declared
dims, computes the other shapes, and allocates the intermediate buffers once per distinct
binding (kept for the next call with the same sizes). Inputs that are C-contiguous and 64-byte
aligned are passed to TVM without a copy; others are copied into aligned memory, since TVM
requires the alignment. Outputs are returned as fresh numpy arrays. A kernel's error flags are
read after it runs and raise ExecutionError with the op's location. Calls are serialised by a
lock, so one compiled function may be shared between threads.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import tvm

from mlir_lite.errors import ExecutionError

from .shape_expr import evaluate

__all__ = ["BufferSpec", "KernelCall", "ViewStep", "Plan", "Executor"]


@dataclass(frozen=True)
class BufferSpec:
    """A tensor of the plan: `kind` is input | const | temp | view."""

    shape: tuple
    dtype: str
    kind: str
    name: str = ""


@dataclass(frozen=True)
class KernelCall:
    """Call kernel `symbol` on buffers `args` (inputs, outputs, error flags), then the symbols in
    `scalars` as int64 arguments; `checks` pairs flag buffers with their messages."""

    symbol: str
    args: tuple
    scalars: tuple = ()
    checks: tuple = ()
    op: str = ""
    loc: str = ""


@dataclass(frozen=True)
class ViewStep:
    """Buffer `dst` is buffer `src` with another shape (reshape, flatten, squeeze, ...)."""

    src: int
    dst: int
    op: str = ""


@dataclass(frozen=True)
class Plan:
    buffers: tuple
    inputs: tuple
    outputs: tuple
    steps: tuple
    constants: Dict[int, np.ndarray]


def _aligned(a: np.ndarray) -> bool:
    return a.flags.c_contiguous and a.ctypes.data % 64 == 0 and a.dtype != np.bool_


class Executor:
    """Runs a plan on a TVM device."""

    def __init__(self, plan: Plan, module: Any, device: Any) -> None:
        self.plan = plan
        self.device = device
        self._funcs = [module[s.symbol] if isinstance(s, KernelCall) else None for s in plan.steps]
        self._consts = {i: tvm.runtime.tensor(np.require(a, requirements="C"), device)
                        for i, a in plan.constants.items()}
        self._arena: Dict[tuple, Dict[int, Any]] = {}
        self._lock = threading.Lock()
        self._on_cpu = device.dlpack_device_type() == 1

    # -- inputs ----------------------------------------------------------------------------------
    def bind(self, arrays: Sequence[np.ndarray]) -> Dict[str, int]:
        """The symbol sizes given by the input shapes; ExecutionError on any mismatch."""
        plan = self.plan
        if len(arrays) != len(plan.inputs):
            raise ExecutionError(f"expected {len(plan.inputs)} inputs, got {len(arrays)}")
        env: Dict[str, int] = {}
        for pos, (bid, a) in enumerate(zip(plan.inputs, arrays)):
            spec = plan.buffers[bid]
            what = f"input #{pos}" + (f" ({spec.name})" if spec.name else "")
            if a.dtype != np.dtype(spec.dtype):
                raise ExecutionError(f"{what} has dtype {a.dtype}, expected {spec.dtype}")
            if a.ndim != len(spec.shape):
                raise ExecutionError(f"{what} has rank {a.ndim} (shape {a.shape}), expected "
                                     f"rank {len(spec.shape)}")
            for i, (d, n) in enumerate(zip(spec.shape, a.shape)):
                if type(d) is int:
                    if d != n:
                        raise ExecutionError(f"{what} has size {n} in dim {i}, expected {d}")
                elif type(d) is str:
                    if env.setdefault(d, n) != n:
                        raise ExecutionError(f"{what} has size {n} in dim {i}, but symbol {d} "
                                             f"is already bound to {env[d]}")
        return env

    def _allocate(self, env: Dict[str, int]) -> Dict[int, Any]:
        key = tuple(sorted(env.items()))
        bufs = self._arena.get(key)
        if bufs is None:
            bufs = {}
            for i, spec in enumerate(self.plan.buffers):
                if spec.kind == "temp":
                    shape = tuple(evaluate(d, env) for d in spec.shape)
                    if any(s < 0 for s in shape):
                        raise ExecutionError(f"buffer {i} would have negative shape {shape}")
                    bufs[i] = tvm.runtime.empty(shape, spec.dtype, self.device)
            if len(self._arena) >= 8:
                self._arena.pop(next(iter(self._arena)))
            self._arena[key] = bufs
        return dict(bufs)

    def _to_device(self, a: np.ndarray) -> Any:
        if self._on_cpu and _aligned(a):
            try:
                return tvm.runtime.from_dlpack(a)
            except Exception:  # read-only arrays cannot be exported; copy them
                pass
        return tvm.runtime.tensor(np.require(a, requirements="C"), self.device)

    # -- running ---------------------------------------------------------------------------------
    def run(self, arrays: Sequence[Any]) -> List[np.ndarray]:
        arrays = [np.asarray(a) for a in arrays]
        env = self.bind(arrays)
        with self._lock:
            bufs = self._allocate(env)
            bufs.update(self._consts)
            for bid, a in zip(self.plan.inputs, arrays):
                bufs[bid] = self._to_device(a)
            for step, fn in zip(self.plan.steps, self._funcs):
                if fn is None:
                    spec = self.plan.buffers[step.dst]
                    shape = tuple(evaluate(d, env) for d in spec.shape)
                    bufs[step.dst] = bufs[step.src]._create_view(shape)
                    continue
                fn(*[bufs[b] for b in step.args], *[env[s] for s in step.scalars])
                for flag, message in step.checks:
                    if int(bufs[flag].numpy().reshape(-1)[0]):
                        raise ExecutionError(message, step.loc or None)
            return [bufs[o].numpy() for o in self.plan.outputs]

    def bound_shapes(self, arrays: Sequence[np.ndarray]) -> Dict[int, Tuple[int, ...]]:
        """Every buffer's shape for these inputs (for memory reports and tests)."""
        env = self.bind([np.asarray(a) for a in arrays])
        return {i: tuple(evaluate(d, env) for d in b.shape)
                for i, b in enumerate(self.plan.buffers)}


