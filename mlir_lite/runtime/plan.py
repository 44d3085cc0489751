"""The execution plan (plain data) and the executor that runs it with compiled TVM kernels.

    plan = Plan(buffers, inputs, outputs, steps, constants)
    ex = Executor(plan, tvm_module, tvm.cpu())
    outs = ex.run([x])            # numpy arrays in, numpy arrays out

This module needs only numpy, the standard library and TVM's runtime (no IR, no compiler), so
that a saved artifact runs without them (`mlir_lite.runtime`).

A buffer's shape is a tuple of shape expressions over the function's symbols: an `int`, a
symbol name (`str`) or a tuple `(op, *args)`, e.g. `("floordiv", ("mul", "N", 12), 4)`. The
executor binds the symbols from the input shapes, checks every input against its declared dims,
and allocates the buffers whose shapes depend only on those symbols once per distinct binding
(kept for the next call with the same sizes). Sizes that run-time values decide (a Range's
length, NonZero's count, a shape computed by the model) are bound by a `BindStep` from what a
shape kernel wrote; buffers sized by them, and those inside loops whose sizes change from one
iteration to the next (`dynamic`), are allocated when their kernel runs.

Memory: `plan.memory` is the compiler's arena plan (`mlir_lite.runtime.arena.ArenaPlan`, made by
`passes/memory_plan.py`). Per binding the executor allocates one arena of the planned size and
binds every planned buffer as a view of it at its planned offset: intermediates (a value
written in place of another gets the same memory), values inside control-flow regions, and
the region arguments and control-flow results, into whose slots the host copies the carried
and yielded values. Views (ViewStep) alias their source. Outside the arena: inputs, constants,
outputs (the caller gets copies anyway), error flags, buffers sized inside loops (`dynamic`),
the values a loop carries when the plan gives their arguments no slot (two copies, by parity),
and every buffer on a non-CPU device (the kernels need an offset-free pointer, which only the
CPU path builds, through DLPack).

Control flow runs on the host: `IfStep`, `ForStep` and `WhileStep` hold the steps of their
regions; the host reads the condition and the trip count and calls the compiled kernels of each
region. A value carried around a loop is copied when yielded, since the body's buffers are
reused by the next iteration; scan outputs are stacked on the host.

Inputs that are C-contiguous and 64-byte aligned are passed to TVM without a copy; others are
copied into aligned memory, since TVM requires the alignment. Outputs are fresh numpy arrays.
A buffer of an 8/4/2-bit type (float8, float4, int4, int2: `BufferSpec.element`) is stored as
one byte per element (`dtype` uint8, the bytes of ml_dtypes' arrays): such inputs are taken as
ml_dtypes arrays and viewed as bytes, such outputs are returned as ml_dtypes arrays. A
kernel's error flags are read after it runs and raise ExecutionError with the op's location.
Calls are serialised by a lock, so one executor may be shared between threads.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tvm

from mlir_lite.errors import ExecutionError
from mlir_lite.runtime.arena import ArenaPlan, align, arena_plan_from_json, arena_plan_to_json

__all__ = ["BufferSpec", "KernelCall", "ViewStep", "BindStep", "IfStep", "ForStep", "WhileStep",
           "Plan", "Executor", "evaluate", "free_symbols", "plan_to_json", "plan_from_json",
           "count_kernel_calls", "element_dtype"]


# -- shape expressions ---------------------------------------------------------------------------
def _truncdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_EVAL: Dict[str, Callable[..., int]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "floormod": lambda a, b: a % b, "truncdiv": _truncdiv,
    "truncmod": lambda a, b: a - _truncdiv(a, b) * b, "min": min, "max": max,
    "lt": lambda a, b: int(a < b), "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b),
    "ge": lambda a, b: int(a >= b), "eq": lambda a, b: int(a == b),
    "ne": lambda a, b: int(a != b), "and": lambda a, b: int(bool(a and b)),
    "or": lambda a, b: int(bool(a or b)),
}


def evaluate(d: Any, env: Mapping[str, int]) -> int:
    """The value of shape expression `d` with symbols bound by `env`."""
    if type(d) is int:
        return d
    if type(d) is str:
        return env[d]
    op = d[0]
    if op == "select":
        return evaluate(d[2], env) if evaluate(d[1], env) else evaluate(d[3], env)
    if op == "not":
        return int(not evaluate(d[1], env))
    return _EVAL[op](evaluate(d[1], env), evaluate(d[2], env))


def free_symbols(d: Any) -> set:
    if type(d) is int:
        return set()
    if type(d) is str:
        return {d}
    out: set = set()
    for a in d[1:]:
        out |= free_symbols(a)
    return out


# -- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BufferSpec:
    """A tensor of the plan: `kind` is input | const | temp | view | arg (bound by the host: a
    region argument or a control-flow result). `dynamic`: its shape uses symbols bound inside
    control flow, so it is allocated when used. `element`: the element dtype of a tensor
    stored as `dtype` bytes (an ml_dtypes name: `float8_e4m3fn`, `int4`, ...; empty when the
    elements are `dtype`): the executor takes and returns such inputs and outputs as arrays of
    `element`, viewed as `dtype` without a copy."""

    shape: tuple
    dtype: str
    kind: str
    name: str = ""
    dynamic: bool = False
    element: str = ""


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
    outputs: tuple = ()
    # A single-threaded variant, called while the work (a shape expression) is below
    # `serial_below`: for small sizes, waking the thread pool costs more than the kernel.
    serial: str = ""
    work: Any = 0
    serial_below: int = 0


@dataclass(frozen=True)
class ViewStep:
    """Buffer `dst` is buffer `src` with another shape (reshape, flatten, squeeze, ...)."""

    src: int
    dst: int
    op: str = ""


@dataclass(frozen=True)
class BindStep:
    """Bind `symbols` to the sizes in int64 buffer `src` (written by the shape kernel of op
    `op`): the dims of a result decided by run-time values. Buffers sized by them are allocated
    when their kernel runs."""

    src: int
    symbols: tuple
    op: str = ""
    loc: str = ""


@dataclass(frozen=True)
class IfStep:
    """Run `then` or `otherwise` as scalar buffer `cond` says; `results` take the yields."""

    cond: int
    then: tuple
    then_yield: tuple
    otherwise: tuple
    otherwise_yield: tuple
    results: tuple
    loc: str = ""


@dataclass(frozen=True)
class ForStep:
    """`for iv in range(lb, ub, step)` over `body`, whose arguments are `iv` then `args`
    (the carried values, starting from `inits`); `yields` = next carried values, then the
    `n_scan` scan elements; `results` = final carried values, then the stacked scans."""

    lb: int
    ub: int
    step: int
    inits: tuple
    iv: int
    args: tuple
    body: tuple
    yields: tuple
    results: tuple
    n_scan: int = 0
    loc: str = ""


@dataclass(frozen=True)
class WhileStep:
    """`before` (arguments `before_args` = carried) computes `cond` and `forwarded`; while the
    condition holds, `after` (arguments `after_args` = forwarded) yields the next carried
    values and the scan elements. `results` = forwarded values at exit, then the stacked scans."""

    inits: tuple
    before_args: tuple
    before: tuple
    cond: int
    forwarded: tuple
    after_args: tuple
    after: tuple
    yields: tuple
    results: tuple
    n_scan: int = 0
    loc: str = ""


@dataclass(frozen=True)
class Plan:
    buffers: tuple
    inputs: tuple
    outputs: tuple
    steps: tuple
    constants: Dict[int, np.ndarray] = field(default_factory=dict)
    memory: Optional[ArenaPlan] = None  # the compiler's arena plan (None: no arena)


def count_kernel_calls(steps: Sequence[Any]) -> int:
    """Kernel calls in `steps`, counting each region once."""
    n = 0
    for s in steps:
        if isinstance(s, KernelCall):
            n += 1
        elif isinstance(s, IfStep):
            n += count_kernel_calls(s.then) + count_kernel_calls(s.otherwise)
        elif isinstance(s, ForStep):
            n += count_kernel_calls(s.body)
        elif isinstance(s, WhileStep):
            n += count_kernel_calls(s.before) + count_kernel_calls(s.after)
    return n


# -- JSON form (constants are stored apart) ------------------------------------------------------
_STEPS = {"call": KernelCall, "view": ViewStep, "bind": BindStep, "if": IfStep, "for": ForStep,
          "while": WhileStep}
_STEP_TAG = {v: k for k, v in _STEPS.items()}
_NESTED = {"then", "otherwise", "body", "before", "after"}


def _to_json(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_to_json(v) for v in x]
    return x


def _shape_from_json(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_shape_from_json(v) for v in x)
    return x


def _step_to_json(s: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"kind": _STEP_TAG[type(s)]}
    for k, v in s.__dict__.items():
        out[k] = [_step_to_json(c) for c in v] if k in _NESTED else _to_json(v)
    return out


def _step_from_json(d: Dict[str, Any]) -> Any:
    cls = _STEPS[d["kind"]]
    kw: Dict[str, Any] = {}
    for k, v in d.items():
        if k == "kind":
            continue
        if k in _NESTED:
            kw[k] = tuple(_step_from_json(c) for c in v)
        elif k == "checks":
            kw[k] = tuple((int(f), str(m)) for f, m in v)
        elif k == "work":
            kw[k] = _shape_from_json(v)
        elif isinstance(v, list):
            kw[k] = tuple(v)
        else:
            kw[k] = v
    return cls(**kw)


def plan_to_json(plan: Plan) -> Dict[str, Any]:
    """The plan as JSON-able data, without the constants' values (their buffer ids only)."""
    return {"buffers": [_buffer_to_json(b) for b in plan.buffers],
            "inputs": list(plan.inputs), "outputs": list(plan.outputs),
            "steps": [_step_to_json(s) for s in plan.steps],
            "constants": sorted(plan.constants), "memory": arena_plan_to_json(plan.memory)}


