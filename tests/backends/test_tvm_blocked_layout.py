"""The `blocked-layout` pass (passes/layout.py) and `ml.conv_nchwc`: which ops go blocked, where
the conversions are, and that the blocked module (interpreted and compiled) gives
onnxruntime's answer on the original ONNX model (rtol 1e-4, atol 1e-5)."""
from __future__ import annotations

from typing import List

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

from mlir_lite import FuncOp, import_onnx  # noqa: E402
from mlir_lite.backends.tvm import compile_function  # noqa: E402
from mlir_lite.driver import compile, pipeline_for  # noqa: E402
from mlir_lite.errors import InferenceError  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.interpreter import run  # noqa: E402
from mlir_lite.ir.parser import parse_module  # noqa: E402
from mlir_lite.ir.printer import print_module  # noqa: E402
from mlir_lite.ir.types import tensor  # noqa: E402
from mlir_lite.passes.layout import to_blocked_array  # noqa: E402
from mlir_lite.passes.registry import run_pipeline  # noqa: E402

TOL = {"rtol": 1e-4, "atol": 1e-5}
PRE = "canonicalize,fold-constants,fold-batchnorm,cse,dce,shape-inference"
R = np.random.default_rng(11)


def _init(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array(R.uniform(-scale, scale, shape).astype(np.float32), name)


def _model(nodes: list, inputs: list, outputs: list, inits: list) -> onnx.ModelProto:
    g = h.make_graph(nodes, "m", inputs, outputs, inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def everything_model() -> onnx.ModelProto:
    """Convs with a residual add, a concat, an unfolded batch norm after it, per-channel and
    scalar constants, a squeeze-excite style [N, C, 1, 1] gate, a [N, 1, H, W] map, a pool
    that leaves the region, and an intermediate value that is also a graph output."""
    bn = [numpy_helper.from_array(R.uniform(0.5, 1.5, 64).astype(np.float32), "g"),
          numpy_helper.from_array(R.uniform(-0.2, 0.2, 64).astype(np.float32), "be"),
          numpy_helper.from_array(R.uniform(-0.2, 0.2, 64).astype(np.float32), "mu"),
          numpy_helper.from_array(R.uniform(0.5, 1.5, 64).astype(np.float32), "var")]
    inits = [_init("w1", 32, 16, 3, 3), _init("b1", 32), _init("w2", 32, 32, 1, 1),
             _init("w3", 32, 64, 3, 3), _init("w4", 32, 64, 1, 1), _init("k", 64, 1, 1),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"), *bn]
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"]),
        h.make_node("Conv", ["r1", "w2"], ["c2"]),
        h.make_node("Concat", ["r1", "c2"], ["cat"], axis=1),
        h.make_node("BatchNormalization", ["cat", "g", "be", "mu", "var"], ["bn"]),
        h.make_node("Relu", ["bn"], ["r2"]),
        h.make_node("Mul", ["r2", "k"], ["m"]),
        h.make_node("Add", ["m", "half"], ["a"]),
        h.make_node("Conv", ["a", "w3"], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
        h.make_node("Conv", ["a", "w4"], ["c4"], strides=[2, 2]),
        h.make_node("Add", ["c3", "c4"], ["s"]),
        h.make_node("Relu", ["s"], ["sr"]),
        h.make_node("GlobalAveragePool", ["sr"], ["gap"]),
        h.make_node("Sigmoid", ["gap"], ["gate"]),
        h.make_node("Mul", ["sr", "gate"], ["y"]),
        h.make_node("ReduceMean", ["y"], ["ymap"], axes=[1], keepdims=1),
        h.make_node("Mul", ["y", "ymap"], ["y2"]),
        h.make_node("MaxPool", ["y2"], ["out"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, ["N", 16, 12, 12])],
                  [h.make_tensor_value_info("out", T.FLOAT, ["N", 32, 3, 3]),
                   h.make_tensor_value_info("r1", T.FLOAT, ["N", 32, 12, 12])], inits)


def _ops(module: object, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


def _ort(model: onnx.ModelProto, x: np.ndarray) -> List[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})


def _blocked(model: onnx.ModelProto, options: str = "block=16 macs-per-element=0") -> object:
    m = import_onnx(model)
    run_pipeline(m, f"{PRE},blocked-layout{{{options}}}")
    return m


def test_the_region_goes_blocked_and_converts_only_at_its_edges() -> None:
    m = _blocked(everything_model())
    convs = _ops(m, "ml.conv_nchwc")
    assert len(convs) == 4 and not _ops(m, "ml.conv")
    assert [c.attr("in_block") for c in convs] == [16, 16, 16, 16]
    assert not _ops(m, "ml.batch_norm")  # became a multiply and an add, blocked
    # in: x; the [N, C, 1, 1] gate. out: r1 (a graph output), sr (to the global pool), y (to
    # the channel mean), y2 (to the max pool). The [N, 1, H, W] map is a reshape, no transpose.
    assert len(_ops(m, "ml.transpose")) == 6


@pytest.mark.parametrize("batch", [1, 3])
def test_blocked_module_interpreted_matches_onnxruntime(batch: int) -> None:
    model = everything_model()
    m = _blocked(model)
    x = R.standard_normal((batch, 16, 12, 12)).astype(np.float32)
    for got, want in zip(run(m, x), _ort(model, x)):
        np.testing.assert_allclose(got, want, **TOL)


def test_blocked_module_compiled_matches_onnxruntime() -> None:
    model = everything_model()
    m = _blocked(model)
    run_pipeline(m, "fuse")
    fn = compile_function(m, "main")
    assert any("conv:blocked" in " ".join(k.schedule) for k in fn.kernels)
    for batch in (1, 3):
        x = R.standard_normal((batch, 16, 12, 12)).astype(np.float32)
        for got, want in zip(fn(x), _ort(model, x)):
            np.testing.assert_allclose(got, want, **TOL)


def test_the_blocked_module_prints_and_parses_back() -> None:
    m = _blocked(everything_model())
    text = print_module(m)
    assert '"ml.conv_nchwc"' in text
    assert print_module(parse_module(text)) == text


def _chain(c_in: int, widths: List[int], hw: int, weight_input: bool = False
           ) -> onnx.ModelProto:
    """Conv+ReLU layers (3x3, pad 1) of the given widths, then a max pool."""
    nodes, inits, inputs = [], [], [h.make_tensor_value_info("x", T.FLOAT, [1, c_in, hw, hw])]
    cur, c = "x", c_in
    for i, m in enumerate(widths):
        if weight_input and i == 0:
            inputs.append(h.make_tensor_value_info("w0", T.FLOAT, [m, c, 3, 3]))
        else:
            inits.append(_init(f"w{i}", m, c, 3, 3))
        nodes += [h.make_node("Conv", [cur, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  h.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        cur, c = f"r{i}", m
    nodes.append(h.make_node("MaxPool", [cur], ["out"], kernel_shape=[2, 2], strides=[2, 2]))
    return _model(nodes, inputs, [h.make_tensor_value_info(
        "out", T.FLOAT, [1, c, hw // 2, hw // 2])], inits)


def test_default_threshold_blocks_heavy_chains_only() -> None:
    # 3 -> 64 -> 64 -> 64 at 28x28: 64*64*9 = 36864 MACs per output element, converted once
    heavy = import_onnx(_chain(3, [64, 64, 64], 28))
    run_pipeline(heavy, pipeline_for(opt_level=2, target="cpu").replace(",fuse", ""))
    convs = _ops(heavy, "ml.conv_nchwc")
    assert len(convs) == 3
    assert convs[0].attr("in_block") == 0  # 3 channels: the first conv reads NCHW
    # one 16 -> 16 conv at 28x28: 144 MACs per element, 2 conversions: not worth it
    light = import_onnx(_chain(16, [16], 28))
    run_pipeline(light, pipeline_for(opt_level=2, target="cpu").replace(",fuse", ""))
    assert not _ops(light, "ml.conv_nchwc") and len(_ops(light, "ml.conv")) == 1


def test_non_constant_weights_and_cuda_pipelines_stay_nchw() -> None:
    m = _blocked(_chain(16, [32], 8, weight_input=True))
    assert not _ops(m, "ml.conv_nchwc")
    assert "blocked-layout" not in pipeline_for(opt_level=2, target="cuda")
    assert "blocked-layout{block=" in pipeline_for(opt_level=2, target="cpu")


def test_stem_chain_compiled_at_O2_matches_onnxruntime() -> None:
    model = _chain(3, [32, 32, 32], 20)  # 603 MACs per converted element
    fn = compile(model, opt_level=2).executable
    # the stem's kernel (NCHW input) and one shared by the two 32 -> 32 convs
    assert sum("conv:blocked" in " ".join(k.schedule) for k in fn.kernels) == 2
    x = R.standard_normal((1, 3, 20, 20)).astype(np.float32)
    np.testing.assert_allclose(fn(x)[0], _ort(model, x)[0], **TOL)


def test_to_blocked_array_layout() -> None:
    a = np.arange(2 * 32 * 3 * 4, dtype=np.float32).reshape(2, 32, 3, 4)
    b = to_blocked_array(a, 16)
    assert b.shape == (2, 2, 3, 4, 16)
    n, c, y, x = 1, 21, 2, 3
    assert b[n, c // 16, y, x, c % 16] == a[n, c, y, x]
    assert to_blocked_array(a[:, :1], 16).shape == (2, 1, 3, 4, 1)


def test_conv_nchwc_rejects_mismatched_operands() -> None:
    f = FuncOp.make("main", [tensor((1, 2, 5, 5, 16)), tensor((32, 48, 3, 3))], [])
    b = Builder.at_end(f.entry_block)
    with pytest.raises(InferenceError, match="x has 32 channels but w has 48"):
        b.op("ml.conv_nchwc", *f.args, in_block=16, out_block=16)
    g = FuncOp.make("main", [tensor((1, 2, 5, 5, 16)), tensor((24, 32, 3, 3))], [])
    b = Builder.at_end(g.entry_block)
    with pytest.raises(InferenceError, match="not a multiple of out_block 16"):
        b.op("ml.conv_nchwc", *g.args, in_block=16, out_block=16)


def test_shared_weight_is_read_unpacked_and_still_right() -> None:
    """Two blocked convs share one weight constant: it is not packed at compile time (it has
    two users), so the rule reads it as OIHW."""
    inits = [_init("w0", 32, 16, 3, 3), _init("ws", 32, 32, 3, 3)]
    nodes = [h.make_node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c0"], ["r0"]),
             h.make_node("Conv", ["r0", "ws"], ["c1"], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c1"], ["r1"]),
             h.make_node("Conv", ["r1", "ws"], ["c2"], pads=[1, 1, 1, 1]),
             h.make_node("MaxPool", ["c2"], ["out"], kernel_shape=[2, 2], strides=[2, 2])]
    model = _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [2, 16, 10, 10])],
                   [h.make_tensor_value_info("out", T.FLOAT, [2, 32, 5, 5])], inits)
    m = _blocked(model)
    assert len(_ops(m, "ml.conv_nchwc")) == 3
    run_pipeline(m, "fuse")
    fn = compile_function(m, "main")
    x = R.standard_normal((2, 16, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(fn(x)[0], _ort(model, x)[0], **TOL)
