"""Write a compiled function as one artifact file (`.mlc`), read back by `mlir_lite.runtime`.

    fn = compile_function(module)
    save_artifact(fn, "model.mlc", input_names=["x"], output_names=["y"])
    m = mlir_lite.load("model.mlc")

The layout (a zip of stored members, `manifest.json`, `kernels.so`, `constants.bin`,
`CHECKSUM`) is described in `mlir_lite/runtime.py`, which owns the format. The file is written
atomically: a temporary file in the same folder, renamed into place when complete, and removed
on any error or interrupt.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tvm
import tvm_ffi

from mlir_lite.errors import CompileError
from mlir_lite.fileio import atomic_output
from mlir_lite.runtime.loader import ALIGN, FORMAT, FORMAT_VERSION, MEMBERS, checksum
from mlir_lite.runtime.plan import plan_to_json

from .build import CompiledFunction

__all__ = ["save_artifact", "target_description", "pack", "write_members"]


def target_description(target: tvm.target.Target) -> Dict[str, Any]:
    """The target as the manifest records it: kind, CPU (or GPU arch) and the CPU features the
    code may use (so that a loader can refuse a CPU that lacks them)."""
    from tvm.target import codegen
    host = target.host if target.kind.name == "cuda" else target
    mcpu = str(host.attrs.get("mcpu", "")) if host is not None else ""
    cpu: Dict[str, Any] = {"kind": "llvm", "mcpu": mcpu, "arch": _machine(),
                           "num_cores": int(host.attrs.get("num-cores", 0)) if host else 0}
    try:
        cpu["features"] = sorted(str(f) for f in codegen.llvm_get_cpu_features(
            tvm.target.Target({"kind": "llvm", "mcpu": mcpu} if mcpu else {"kind": "llvm"})))
    except Exception:  # noqa: BLE001 - an LLVM without the query; the loader then trusts arch
        cpu["features"] = []
    if target.kind.name == "cuda":
        return {"kind": "cuda", "arch": str(target.attrs.get("arch", "")), "host": cpu}
    return cpu


def _machine() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def _signature(fn: CompiledFunction, input_names: Optional[Sequence[str]],
               output_names: Optional[Sequence[str]]) -> Dict[str, Any]:
    plan = fn.plan

    def entry(bid: int, name: str) -> Dict[str, Any]:
        spec = plan.buffers[bid]
        dims = [d if type(d) in (int, str) else None for d in spec.shape]
        # the dtype callers give and get: an 8/4/2-bit type's, not its storage's
        return {"name": name, "dtype": spec.element or spec.dtype, "dims": dims}
    ins = list(input_names) if input_names else \
        [plan.buffers[b].name or f"arg{i}" for i, b in enumerate(plan.inputs)]
    outs = list(output_names) if output_names else [f"out{i}" for i in range(len(plan.outputs))]
    if len(ins) != len(plan.inputs) or len(outs) != len(plan.outputs):
        raise CompileError(f"signature names: {len(ins)} inputs and {len(outs)} outputs given "
                           f"for a function of {len(plan.inputs)} and {len(plan.outputs)}")
    return {"inputs": [entry(b, n) for b, n in zip(plan.inputs, ins)],
            "outputs": [entry(b, n) for b, n in zip(plan.outputs, outs)]}


def _constants_blob(constants: Mapping[int, np.ndarray]) -> tuple:
    index: List[Dict[str, Any]] = []
    chunks: List[bytes] = []
    pos = 0
    for bid in sorted(constants):
        a = np.require(constants[bid], requirements="C")
        pad = -pos % ALIGN
        chunks.append(b"\0" * pad)
        pos += pad
        raw = a.tobytes()
        index.append({"buffer": int(bid), "dtype": str(a.dtype), "shape": list(a.shape),
                      "offset": pos, "nbytes": len(raw)})
        chunks.append(raw)
        pos += len(raw)
    return b"".join(chunks), index


def _kernels_bytes(fn: CompiledFunction) -> bytes:
    with tempfile.TemporaryDirectory(prefix="mlir-lite-export-") as d:
        so = os.path.join(d, "kernels.so")
        if fn.executable is None:  # no kernels at all: an empty module still loads
            empty = tvm.compile(tvm.IRModule({}), fn.target)
            empty.export_library(so)
        else:
            fn.executable.export_library(so)
        with open(so, "rb") as fh:
            return fh.read()


def pack(fn: CompiledFunction, input_names: Optional[Sequence[str]] = None,
         output_names: Optional[Sequence[str]] = None,
         extra: Optional[Mapping[str, Any]] = None) -> Dict[str, bytes]:
    """The artifact's members (without CHECKSUM) for compiled function `fn`."""
    from mlir_lite.version import __version__
    blob, index = _constants_blob(fn.plan.constants)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "versions": {"mlir_lite": __version__, "tvm": tvm.__version__,
                     "tvm_ffi": tvm_ffi.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "target": target_description(fn.target),
        "signature": _signature(fn, input_names, output_names),
        "plan": plan_to_json(fn.plan),
        "constants": index,
        "kernels": [{"symbol": k.symbol, "op": k.op, "kind": k.kind, "schedule": k.schedule}
                    for k in fn.kernels],
        "compile_seconds": round(fn.compile_seconds, 4),
    }
    manifest.update(extra or {})
    return {"manifest.json": json.dumps(manifest, indent=1).encode(),
            "kernels.so": _kernels_bytes(fn), "constants.bin": blob}


def _aligned_extra(fh: Any, name: str) -> bytes:
    """An extra field that puts the member's data at an ALIGN-byte boundary of the file."""
    start = fh.tell() + 30 + len(name.encode())
    pad = -(start + 4) % ALIGN
    return (0xD935).to_bytes(2, "little") + pad.to_bytes(2, "little") + b"\0" * pad


def write_members(path: str, members: Mapping[str, bytes], digest: Optional[str] = None) -> None:
    """Write the artifact atomically (`digest` overrides the checksum, for tests only)."""
    with atomic_output(path, suffix=".mlc.part") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in MEMBERS:
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                info.extra = _aligned_extra(fh, name)
                zf.writestr(info, members[name])
            zf.writestr("CHECKSUM", (digest or checksum(members)) + "\n")


def save_artifact(fn: CompiledFunction, path: str, input_names: Optional[Sequence[str]] = None,
                  output_names: Optional[Sequence[str]] = None,
                  extra: Optional[Mapping[str, Any]] = None) -> None:
    """Write compiled function `fn` to `path` (see the module docstring)."""
    write_members(path, pack(fn, input_names, output_names, extra))