def _buffer_to_json(b: BufferSpec) -> Dict[str, Any]:
    out = {"shape": _to_json(b.shape), "dtype": b.dtype, "kind": b.kind, "name": b.name,
           "dynamic": b.dynamic}
    if b.element:
        out["element"] = b.element
    return out


def plan_from_json(data: Mapping[str, Any], constants: Dict[int, np.ndarray]) -> Plan:
    bufs = tuple(BufferSpec(_shape_from_json(b["shape"]), b["dtype"], b["kind"], b["name"],
                            bool(b.get("dynamic", False)), str(b.get("element", "")))
                 for b in data["buffers"])
    return Plan(bufs, tuple(data["inputs"]), tuple(data["outputs"]),
                tuple(_step_from_json(s) for s in data["steps"]), dict(constants),
                arena_plan_from_json(data.get("memory")))


# -- the executor --------------------------------------------------------------------------------
def _aligned(a: np.ndarray) -> bool:
    # An empty array counts as C-contiguous whatever its strides, but TVM checks the strides
    # it is handed: only non-empty arrays are passed through without a copy.
    return (a.size > 0 and a.flags.c_contiguous and a.ctypes.data % 64 == 0
            and a.dtype != np.bool_)


def _walk(steps: Sequence[Any]) -> List[Any]:
    out: List[Any] = []
    for s in steps:
        out.append(s)
        for k in _NESTED:
            if hasattr(s, k):
                out.extend(_walk(getattr(s, k)))
    return out


