"""The compiled artifact (.mlc), its runtime (`mlir_lite.load`) and the compile/run/bench
commands. Expected values come from numpy written here or from onnxruntime."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

import mlir_lite
import mlir_lite.runtime as rt
import mlir_lite.runtime.loader as rt_load
from mlir_lite.backends.tvm.artifact import write_members
from mlir_lite.driver import compile_to_artifact
from mlir_lite.driver.cli import main
from mlir_lite.errors import CompileError, ExecutionError
from mlir_lite.runtime.plan import count_kernel_calls

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def _two_input_model() -> onnx.ModelProto:
    """z = relu(x @ W + y): x (N, 4), y (N, 3) share the symbol N."""
    g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["m"]),
                      h.make_node("Add", ["m", "y"], ["a"]),
                      h.make_node("Relu", ["a"], ["z"])], "two",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 4]),
                      h.make_tensor_value_info("y", T.FLOAT, ["N", 3])],
                     [h.make_tensor_value_info("z", T.FLOAT, ["N", 3])],
                     [numpy_helper.from_array(W, "w")])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def _want(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W + y, 0)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("art")
    src = str(d / "two.onnx")
    onnx.save(_two_input_model(), src)
    out = str(d / "two.mlc")
    compile_to_artifact(src, out)
    return out


def _members(path: str) -> dict:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in rt.MEMBERS}


def _repack(src: str, dst: str, edit_manifest=None, edit=None, keep_digest: bool = False
            ) -> None:
    members = _members(src)
    if edit_manifest is not None:
        man = json.loads(members["manifest.json"])
        edit_manifest(man)
        members["manifest.json"] = json.dumps(man).encode()
    old = rt.checksum(_members(src))
    if edit is not None:
        edit(members)
    write_members(dst, members, digest=old if keep_digest else None)


def test_layout_signature_and_calls(artifact: str) -> None:
    with zipfile.ZipFile(artifact) as zf:
        assert zf.namelist() == ["manifest.json", "kernels.so", "constants.bin", "CHECKSUM"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        man = json.loads(zf.read("manifest.json"))
    assert man["format_version"] == rt.FORMAT_VERSION
    assert set(man["versions"]) == {"mlir_lite", "tvm", "tvm_ffi"}
    assert man["target"]["kind"] == "llvm" and man["target"]["mcpu"] not in ("", "native")
    assert man["signature"]["inputs"] == [{"name": "x", "dtype": "float32", "dims": ["N", 4]},
                                          {"name": "y", "dtype": "float32", "dims": ["N", 3]}]
    assert [o["name"] for o in man["signature"]["outputs"]] == ["z"]
    m = mlir_lite.load(artifact)
    rng = np.random.default_rng(0)
    for n in (1, 6):
        x = rng.standard_normal((n, 4)).astype(np.float32)
        y = rng.standard_normal((n, 3)).astype(np.float32)
        for got in (m(x, y)[0], m(x=x, y=y)[0], m.run({"x": x, "y": y})[0]):
            np.testing.assert_allclose(got, _want(x, y), rtol=1e-5, atol=1e-6)


def test_inputs_are_validated(artifact: str) -> None:
    m = mlir_lite.load(artifact)
    x = np.zeros((2, 4), np.float32)
    y = np.zeros((2, 3), np.float32)
    with pytest.raises(ExecutionError, match="unknown: \\['q'\\]"):
        m(x=x, y=y, q=x)
    with pytest.raises(ExecutionError, match="missing: \\['y'\\]"):
        m(x=x)
    with pytest.raises(ExecutionError, match="dtype float64, expected float32"):
        m(x=x.astype(np.float64), y=y)
    with pytest.raises(ExecutionError, match="size 5 in dim 1, expected 4"):
        m(x=np.zeros((2, 5), np.float32), y=y)
    with pytest.raises(ExecutionError, match="symbol N is already bound to 2"):
        m(x=x, y=np.zeros((3, 3), np.float32))
    with pytest.raises(ExecutionError, match="rank 1"):
        m(x=np.zeros(4, np.float32), y=y)


def test_corrupted_artifacts_are_refused(artifact: str, tmp_path: os.PathLike) -> None:
    bad = str(tmp_path / "bad.mlc")

    def flip(members: dict) -> None:
        blob = bytearray(members["constants.bin"])
        blob[0] ^= 0xFF
        members["constants.bin"] = bytes(blob)
    _repack(artifact, bad, edit=flip, keep_digest=True)
    with pytest.raises(CompileError, match="content hash mismatch"):
        mlir_lite.load(bad)
    with open(artifact, "rb") as fh:
        data = fh.read()
    with open(bad, "wb") as fh:
        fh.write(data[: len(data) // 2])
    with pytest.raises(CompileError, match="not an mlir-lite artifact|corrupted"):
        mlir_lite.load(bad)
    with pytest.raises(CompileError, match="no such file"):
        mlir_lite.load(str(tmp_path / "missing.mlc"))


def test_other_format_version_and_target_are_refused(artifact: str,
                                                     tmp_path: os.PathLike) -> None:
    other = str(tmp_path / "other.mlc")
    _repack(artifact, other, edit_manifest=lambda m: m.update(format_version=99))
    with pytest.raises(CompileError, match="format version 99"):
        mlir_lite.load(other)
    _repack(artifact, other, edit_manifest=lambda m: m["target"].update(arch="riscv64"))
    with pytest.raises(CompileError, match="built for riscv64"):
        mlir_lite.load(other)


def test_cpu_features_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    target = {"kind": "llvm", "mcpu": "znver5", "arch": rt_load._machine(),
              "features": ["avx2", "avx512f", "sse2"]}
    monkeypatch.setattr(rt_load, "host_cpu_features", lambda: {"sse2", "avx2"})
    assert "lacks them" in rt.check_target(target) and "avx512f" in rt.check_target(target)
    monkeypatch.setattr(rt_load, "host_cpu_features", lambda: {"sse2", "avx2", "avx512f"})
    assert rt.check_target(target) is None
    assert "cannot run" not in (rt.check_target({"kind": "llvm"}) or "")
    assert "does not run" in rt.check_target({"kind": "vulkan"})


def test_cuda_artifact_is_refused_without_a_gpu(tmp_path: os.PathLike) -> None:
    import tvm
    if tvm.cuda(0).exist:
        pytest.skip("a CUDA device is present")
    src = str(tmp_path / "two.onnx")
    onnx.save(_two_input_model(), src)
    out = str(tmp_path / "two_cuda.mlc")
    compile_to_artifact(src, out, target="cuda", arch="sm_80")
    man = json.loads(_members(out)["manifest.json"])
    assert man["target"]["kind"] == "cuda" and man["target"]["arch"] == "sm_80"
    with pytest.raises(CompileError, match="no CUDA device"):
        mlir_lite.load(out)


def test_threads_share_one_model(artifact: str) -> None:
    m = mlir_lite.load(artifact)
    rng = np.random.default_rng(1)
    cases = [(rng.standard_normal((n, 4)).astype(np.float32),
              rng.standard_normal((n, 3)).astype(np.float32)) for n in (1, 2, 3, 5, 8, 13)]
    errors: list = []

    def work(k: int) -> None:
        try:
            for i in range(30):
                x, y = cases[(k + i) % len(cases)]
                np.testing.assert_allclose(m(x=x, y=y)[0], _want(x, y), rtol=1e-5, atol=1e-6)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_write_is_atomic(artifact: str, tmp_path: os.PathLike) -> None:
    members = _members(artifact)
    target = str(tmp_path / "model.mlc")
    with open(target, "wb") as fh:
        fh.write(b"previous")

    class Interrupting(dict):
        def __getitem__(self, k: str) -> bytes:
            if k == "constants.bin":
                raise KeyboardInterrupt
            return dict.__getitem__(self, k)
    with pytest.raises(KeyboardInterrupt):
        write_members(target, Interrupting(members))
    assert os.listdir(tmp_path) == ["model.mlc"]
    with open(target, "rb") as fh:
        assert fh.read() == b"previous"
    write_members(target, members)
    assert os.listdir(tmp_path) == ["model.mlc"]
    assert mlir_lite.load(target).input_names == ["x", "y"]


def test_constants_are_memory_mapped_and_aligned(artifact: str) -> None:
    with zipfile.ZipFile(artifact) as zf, open(artifact, "rb") as fh:
        start = rt_load._member_data_offset(fh, zf.getinfo("constants.bin"))
    assert start % 64 == 0
    man = json.loads(_members(artifact)["manifest.json"])
    assert all(c["offset"] % 64 == 0 for c in man["constants"])


def test_runtime_needs_no_compiler(artifact: str) -> None:
    code = ("import sys, numpy as np, mlir_lite\n"
            f"m = mlir_lite.load({artifact!r})\n"
            "z, = m(x=np.ones((2, 4), np.float32), y=np.ones((2, 3), np.float32))\n"
            "print(repr(z.tolist()))\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    np.testing.assert_allclose(np.array(eval(out[0])), _want(np.ones((2, 4)), np.ones((2, 3))),
                               rtol=1e-5)
    mods = out[1].split()
    ours = sorted(m for m in mods if m.startswith("mlir_lite"))
    assert ours == ["mlir_lite", "mlir_lite.errors", "mlir_lite.runtime", "mlir_lite.runtime.arena",
                    "mlir_lite.runtime.loader", "mlir_lite.runtime.plan", "mlir_lite.version"]
    assert not [m for m in mods if m == "onnx" or m.startswith("onnx.")]


def test_lstm_kernels_are_shared_between_steps() -> None:
    from mlir_lite.driver import compile
    from tests.golden.models import lstm
    fn = compile(lstm(direction="forward", seq=5), opt_level=1).executable
    calls = count_kernel_calls(fn.plan.steps)
    assert calls >= 5 * 8 and len(fn.kernels) < calls / 3


# -- the command line ----------------------------------------------------------------------------
def test_cli_compile_run_bench(tmp_path: os.PathLike, capsys: pytest.CaptureFixture) -> None:
    src = str(tmp_path / "two.onnx")
    onnx.save(_two_input_model(), src)
    out = str(tmp_path / "two.mlc")
    assert main(["compile", src, "-o", out, "-O0", "--timing"]) == 0
    assert "codegen" in capsys.readouterr().err
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    y = np.ones((3, 3), np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "all.npz", x=np.zeros((3, 4), np.float32), y=y)
    res = str(tmp_path / "res.npz")
    assert main(["run", out, "--inputs", str(tmp_path / "all.npz"),
                 "--input", f"x={tmp_path / 'x.npy'}", "-o", res]) == 0
    with np.load(res) as r:
        np.testing.assert_allclose(r["z"], _want(x, y), rtol=1e-5, atol=1e-6)
    assert main(["run", out]) == 1
    assert "no value for input(s) x, y" in capsys.readouterr().err
    assert main(["run", out, "--random"]) == 0
    assert "z: float32[2, 3]" in capsys.readouterr().out  # --dynamic-dim 2
    assert main(["bench", out, "--repeat", "3", "--vs", "onnxruntime", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mlir_lite"]["runs"] == 3 and report["ratio"] > 0
    assert main(["bench", src, "--repeat", "2"]) == 0
    assert "median ms" in capsys.readouterr().out


def test_cli_compile_errors(tmp_path: os.PathLike, capsys: pytest.CaptureFixture) -> None:
    bad = str(tmp_path / "bad.onnx")
    with open(bad, "wb") as fh:
        fh.write(b"not a model")
    assert main(["compile", bad, "-o", str(tmp_path / "x.mlc")]) == 1
    assert capsys.readouterr().err.startswith("mlir-lite: error:")
    assert not (tmp_path / "x.mlc").exists()
    assert main(["run", str(tmp_path / "none.mlc"), "--random"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_print_ir_after_all(tmp_path: os.PathLike, capsys: pytest.CaptureFixture) -> None:
    src = str(tmp_path / "two.onnx")
    onnx.save(_two_input_model(), src)
    assert main(["compile", src, "-o", str(tmp_path / "t.mlc"), "--print-ir-after-all"]) == 0
    err = capsys.readouterr().err
    assert "canonicalize" in err and "ml.matmul" in err


def test_onnx_backend_compiled_path() -> None:
    import mlir_lite.backend as backend
    model = _two_input_model()
    x = np.random.default_rng(3).standard_normal((4, 4)).astype(np.float32)
    y = np.zeros((4, 3), np.float32)
    rep = backend.prepare(model, "CPU", executor="tvm")
    np.testing.assert_allclose(rep.run([x, y])[0], _want(x, y), rtol=1e-5, atol=1e-6)
