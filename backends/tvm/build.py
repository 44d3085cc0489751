"""Compile a `func.func` of `ml` ops with TVM: targets, kernels, one IRModule, the plan.

    f = compile_function(module, "main")              # host CPU (llvm, its mcpu and cores)
    y, = f(x)                                         # numpy in, numpy out
    f = compile_function(module, target="cuda")       # CUDA source; runs where a GPU is

Each non-constant op becomes its own PrimFunc (`k<i>_<op>`; reshape-like ops become views),
scheduled by its kernel kind, and all of them are compiled together once. Constants are bound
tensors. Symbolic dims (`str`) become `int64` vars shared by every kernel of the function, so
one compiled function serves all sizes; an unknown dim (`None`) of an input gets a var of its
own. A kernel whose buffer shapes use a var only inside an expression (e.g. `N*12` after a
flatten) takes that var as an extra scalar argument.
"""
from __future__ import annotations

import os

os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))  # before TVM's first pool use

import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Dict, List, Optional, Sequence, Union  # noqa: E402

import numpy as np  # noqa: E402
import tvm  # noqa: E402
import tvm_ffi  # noqa: E402
from tvm import te, tirx  # noqa: E402

from mlir_lite.errors import CompileError  # noqa: E402
from mlir_lite.ir.core import Operation, Value  # noqa: E402
from mlir_lite.ir.dialects.builtin import ModuleOp  # noqa: E402
from mlir_lite.ir.dialects.func import FuncOp  # noqa: E402
from mlir_lite.ir.types import TensorType  # noqa: E402
from mlir_lite.passes.decompose_rnn import DECOMPOSED, decompose_rnn  # noqa: E402

from . import (  # noqa: E402,F401
    rules_dynamic,
    rules_dynamic_params,  # (registers the rules)
    rules_index,
    rules_math,
    rules_misc,
    rules_nn,
    rules_quant,
    rules_shape,
)
from .executor import (  # noqa: E402
    BindStep,
    BufferSpec,
    Executor,
    ForStep,
    IfStep,
    KernelCall,
    Plan,
    ViewStep,
    WhileStep,
)
from .fused import lower_fused  # noqa: E402
from .lower import BOUND_DIMS, BOUND_SYMBOLS, KINDS, LOWERING, LowerContext, tvm_dtype, value_dtype  # noqa: E402
from .narrow_types import annotate_plan  # noqa: E402
from .prepack import prepack_matmul_weights, prepack_weights  # noqa: E402
from .rules_shape import _typed_dim, _vars_in, reshape_shape  # noqa: E402
from .schedules import CpuConfig, schedule_cpu, schedule_cuda  # noqa: E402
from .schedules.cpu import with_hoisted_inits  # noqa: E402
from .shape_expr import dim_to_tvm, free_symbols, to_data  # noqa: E402
from .shape_functions import SHAPE_FUNCTIONS  # noqa: E402

__all__ = ["host_target", "cuda_target", "cpu_config", "resolve_target", "target_facts",
           "KernelInfo", "CompiledFunction", "compile_function", "unsupported_ops"]

TargetLike = Union[None, str, dict, tvm.target.Target]


def host_target(num_cores: Optional[int] = None) -> Dict[str, Any]:
    """The LLVM target of this machine: its real CPU name (never `native`) and core count.
    `$MLIR_LITE_MCPU` names another CPU to compile for by default (e.g. `haswell` to build and
    test AVX2 code on an AVX-512 machine; it must be one this machine can run)."""
    cpu = os.environ.get("MLIR_LITE_MCPU") or \
        tvm.get_global_func("tvm.codegen.llvm.GetHostCPUName")()
    return {"kind": "llvm", "mcpu": cpu, "num-cores": num_cores or os.cpu_count() or 1}


def cuda_target(arch: str = "sm_80") -> tvm.target.Target:
    """A CUDA target for `arch` with an LLVM host; needs no GPU to generate code."""
    return tvm.target.Target({"kind": "cuda", "arch": arch, "max_shared_memory_per_block": 49152,
                              "max_threads_per_block": 1024, "thread_warp_size": 32},
                             host=host_target())