def element_dtype(spec: BufferSpec) -> np.dtype:
    """The numpy dtype of a buffer's elements as the caller sees them: `spec.element` (an
    ml_dtypes type) when the buffer stores another type's bytes, else `spec.dtype`."""
    if spec.element:
        import ml_dtypes
        return np.dtype(getattr(ml_dtypes, spec.element))
    if spec.dtype == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(spec.dtype)


def _stored(a: np.ndarray, spec: BufferSpec) -> np.ndarray:
    """Array `a` of buffer `spec` as the dtype the kernels read (its bytes, not a copy)."""
    if spec.element and a.dtype != np.dtype(spec.dtype):
        return a.view(spec.dtype)
    return a


def _itemsize(dtype: str) -> int:
    if dtype == "bool":
        return 1
    if dtype == "bfloat16":
        return 2
    return np.dtype(dtype).itemsize


class _Binding:
    """The buffers of one binding of the symbols: `bufs` (a template: constants and arena
    tensors), view shapes, the arena slots of host-bound buffers (`slots`), the arena, and
    which kernels run their serial variant at these sizes (`serial`, filled on first use for
    kernels whose work depends on the input symbols only)."""

    __slots__ = ("bufs", "views", "slots", "arena", "arena_bytes", "offsets", "staging",
                 "groups", "serial")

    def __init__(self) -> None:
        self.bufs: List[Any] = []
        self.views: Dict[int, tuple] = {}
        self.slots: Dict[int, Any] = {}
        self.arena: Any = None
        self.arena_bytes = 0
        self.offsets: Tuple[int, ...] = ()
        self.staging: Dict[int, Any] = {}
        self.groups: Tuple[Tuple[int, ...], ...] = ()
        self.serial: Dict[int, bool] = {}


