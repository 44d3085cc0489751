"""`mlir-lite plan`: the memory plan of a model, as text, JSON or a picture.

    mlir-lite plan model.onnx|model.mlir [--dims N=8] [--plot plan.svg] [--json]
                   [--func main] [-p PIPELINE | --no-fuse] [--include-outputs]

The model is imported (ONNX) or parsed (.mlir), optimised with `DEFAULT_PIPELINE` (constant
folding, batch-norm folding, clean-ups and fusion, so that the plan is that of the fused kernel
schedule; `-p` replaces it, `--no-fuse` drops the fusion) and planned for the dims given with
`--dims` (every symbolic dim must be bound). Values whose types still have unknown dims are
sized by one interpreter run on random inputs of the bound shapes. `register(subparsers)` adds
the subcommand to the driver's argparse subparsers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

from mlir_lite.errors import MlirLiteError

__all__ = ["register", "cmd_plan", "DEFAULT_PIPELINE", "load_model"]

DEFAULT_PIPELINE = "fold-constants,fold-batchnorm,canonicalize,cse,dce,fuse"


def load_model(path: str) -> Any:
    """A module from an .onnx or .mlir file."""
    if path.endswith(".onnx"):
        from mlir_lite.frontends.onnx import import_onnx
        return import_onnx(path)
    from mlir_lite.parser import parse_module
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise MlirLiteError(f"cannot read {path!r}: {e.strerror}") from None
    return parse_module(text, path)


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
    module = load_model(args.model)
    pipeline = args.pipeline if args.pipeline is not None else (
        DEFAULT_PIPELINE.replace(",fuse", "") if args.no_fuse else DEFAULT_PIPELINE)
    if pipeline:
        run_pipeline(module, pipeline)
    dims = parse_dims(args.dims or [])
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
                              description="Import/parse a model, fuse it, and pack its "
                              "intermediate tensors into one arena; print the plan, or write "
                              "it as JSON or an SVG picture.")
    p.add_argument("model", help="model.onnx or file.mlir")
    p.add_argument("--dims", action="append", metavar="NAME=SIZE",
                   help="bind a symbolic dim (repeatable, or comma-separated)")
    p.add_argument("--plot", metavar="PLAN.svg", help="draw the arena over time as SVG")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--func", default="main")
    p.add_argument("-p", "--pipeline", default=None,
                   help=f"passes to run before planning (default: {DEFAULT_PIPELINE})")
    p.add_argument("--no-fuse", action="store_true", help="plan the unfused op schedule")
    p.add_argument("--include-outputs", action="store_true",
                   help="place the function's outputs in the arena too")
    p.set_defaults(fn=cmd_plan)
