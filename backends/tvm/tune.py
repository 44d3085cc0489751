"""Auto-tuning of the heaviest kernels with TVM MetaSchedule, and a database of the results that
later compiles reuse (`mlir-lite compile --tune TRIALS`).

    tuned = apply_tuning(funcs, raw, kernels, target, TuneOptions(trials=64))

The kernels with static shapes whose matmul/conv stage has the most FLOPs (up to `top`) are
tuned together, `trials` candidates in all (MetaSchedule's task scheduler shares them out). The
best candidate of a kernel is then timed against the hand-written schedule the compiler gave
it, and the faster one is recorded. Every later compile with a database (`--tune 0`: apply only)
looks each static kernel up by its structure (TVM structural hash of the unscheduled function)
and the target, and uses the tuned schedule where it won.

The database lives in `<dir>/<target key>/` (default dir `~/.cache/mlir-lite/tune`, or
`$MLIR_LITE_TUNE_DIR`): MetaSchedule's JSON files plus `choices.json` (hash -> times, winner).

Needs apache-tvm-ffi 0.1.14.post1 (0.1.15 segfaults when MetaSchedule saves JSON; see
TVM_NOTES.md). Candidates are built and timed in this process (a `PyBuilder` and a `PyRunner`):
the stock `LocalBuilder` starts a worker pool per batch, and each worker re-imports
`tvm.s_tir.tensor_intrin` (about 20 s), so most builds time out; this also avoids needing
`cloudpickle`. The cost model is "random" (the default "xgb" needs xgboost).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import platform
import re
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, TextIO, Tuple

import numpy as np
import tvm
import tvm_ffi
from tvm import tirx

from .lower import dtype_of

__all__ = ["TuneOptions", "apply_tuning", "block_flops", "database_dir", "kernel_key"]

ANCHORS = ("matmul", "conv")


@dataclass
class TuneOptions:
    """`trials`: candidates to measure in all (0: only apply the database); `top`: how many of
    the heaviest kernels to tune; `directory`: the database root."""

    trials: int = 0
    top: int = 3
    directory: Optional[str] = None
    stream: Optional[TextIO] = None
    seed: int = 0


def database_dir(target: tvm.target.Target, root: Optional[str] = None) -> str:
    """The database directory of `target` under `root`."""
    root = root or os.environ.get("MLIR_LITE_TUNE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "mlir-lite", "tune")
    a = target.attrs
    key = "-".join(str(x) for x in (target.kind.name, a.get("mcpu", ""), a.get("num-cores", ""))
                   if str(x))
    return os.path.join(root, re.sub(r"[^A-Za-z0-9_.-]", "_", key))


def kernel_key(raw: tirx.PrimFunc) -> str:
    """The key of an unscheduled kernel: its structural hash, as hex."""
    return f"{tvm_ffi.structural_hash(raw) & (2 ** 64 - 1):016x}"


def block_flops(func: tirx.PrimFunc, env: Optional[Dict[str, int]] = None) -> Optional[int]:
    """2 x the iteration domain of the matmul/conv stages of `func` (one FMA per point), with
    the symbols of `env` substituted; None when a size stays unknown, 0 without such a stage."""
    from tvm.s_tir import Schedule
    s = Schedule(func)
    found: List[Any] = []

    named: Dict[str, Any] = {}

    def rec(blk: Any) -> None:
        b = s.get(blk)
        named[b.name_hint] = b
        for c in s.get_child_blocks(blk):
            rec(c)
    rec(s.get_sblock("root"))
    for a in ANCHORS:
        # the stage with the whole domain: after rfactor `<a>_rf` (`<a>` then only combines
        # the partial sums), after decompose_reduction `..._update`
        for name in (f"{a}_rf_update", f"{a}_rf", f"{a}_update", a):
            if name in named:
                found.append(named[name])
                break
    from tvm.sym.analyzer import Analyzer
    an = Analyzer()
    total = 0
    for blk in found:
        n = 1
        for iv in blk.iter_vars:
            ext = iv.dom.extent
            if not isinstance(ext, tirx.IntImm):
                for v in tvm.tirx.analysis.undefined_vars(ext, []):
                    if env is not None and v.name in env:
                        an.bind(v, tirx.IntImm(dtype_of(v), int(env[v.name])))
                ext = an.simplify(ext)
                if not isinstance(ext, tirx.IntImm):
                    return None
            n *= int(ext.value)
        total += 2 * n
    return total


# -- in-process builder and runner ---------------------------------------------------------------
def _ms() -> Any:
    from tvm.s_tir import meta_schedule as ms
    return ms


def _make_builder_runner(number: int = 3) -> Tuple[Any, Any]:
    ms = _ms()
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.runner.local_runner import (
        default_alloc_argument,
        default_run_evaluator,
    )
    built: Dict[str, Any] = {}

    py_builder: Any = ms.builder.PyBuilder
    py_runner: Any = ms.runner.PyRunner

    @derived_object
    class InProcessBuilder(py_builder):
        def build(self, build_inputs: List[Any]) -> List[Any]:
            from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
            out = []
            for bi in build_inputs:
                try:
                    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(bi.mod)
                    ex = tvm.tirx.build(mod, target=bi.target)
                    # a directory of its own: the default callbacks remove it when measured
                    key = os.path.join(tempfile.mkdtemp(prefix="mlir-lite-tune-"), "kernel")
                    built[key] = getattr(ex, "mod", ex)
                    out.append(ms.builder.BuilderResult(key, None))
                except Exception as e:  # noqa: BLE001 - a failed candidate is reported
                    out.append(ms.builder.BuilderResult(None, f"{type(e).__name__}: {e}"))
            return out

    @derived_object
    class InProcessRunner(py_runner):
        def run(self, runner_inputs: List[Any]) -> List[Any]:
            cfg = ms.runner.EvaluatorConfig(number=number, repeat=1, min_repeat_ms=0)
            out = []
            for ri in runner_inputs:
                try:
                    kind = "cpu" if ri.device_type in ("llvm", "cpu") else ri.device_type
                    dev = tvm.runtime.device(kind, 0)
                    args = default_alloc_argument(dev, [a.as_json() for a in ri.args_info], 1)
                    rt = built.pop(ri.artifact_path)
                    out.append(ms.runner.LocalRunnerFuture(
                        res=default_run_evaluator(rt, dev, cfg, args)))
                except Exception as e:  # noqa: BLE001
                    out.append(ms.runner.LocalRunnerFuture(
                        error_message=f"{type(e).__name__}: {e}"))
            return out

    return InProcessBuilder(), InProcessRunner()


def _progress_callback(total: int, stream: TextIO) -> Any:
    ms = _ms()
    from tvm.ir.utils import derived_object
    state: Dict[str, Any] = {"done": 0, "best": {}}

    py_callback: Any = ms.measure_callback.PyMeasureCallback

    @derived_object
    class Progress(py_callback):
        def apply(self, task_scheduler: Any, task_id: int, measure_candidates: Any,
                  builder_results: Any, runner_results: Any) -> None:
            state["done"] += len(runner_results)
            for r in runner_results:
                if r.run_secs:
                    t = float(np.median([float(x) for x in r.run_secs]))
                    state["best"][task_id] = min(state["best"].get(task_id, t), t)
            n = min(state["done"], total)
            bar = "#" * (30 * n // max(total, 1))
            best = " ".join(f"{v * 1e3:.2f}ms" for _, v in sorted(state["best"].items()))
            stream.write(f"\rtune [{bar:<30}] {n}/{total} trials  best: {best}")
            stream.flush()

    return Progress()


# -- choosing and applying -------------------------------------------------------------------------
def _static(func: tirx.PrimFunc) -> bool:
    """Whether every argument is a buffer of static shape (no symbol, no scalar argument)."""
    for p in func.params:
        try:
            shape = list(p.shape)
        except Exception:  # noqa: BLE001 - a scalar argument (a symbol's value)
            return False
        if not shape and str(p.dtype).startswith("int"):
            return False
        if not all(isinstance(d, tirx.IntImm) for d in shape):
            return False
    return True


def _time(func: tirx.PrimFunc, target: tvm.target.Target, repeat: int = 5) -> float:
    """Median seconds of one call of `func` on random arguments."""
    ms = _ms()
    from tvm.s_tir.meta_schedule.runner.local_runner import default_alloc_argument
    ex = tvm.compile(func.with_attr("global_symbol", "main"), target)
    dev = tvm.cpu(0)
    info = [a.as_json() for a in ms.arg_info.ArgInfo.from_prim_func(func)]
    (args,) = default_alloc_argument(dev, info, 1)
    ev = ex.mod.time_evaluator("main", dev, number=3, repeat=repeat, min_repeat_ms=0)
    return float(np.median(ev(*args).results))


def _load_choices(path: str) -> Dict[str, Any]:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def apply_tuning(funcs: Dict[str, tirx.PrimFunc], raw: Dict[str, tirx.PrimFunc],
                 kernels: List[Any], target: tvm.target.Target, opts: TuneOptions
                 ) -> List[str]:
    """Tune (when `opts.trials`) and then apply the database to the static kernels: `funcs`
    (symbol -> scheduled function) is updated in place, the `KernelInfo` of a kernel that takes
    a tuned schedule gets "tuned" appended; returns the symbols that did."""
    stream = opts.stream or sys.stderr
    ms = _ms()
    wd = database_dir(target, opts.directory)
    os.makedirs(wd, exist_ok=True)
    choices_path = os.path.join(wd, "choices.json")
    choices = _load_choices(choices_path)
    static = {s: f for s, f in raw.items() if _static(f)}
    keys = {s: kernel_key(f) for s, f in static.items()}
    if opts.trials > 0:
        weights = {s: block_flops(f) or 0 for s, f in static.items()}
        todo = [s for s in sorted(weights, key=lambda s: weights[s], reverse=True)
                if weights[s] > 0 and keys[s] not in choices][:opts.top]
        if todo:
            _tune(todo, static, funcs, keys, target, opts, wd, choices, stream)
            tmp = choices_path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(choices, fh, indent=1)
            os.replace(tmp, choices_path)
    winners = {s for s in static if choices.get(keys[s], {}).get("use")}
    if not winners:
        return []
    db = ms.database.JSONDatabase(work_dir=wd)
    applied = []
    for s in sorted(winners):
        sch = db.query_schedule(tvm.IRModule({"main": static[s]}), target, workload_name="main")
        if sch is None:
            continue
        funcs[s] = sch.mod["main"].with_attr("global_symbol", s)
        for k in kernels:
            if k.symbol == s:
                k.schedule = list(k.schedule) + ["tuned"]
        applied.append(s)
    return applied


@contextlib.contextmanager
def _without_tensor_intrinsics() -> Iterator[None]:
    """MetaSchedule's TuneContext imports `tvm.s_tir.tensor_intrin`, which parses some 250
    TVMScript functions for CUDA, ARM, Hexagon... (20 s to minutes on this machine). The
    default LLVM schedule rules use none of them, so while tuning for the CPU an empty module
    stands in for it (removed afterwards, unless the real one was already loaded)."""
    name = "tvm.s_tir.tensor_intrin"
    if name in sys.modules:
        yield
        return
    spec = importlib.util.find_spec(name)
    stub = types.ModuleType(name)
    stub.__doc__ = "placeholder while mlir-lite tunes for the CPU"
    stub.__path__ = list(spec.submodule_search_locations or []) if spec else []
    sys.modules[name] = stub
    try:
        # the CPU's own intrinsics (x86 VNNI, ARM dot): the default CPU rules look them up
        arch = platform.machine().lower()
        sub = "x86" if arch in ("x86_64", "amd64", "i686") else \
            "arm_cpu" if arch.startswith(("arm", "aarch")) else None
        if sub:
            importlib.import_module(f"{name}.{sub}")
        yield
    finally:
        if sys.modules.get(name) is stub:
            del sys.modules[name]


def _strategy(trials: int) -> Any:
    """Replaying random traces for a small budget (the evolutionary search samples a population
    of 2048 first: about a minute on 2 cores); a smaller evolutionary search otherwise."""
    ms = _ms()
    if trials <= 32:
        return "replay-trace"
    return ms.search_strategy.EvolutionarySearch(population_size=256, init_measured_ratio=0.2,
                                                 genetic_num_iters=3)


def _tune(todo: List[str], static: Dict[str, tirx.PrimFunc], funcs: Dict[str, tirx.PrimFunc],
          keys: Dict[str, str], target: tvm.target.Target, opts: TuneOptions, wd: str,
          choices: Dict[str, Any], stream: TextIO) -> None:
    ms = _ms()
    mod = tvm.IRModule({s: static[s] for s in todo})
    builder, runner = _make_builder_runner()
    db = ms.database.JSONDatabase(work_dir=wd)
    cores = int(target.attrs.get("num-cores", os.cpu_count() or 1))
    t0 = time.perf_counter()
    stream.write(f"tuning {len(todo)} kernel(s): {', '.join(todo)}; {opts.trials} trials\n")
    with _without_tensor_intrinsics():
        _run_tune_tir(mod, target, wd, opts, builder, runner, db, cores, stream)
    stream.write(f"\ntuned in {time.perf_counter() - t0:.1f} s\n")
    for s in todo:
        sch = db.query_schedule(tvm.IRModule({"main": static[s]}), target, workload_name="main")
        ours = _time(funcs[s], target)
        rec: Dict[str, Any] = {"symbol": s, "ours_s": ours, "use": False}
        if sch is not None:
            tuned = _time(sch.mod["main"], target)
            rec.update(tuned_s=tuned, use=tuned < ours)
        choices[keys[s]] = rec
        stream.write(f"  {s}: hand-written {ours * 1e3:.3f} ms, tuned "
                     f"{rec.get('tuned_s', float('nan')) * 1e3:.3f} ms -> "
                     f"{'tuned' if rec['use'] else 'hand-written'}\n")


def _run_tune_tir(mod: tvm.IRModule, target: tvm.target.Target, wd: str, opts: TuneOptions,
                  builder: Any, runner: Any, db: Any, cores: int, stream: TextIO) -> None:
    ms = _ms()
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)  # our bar instead
    ms.tune_tir(mod, target, work_dir=wd, max_trials_global=opts.trials,
                num_trials_per_iter=max(1, min(16, opts.trials)), builder=builder,
                runner=runner, database=db, cost_model="random",
                measure_callbacks=list(ms.measure_callback.MeasureCallback.create("default"))
                + [_progress_callback(opts.trials, stream)],
                num_tuning_cores=cores, seed=opts.seed, strategy=_strategy(opts.trials))
