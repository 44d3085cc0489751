"""Small ONNX models built with onnx.helper for the importer tests."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # onnxruntime accepts it; our importer accepts 3..onnx.IR_VERSION

rng = np.random.default_rng(1234)


def f32(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def vi(name: str, shape: Optional[Sequence], dtype: int = TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(arr, name)


def model(nodes: List[onnx.NodeProto], inputs: list, outputs: list, inits: Sequence = (),
          opset: int = OPSET, name: str = "g", ir_version: int = IR_VERSION) -> onnx.ModelProto:
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version
    return m


def mlp() -> onnx.ModelProto:
    n = helper.make_node
    return model([
        n("MatMul", ["x", "W1"], ["h"], name="mm1"),
        n("Add", ["h", "b1"], ["h2"], name="add1"),
        n("Relu", ["h2"], ["h3"], name="relu1"),
        n("Gemm", ["h3", "W2", "b2"], ["h4"], name="gemm2", transB=1, alpha=0.5),
        n("Tanh", ["h4"], ["y"], name="tanh")],
        [vi("x", ["N", 4])], [vi("y", ["N", 3])],
        [init("W1", f32(4, 8)), init("b1", f32(8)), init("W2", f32(3, 8)), init("b2", f32(3))],
        name="mlp")


def cnn() -> onnx.ModelProto:
    n = helper.make_node
    return model([
        n("Conv", ["x", "w1", "cb1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "s", "b", "mu", "var"], ["bn"], name="bn1", epsilon=1e-3),
        n("Relu", ["bn"], ["r1"], name="relu1"),
        n("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "w2"], ["c2"], name="conv2", kernel_shape=[3, 3], strides=[2, 2],
          auto_pad="SAME_UPPER"),
        n("Relu", ["c2"], ["r2"], name="relu2"),
        n("AveragePool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2]),
        n("Flatten", ["p2"], ["f"], name="flat"),
        n("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)],
        [vi("x", [2, 3, 12, 12])], [vi("y", [2, 5])],
        [init("w1", f32(6, 3, 3, 3, scale=0.3)), init("cb1", f32(6)), init("s", f32(6)),
         init("b", f32(6)), init("mu", f32(6)), init("var", np.abs(f32(6)) + 0.5),
         init("w2", f32(4, 6, 3, 3, scale=0.3)), init("wf", f32(5, 16)), init("bf", f32(5))],
        name="cnn")


def transformer_block(d: int = 8, heads: int = 2) -> onnx.ModelProto:
    """Self-attention + MLP with LayerNormalization; batch and sequence are symbolic."""
    n = helper.make_node
    hd = d // heads
    c = lambda name, arr: n("Constant", [], [name], name=f"const_{name}",  # noqa: E731
                            value=numpy_helper.from_array(arr, name))
    nodes = [
        n("LayerNormalization", ["x", "ln1_s", "ln1_b"], ["ln1"], name="ln1", axis=-1),
        n("MatMul", ["ln1", "Wq"], ["q"], name="q_proj"),
        n("MatMul", ["ln1", "Wk"], ["k"], name="k_proj"),
        n("MatMul", ["ln1", "Wv"], ["v"], name="v_proj"),
        c("heads_shape", np.array([0, 0, heads, hd], np.int64)),
        n("Reshape", ["q", "heads_shape"], ["q4"], name="q_split"),
        n("Reshape", ["k", "heads_shape"], ["k4"], name="k_split"),
        n("Reshape", ["v", "heads_shape"], ["v4"], name="v_split"),
        n("Transpose", ["q4"], ["qt"], name="q_t", perm=[0, 2, 1, 3]),
        n("Transpose", ["k4"], ["kt"], name="k_t", perm=[0, 2, 3, 1]),
        n("Transpose", ["v4"], ["vt"], name="v_t", perm=[0, 2, 1, 3]),
        n("MatMul", ["qt", "kt"], ["scores"], name="qk"),
        c("scale", np.array(1.0 / np.sqrt(hd), np.float32)),
        n("Mul", ["scores", "scale"], ["scaled"], name="scale_scores"),
        n("Softmax", ["scaled"], ["attn"], name="softmax", axis=-1),
        n("MatMul", ["attn", "vt"], ["ctx"], name="attn_v"),
        n("Transpose", ["ctx"], ["ctx_t"], name="ctx_t", perm=[0, 2, 1, 3]),
        c("merge_shape", np.array([0, 0, d], np.int64)),
        n("Reshape", ["ctx_t", "merge_shape"], ["merged"], name="merge_heads"),
        n("MatMul", ["merged", "Wo"], ["o"], name="o_proj"),
        n("Add", ["x", "o"], ["res1"], name="residual1"),
        n("LayerNormalization", ["res1", "ln2_s", "ln2_b"], ["ln2"], name="ln2", axis=-1),
        n("MatMul", ["ln2", "W1"], ["f1"], name="ffn1"),
        n("Add", ["f1", "b1"], ["f1b"], name="ffn1_bias"),
        n("Erf", ["f1b"], ["erf"], name="gelu_erf"),
        n("Sigmoid", ["f1b"], ["sig"], name="gate"),
        n("Mul", ["f1b", "sig"], ["act"], name="swish"),
        n("Add", ["act", "erf"], ["act2"], name="mix"),
        n("MatMul", ["act2", "W2"], ["f2"], name="ffn2"),
        n("Add", ["res1", "f2"], ["y"], name="residual2"),
    ]
    inits = [init("ln1_s", f32(d)), init("ln1_b", f32(d)), init("ln2_s", f32(d)),
             init("ln2_b", f32(d)), init("Wq", f32(d, d, scale=0.5)),
             init("Wk", f32(d, d, scale=0.5)), init("Wv", f32(d, d, scale=0.5)),
             init("Wo", f32(d, d, scale=0.5)), init("W1", f32(d, 2 * d, scale=0.5)),
             init("b1", f32(2 * d)), init("W2", f32(2 * d, d, scale=0.5))]
    return model(nodes, [vi("x", ["batch", "seq", d])], [vi("y", ["batch", "seq", d])], inits,
                 name="transformer")


def if_loop() -> onnx.ModelProto:
    """y = If(sum(x) > 0, x * 2, x - 1); then a Loop that runs `n` times (with an early exit
    once the accumulator exceeds a limit), accumulating and scanning."""
    n = helper.make_node
    then_g = helper.make_graph([n("Mul", ["x", "two"], ["t_out"], name="then_mul")], "then",
                               [], [vi("t_out", [3])])
    else_g = helper.make_graph([n("Sub", ["x", "one"], ["e_out"], name="else_sub")], "else",
                               [], [vi("e_out", [3])])
    body = helper.make_graph([
        n("Add", ["acc_in", "y"], ["acc_out"], name="body_add"),
        n("Cast", ["i"], ["i_f"], name="body_cast", to=TensorProto.FLOAT),
        n("Mul", ["acc_out", "i_f"], ["scan_out"], name="body_scan"),
        n("ReduceSum", ["acc_out"], ["s"], name="body_sum", keepdims=0),
        n("Less", ["s", "limit"], ["cond_out"], name="body_cond"),
    ], "body", [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL),
                vi("acc_in", [3])],
        [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", [3]), vi("scan_out", [3])])
    counted = helper.make_graph([
        n("Identity", ["c_in"], ["c_out"], name="cbody_cond"),
        n("Mul", ["p_in", "y"], ["p_out"], name="cbody_mul"),
    ], "counted", [vi("j", [], TensorProto.INT64), vi("c_in", [], TensorProto.BOOL),
                   vi("p_in", [3])], [vi("c_out", [], TensorProto.BOOL), vi("p_out", [3])])
    nodes = [
        n("ReduceSum", ["x"], ["sx"], name="sum_x", keepdims=0),
        n("Greater", ["sx", "zero"], ["pos"], name="is_pos"),
        n("If", ["pos"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
        n("Loop", ["trip", "true"], ["acc", "scans"], name="loop", body=body),
        n("Loop", ["trip", ""], ["prod"], name="counted_loop", body=counted),
    ]
    # `acc` starts from `x`: the loop-carried init is the third Loop input
    nodes[3].input.append("x")
    nodes[4].input.append("x")
    inits = [init("two", np.array(2.0, np.float32)), init("one", np.array(1.0, np.float32)),
             init("zero", np.array(0.0, np.float32)), init("limit", np.array(20.0, np.float32)),
             init("true", np.array(True))]
    return model(nodes, [vi("x", [3]), vi("trip", [], TensorProto.INT64)],
                 [vi("y", [3]), vi("acc", [3]), vi("scans", [None, 3]), vi("prod", [3])], inits,
                 name="control")


def scan_model() -> onnx.ModelProto:
    n = helper.make_node
    body = helper.make_graph([
        n("Add", ["s_in", "x_t"], ["s_out"], name="scan_add"),
        n("Mul", ["s_out", "x_t"], ["y_t"], name="scan_mul"),
    ], "scan_body", [vi("s_in", [4]), vi("x_t", [4])], [vi("s_out", [4]), vi("y_t", [4])])
    return model([n("Scan", ["s0", "xs"], ["s_final", "ys"], name="scan", body=body,
                    num_scan_inputs=1, scan_input_directions=[1], scan_output_axes=[1])],
                 [vi("s0", [4]), vi("xs", [5, 4])], [vi("s_final", [4]), vi("ys", [4, 5])],
                 name="scan")


def lstm(direction: str = "bidirectional") -> onnx.ModelProto:
    nd = 2 if direction == "bidirectional" else 1
    hidden, inp = 5, 3
    n = helper.make_node
    return model([n("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["Y", "Y_h", "Y_c"],
                    name="lstm", hidden_size=hidden, direction=direction)],
                 [vi("x", ["seq", 2, inp]), vi("h0", [nd, 2, hidden]), vi("c0", [nd, 2, hidden])],
                 [vi("Y", ["seq", nd, 2, hidden]), vi("Y_h", [nd, 2, hidden]),
                  vi("Y_c", [nd, 2, hidden])],
                 [init("W", f32(nd, 4 * hidden, inp, scale=0.5)),
                  init("R", f32(nd, 4 * hidden, hidden, scale=0.5)),
                  init("B", f32(nd, 8 * hidden, scale=0.5))], name="lstm")


def run_ort(m: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)
