"""The reference interpreter: runs a function op by op with numpy, through the rule table.

    outs = run(module, x, y)                 # executes @main, returns a list of arrays

Each op's meaning is its rule in `mlir_lite.ir.interpreter.rules` (`@rule` for plain ops,
`@region_rule` for ops with regions). The engine checks the inputs against the function
signature, casts every result to exactly the element type the op declares (numpy promotes;
the IR does not), checks static result dims, and turns any failure into an `ExecutionError`
that names the op and its location.

Dataflow control (`cf.switch`/`cf.merge`) uses a `DEAD` sentinel: the untaken output of a switch
is dead, an op with a dead input yields dead outputs, `cf.merge` forwards its first live input,
and returning a dead value from a function is an error.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.core import Block, Operation, Region, Value
from mlir_lite.ir.dialects.builtin import ModuleOp
from mlir_lite.ir.interpreter.rules import BLOCK_SCHEDULERS, REGION_RULES, RULES, region_rule, rule
from mlir_lite.ir.types import ElementType, IndexType, TensorType, Type

__all__ = ["DEAD", "Interpreter", "run", "coerce_value", "DEAD_AWARE_OPS"]


class _Dead:
    """The value on an untaken `cf.switch` branch."""

    _instance: Optional["_Dead"] = None

    def __new__(cls) -> "_Dead":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEAD"

    def __reduce__(self) -> str:
        return "DEAD"


DEAD: Any = _Dead()
# Ops whose rules see dead inputs instead of propagating them.
DEAD_AWARE_OPS = {"cf.merge"}

Env = Dict[Value, Any]


def _dtype_of(t: Type) -> Optional[np.dtype]:
    if isinstance(t, TensorType):
        return t.element.np_dtype
    if isinstance(t, ElementType):
        return t.np_dtype
    if isinstance(t, IndexType):
        return np.dtype(np.int64)
    return None


def coerce_value(value: Any, t: Type, what: str, loc: Any = None) -> Any:
    """`value` as an array of exactly type `t`'s dtype; an ExecutionError when its shape cannot
    be of type `t` (a different rank or a different static dim)."""
    if value is DEAD:
        return value
    dt = _dtype_of(t)
    if dt is None:
        return value
    arr = np.asarray(value)
    if arr.dtype != dt:
        arr = arr.astype(dt)
    if isinstance(t, TensorType):
        shape = t.shape
        if shape is not None and (arr.ndim != len(shape) or any(
                type(d) is int and d != s for d, s in zip(shape, arr.shape))):
            raise ExecutionError(f"{what} has shape {tuple(arr.shape)} but the type is {t}", loc)
    elif arr.size != 1:
        raise ExecutionError(f"{what} has shape {tuple(arr.shape)} but the type is scalar {t}",
                             loc)
    elif arr.ndim:
        arr = arr.reshape(())
    return arr


class Interpreter:
    """Runs functions of a module. Subclass and override `eval_op` to observe or alter
    execution (analyses, numerical bisection)."""

    def __init__(self, module: Optional[Operation] = None, *, check_shapes: bool = True) -> None:
        self.module = module
        self.check_shapes = check_shapes

    # -- entry points ---------------------------------------------------------------------------
    def run(self, func: Union[str, Operation], *args: Any) -> List[np.ndarray]:
        """Run function `func` (a name in the module, or a func.func op) on `args`."""
        f = self.lookup(func) if isinstance(func, str) else func
        inputs = self._check_inputs(f, args)
        with np.errstate(all="ignore"):
            return self.call(f, inputs)

    def lookup(self, name: str, near: Optional[Operation] = None) -> Operation:
        mod = near
        while mod is not None and not isinstance(mod, ModuleOp):
            mod = mod.parent_op
        if mod is None:
            mod = self.module
        if mod is None:
            raise ExecutionError(f"no module to look up @{name} in",
                                 None if near is None else near.loc)
        f = mod.lookup(name) if isinstance(mod, ModuleOp) else None
        if f is None or f.name != "func.func":
            funcs = mod.functions if isinstance(mod, ModuleOp) else []
            names = ", ".join(g.attributes.get("sym_name", "?") for g in funcs)
            raise ExecutionError(f"module has no function @{name} (it has: {names or 'none'})",
                                 None if near is None else near.loc)
        return f

    def call(self, f: Operation, args: Sequence[Any]) -> List[Any]:
        """Run func.func `f` on already-checked argument arrays."""
        name = f.attributes.get("sym_name", "?")
        if not f.regions[0].blocks:
            raise ExecutionError(f"function @{name} is a declaration without a body", f.loc)
        env: Env = {}
        term, outs = self.run_block(f.regions[0].blocks[0], args, env)
        if term.name != "func.return":
            raise ExecutionError(f"function @{name} does not end with func.return", term.loc)
        for i, v in enumerate(outs):
            if v is DEAD:
                raise ExecutionError(f"function @{name} returns a dead value as result #{i} "
                                     "(it flows from an untaken cf.switch branch)", term.loc)
        return list(outs)

    # -- blocks and regions -----------------------------------------------------------------------
    def run_region(self, region: Region, args: Sequence[Any], env: Env) -> Tuple[Operation, list]:
        """Run the single block of `region` with block arguments `args`; values of enclosing
        regions are read from `env`. Returns the terminator and its operand values."""
        if len(region.blocks) != 1:
            raise ExecutionError(f"a region with {len(region.blocks)} blocks cannot be "
                                 "interpreted (one block expected)",
                                 None if region.parent is None else region.parent.loc)
        return self.run_block(region.blocks[0], args, env)

    def run_block(self, block: Block, args: Sequence[Any], env: Env) -> Tuple[Operation, list]:
        if len(args) != len(block.args):
            raise ExecutionError(f"block takes {len(block.args)} arguments, got {len(args)}",
                                 None if block.parent_op is None else block.parent_op.loc)
        for a, v in zip(block.args, args):
            env[a] = coerce_value(v, a.type, f"block argument #{a.index}")
        last = None
        for op in self._schedule(block):
            if not isinstance(op, Operation):  # a dataflow loop frame (cf_loops.py)
                op.run(self, env)
                continue
            last = op
            if op.has_trait("Terminator"):
                return op, [self._get(env, v, op) for v in op.operands]
            self.eval_op(op, env)
        where = None if block.parent_op is None else block.parent_op.loc
        if last is None:
            raise ExecutionError("cannot run an empty block", where)
        raise ExecutionError(f"block does not end with a terminator (last op: {last.name})",
                             last.loc)

    def _schedule(self, block: Block) -> Any:
        if BLOCK_SCHEDULERS:
            for op in block.ops:
                fn = BLOCK_SCHEDULERS.get(op.name)
                if fn is not None:
                    return fn(block)
        return block.ops

    # -- ops ----------------------------------------------------------------------------------
    def eval_op(self, op: Operation, env: Env) -> List[Any]:
        """Evaluate one op, store its results in `env` and return them."""
        ins = [self._get(env, v, op) for v in op.operands]
        name = op.name
        if op.name not in DEAD_AWARE_OPS and any(v is DEAD for v in ins):
            outs: Any = [DEAD] * len(op.results)
        else:
            region_fn = REGION_RULES.get(name)
            fn = RULES.get(name) if region_fn is None else None
            if region_fn is None and fn is None:
                raise ExecutionError(f"the interpreter has no rule for {name}; register one "
                                     "with @mlir_lite.ir.interpreter.rules.rule", op.loc)
            try:
                if region_fn is not None:
                    outs = region_fn(self, op, ins, env)
                else:
                    assert fn is not None  # one of the two exists (checked above)
                    outs = fn(op, *ins)
            except ExecutionError as e:
                if e.loc is None:
                    raise ExecutionError(f"{name}: {e.message}", op.loc) from e
                raise
            except (ArithmeticError, ValueError, TypeError, IndexError, KeyError,
                    AttributeError, MemoryError, RuntimeError) as e:
                raise ExecutionError(f"{name} failed: {type(e).__name__}: {e}", op.loc) from e
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        if len(outs) != len(op.results):
            raise ExecutionError(f"the rule for {name} gave {len(outs)} values for "
                                 f"{len(op.results)} results", op.loc)
        res = []
        for i, (r, v) in enumerate(zip(op.results, outs)):
            if self.check_shapes or not isinstance(r.type, TensorType):
                v = coerce_value(v, r.type, f"{name} result #{i}", op.loc)
            elif v is not DEAD:
                v = np.asarray(v).astype(r.type.element.np_dtype, copy=False)
            env[r] = v
            res.append(v)
        return res

    def _get(self, env: Env, v: Value, user: Operation) -> Any:
        try:
            return env[v]
        except KeyError:
            raise ExecutionError(f"{user.name} uses a value that was not computed before it "
                                 "(is the IR in SSA order?)", user.loc) from None

    def _check_inputs(self, f: Operation, args: Sequence[Any]) -> List[Any]:
        ftype = f.attributes["function_type"]
        name = f.attributes.get("sym_name", "?")
        if len(args) != len(ftype.inputs):
            raise ExecutionError(f"@{name} takes {len(ftype.inputs)} inputs, got {len(args)}",
                                 f.loc)
        symbols: Dict[str, Tuple[int, int]] = {}
        out = []
        for i, (a, t) in enumerate(zip(args, ftype.inputs)):
            dt = _dtype_of(t)
            if dt is None:
                out.append(a)
                continue
            if isinstance(a, np.ndarray) or isinstance(a, np.generic):
                if a.dtype != dt:
                    raise ExecutionError(f"input #{i} of @{name} has dtype {a.dtype} but the "
                                         f"signature says {t}; cast it to {dt}", f.loc)
                arr = np.asarray(a)
            else:
                arr = np.asarray(a, dtype=dt)
            if isinstance(t, TensorType) and t.shape is not None:
                if arr.ndim != len(t.shape):
                    raise ExecutionError(f"input #{i} of @{name} has shape {arr.shape} but the "
                                         f"signature says {t}", f.loc)
                for _k, (d, s) in enumerate(zip(t.shape, arr.shape)):
                    if type(d) is int and d != s:
                        raise ExecutionError(f"input #{i} of @{name} has shape {arr.shape} but "
                                             f"the signature says {t}", f.loc)
                    if type(d) is str:
                        prev = symbols.setdefault(d, (s, i))
                        if prev[0] != s:
                            raise ExecutionError(
                                f"symbolic dim {d!r} is {prev[0]} in input #{prev[1]} but {s} in "
                                f"input #{i} of @{name}", f.loc)
            elif not isinstance(t, TensorType) and arr.size != 1:
                raise ExecutionError(f"input #{i} of @{name} must be a scalar {t}", f.loc)
            out.append(arr if isinstance(t, TensorType) else arr.reshape(()))
        return out


def run(module_or_func: Operation, *args: Any, func: str = "main") -> List[np.ndarray]:
    """Run function `func` of a module (or the given func.func) on numpy inputs."""
    if isinstance(module_or_func, ModuleOp):
        interp = Interpreter(module_or_func)
        return interp.run(func, *args)
    if module_or_func.name == "func.func":
        mod = module_or_func.parent_op
        return Interpreter(mod if isinstance(mod, ModuleOp) else None).run(module_or_func, *args)
    raise ExecutionError(f"run() takes a builtin.module or a func.func, got {module_or_func.name}",
                         module_or_func.loc)


# -- control flow rules ---------------------------------------------------------------------------
@region_rule("func.call")
def _call(interp: Interpreter, op: Operation, ins: list, env: Env) -> list:
    callee = interp.lookup(op.attributes["callee"].name, op)
    return interp.call(callee, ins)


def _scalar(v: Any, what: str) -> Any:
    a = np.asarray(v)
    if a.size != 1:
        raise ExecutionError(f"{what} must be a scalar, got shape {a.shape}")
    return a.reshape(()).item()


@region_rule("scf.if")
def _if(interp: Interpreter, op: Operation, ins: list, env: Env) -> list:
    region = op.regions[0] if _scalar(ins[0], "scf.if condition") else op.regions[1]
    _, outs = interp.run_region(region, [], env)
    return outs


def _stack(items: List[Any], t: Type) -> Any:
    if any(x is DEAD for x in items):
        return DEAD
    if items:
        return np.stack([np.asarray(x) for x in items])
    shape: Tuple[int, ...] = (0,)
    if isinstance(t, TensorType) and t.shape is not None:
        shape = (0,) + tuple(d if type(d) is int else 0 for d in t.shape[1:])
    return np.zeros(shape, dtype=_dtype_of(t))


@region_rule("scf.for")
def _for(interp: Interpreter, op: Operation, ins: list, env: Env) -> list:
    lb, ub, step = (int(_scalar(v, "scf.for bound")) for v in ins[:3])
    if step <= 0:
        raise ExecutionError(f"scf.for step must be positive, got {step}", op.loc)
    carried = list(ins[3:])
    n_scan = op.attributes.get("num_scan_outputs", 0)
    scans: List[List[Any]] = [[] for _ in range(n_scan)]
    for i in range(lb, ub, step):
        _, ys = interp.run_region(op.regions[0], [i] + carried, env)
        carried = list(ys[:len(carried)])
        for s, y in zip(scans, ys[len(carried):]):
            s.append(y)
    n = len(carried)
    return carried + [_stack(s, r.type) for s, r in zip(scans, op.results[n:])]


@region_rule("scf.while")
def _while(interp: Interpreter, op: Operation, ins: list, env: Env) -> list:
    carried = list(ins)
    n_scan = op.attributes.get("num_scan_outputs", 0)
    scans: List[List[Any]] = [[] for _ in range(n_scan)]
    while True:
        _, cv = interp.run_region(op.regions[0], carried, env)
        if cv[0] is DEAD or any(v is DEAD for v in cv[1:]):
            raise ExecutionError("scf.while: the condition or a forwarded value is dead", op.loc)
        fwd = cv[1:]
        if not _scalar(cv[0], "scf.condition"):
            break
        _, ys = interp.run_region(op.regions[1], fwd, env)
        carried = list(ys[:len(carried)])
        for s, y in zip(scans, ys[len(carried):]):
            s.append(y)
    n = len(fwd)
    return list(fwd) + [_stack(s, r.type) for s, r in zip(scans, op.results[n:])]


@rule("cf.switch")
def _switch(op: Operation, data: Any, pred: Any) -> tuple:
    return (DEAD, data) if _scalar(pred, "cf.switch predicate") else (data, DEAD)


@rule("cf.merge")
def _merge(op: Operation, *inputs: Any) -> tuple:
    for i, v in enumerate(inputs):
        if v is not DEAD:
            return v, np.int32(i)
    return DEAD, DEAD