def cpu_config(target: tvm.target.Target) -> CpuConfig:
    """Vector width (from the target's CPU, so `--mcpu` for another machine is honoured) and
    core count for the CPU schedules."""
    width = 16
    try:
        from tvm.target import codegen
        has = codegen.llvm_cpu_has_features
        width = 64 if has("avx512f", target) else 32 if has("avx2", target) else 16
    except Exception:  # noqa: BLE001 - not an x86 LLVM target: keep 128-bit vectors
        pass
    cores = int(target.attrs.get("num-cores", os.cpu_count() or 1))
    return CpuConfig(vector_bytes=width, num_cores=cores)


def resolve_target(target: TargetLike = None, arch: Optional[str] = None,
                   mcpu: Optional[str] = None) -> tvm.target.Target:
    """A TVM Target: "cpu"/"llvm"/None is this machine's CPU (or `mcpu`), "cuda" CUDA for
    `arch` (default sm_80); a Target or a target dict is taken as it is."""
    if target is None or target in ("llvm", "cpu"):
        t = host_target()
        if mcpu:
            t["mcpu"] = mcpu
        return tvm.target.Target(t)
    if target == "cuda":
        return cuda_target(arch or "sm_80")
    if isinstance(target, tvm.target.Target):
        return target
    try:
        return tvm.target.Target(target)
    except Exception as e:  # noqa: BLE001 - TVM raises ValueError or its own errors
        raise CompileError(f"unknown target {target!r} (expected cpu, cuda or a TVM target): "
                           f"{e}") from None


def target_facts(target: tvm.target.Target) -> Dict[str, object]:
    """What the driver's pipeline table reads of a target: `lanes`, the float32 SIMD lanes of
    a CPU target (the blocked layout's channel block)."""
    if target.kind.name != "llvm":
        return {}
    return {"lanes": cpu_config(target).lanes("float32")}


@dataclass
class KernelInfo:
    """One compiled kernel: its symbol, the op it computes, its kind and the schedule it got."""

    symbol: str
    op: str
    kind: str
    schedule: List[str] = field(default_factory=list)


@dataclass
class CompiledFunction:
    """A compiled function: call it with numpy arrays; returns a list of numpy arrays."""

    name: str
    plan: Plan
    executable: Any
    ir_module: tvm.IRModule
    kernels: List[KernelInfo]
    target: tvm.target.Target
    compile_seconds: float
    executor: Executor

    def __call__(self, *arrays: Any) -> List[np.ndarray]:
        return self.executor.run(arrays)

    def source(self, fmt: str = "") -> str:
        """Generated code: for CUDA the kernel source, for LLVM `fmt` = "ll" or "asm"."""
        mod = self.executable.mod
        if self.target.kind.name == "cuda":
            return "\n".join(m.inspect_source() for m in mod.imports)
        return mod.inspect_source(fmt or "ll")


_HOST_OPS = frozenset({"ml.fused", "ml.yield",  # a fused region is lowered by fused.py
                       "func.return", "ml.constant", "scf.if", "scf.for", "scf.while",
                       "scf.yield", "scf.condition"})


def unsupported_ops(func: Operation) -> List[Operation]:
    """The ops of `func` (regions included) that have no lowering rule; constants, control flow
    (run by the host) are supported; so are the ops the `decompose-rnn` pass expands, which
    the driver's pipeline runs before lowering at every level."""
    return [op for op in func.walk() if op is not func and op.name not in _HOST_OPS
            and op.name not in DECOMPOSED and op.name not in LOWERING]


