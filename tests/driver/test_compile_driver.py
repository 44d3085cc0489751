"""The compile driver: one pipeline table that every entry point uses, `compile
--print-pipeline` + `opt -p` replaying exactly the IR `compile` lowers, passes registered without
TVM, and the DSL's programs compiled with fusion like ONNX models."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import numpy as np
import onnx
import pytest

import mlir_lite.dsl as tf
from mlir_lite.driver import PIPELINES, CompileOptions, compile, optimize, pipeline_for
from mlir_lite.driver.cli import main
from mlir_lite.errors import CompileError, MlirLiteError
from mlir_lite.frontends.onnx import import_onnx
from mlir_lite.ir.printer import print_module
from mlir_lite.passes.registry import PASS_REGISTRY
from tests.golden.models import MODELS, inputs_for

ROOT = Path(__file__).resolve().parents[2]


def _cli(argv: List[str], capsys: pytest.CaptureFixture) -> str:
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["small_cnn", "lstm", "transformer_layer", "if_loop",
                                  "squeezenet"])
@pytest.mark.parametrize("level", [1, 2])
def test_print_pipeline_and_opt_replay_what_compile_lowers(
        name: str, level: int, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = str(tmp_path / f"{name}.onnx")
    onnx.save(MODELS[name](), src)
    mlir = str(tmp_path / f"{name}.mlir")
    _cli(["import", src, "-o", mlir], capsys)
    pipeline = _cli(["compile", "--print-pipeline", f"-O{level}"], capsys).strip()
    replayed = _cli(["opt", mlir, "-p", pipeline], capsys)
    compiled = compile(src, opt_level=level)
    assert compiled.pipeline == pipeline
    assert replayed == print_module(compiled.module)
    ref = inputs_for(MODELS[name]())
    outs = compiled(*[ref[n] for n in compiled.input_names])
    assert len(outs) == len(compiled.output_names)


def test_cuda_pipeline_replays_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture
                                            ) -> None:
    src = str(tmp_path / "cnn.onnx")
    onnx.save(MODELS["small_cnn"](), src)
    mlir = str(tmp_path / "cnn.mlir")
    _cli(["import", src, "-o", mlir], capsys)
    pipeline = _cli(["compile", "--print-pipeline", "--target", "cuda"], capsys).strip()
    assert "blocked-layout" not in pipeline and pipeline.endswith("fuse")
    module = import_onnx(src)
    assert optimize(module, target="cuda") == pipeline
    assert _cli(["opt", mlir, "-p", pipeline], capsys) == print_module(module)


def test_every_table_entry_names_passes_registered_without_tvm() -> None:
    code = ("import sys\nimport mlir_lite.passes\nfrom mlir_lite.driver.pipeline import "
            "PIPELINES, pipeline_text\nfrom mlir_lite.passes.registry import parse_pipeline\n"
            "for kind, rows in PIPELINES.items():\n    for level in rows:\n"
            "        parse_pipeline(pipeline_text(kind, level, {'lanes': 8}))\n"
            "assert 'tvm' not in sys.modules, 'TVM was imported'\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    for rows in PIPELINES.values():
        assert set(rows) == {0, 1, 2, 3}
        for level, passes in rows.items():
            for p in passes:
                assert p.split("{")[0] in PASS_REGISTRY, (level, p)


def test_blocked_layout_block_comes_from_the_target() -> None:
    import tvm

    from mlir_lite.backends.tvm.build import cpu_config, resolve_target
    for mcpu in ("haswell", "skylake-avx512", None):
        lanes = cpu_config(resolve_target("cpu", mcpu=mcpu)).lanes("float32")
        assert f"blocked-layout{{block={lanes}}}" in pipeline_for(opt_level=2, mcpu=mcpu)
    assert cpu_config(tvm.target.Target({"kind": "llvm", "mcpu": "haswell"})).lanes(
        "float32") == 8


def test_compile_never_changes_the_callers_module() -> None:
    module = import_onnx(MODELS["mlp"]())
    before = print_module(module)
    compiled = compile(module)
    assert print_module(module) == before
    assert "ml.fused" in print_module(compiled.module)


def test_bad_options_are_typed_errors() -> None:
    with pytest.raises(CompileError, match="optimisation level must be 0 to 3"):
        pipeline_for(opt_level=5)
    with pytest.raises(CompileError, match="unknown executor or target 'tpu'"):
        compile(MODELS["mlp"](), target="tpu")
    with pytest.raises(CompileError, match="no function @nope"):
        compile(MODELS["mlp"](), func="nope")
    with pytest.raises(TypeError, match="unknown compile option"):
        compile(MODELS["mlp"](), opt=2)
    with pytest.raises(MlirLiteError, match="makes no artifact"):
        from mlir_lite.driver import compile_to_artifact
        compile_to_artifact(MODELS["mlp"](), "/nonexistent/x.mlc", target="interpreter")
    assert not os.path.exists("/nonexistent/x.mlc")


def test_interpreter_target_runs_the_cleanup_pipeline() -> None:
    m = MODELS["small_cnn"]()
    compiled = compile(m, CompileOptions(target="interpreter", opt_level=2))
    assert "fuse" not in compiled.pipeline and "fold-batchnorm" in compiled.pipeline
    ref = inputs_for(m)
    want = compile(m, target="cpu")(*[ref[n] for n in compiled.input_names])
    got = compiled(*[ref[n] for n in compiled.input_names])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def _train_step(opt_level: int) -> Any:
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 6])
    y_ = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(np.linspace(-1, 1, 18, dtype=np.float32).reshape(6, 3))
    b = tf.Variable(tf.zeros([3]))
    logits = tf.nn.relu(tf.matmul(x, w) + b)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session(opt_level=opt_level)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    feed = {x: rng.standard_normal((5, 6)).astype(np.float32),
            y_: np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]}
    losses = [sess.run([loss, step], feed_dict=feed)[0] for _ in range(3)]
    return sess, losses


def test_session_training_step_is_fused_at_o2_and_matches_o1() -> None:
    s2, l2 = _train_step(2)
    s1, l1 = _train_step(1)
    fused = s2.last_program.fn.executable
    unfused = s1.last_program.fn.executable
    assert "ml.fused" in print_module(s2.last_program.module)
    assert "ml.fused" not in print_module(s1.last_program.module)
    assert len(fused.kernels) < len(unfused.kernels)
    np.testing.assert_allclose(l2, l1, rtol=1e-5, atol=1e-6)
    assert l2[2] < l2[0]  # it trains


def test_jit_pieces_are_fused() -> None:
    import mlir_lite
    from mlir_lite.dsl import eager as F
    w = F.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

    @mlir_lite.jit
    def f(x: Any) -> Any:
        return F.relu(x @ w + 1.0) * 2.0

    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    got = f(F.tensor(x)).data
    np.testing.assert_allclose(got, np.maximum(x @ w.data + 1.0, 0) * 2.0, rtol=1e-5)
    (entry,) = [e for es in f.entries.values() for e in es]
    assert "ml.fused" in print_module(entry.root.module)
    assert len(entry.root.fn.executable.kernels) == 1
