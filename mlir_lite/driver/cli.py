"""The `mlir-lite` command line.

    mlir-lite opt FILE.mlir -p PIPELINE [-o OUT] [--print-ir-after-all] [--timing] ...
    mlir-lite verify FILE.mlir
    mlir-lite run FILE.mlir|MODEL.mlc [--func main] [--input x=x.npy ...] [--inputs all.npz]
                  [--random] [-o out.npz]
    mlir-lite compile MODEL.onnx|FILE.mlir -o MODEL.mlc [--target cpu|cuda] [--arch sm_80] [-O2]
    mlir-lite bench MODEL.mlc|MODEL.onnx [--repeat N] [--vs onnxruntime] [--json]
    mlir-lite import model.onnx -o model.mlir
    mlir-lite check model.onnx [--json]

Every error an input can cause is reported as `mlir-lite: error: <where>: <what>` with exit
status 1; outputs are written atomically (a temporary file renamed into place).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from mlir_lite.errors import MlirLiteError
from mlir_lite.fileio import write_atomic

if TYPE_CHECKING:
    import numpy as np

    from mlir_lite.ir.dialects.builtin import ModuleOp

__all__ = ["main", "read_module", "read_inputs", "SUBCOMMANDS"]

SUBCOMMANDS: Dict[str, Callable[[argparse.ArgumentParser], None]] = {}


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise MlirLiteError(f"cannot read {path!r}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise MlirLiteError(f"{path!r} is not UTF-8 text (byte {e.start}): is it an .onnx file? "
                            "use `mlir-lite import` for ONNX models") from None


def read_module(path: str) -> "ModuleOp":
    """The module of an .mlir file ("-": stdin), parsed (not verified)."""
    from mlir_lite.ir.parser import parse_module
    return parse_module(_read_text(path), "<stdin>" if path == "-" else path)


def _split_chunks(path: str) -> List[str]:
    """The `// -----`-separated chunks of a file, each padded with blank lines so that error
    line numbers stay those of the whole file (MLIR's --split-input-file)."""
    lines = _read_text(path).split("\n")
    chunks, start = [], 0
    for i, line in enumerate(lines + ["// -----"]):
        if line.strip() == "// -----":
            chunks.append("\n" * start + "\n".join(lines[start:i]))
            start = i + 1
    return chunks


def _per_chunk(args: argparse.Namespace, fn: Callable[[str, str], str]) -> int:
    """Run `fn(text, filename)` on the whole file or on each chunk; with --split-input-file an
    error in one chunk is reported and the next chunk still runs."""
    name = "<stdin>" if args.file == "-" else args.file
    if not args.split_input_file:
        _emit(fn(_read_text(args.file), name), getattr(args, "output", None))
        return 0
    outs, failed = [], False
    for chunk in _split_chunks(args.file):
        try:
            outs.append(fn(chunk, name))
        except MlirLiteError as e:
            print(f"mlir-lite: error: {e}", file=sys.stderr)
            failed = True
    _emit("// -----\n".join(outs), getattr(args, "output", None))
    return 1 if failed else 0


def _emit(text: str, out: Optional[str]) -> None:
    if out is None or out == "-":
        sys.stdout.write(text)
    else:
        write_atomic(out, text.encode("utf-8"))


def _cmd_opt(args: argparse.Namespace) -> int:
    from mlir_lite.ir.parser import parse_module
    from mlir_lite.ir.printer import print_module
    from mlir_lite.ir.verifier import verify
    from mlir_lite.passes.registry import load_plugin, parse_pipeline, run_pipeline
    for plugin in args.load_pass_plugin or []:
        load_plugin(plugin)
    if args.pipeline:
        parse_pipeline(args.pipeline)  # a bad pipeline is reported before any input is read

    def one(text: str, name: str) -> str:
        module = parse_module(text, name)
        if not args.no_verify:
            verify(module)
        if args.pipeline:
            run_pipeline(module, args.pipeline, verify_each=not args.no_verify,
                         print_ir_after_all=args.print_ir_after_all,
                         print_ir_after_change=args.print_ir_after_change,
                         print_ir_before_all=args.print_ir_before_all, timing=args.timing,
                         stream=sys.stderr)
        return print_module(module)
    return _per_chunk(args, one)


def _cmd_verify(args: argparse.Namespace) -> int:
    from mlir_lite.ir.parser import parse_module
    from mlir_lite.ir.verifier import verify

    def one(text: str, name: str) -> str:
        verify(parse_module(text, name))
        return ""
    rc = _per_chunk(args, one)
    if rc == 0:
        print(f"{args.file}: ok", file=sys.stderr)
    return rc


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np
    if args.file.endswith(".mlc"):
        from mlir_lite.driver.commands import run_artifact
        return run_artifact(args)
    from mlir_lite.ir.dialects.func import FuncOp
    from mlir_lite.ir.interpreter import run
    from mlir_lite.ir.types import TensorType
    module = read_module(args.file)
    from mlir_lite.ir.verifier import verify
    verify(module)
    func = module[args.func]
    if not isinstance(func, FuncOp):
        raise MlirLiteError(f"@{args.func} is not a function")
    given: Dict[str, np.ndarray] = {}
    given.update(read_inputs(args))
    rng = np.random.default_rng(args.seed)
    arrays: List[np.ndarray] = []
    for i, a in enumerate(func.args):
        name = a.name_hint or f"arg{i}"
        if name in given:
            arrays.append(given.pop(name))
            continue
        t = a.type
        if not args.random or not isinstance(t, TensorType) or t.shape is None:
            raise MlirLiteError(f"@{args.func}: no value for argument %{name} of type {t} "
                                "(give --input NAME=FILE.npy, or --random for static shapes)")
        shape = [d if isinstance(d, int) else args.dynamic_dim for d in t.shape]
        dt = t.element.np_dtype
        arrays.append(rng.standard_normal(shape).astype(dt) if t.element.is_float
                      else rng.integers(0, 4, shape).astype(dt))
    if given:
        raise MlirLiteError(f"@{args.func} has no argument named {', '.join(sorted(given))}")
    outs = run(module, *arrays, func=args.func)
    if args.output:
        import io
        buf = io.BytesIO()
        # numpy's stub also matches **kwds against its `allow_pickle: bool` parameter
        np.savez(buf, **{f"out{i}": o for i, o in enumerate(outs)})  # type: ignore[arg-type]
        write_atomic(args.output, buf.getvalue())
    else:
        for i, o in enumerate(outs):
            print(f"out{i}: {o.dtype}{list(o.shape)}\n{o}")
    return 0


def read_inputs(args: argparse.Namespace) -> Dict[str, "np.ndarray"]:
    """The arrays of `--inputs FILE.npz` and `--input NAME=FILE.npy` (the latter win)."""
    import numpy as np

    def load(path: str) -> Any:  # an array, or the archive of an .npz
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise MlirLiteError(f"cannot read {path!r}: {e}") from None
    given: Dict[str, np.ndarray] = {}
    if getattr(args, "inputs", None):
        with load(args.inputs) as npz:
            given.update({k: npz[k] for k in npz.files})
    for item in args.input or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise MlirLiteError(f"--input expects NAME=FILE.npy, got {item!r}")
        given[name] = load(path)
    return given


def _add_compile(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="compile a model to an artifact (.mlc) with TVM",
                       description="Compile an ONNX model or an .mlir file into one artifact "
                       "file that `mlir_lite.load` runs without the compiler.")
    p.add_argument("file", nargs="?", help="model.onnx or file.mlir")
    p.add_argument("-o", "--output", help="the artifact to write (model.mlc)")
    p.add_argument("--print-pipeline", action="store_true",
                   help="print the pass pipeline of this target and level (for `mlir-lite opt "
                        "-p`) and exit")
    p.add_argument("--target", choices=("cpu", "cuda"), default="cpu",
                   help="cpu: LLVM for this machine's CPU; cuda: CUDA kernels")
    p.add_argument("--arch", default=None, help="CUDA architecture (default sm_80)")
    p.add_argument("--mcpu", default=None,
                   help="LLVM CPU name to compile for (default: this machine's CPU)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=2,
                   metavar="{0,1,2,3}",
                   help="0: only what the target needs (RNN decomposition); 1: also "
                        "canonicalize, fold constants, CSE, DCE and shape inference; 2 (default): "
                        "also batch-norm folding, the blocked conv layout (CPU) and operator "
                        "fusion (each fused group is one kernel); 3: the same as 2 for now "
                        "(--print-pipeline shows the passes)")
    p.add_argument("--print-ir-after-all", action="store_true")
    p.add_argument("--timing", action="store_true", help="print the time of each phase")
    p.add_argument("--tune", type=int, default=None, metavar="TRIALS",
                   help="tune the heaviest CPU kernels with MetaSchedule, TRIALS candidates in "
                        "all, and keep what wins in the tuning database (0: only apply it)")
    p.add_argument("--tune-dir", default=None, metavar="DIR",
                   help="the tuning database (default $MLIR_LITE_TUNE_DIR or "
                        "~/.cache/mlir-lite/tune)")
    p.set_defaults(fn=lambda a: _lazy("compile", a))


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure the latency of a compiled model",
                       description="Latency (median/min/max over --repeat runs) of an artifact, "
                       "or of an ONNX model compiled in memory; --vs onnxruntime measures "
                       "onnxruntime (2 threads) on the same inputs in the same run.")
    p.add_argument("file", help="model.mlc or model.onnx")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--vs", choices=("onnxruntime",), default=None)
    p.add_argument("--onnx", default=None,
                   help="the ONNX model for --vs with an artifact (default: the one it was "
                        "compiled from)")
    p.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    p.add_argument("--inputs", metavar="FILE.npz")
    p.add_argument("--dynamic-dim", type=int, default=1,
                   help="size used for symbolic dims of random inputs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=lambda a: _lazy("bench", a))


def _lazy(name: str, args: argparse.Namespace) -> int:
    from mlir_lite.driver import commands  # imports TVM: only for these commands
    return int(getattr(commands, name)(args) or 0)


def _build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mlir-lite", description="mlir-lite compiler driver")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("opt", help="run a pass pipeline over an .mlir file")
    p.add_argument("file", help="input .mlir file, or - for stdin")
    p.add_argument("-p", "--pipeline", default="",
                   help='comma-separated passes, options in braces: "canonicalize,cse{...},dce"')
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--print-ir-after-all", action="store_true")
    p.add_argument("--print-ir-after-change", action="store_true")
    p.add_argument("--print-ir-before-all", action="store_true")
    p.add_argument("--timing", action="store_true", help="print a timing table per pass")
    p.add_argument("--no-verify", action="store_true", help="skip verification after each pass")
    p.add_argument("--load-pass-plugin", action="append", metavar="FILE",
                   help="a Python file that registers passes (repeatable)")
    p.add_argument("--split-input-file", action="store_true",
                   help="process each '// -----'-separated chunk on its own")
    p.set_defaults(fn=_cmd_opt)

    p = sub.add_parser("verify", help="parse and verify an .mlir file")
    p.add_argument("file")
    p.add_argument("--split-input-file", action="store_true",
                   help="verify each '// -----'-separated chunk on its own, reporting every error")
    p.set_defaults(fn=_cmd_verify)

    p = sub.add_parser("run", help="run a function of an .mlir file with the reference "
                       "interpreter, or a compiled artifact (.mlc)")
    p.add_argument("file", help="file.mlir or model.mlc")
    p.add_argument("--func", default="main")
    p.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    p.add_argument("--inputs", metavar="FILE.npz", help="all inputs from one .npz (by name)")
    p.add_argument("--random", action="store_true", help="random values for missing inputs")
    p.add_argument("--dynamic-dim", type=int, default=2,
                   help="size used for symbolic/unknown dims with --random")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", help="write outputs to an .npz file")
    p.set_defaults(fn=_cmd_run)

    _add_compile(sub)
    _add_bench(sub)
    from mlir_lite.frontends.onnx.commands import register as register_onnx_commands
    register_onnx_commands(sub)  # import, check
    _extend_check(sub.choices["check"])  # check --compiled
    from mlir_lite.driver.plan_command import register as register_plan_command
    register_plan_command(sub)  # plan
    for name, add in SUBCOMMANDS.items():
        add(sub.add_parser(name))
    return ap


def _extend_check(p: argparse.ArgumentParser) -> None:
    """`check --compiled`: after the import report, what the compiled path will do."""
    p.add_argument("--compiled", action="store_true",
                   help="also say which nodes the compiled path runs with run-time shapes, "
                        "on the host, or not at all, and why (nothing is compiled)")
    p.add_argument("--target", default="cpu", help="the TVM target for --compiled")
    p.add_argument("-O", dest="opt_level", type=int, default=2, help="the pipeline's level")
    p.set_defaults(fn=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    from mlir_lite.frontends.onnx.commands import cmd_check
    if not args.compiled:
        return cmd_check(args)
    from mlir_lite.frontends.onnx.check import check_model

    from .compile import CompileOptions
    from .compiled_check import check_compiled
    imported = check_model(args.model, max_tensor_bytes=args.max_tensor_bytes)
    if not imported.ok:  # nothing to compile: the import report says why
        print(imported.to_json() if args.json else imported.to_text())
        return 1
    report = check_compiled(args.model, CompileOptions(target=args.target,
                                                       opt_level=args.opt_level))
    if args.json:
        print(json.dumps({"import": imported.to_dict(), "compiled": report.to_dict()},
                         indent=2))
    else:
        print(imported.to_text().splitlines()[0])
        print(report.to_text())
    return 0 if report.ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except MlirLiteError as e:
        print(f"mlir-lite: error: {e}", file=sys.stderr)
        return 1
    except KeyError as e:  # e.g. module["missing"]
        print(f"mlir-lite: error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlir-lite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