class _Builder:
    """Turns one function into kernels and a plan."""

    def __init__(self, func: FuncOp, target: tvm.target.Target) -> None:
        self.func = func
        self.target = target
        self.is_cuda = target.kind.name == "cuda"
        self.cfg = cpu_config(target if not self.is_cuda else tvm.target.Target(host_target()))
        self.vars: Dict[str, tirx.Var] = {}
        self.buffers: List[BufferSpec] = []
        self.shapes: List[list] = []        # TVM shape per buffer id
        self.value_ids: Dict[Value, int] = {}
        self.constants: Dict[int, np.ndarray] = {}
        self.steps: List[Any] = []
        self.funcs: Dict[str, tirx.PrimFunc] = {}
        self.kernels: List[KernelInfo] = []
        self.base_symbols: set = set()  # the symbols that the function's inputs bind
        self.seen: Dict[tuple, list] = {}   # structural hash -> [(prim, symbol)]
        self.raw: Dict[str, tirx.PrimFunc] = {}  # symbol -> unscheduled kernel (for tuning)
        self.serial: Dict[str, tuple] = {}  # symbol -> (its serial variant, work expression)
        self.bound: Dict[str, tirx.Var] = {}  # symbols bound so far (arguments, shape steps)
        self.bound_dims: Dict[Value, List[Any]] = {}  # values whose dims a shape step bound

    def var(self, name: str) -> tirx.Var:
        v = self.vars.get(name)
        if v is None:
            v = self.vars[name] = tirx.Var(name, "int64")
        return v

    def add_buffer(self, shape: list, dtype: str, kind: str, name: str = "") -> int:
        try:
            data = tuple(to_data(d) for d in shape)
        except ValueError as e:
            raise CompileError(f"unsupported shape for a buffer: {e}") from None
        dynamic = not set().union(*[free_symbols(d) for d in data]) <= self.base_symbols
        self.buffers.append(BufferSpec(data, dtype, kind, name, dynamic and kind != "input"))
        self.shapes.append(list(shape))
        return len(self.buffers) - 1

    # -- the function ----------------------------------------------------------------------------
    def build(self) -> None:
        missing = unsupported_ops(self.func)
        if missing:
            names = sorted({op.name for op in missing})
            where = "; ".join(f"{op.name} at {op.loc}" for op in missing[:10])
            raise CompileError(f"no TVM lowering for {len(names)} op kind(s): "
                               f"{', '.join(names)} ({where})", self.func.loc)
        for i, a in enumerate(self.func.args):
            t = _tensor_type(a.type, f"argument #{i}", self.func)
            shape = [dim_to_tvm(d if d is not None else f"_arg{i}_d{j}", self.var)
                     for j, d in enumerate(t.dims)]
            self.base_symbols |= {str(v.name) for e in shape
                                  for v in tirx.analysis.undefined_vars(e)}
            self.value_ids[a] = self.add_buffer(shape, tvm_dtype(t.element), "input",
                                                a.name_hint or f"arg{i}")
        self.bound.update({n: self.vars[n] for n in self.base_symbols})
        tokens = BOUND_SYMBOLS.set(self.bound), BOUND_DIMS.set(self.bound_dims)
        try:
            self.steps, ret = self.block_steps(self.func.entry_block)
        finally:
            BOUND_SYMBOLS.reset(tokens[0])
            BOUND_DIMS.reset(tokens[1])
        self.outputs = ret

    def host_buffer(self, v: Value, what: str, op: Operation) -> int:
        """A buffer the host binds at run time: a region argument or a control-flow result.
        Its unknown dims get symbols of their own, bound when it is."""
        t = _tensor_type(v.type, what, op)
        n = len(self.buffers)
        # an expression dim (12*N) gets a symbol too: the host binds the size it finds
        shape = [dim_to_tvm(d if type(d) is int or (type(d) is str and d.isidentifier())
                            else f"_h{n}_d{j}", self.var) for j, d in enumerate(t.dims)]
        bid = self.add_buffer(shape, tvm_dtype(t.element), "arg")
        self.value_ids[v] = bid
        return bid

    def block_steps(self, block: Any) -> tuple:
        """The steps of `block` and the buffer ids its terminator passes on."""
        saved, self.steps = self.steps, []
        passed: tuple = ()
        for op in block.ops:
            if op.name in ("func.return", "scf.yield", "scf.condition"):
                passed = tuple(self.value_ids[v] for v in op.operands)
            elif op.name == "ml.constant":
                arr = op.attributes["value"].array
                t = op.results[0].type
                bid = self.add_buffer([tirx.IntImm("int64", d) for d in arr.shape],
                                      tvm_dtype(t.element), "const")
                self.constants[bid] = np.asarray(arr, t.element.np_dtype)
                self.value_ids[op.results[0]] = bid
            elif op.name in ("scf.if", "scf.for", "scf.while"):
                self.lower_control_flow(op)
            else:
                self.lower_op(len(self.kernels), op)
        steps, self.steps = tuple(self.steps), saved
        return steps, passed

    def lower_control_flow(self, op: Operation) -> None:
        loc = str(op.loc)
        ids = [self.value_ids[v] for v in op.operands]
        n_scan = int(op.attributes.get("num_scan_outputs", 0) or 0)
        if op.name == "scf.if":
            then, then_y = self.block_steps(op.regions[0].blocks[0])
            other, other_y = self.block_steps(op.regions[1].blocks[0])
            res = tuple(self.host_buffer(r, "result of scf.if", op) for r in op.results)
            self.steps.append(IfStep(ids[0], then, then_y, other, other_y, res, loc))
        elif op.name == "scf.for":
            body = op.regions[0].blocks[0]
            iv = self.host_buffer(body.args[0], "induction variable", op)
            args = tuple(self.host_buffer(a, "loop-carried value", op) for a in body.args[1:])
            steps, ys = self.block_steps(body)
            res = tuple(self.host_buffer(r, "result of scf.for", op) for r in op.results)
            self.steps.append(ForStep(ids[0], ids[1], ids[2], tuple(ids[3:]), iv, args, steps,
                                      ys, res, n_scan, loc))
        else:
            before, after = op.regions[0].blocks[0], op.regions[1].blocks[0]
            b_args = tuple(self.host_buffer(a, "loop-carried value", op) for a in before.args)
            b_steps, passed = self.block_steps(before)
            a_args = tuple(self.host_buffer(a, "forwarded value", op) for a in after.args)
            a_steps, ys = self.block_steps(after)
            res = tuple(self.host_buffer(r, "result of scf.while", op) for r in op.results)
            self.steps.append(WhileStep(tuple(ids), b_args, b_steps, passed[0], passed[1:],
                                        a_args, a_steps, ys, res, n_scan, loc))

    def lower_op(self, k: int, op: Operation) -> None:
        if op.name == "ml.fused" and not op.results:
            return  # a pure group whose values nothing uses
        in_ids = list(dict.fromkeys(self.value_ids[v] for v in op.operands))
        holders = {b: te.placeholder(self.shapes[b], self.buffers[b].dtype, name=f"in{n}")
                   for n, b in enumerate(in_ids)}
        views = prepack_weights(self, op, holders)  # constant conv weights, packed once
        views.update(prepack_matmul_weights(self, op, holders, in_ids))  # and matmul Bs
        ctx = LowerContext(op, kind=KINDS.get(op.name, "injective"))
        for r in op.results:
            _tensor_type(r.type, f"result of {op.name}", op)
        if op.name in SHAPE_FUNCTIONS:
            self.bind_result_dims(k, op, in_ids, holders)
        try:
            if ctx.kind == "view":
                src = self.value_ids[op.operands[0]]
                shape = reshape_shape(op, holders[src])
                dst = self.add_buffer(shape, self.buffers[src].dtype, "view")
                self.value_ids[op.results[0]] = dst
                self.steps.append(ViewStep(src, dst, op.name))
                return
            args = [views.get(self.value_ids[v], holders[self.value_ids[v]])
                    for v in op.operands]
            outs: Sequence[Any]
            if op.name == "ml.fused":
                outs, ctx = lower_fused(op, args)
            else:
                outs = LOWERING[op.name](ctx, op, *args)
        except (NotImplementedError, ValueError, TypeError, IndexError, RuntimeError) as e:
            raise CompileError(f"cannot lower {op.name}: {e}", op.loc) from e
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        if len(outs) != len(op.results):
            raise CompileError(f"the lowering of {op.name} gave {len(outs)} tensors for "
                               f"{len(op.results)} results", op.loc)
        out_ids = []
        for r, t in zip(op.results, outs):
            want = value_dtype(r)
            if t.dtype != want:
                raise CompileError(f"the lowering of {op.name} gives {t.dtype}, the IR says "
                                   f"{want}", op.loc)
            out_ids.append(self.add_buffer(list(t.shape), want, "temp"))
            self.value_ids[r] = out_ids[-1]
        flag_ids = [self.add_buffer([tirx.IntImm("int64", 1)], "int32", "temp")
                    for _ in ctx.checks]
        symbol = f"k{k}_{op.name.split('.', 1)[-1]}"
        if op.name == "ml.fused":
            symbol = f"k{k}_" + "".join(c if c.isalnum() else "_"
                                        for c in str(op.attributes.get("kernel") or "fused"))
        self.emit_kernel(op, ctx, symbol, in_ids, holders, out_ids, outs, flag_ids)

    def emit_kernel(self, op: Operation, ctx: LowerContext, symbol: str, in_ids: List[int],
                    holders: Dict[int, te.Tensor], out_ids: List[int], outs: Sequence[Any],
                    flag_ids: List[int], schedule: bool = True) -> None:
        """Build, schedule (unless not `schedule`) and call kernel `symbol` computing `outs`
        (and `ctx`'s check flags) from the buffers `in_ids`."""
        arg_ids = in_ids + out_ids + flag_ids
        tensors = [holders[b] for b in in_ids] + list(outs) + [c.flag for c in ctx.checks]
        bare = {d.name for b in arg_ids for d in self.shapes[b] if isinstance(d, tirx.Var)}
        used = set().union(*[free_symbols(d) for b in arg_ids for d in self.buffers[b].shape])
        scalars = tuple(sorted(used - bare))
        try:
            prim = te.create_prim_func(tensors + [self.vars[s] for s in scalars])
        except RuntimeError as e:
            raise CompileError(f"cannot build a kernel for {op.name}: "
                               f"{str(e).splitlines()[0]}", op.loc) from e
        same = self.same_kernel(prim, ctx, symbol)
        if same is not None:
            symbol = same  # an identical kernel (e.g. the next step of an unrolled LSTM)
        else:
            info = KernelInfo(symbol, op.name, ctx.kind)
            self.raw[symbol] = prim
            if not self.is_cuda and schedule:
                raw = prim
                prim, info.schedule = schedule_cpu(raw, ctx.kind, ctx.hints, self.cfg)
                prim, hoisted = with_hoisted_inits(prim)  # reductions over empty sets
                info.schedule += hoisted
                if bare or scalars:
                    self.add_serial_variant(symbol, raw, prim, ctx)
            self.funcs[symbol] = prim.with_attr("global_symbol", symbol)
            self.kernels.append(info)
        checks = tuple((fid, c.message) for fid, c in zip(flag_ids, ctx.checks))
        serial, work = self.serial.get(symbol, ("", 0))
        self.steps.append(KernelCall(symbol, tuple(arg_ids), scalars, checks, op.name,
                                     str(op.loc), tuple(out_ids), serial, work,
                                     self.cfg.parallel_min * 4 if serial else 0))

    def bind_result_dims(self, k: int, op: Operation, in_ids: List[int],
                         holders: Dict[int, te.Tensor]) -> None:
        """A shape step for the result dims of `op` that are not known before it runs (`?`,
        or a symbol nothing bound yet): a kernel computes them with the op's shape function
        (shape_functions.py), and a BindStep binds each to a symbol: the symbol its type
        names, or a fresh one."""
        known = _vars_in([h.shape for h in holders.values()])
        unknown = [(i, j, d) for i, r in enumerate(op.results)
                   for j, d in enumerate(r.type.dims)  # type: ignore[attr-defined]
                   if _typed_dim(d, known) is None]
        if not unknown:
            return
        args = [holders[self.value_ids[v]] for v in op.operands]
        try:
            dims = SHAPE_FUNCTIONS[op.name](op, *args)
            exprs = [dims[i][j] for i, j, _ in unknown]
        except (NotImplementedError, ValueError, TypeError, IndexError) as e:
            raise CompileError(f"cannot compute the run-time shape of {op.name}: {e}",
                               op.loc) from e

        def pick(t: Any) -> Any:
            v: Any = tirx.IntImm("int64", 0)
            for n in range(len(exprs) - 1, -1, -1):
                v = tirx.Select(t == n, exprs[n].astype("int64"), v)
            return v
        out = te.compute((len(exprs),), pick, name="dims")
        buf = self.add_buffer([tirx.IntImm("int64", len(exprs))], "int64", "temp")
        self.emit_kernel(op, LowerContext(op), f"k{k}_{op.name.split('.', 1)[-1]}_dims",
                         in_ids, holders, [buf], [out], [], schedule=False)
        names = []
        for i, j, d in unknown:
            name = d if type(d) is str and d.isidentifier() else f"_k{k}_r{i}_d{j}"
            names.append(name)
            self.bound[name] = self.var(name)
        self.steps.append(BindStep(buf, tuple(names), op.name, str(op.loc)))
        fresh = {(i, j): self.vars[n] for (i, j, _), n in zip(unknown, names)}
        for i, r in enumerate(op.results):
            self.bound_dims[r] = [fresh[i, j] if (i, j) in fresh else _typed_dim(d, known)
                                  for j, d in enumerate(r.type.dims)]  # type: ignore[attr-defined]

    def add_serial_variant(self, symbol: str, raw: tirx.PrimFunc, scheduled: tirx.PrimFunc,
                           ctx: LowerContext) -> None:
        """A single-threaded variant of kernel `symbol` (whose sizes are symbolic) and its work
        (loop iterations, as a shape expression): the executor calls the variant when the work
        at the bound sizes is too small for the thread pool to pay."""
        try:
            serial, _ = schedule_cpu(raw, ctx.kind, ctx.hints, self.cfg, serial=True)
            serial, _ = with_hoisted_inits(serial)
            work = to_data(_iterations(raw))
        except (ValueError, RuntimeError):
            return
        if tvm_ffi.structural_equal(serial, scheduled):
            return  # nothing ran in parallel anyway
        name = symbol + "_serial"
        self.funcs[name] = serial.with_attr("global_symbol", name)
        self.serial[symbol] = (name, work)

    def same_kernel(self, prim: tirx.PrimFunc, ctx: LowerContext, symbol: str
                    ) -> Optional[str]:
        """The symbol of an already-built kernel identical to `prim` (same computation, kind
        and hints), registering `prim` under a new one otherwise."""
        key = (tvm_ffi.structural_hash(prim), ctx.kind, repr(sorted(ctx.hints.items())))
        for other, symbol in self.seen.get(key, ()):
            if tvm_ffi.structural_equal(prim, other):
                return symbol
        self.seen.setdefault(key, []).append((prim, symbol))
        return None

    def plan(self) -> Plan:
        inputs = tuple(self.value_ids[a] for a in self.func.args)
        return Plan(tuple(self.buffers), inputs, self.outputs, tuple(self.steps),
                    dict(self.constants))


