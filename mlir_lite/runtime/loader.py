"""Load and run a compiled model (`.mlc`) with numpy and TVM's runtime only.

    m = mlir_lite.load("model.mlc")
    y, = m(x=array)                 # by name; or m(array) by position
    y, = m.run({"x": array})
    m.input_names, m.output_names, m.signature, m.manifest

No IR, no frontend, no compiler is imported here. The artifact is a zip (members stored, not
compressed) with a fixed layout:

    manifest.json    format version, versions built with, target, signature, plan, constants
    kernels.so       TVM's `export_library` of the kernels for the target
    constants.bin    the constants, each 64-byte aligned (and the member itself aligned in the
                     file, so that they are memory-mapped, not read)
    CHECKSUM         SHA-256 over the other members, checked on load

Loading refuses (CompileError) an artifact of another format version, one built for a CPU that
this machine cannot run (another architecture, or missing vector extensions) or for a device
that is absent, and a corrupted one (bad zip, or a checksum mismatch). Calls validate input
names, dtypes and shapes (symbolic dims consistent across inputs) and raise ExecutionError.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mlir_lite.errors import CompileError, ExecutionError

__all__ = ["load", "CompiledModel", "FORMAT", "FORMAT_VERSION", "MEMBERS", "checksum",
           "host_cpu_features", "check_target", "CHECKED_FEATURES"]

FORMAT = "mlir-lite-artifact"
FORMAT_VERSION = 1
MEMBERS = ("manifest.json", "kernels.so", "constants.bin")  # CHECKSUM covers these, in order
ALIGN = 64

# LLVM feature name -> /proc/cpuinfo flag, for the vector extensions generated code relies on.
CHECKED_FEATURES = {"ssse3": "ssse3", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx": "avx",
                    "avx2": "avx2", "fma": "fma", "f16c": "f16c", "avx512f": "avx512f",
                    "avx512cd": "avx512cd", "avx512bw": "avx512bw", "avx512dq": "avx512dq",
                    "avx512vl": "avx512vl"}


def checksum(members: Mapping[str, bytes]) -> str:
    """SHA-256 (hex) over the named members: name, length and bytes of each, in MEMBERS order."""
    h = hashlib.sha256()
    for name in MEMBERS:
        data = members[name]
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _machine() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def host_cpu_features() -> Optional[set]:
    """This machine's CPU flags (Linux), or None when they cannot be read."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def check_target(target: Mapping[str, Any]) -> Optional[str]:
    """Why this machine cannot run code built for `target` (None when it can)."""
    kind = target.get("kind")
    if kind == "cuda":
        import tvm
        if not tvm.cuda(0).exist:
            return f"it was built for CUDA ({target.get('arch', '?')}), and no CUDA device is " \
                   "present on this machine"
        return None
    if kind != "llvm":
        return f"it was built for target kind {kind!r}, which this runtime does not run"
    arch = target.get("arch")
    if arch and arch != _machine():
        return f"it was built for {arch} ({target.get('mcpu')}), this machine is {_machine()}"
    need = [f for f in target.get("features", ()) if f in CHECKED_FEATURES]
    have = host_cpu_features()
    if need and have is not None:
        missing = [f for f in need if CHECKED_FEATURES[f] not in have]
        if missing:
            return f"it was built for CPU {target.get('mcpu')!r}, which needs " \
                   f"{', '.join(missing)}; this CPU lacks them (recompile with --mcpu)"
    return None