class Executor:
    """Runs a plan on a TVM device. `module` maps kernel symbols to functions."""

    def __init__(self, plan: Plan, module: Any, device: Any,
                 constants: Optional[Dict[int, Any]] = None) -> None:
        self.plan = plan
        self.device = device
        self._funcs: Dict[str, Any] = {}
        for s in _walk(plan.steps):
            if isinstance(s, KernelCall):
                for sym in (s.symbol, s.serial):
                    if sym and sym not in self._funcs:
                        self._funcs[sym] = module[sym]
        self._consts = constants if constants is not None else {
            i: tvm.runtime.tensor(np.require(_stored(a, plan.buffers[i]), requirements="C"),
                                  device)
            for i, a in plan.constants.items()}
        self._symbols = {d for b in plan.inputs for d in plan.buffers[b].shape if type(d) is str}
        # the dtypes callers give and get; inputs and outputs stored as another dtype's bytes
        # (`BufferSpec.element`) are viewed as that dtype
        self._in_dtypes = [element_dtype(plan.buffers[b]) for b in plan.inputs]
        self._in_storage = {pos: np.dtype(plan.buffers[b].dtype)
                            for pos, b in enumerate(plan.inputs) if plan.buffers[b].element}
        self._out_views = [element_dtype(plan.buffers[b]) if plan.buffers[b].element else None
                           for b in plan.outputs]
        # ids of the kernel calls with outputs allocated when they run
        self._dyn_calls = {id(s) for s in _walk(plan.steps) if isinstance(s, KernelCall)
                           and any(plan.buffers[o].dynamic for o in s.outputs)}
        self._const_scalars: Dict[int, int] = {}
        self._loop_bufs: Dict[tuple, Any] = {}  # (step id, slot, parity) -> carried copy
        self._bindings: Dict[tuple, _Binding] = {}
        self._on_cpu = device.dlpack_device_type() == 1
        mem = plan.memory if self._on_cpu else None
        self._in_arena = {b for v in (mem.variants if mem else ()) for g in v.groups for b in g}
        self._view_src = {s.dst: s.src for s in _walk(plan.steps) if isinstance(s, ViewStep)}
        self._lock = threading.Lock()

    @property
    def arenas(self) -> Dict[tuple, Any]:
        """binding (sorted symbol sizes) -> its arena allocation (one uint8 tensor)."""
        return {k: b.arena for k, b in self._bindings.items() if b.arena is not None}

    def arena_layout(self, key: tuple) -> Tuple[int, Dict[int, int]]:
        """(arena bytes, offset of every arena-bound buffer) run for binding `key`."""
        b = self._bindings[key]
        return b.arena_bytes, {bid: off for g, off in zip(b.groups, b.offsets) for bid in g}

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
            want = self._in_dtypes[pos]
            if a.dtype != want:
                raise ExecutionError(f"{what} has dtype {a.dtype}, expected {want}")
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
        for pos, (bid, a) in enumerate(zip(plan.inputs, arrays)):  # dims that are expressions
            for i, (d, n) in enumerate(zip(plan.buffers[bid].shape, a.shape)):
                if type(d) is not tuple:
                    continue
                try:
                    size = evaluate(d, env)
                except KeyError as e:
                    raise ExecutionError(f"input #{pos}: dim {i} is an expression of symbol "
                                         f"{e.args[0]}, which no input dim binds") from None
                if size != n:
                    raise ExecutionError(f"input #{pos} has size {n} in dim {i}, but its type "
                                         f"says {size} there")
        return env

    def _allocate(self, env: Dict[str, int]) -> _Binding:
        """Buffers and view shapes for these symbol sizes (cached per binding)."""
        key = tuple(sorted(env.items()))
        hit = self._bindings.get(key)
        if hit is None:
            hit = _Binding()
            hit.bufs = bufs = [None] * len(self.plan.buffers)
            shapes: Dict[int, tuple] = {}
            for i, spec in enumerate(self.plan.buffers):
                if spec.dynamic or spec.kind not in ("temp", "view", "arg"):
                    continue
                try:
                    shape = tuple(evaluate(d, env) for d in spec.shape)
                except KeyError:  # an arg sized by a symbol bound inside control flow
                    continue
                if any(s < 0 for s in shape):
                    raise ExecutionError(f"buffer {i} would have negative shape {shape}")
                if spec.kind == "view":
                    hit.views[i] = shape
                else:
                    shapes[i] = shape
            self._bind_arena(hit, shapes)
            for i, shape in shapes.items():
                if bufs[i] is None and self.plan.buffers[i].kind == "temp":
                    bufs[i] = tvm.runtime.empty(shape, self.plan.buffers[i].dtype, self.device)
            for i, t in self._consts.items():
                bufs[i] = t
            if len(self._bindings) >= 8:
                self._bindings.pop(next(iter(self._bindings)))
            self._bindings[key] = hit
        return hit

    def _bind_arena(self, hit: _Binding, shapes: Dict[int, tuple]) -> None:
        """Allocate one arena of the compiler's planned size for this binding and bind every
        planned buffer as a view of it at its planned offset (CPU only)."""
        mem = self.plan.memory if self._on_cpu else None
        if mem is None:
            return
        specs = self.plan.buffers

        def sizes_of(groups: Tuple[Tuple[int, ...], ...]) -> List[int]:
            # an allocation is as large as its largest buffer (a concat over its prefix)
            return [align(max(int(np.prod(shapes[b], dtype=np.int64)) * _itemsize(specs[b].dtype)
                              for b in g if specs[b].kind != "view"), mem.alignment)
                    for g in groups]
        variant, hit.arena_bytes, hit.offsets = mem.choose(sizes_of)
        hit.groups = variant.groups
        if not hit.groups:
            return
        hit.arena = tvm.runtime.empty((max(hit.arena_bytes, 1),), "uint8", self.device)
        raw = np.from_dlpack(hit.arena)
        for g, off in zip(hit.groups, hit.offsets):
            for b in g:
                spec = specs[b]
                if spec.kind == "view":
                    continue  # bound by its ViewStep, to its source's memory
                n = int(np.prod(shapes[b], dtype=np.int64)) * _itemsize(spec.dtype)
                t = tvm.runtime.from_dlpack(raw[off:off + max(n, 1)])._create_view(
                    shapes[b], spec.dtype, 0)
                if spec.kind == "temp":
                    hit.bufs[b] = t
                else:
                    hit.slots[b] = t

    def _to_device(self, a: np.ndarray, bid: int, staging: Dict[int, Any]) -> Any:
        if self._on_cpu:
            if _aligned(a):
                try:
                    return tvm.runtime.from_dlpack(a)
                except Exception:  # read-only arrays cannot be exported; copy them
                    pass
            # Copy into an aligned buffer kept for this input and these sizes.
            st = staging.get(bid)
            if st is None:
                st = staging[bid] = tvm.runtime.empty(a.shape, str(a.dtype), self.device)
            try:
                np.copyto(np.from_dlpack(st), a)
                return st
            except (TypeError, BufferError, RuntimeError, ValueError):
                pass
        return tvm.runtime.tensor(np.require(a, requirements="C"), self.device)

    # -- running ---------------------------------------------------------------------------------
    def run(self, arrays: Sequence[Any]) -> List[np.ndarray]:
        arrays = [np.asarray(a) for a in arrays]
        env = self.bind(arrays)
        for pos, dt in self._in_storage.items():
            arrays[pos] = arrays[pos].view(dt)  # same itemsize: no copy
        with self._lock:
            hb = self._allocate(env)
            bufs = list(hb.bufs)
            for bid, a in zip(self.plan.inputs, arrays):
                bufs[bid] = self._to_device(a, bid, hb.staging)
            self._exec(self.plan.steps, bufs, env, hb)
            outs = [self._host(bufs[o]) for o in self.plan.outputs]
        return [a if v is None else a.view(v) for a, v in zip(outs, self._out_views)]

    def _host(self, t: Any) -> np.ndarray:
        """A numpy copy of tensor `t` (through DLPack on the CPU: much cheaper)."""
        if self._on_cpu:
            try:
                return np.from_dlpack(t).copy()
            except (TypeError, BufferError, RuntimeError):
                pass
        return t.numpy()

    def _shape(self, bid: int, env: Dict[str, int]) -> tuple:
        shape = tuple(evaluate(d, env) for d in self.plan.buffers[bid].shape)
        if any(s < 0 for s in shape):
            raise ExecutionError(f"buffer {bid} would have negative shape {shape}")
        return shape

    @staticmethod
    def _small(step: KernelCall, env: Dict[str, int]) -> bool:
        """Whether `step`'s work at the bound sizes is below its serial threshold (False when
        the work depends on a size only the kernel derives, from its buffers' shapes)."""
        try:
            return evaluate(step.work, env) < step.serial_below
        except KeyError:
            return False

    def _exec(self, steps: Sequence[Any], bufs: List[Any], env: Dict[str, int],
              hb: _Binding) -> None:
        specs = self.plan.buffers
        funcs = self._funcs
        dyn = self._dyn_calls
        for step in steps:
            if type(step) is KernelCall:
                if id(step) in dyn:
                    for o in step.outputs:
                        if specs[o].dynamic:
                            bufs[o] = tvm.runtime.empty(self._shape(o, env), specs[o].dtype,
                                                        self.device)
                fn = funcs[step.symbol]
                if step.serial:
                    small = hb.serial.get(id(step))
                    if small is None:
                        small = self._small(step, env)
                        if free_symbols(step.work) <= self._symbols:  # fixed per binding
                            hb.serial[id(step)] = small
                    if small:
                        fn = funcs[step.serial]
                if step.scalars:
                    fn(*[bufs[b] for b in step.args], *[env[s] for s in step.scalars])
                else:
                    fn(*[bufs[b] for b in step.args])
                for flag, message in step.checks:
                    if self._scalar(bufs[flag]):
                        raise ExecutionError(message, step.loc or None)
            elif type(step) is ViewStep:
                shape = hb.views.get(step.dst) or self._shape(step.dst, env)
                bufs[step.dst] = bufs[step.src]._create_view(shape)
            elif type(step) is BindStep:
                self._bind_sizes(step, bufs[step.src], env)
            elif type(step) is IfStep:
                if self._scalar_of(step.cond, bufs):
                    self._exec(step.then, bufs, env, hb)
                    chosen = step.then_yield
                else:
                    self._exec(step.otherwise, bufs, env, hb)
                    chosen = step.otherwise_yield
                for r, y in zip(step.results, chosen):
                    root = self._root(y)
                    self._result(r, bufs[y], root in self._in_arena or
                                 specs[root].kind == "arg", bufs, env, hb)
            elif type(step) is ForStep:
                self._for(step, bufs, env, hb)
            elif type(step) is WhileStep:
                self._while(step, bufs, env, hb)
            else:  # pragma: no cover - plans are built by the compiler
                raise ExecutionError(f"unknown plan step {type(step).__name__}")

    def _bind_sizes(self, step: BindStep, t: Any, env: Dict[str, int]) -> None:
        sizes = self._host(t).reshape(-1).tolist()
        for name, n in zip(step.symbols, sizes):
            if n < 0:
                raise ExecutionError(f"{step.op}: its run-time operands give a negative size "
                                     f"({n}) for a result dim", step.loc or None)
            env[name] = int(n)

    def _scalar(self, t: Any) -> int:
        if self._on_cpu:
            try:
                return int(np.from_dlpack(t).reshape(-1)[0])
            except (TypeError, BufferError, RuntimeError):
                pass
        return int(t.numpy().reshape(-1)[0])

    def _scalar_of(self, bid: int, bufs: List[Any]) -> int:
        """The value of scalar buffer `bid` (constants are read once)."""
        v = self._const_scalars.get(bid)
        if v is None:
            v = self._scalar(bufs[bid])
            if bid in self._consts:
                self._const_scalars[bid] = v
        return v

    def _bind(self, bid: int, t: Any, bufs: List[Any], env: Dict[str, int]) -> None:
        """Bind host-held buffer `bid` to tensor `t`, binding the symbols of its shape."""
        for d, n in zip(self.plan.buffers[bid].shape, t.shape):
            if type(d) is str:
                if d in self._symbols:
                    if env[d] != n:
                        raise ExecutionError(f"a control-flow value has size {n} where symbol "
                                             f"{d} is {env[d]}")
                else:
                    env[d] = int(n)
        bufs[bid] = t

    def _fill(self, dst: Any, src: Any) -> bool:
        """Copy tensor (or array) `src` into tensor `dst` when their shapes and dtypes agree."""
        if tuple(dst.shape) != tuple(src.shape) or str(dst.dtype) != str(src.dtype):
            return False
        if self._on_cpu:
            try:
                s = src if isinstance(src, np.ndarray) else np.from_dlpack(src)
                np.copyto(np.from_dlpack(dst), s)
                return True
            except (TypeError, BufferError, RuntimeError, ValueError):
                pass
        dst.copyfrom(src)
        return True

    def _result(self, bid: int, t: Any, from_arena: bool, bufs: List[Any],
                env: Dict[str, int], hb: _Binding) -> None:
        """Bind control-flow result `bid` to the value `t`: copied into its arena slot when the
        plan gives it one, into memory of its own when `t` lives in memory that the arena (or
        a loop) reuses, else bound to `t` itself."""
        slot = hb.slots.get(bid)
        if slot is not None and self._fill(slot, t):
            self._bind(bid, slot, bufs, env)
        elif from_arena:
            self._bind(bid, self._own(t), bufs, env)
        else:
            self._bind(bid, t, bufs, env)

    def _copy(self, t: Any, key: tuple) -> Any:
        """A copy of `t` in the buffer kept for `key` (a loop slot and the parity of the
        iteration: the value carried into an iteration is never the one it writes)."""
        c = self._loop_bufs.get(key)
        if c is None or tuple(c.shape) != tuple(t.shape) or c.dtype != t.dtype:
            c = self._loop_bufs[key] = tvm.runtime.empty(t.shape, t.dtype, self.device)
        self._fill(c, t)
        return c

    def _root(self, b: int) -> int:
        while b in self._view_src:
            b = self._view_src[b]
        return b

    def _carry(self, step: Any, args: Sequence[int], yields: Sequence[int], bufs: List[Any],
               parity: int, hb: _Binding) -> List[Any]:
        """The values carried into the next iteration, in the arena slots of the loop's
        arguments where the plan has them (a value that itself lives in one of those slots
        is read out first), else in copies kept per loop slot and parity."""
        vals = []
        for y in yields:
            t = bufs[y]
            if self.plan.buffers[self._root(y)].kind == "arg" and \
                    any(a in hb.slots for a in args):
                t = self._own(t)  # it may sit in a slot written below: read it out first
            vals.append(t)
        out = []
        for k, (a, t) in enumerate(zip(args, vals)):
            slot = hb.slots.get(a)
            if slot is not None and self._fill(slot, t):
                out.append(slot)
            else:
                out.append(self._copy(t, (id(step), k, parity)))
        return out

    def _stack(self, bid: int, elems: List[np.ndarray], env: Dict[str, int]) -> Any:
        spec = self.plan.buffers[bid]
        if elems:
            return np.stack(elems)
        dims = []
        for d in spec.shape[1:]:
            try:
                dims.append(evaluate(d, env))
            except KeyError:
                dims.append(0)
        return np.zeros([0] + dims, dtype=spec.dtype)

    def _finish(self, step: Any, carried: List[Any], scans: List[List[np.ndarray]],
                bufs: List[Any], env: Dict[str, int], hb: _Binding) -> None:
        n_carry = len(step.results) - step.n_scan
        for r, t in zip(step.results[:n_carry], carried):
            self._result(r, t, True, bufs, env, hb)
        for r, elems in zip(step.results[n_carry:], scans):
            arr = self._stack(r, elems, env)
            slot = hb.slots.get(r)
            if slot is not None and self._fill(slot, arr):
                self._bind(r, slot, bufs, env)
            else:
                self._bind(r, tvm.runtime.tensor(arr, self.device), bufs, env)

    def _for(self, step: ForStep, bufs: List[Any], env: Dict[str, int], hb: _Binding) -> None:
        lb, ub, st = (self._scalar_of(b, bufs) for b in (step.lb, step.ub, step.step))
        if st == 0:
            raise ExecutionError("scf.for: step is 0", step.loc or None)
        carried = [bufs[b] for b in step.inits]
        scans: List[List[np.ndarray]] = [[] for _ in range(step.n_scan)]
        n_carry = len(carried)
        iv_dtype = self.plan.buffers[step.iv].dtype
        iv_view = None
        for n, i in enumerate(range(lb, ub, st)):
            if iv_view is not None:
                iv_view[...] = i
            else:
                iv = hb.slots.get(step.iv)
                if iv is None:
                    iv = tvm.runtime.tensor(np.array(i, dtype=iv_dtype), self.device)
                else:
                    self._fill(iv, np.array(i, dtype=iv_dtype))
                if self._on_cpu:
                    iv_view = np.from_dlpack(iv)
                bufs[step.iv] = iv
            for a, t in zip(step.args, carried):
                self._bind(a, t, bufs, env)
            self._exec(step.body, bufs, env, hb)
            for s, y in zip(scans, step.yields[n_carry:]):  # before the carried slots change
                s.append(self._host(bufs[y]))
            carried = self._carry(step, step.args, step.yields[:n_carry], bufs, n % 2, hb)
        self._finish(step, carried, scans, bufs, env, hb)

    def _own(self, t: Any) -> Any:
        """`t` in memory of its own (the loop's or the arena's buffers are reused later)."""
        c = tvm.runtime.empty(t.shape, t.dtype, self.device)
        c.copyfrom(t)
        return c

    def _while(self, step: WhileStep, bufs: List[Any], env: Dict[str, int],
               hb: _Binding) -> None:
        carried = [bufs[b] for b in step.inits]
        scans: List[List[np.ndarray]] = [[] for _ in range(step.n_scan)]
        n_carry = len(carried)
        n = 0
        while True:
            for a, t in zip(step.before_args, carried):
                self._bind(a, t, bufs, env)
            self._exec(step.before, bufs, env, hb)
            fwd = [bufs[f] for f in step.forwarded]
            if not self._scalar(bufs[step.cond]):
                break
            for a, t in zip(step.after_args, fwd):
                self._bind(a, t, bufs, env)
            self._exec(step.after, bufs, env, hb)
            for s, y in zip(scans, step.yields[n_carry:]):  # before the carried slots change
                s.append(self._host(bufs[y]))
            carried = self._carry(step, step.before_args, step.yields[:n_carry], bufs, n % 2,
                                  hb)
            n += 1
        self._finish(step, fwd, scans, bufs, env, hb)

    def bound_shapes(self, arrays: Sequence[np.ndarray]) -> Dict[int, Tuple[int, ...]]:
        """The shape of every buffer that depends only on the inputs' sizes."""
        env = self.bind([np.asarray(a) for a in arrays])
        return {i: tuple(evaluate(d, env) for d in b.shape)
                for i, b in enumerate(self.plan.buffers) if not b.dynamic}
