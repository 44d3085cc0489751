"""The TVM CUDA path. Code generation needs no GPU: the tests check the generated CUDA source
(and, where nvcc is installed, that it compiles). Running the kernels needs a GPU; those tests
are skipped, with a message, on machines without one."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")

from mlir_lite import FuncOp, ModuleOp  # noqa: E402
from mlir_lite.backends.tvm import compile_function, cuda_target  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.ir.types import i64, tensor  # noqa: E402

HAS_GPU = tvm.cuda(0).exist
NVCC = shutil.which("nvcc") or ("/usr/local/cuda-13.0/bin/nvcc"
                                if os.path.exists("/usr/local/cuda-13.0/bin/nvcc") else None)


def _module() -> ModuleOp:
    f = FuncOp.make("main", [tensor(["N", 64]), tensor([64, 128]), tensor([50, 128]),
                             tensor([7], i64)], [])
    b = Builder.at_end(f.entry_block)
    x, w, table, ids = f.args
    y = b.op("ml.relu", b.op("ml.matmul", x, w))
    s = b.op("ml.softmax", y, axis=1)
    g = b.op("ml.gather", table, ids, axis=0)
    b.op("func.return", s, b.op("ml.add", g, g))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m


@pytest.fixture(scope="module")
def compiled():
    return compile_function(_module(), target=cuda_target("sm_80"))


def test_cuda_source_has_one_bound_kernel_per_op(compiled):
    src = compiled.source()
    for info in compiled.kernels:
        assert f"{info.symbol}_kernel" in src, info.symbol
    assert src.count("extern \"C\" __global__") >= len(compiled.kernels)
    assert "threadIdx.x" in src and "blockIdx.x" in src
    assert {i.op for i in compiled.kernels} == {"ml.matmul", "ml.relu", "ml.softmax",
                                                 "ml.gather", "ml.add"}


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
def test_cuda_source_compiles_with_nvcc(compiled):
    from tvm.support import nvcc
    with compiled.target:
        cubin = nvcc.compile_cuda(compiled.source(), target_format="cubin", compiler="nvcc")
    assert len(cubin) > 1000


@pytest.mark.skipif(HAS_GPU, reason="a GPU is present")
def test_running_without_a_gpu_says_so(compiled):
    with pytest.raises(ExecutionError, match="no CUDA device"):
        compiled(np.zeros((2, 64), np.float32), np.zeros((64, 128), np.float32),
                 np.zeros((50, 128), np.float32), np.zeros(7, np.int64))


@pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU on this machine: kernels not run")
def test_cuda_kernels_match_the_interpreter(compiled):
    rng = np.random.default_rng(0)
    m = _module()
    for n in (3, 40):
        args = [rng.standard_normal((n, 64)).astype(np.float32),
                rng.standard_normal((64, 128)).astype(np.float32),
                rng.standard_normal((50, 128)).astype(np.float32),
                rng.integers(-50, 50, 7).astype(np.int64)]
        for g, w in zip(compiled(*args), run(m, *args)):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    with pytest.raises(ExecutionError, match="out of range"):
        compiled(*args[:3], np.array([0, 1, 2, 3, 4, 5, 50], np.int64))
