"""`mlir-lite import` and `mlir-lite check`: the ONNX subcommands.

    mlir-lite import model.onnx -o model.mlir [--max-tensor-bytes N]
    mlir-lite check model.onnx [--json]       # exit 0 only when every node is supported

`register(subparsers)` adds both to an argparse subparsers object; errors surface as
MlirLiteError, which the driver prints as `mlir-lite: error: ...` with exit status 1.
"""
from __future__ import annotations

import argparse
import sys

from .loader import DEFAULT_MAX_TENSOR_BYTES

__all__ = ["register", "cmd_import", "cmd_check"]


def cmd_import(args: argparse.Namespace) -> int:
    from mlir_lite.ir.printer import print_module

    from .importer import import_onnx
    module = import_onnx(args.model, max_tensor_bytes=args.max_tensor_bytes)
    text = print_module(module)
    if args.output is None or args.output == "-":
        sys.stdout.write(text)
    else:
        from mlir_lite.fileio import write_atomic
        write_atomic(args.output, text.encode("utf-8"))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .check import check_model
    report = check_model(args.model, max_tensor_bytes=args.max_tensor_bytes)
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.ok else 1


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the `import` and `check` subcommands."""
    p = subparsers.add_parser("import", help="import an ONNX model as IR text")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", help="output .mlir file (default: stdout)")
    p.add_argument("--max-tensor-bytes", type=int, default=DEFAULT_MAX_TENSOR_BYTES,
                   help="refuse tensors larger than this many bytes")
    p.set_defaults(fn=cmd_import)
    p = subparsers.add_parser("check", help="list the nodes of an ONNX model that mlir-lite "
                                            "cannot import")
    p.add_argument("model", help="the .onnx file")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--max-tensor-bytes", type=int, default=DEFAULT_MAX_TENSOR_BYTES)
    p.set_defaults(fn=cmd_check)


def main(argv: list | None = None) -> int:
    """Run one of these subcommands alone (for tests until the driver hooks `register`)."""
    from mlir_lite.errors import MlirLiteError
    ap = argparse.ArgumentParser(prog="mlir-lite")
    register(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except MlirLiteError as e:
        print(f"mlir-lite: error: {e}", file=sys.stderr)
        return 1
