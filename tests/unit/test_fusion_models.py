"""Fusion and batch-norm folding on imported ONNX models (MLP, CNN with BN, Transformer block):
the fused module's interpreter results equal the unfused module's and onnxruntime's
(rtol 1e-4, atol 1e-5: BN folding reassociates float32 arithmetic)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from mlir_lite import import_onnx
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.verifier import verify
from mlir_lite.passes import PassManager, parse_pipeline

from ..onnx import _models as M

PIPELINE = "fold-constants,fold-batchnorm,canonicalize,cse,dce,fuse"


def _check(model: onnx.ModelProto, feeds: dict, pipeline: str = PIPELINE):
    m0 = import_onnx(model)
    m1 = import_onnx(model)
    pm = PassManager(parse_pipeline(pipeline))
    pm.run(m1)
    verify(m1)
    ins = list(feeds.values())
    want = run(m0, *ins)
    got = run(m1, *ins)
    ort = M.run_ort(model, feeds)
    for w, g, o in zip(want, got, ort):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g, o, rtol=1e-4, atol=1e-5)
    return m1, pm.context.stats.get("fuse")


def _names(m) -> list:
    return [o.name for o in m["main"].entry_block.ops if o.name != "ml.constant"]


def test_mlp() -> None:
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    m, rep = _check(M.mlp(), {"x": x})
    assert _names(m) == ["ml.fused", "ml.fused", "func.return"]
    assert (rep.kernels_before, rep.kernels_after) == (5, 2)


def test_cnn_with_batchnorm_folds_and_fuses() -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 12, 12)).astype(np.float32)
    m, rep = _check(M.cnn(), {"x": x})
    names = [o.name for o in m.walk()]
    assert "ml.batch_norm" not in names
    assert [g.kind for g in rep.groups] == ["conv_epilogue", "conv_epilogue"]
    assert rep.kernels_after == 6 and rep.kernels_before == 8  # BN already folded: 9 -> 8


@pytest.mark.parametrize("shape", [(2, 5, 8), (1, 3, 8)])
def test_transformer_block(shape: tuple) -> None:
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    m, rep = _check(M.transformer_block(), {"x": x})
    kinds = sorted(g.kind for g in rep.groups)
    assert kinds.count("gemm_epilogue") == 4 and kinds.count("injective") == 4
    assert rep.kernels_after < rep.kernels_before
    assert any(u.rule == "one-anchor" for u in rep.unfused)


def _bn_model(kind: str) -> onnx.ModelProto:
    n = helper.make_node
    rng = np.random.default_rng(3)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    inits = [M.init("s", f(6)), M.init("b", f(6)), M.init("mu", f(6)),
             M.init("var", np.abs(f(6)) + 0.5)]
    if kind == "gemm":
        nodes = [n("Gemm", ["x", "W", "C"], ["h"], transB=1, alpha=0.7, beta=0.3)]
        inits += [M.init("W", f(6, 4)), M.init("C", f(6))]
    elif kind == "gemm_noc":
        nodes = [n("Gemm", ["x", "W"], ["h"])]
        inits += [M.init("W", f(4, 6))]
    else:
        nodes = [n("MatMul", ["x", "W"], ["h"])]
        inits += [M.init("W", f(4, 6))]
    nodes += [n("BatchNormalization", ["h", "s", "b", "mu", "var"], ["bn"], epsilon=1e-3),
              n("Relu", ["bn"], ["y"])]
    return M.model(nodes, [M.vi("x", [3, 4])], [M.vi("y", [3, 6])], inits)


@pytest.mark.parametrize("kind", ["gemm", "gemm_noc", "matmul"])
def test_fold_batchnorm_into_gemm_and_matmul(kind: str) -> None:
    x = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    m, rep = _check(_bn_model(kind), {"x": x})
    assert "ml.batch_norm" not in [o.name for o in m.walk()]
    assert len(rep.groups) == 1 and rep.groups[0].kind == "gemm_epilogue"


def test_fold_batchnorm_declines_with_reasons() -> None:
    from mlir_lite.ir.parser import parse_module
    text = """
func.func @main(%x: tensor<1x2x3x3xf32>, %w: tensor<2x2x1x1xf32>, %p: tensor<2xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %c = "ml.conv"(%x, %w) : (tensor<1x2x3x3xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %y = "ml.batch_norm"(%c, %p, %p, %p, %p) : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  "func.return"(%y, %c) : (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) -> ()
}
"""
    m = parse_module(text)
    pm = PassManager(parse_pipeline("fold-batchnorm"))
    assert not pm.run(m)
    declines = pm.context.stats["fold-batchnorm"].stats("fold-batchnorm").declines
    assert "the ml.conv result has other users" in declines
