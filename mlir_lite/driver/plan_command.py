"""`mlir-lite plan`: the memory plan of a model, as text, JSON or a picture.

    mlir-lite plan model.onnx|model.mlir [--dims N=8] [--plot plan.svg] [--json]
                   [--func main] [--target cpu] [-O2 | -p PIPELINE | --no-fuse]
                   [--include-outputs]

The model is imported (ONNX) or parsed (.mlir), optimised with the pipeline that
`mlir-lite compile` runs for the same target and level (driver/pipeline.py), so that the plan is
that of the kernels compile builds (`-p` replaces it, `--no-fuse` is the unfused -O1 one), and
planned for the dims given with `--dims` (every symbolic dim must be bound). Values whose
types still have unknown dims are sized by one interpreter run on random inputs of the bound
shapes. `register(subparsers)` adds the subcommand to the driver's argparse subparsers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

from mlir_lite.errors import MlirLiteError

__all__ = ["register", "cmd_plan"]


def _random_inputs(func: Any, dims: Dict[str, int]) -> List[Any]:
    import numpy as np
    rng = np.random.default_rng(0)
    out = []
    for a in func.args:
        t = a.type
        shape = []
        for d in t.shape or ():
            if type(d) is int:
                shape.append(d)
            elif isinstance(d, str) and d in dims:
                shape.append(dims[d])
            else:
                raise MlirLiteError(f"input {a.name_hint or a.index} has type {t}: bind its "
                                    "dims with --dims NAME=SIZE")
        el = t.element
        if el.is_float:
            out.append(rng.standard_normal(shape).astype(el.np_dtype))
        elif el.name == "i1":
            out.append(rng.integers(0, 2, shape).astype(bool))
        else:
            out.append(rng.integers(0, 3, shape).astype(el.np_dtype))
    return out


def cmd_plan(args: argparse.Namespace) -> int:
    from mlir_lite.passes.memory_plan import parse_dims, plan_memory, probe_shapes, verify_plan
    from mlir_lite.passes.registry import run_pipeline

    from .compile import CompileOptions, load_source, optimize
    module = load_source(args.model)[0]
    if args.pipeline is not None:
        if args.pipeline:
            run_pipeline(module, args.pipeline)
    else:  # what `mlir-lite compile` lowers for the same target and level
        optimize(module, CompileOptions(target=args.target,
                                        opt_level=1 if args.no_fuse else args.opt_level))
    dims = parse_dims(args.dims or "")
    func = module[args.func]
    plan = plan_memory(func, dims, include_outputs=args.include_outputs)
    if plan.unplanned:
        shapes = probe_shapes(module, _random_inputs(func, dims), args.func)
        plan = plan_memory(func, dims, include_outputs=args.include_outputs, shapes=shapes)
    verify_plan(plan)
    if args.plot:
        from mlir_lite.passes.plan_svg import plot_plan
        plot_plan(plan, args.plot, title=f"memory plan of {Path(args.model).name} @{args.func}")
    if args.json:
        sys.stdout.write(plan.to_json() + "\n")
        return 0
    print(f"@{args.func}: {plan.summary()}")
    width = max([len(k) for k in plan.buffers] + [5])
    print(f"{'value':<{width}}  {'offset':>10}  {'bytes':>10}  steps")
    for k, b in plan.buffers.items():
        extra = f"  (in place of {plan.inplace_of[k]})" if k in plan.inplace_of else ""
        print(f"{k:<{width}}  {b.offset:>10}  {b.size:>10}  {b.first_step}-{b.last_step}{extra}")
    for k, why in plan.unplanned.items():
        print(f"{k:<{width}}  unplanned: {why}")
    return 0


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the `plan` subcommand."""
    p = subparsers.add_parser("plan", help="plan the memory of a model's intermediate tensors",
                              description="Import/parse a model, run the pipeline that "
                              "`mlir-lite compile` runs for the same target and level, and "
                              "pack its intermediate tensors into one arena; print the plan, "
                              "or write it as JSON or an SVG picture.")
    p.add_argument("model", help="model.onnx or file.mlir")
    p.add_argument("--dims", action="append", metavar="NAME=SIZE",
                   help="bind a symbolic dim (repeatable, or comma-separated)")
    p.add_argument("--plot", metavar="PLAN.svg", help="draw the arena over time as SVG")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--func", default="main")
    p.add_argument("--target", default="cpu", help="the target whose pipeline runs before "
                   "planning (cpu, cuda, interpreter)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=2,
                   metavar="{0,1,2,3}", help="the optimisation level, as for compile")
    p.add_argument("-p", "--pipeline", default=None,
                   help="passes to run before planning instead of the compile pipeline of "
                        "--target and -O")
    p.add_argument("--no-fuse", action="store_true",
                   help="plan the unfused op schedule (the -O1 pipeline)")
    p.add_argument("--include-outputs", action="store_true",
                   help="place the function's outputs in the arena too")
    p.set_defaults(fn=cmd_plan)