def _tensor_type(t: Any, what: str, op: Operation) -> TensorType:
    if not isinstance(t, TensorType) or t.shape is None:
        raise CompileError(f"{what} must be a ranked tensor to compile, got {t}", op.loc)
    return t


def _iterations(prim: tirx.PrimFunc) -> Any:
    """The loop iterations of all stages of an unscheduled kernel (an expression in its size
    symbols): a measure of its work."""
    from tvm.s_tir import Schedule
    from tvm.sym.analyzer import Analyzer

    from .schedules.cpu import blocks
    s = Schedule(prim)
    total: Any = tirx.IntImm("int64", 0)
    for blk in blocks(s):
        n: Any = tirx.IntImm("int64", 1)
        for iv in s.get(blk).iter_vars:
            n = n * tirx.Cast("int64", iv.dom.extent)
        total = total + n
    return Analyzer().simplify(total)


def _find_func(module: Operation, func: str) -> FuncOp:
    if isinstance(module, ModuleOp):
        f = module.lookup(func)
        if not isinstance(f, FuncOp):  # func.func ops are FuncOps
            raise CompileError(f"module has no function @{func}")
        return f
    if isinstance(module, FuncOp):
        return module
    raise CompileError(f"expected a module or a func.func, got {module.name}")


def compile_function(module: Operation, func: str = "main", target: TargetLike = None,
                     tune: Any = None) -> CompiledFunction:
    """Compile function `func` of `module` for `target` (default: this CPU; "cuda" for CUDA).
    `tune` (a tune.TuneOptions) tunes the heaviest CPU kernels and applies the tuning database.

    Raises CompileError listing every op without a lowering rule."""
    t0 = time.perf_counter()
    tgt = resolve_target(target)
    f = _find_func(module, func)
    if any(op.name in DECOMPOSED for op in f.walk()):
        # the pipeline's decompose-rnn left it: say why (strict), or that the pass did not run
        decompose_rnn(f.clone(), strict=True)
        raise CompileError("ml.lstm/ml.gru/ml.rnn reach the TVM backend only decomposed: run "
                           "the `decompose-rnn` pass first (mlir_lite.driver.compile does)")
    b = _Builder(f, tgt)
    b.build()
    if tune is not None and not b.is_cuda and b.funcs:
        from .tune import apply_tuning
        apply_tuning(b.funcs, b.raw, b.kernels, tgt, tune)
    mod = tvm.IRModule(b.funcs)
    if b.is_cuda:
        mod = schedule_cuda(mod, tgt)
        for info in b.kernels:
            info.schedule = ["dlight"]
    executable = tvm.compile(mod, tgt) if b.funcs else None
    plan = annotate_plan(_with_memory_plan(b.plan(), f, b.value_ids), b.value_ids)
    dev = tvm.cuda(0) if b.is_cuda else tvm.cpu(0)
    if executable is None:
        executor = Executor(plan, {}, dev)
    elif b.is_cuda and not dev.exist:
        executor = _NoDevice(plan)  # type: ignore[assignment]
    else:
        executor = _Lazy(plan, executable.mod, dev)  # type: ignore[assignment]
    return CompiledFunction(func, plan, executable, mod, b.kernels, tgt,
                            time.perf_counter() - t0, executor)