def _member_data_offset(fh: Any, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start in the file (after its local header)."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


def _np_dtype(name: str) -> np.dtype:
    """A numpy dtype by name, the ml_dtypes ones (bfloat16, float8_e4m3fn, int4, ...)
    included."""
    if not hasattr(np, name):
        import ml_dtypes
        if hasattr(ml_dtypes, name):
            return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def _read(path: str) -> Tuple[Dict[str, Any], bytes, Dict[str, int]]:
    """The manifest, the kernel library's bytes and the constants' file offset; verified."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CompileError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise CompileError(f"{path}: not an mlir-lite artifact ({e})") from None
    with zf:
        names = set(zf.namelist())
        missing = [n for n in MEMBERS + ("CHECKSUM",) if n not in names]
        if missing:
            raise CompileError(f"{path}: not an mlir-lite artifact (missing "
                               f"{', '.join(missing)})")
        try:
            data = {n: zf.read(n) for n in MEMBERS}
            stored = zf.read("CHECKSUM").decode("ascii", "replace").strip()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise CompileError(f"{path}: the artifact is corrupted ({e})") from None
        if checksum(data) != stored:
            raise CompileError(f"{path}: the artifact is corrupted (content hash mismatch)")
        info = zf.getinfo("constants.bin")
        with open(path, "rb") as fh:
            offsets = {"constants.bin": _member_data_offset(fh, info)
                       if info.compress_type == zipfile.ZIP_STORED else -1}
    try:
        manifest = json.loads(data["manifest.json"])
    except ValueError as e:
        raise CompileError(f"{path}: bad manifest ({e})") from None
    if manifest.get("format") != FORMAT:
        raise CompileError(f"{path}: not an mlir-lite artifact")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CompileError(f"{path}: artifact format version {manifest.get('format_version')}, "
                           f"this runtime reads version {FORMAT_VERSION}; recompile the model")
    why = check_target(manifest.get("target", {}))
    if why:
        raise CompileError(f"{path}: cannot run this artifact here: {why}")
    return manifest, data["kernels.so"], offsets


def _constants(path: str, manifest: Mapping[str, Any], offset: int, blob_bytes: bytes,
               device: Any) -> Dict[int, Any]:
    """The constants as TVM tensors: memory-mapped and passed zero-copy where possible."""
    import tvm
    on_cpu = device.dlpack_device_type() == 1
    out: Dict[int, Any] = {}
    for c in manifest["constants"]:
        dt = _np_dtype(c["dtype"])
        shape = tuple(c["shape"])
        if offset >= 0 and c["nbytes"] and on_cpu and dt != np.bool_:
            count = int(np.prod(shape, dtype=np.int64))
            arr = np.memmap(path, dtype=dt, mode="c", offset=offset + c["offset"],
                            shape=(count,)).reshape(shape)
            if arr.ctypes.data % ALIGN == 0:
                try:
                    out[c["buffer"]] = tvm.runtime.from_dlpack(arr)
                    continue
                except Exception:  # fall back to a copy
                    pass
        raw = np.frombuffer(blob_bytes, dtype=dt, count=int(np.prod(shape, dtype=np.int64)),
                            offset=c["offset"]).reshape(shape)
        out[c["buffer"]] = tvm.runtime.tensor(np.array(raw), device)
    return out


class CompiledModel:
    """A loaded artifact: call it with arrays (by position or by name)."""

    def __init__(self, path: str) -> None:
        import tvm

        from mlir_lite.runtime.plan import Executor, plan_from_json
        manifest, lib_bytes, offsets = _read(path)
        self.path = path
        self.manifest = manifest
        self.signature = manifest["signature"]
        self.input_names: List[str] = [i["name"] for i in self.signature["inputs"]]
        self.output_names: List[str] = [o["name"] for o in self.signature["outputs"]]
        is_cuda = manifest["target"].get("kind") == "cuda"
        self.device = tvm.cuda(0) if is_cuda else tvm.cpu(0)
        fd, tmp = tempfile.mkstemp(suffix=".so", prefix="mlir-lite-kernels-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(lib_bytes)
            try:
                lib = tvm.runtime.load_module(tmp)
            except Exception as e:  # noqa: BLE001 - TVM raises several kinds here
                raise CompileError(f"{path}: cannot load the kernels: "
                                   f"{str(e).splitlines()[0]}") from None
        finally:
            os.unlink(tmp)  # the loaded library stays mapped
        with zipfile.ZipFile(path) as zf:
            blob = zf.read("constants.bin")
        consts = _constants(path, manifest, offsets["constants.bin"], blob, self.device)
        plan = plan_from_json(manifest["plan"], {})
        self._module = lib
        self._executor = Executor(plan, lib, self.device, consts)  # serialises calls

    def _arrays(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> List[np.ndarray]:
        names = self.input_names
        if args and kwargs:
            raise ExecutionError("give the inputs by position or by name, not both")
        if kwargs:
            unknown = sorted(set(kwargs) - set(names))
            missing = [n for n in names if n not in kwargs]
            if unknown or missing:
                raise ExecutionError(f"the model takes inputs {names}; "
                                     + (f"unknown: {unknown}" if unknown else "")
                                     + ("; " if unknown and missing else "")
                                     + (f"missing: {missing}" if missing else ""))
            args = [kwargs[n] for n in names]
        if len(args) != len(names):
            raise ExecutionError(f"the model takes {len(names)} inputs {names}, got {len(args)}")
        out = []
        for spec, a in zip(self.signature["inputs"], args):
            arr = np.asarray(a)
            want = spec["dtype"]
            if arr.dtype != _np_dtype(want):
                raise ExecutionError(f"input {spec['name']!r} has dtype {arr.dtype}, expected "
                                     f"{want}")
            out.append(arr)
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> List[np.ndarray]:
        """The outputs, in order, as numpy arrays."""
        return self._executor.run(self._arrays(args, kwargs))

    def run(self, feed: Mapping[str, Any]) -> List[np.ndarray]:
        """Like calling with keyword arguments: `feed` maps input names to arrays."""
        return self(**dict(feed))

    @property
    def num_kernel_calls(self) -> int:
        from mlir_lite.runtime.plan import count_kernel_calls
        return count_kernel_calls(self._executor.plan.steps)

    def __repr__(self) -> str:
        sig = ", ".join(f"{i['name']}: {i['dtype']}{i['dims']}" for i in self.signature["inputs"])
        return f"<CompiledModel {os.path.basename(self.path)} ({sig}) " \
               f"target={self.manifest['target'].get('kind')}>"


def load(path: str) -> CompiledModel:
    """Load a compiled model (`mlir-lite compile ... -o model.mlc`)."""
    return CompiledModel(os.fspath(path))