def _with_memory_plan(plan: Plan, f: Operation, value_ids: Dict[Value, int]) -> Plan:
    """`plan` carrying the compiler's arena plan (passes/memory_plan.py) for its buffers: the
    executor allocates one arena of that size and binds the buffers at the planned offsets."""
    import dataclasses

    from mlir_lite.passes.memory_plan import arena_plan
    # the views it shares buffers for are the ops declared Alias: the ones lowered as kind view
    skip = {i for i, s in enumerate(plan.buffers) if s.dynamic or s.kind in ("input", "const")}
    return dataclasses.replace(plan, memory=arena_plan(f, value_ids, skip))


class _Lazy:
    """The executor, made on first use: getting the kernels JIT-compiles them, which writing an
    artifact (it exports the library instead) does not need."""

    def __init__(self, plan: Plan, module: Any, device: Any) -> None:
        self.plan = plan
        self._args = (plan, module, device)
        self._real: Optional[Executor] = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            self._real = Executor(*self._args)
        return getattr(self._real, name)


class _NoDevice:
    """Stands in for the executor when the target's device is absent (code generation only)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def run(self, arrays: Any) -> List[np.ndarray]:
        from mlir_lite.errors import ExecutionError
        raise ExecutionError("this function was compiled for CUDA, and no CUDA device is "
                             "present on this machine")
