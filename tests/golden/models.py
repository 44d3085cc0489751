"""The golden model suite: small ONNX models built here, plus the onnx package's light CNNs with
random weights in place of their constant ones. Used by the golden tests and by
`benchmarks/latency.py`.

    model = MODELS["mlp"]()                     # an onnx ModelProto
    feed = inputs_for(model, batch=4)           # random inputs (symbolic dims = batch)
"""
from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper

__all__ = ["MODELS", "LIGHT", "SLOW", "inputs_for", "light_model", "light_dir"]

IR_VERSION = 8  # what onnxruntime reads
_RNG_SEED = 1234


def _init(rng: np.random.Generator, name: str, shape: List[int], scale: Optional[float] = None
          ) -> onnx.TensorProto:
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else max(shape[0], 1)
    s = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)


def _model(nodes: list, inputs: list, outputs: list, inits: list, opset: int = 17,
           name: str = "g") -> onnx.ModelProto:
    g = h.make_graph(nodes, name, inputs, outputs, inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], ir_version=IR_VERSION)
    onnx.checker.check_model(m)
    return m


def mlp() -> onnx.ModelProto:
    """Three dense layers (MatMul+Add, Gemm), ReLU and Softmax; batch is symbolic."""
    rng = np.random.default_rng(_RNG_SEED)
    inits = [_init(rng, "w1", [64, 128]), _init(rng, "b1", [128], 0.1),
             _init(rng, "w2", [128, 64]), _init(rng, "b2", [64], 0.1),
             _init(rng, "w3", [10, 64]), _init(rng, "b3", [10], 0.1)]
    nodes = [h.make_node("MatMul", ["x", "w1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Relu", ["a1"], ["r1"]), h.make_node("MatMul", ["r1", "w2"], ["m2"]),
             h.make_node("Add", ["m2", "b2"], ["a2"]), h.make_node("Tanh", ["a2"], ["r2"]),
             h.make_node("Gemm", ["r2", "w3", "b3"], ["logits"], transB=1),
             h.make_node("Softmax", ["logits"], ["y"], axis=-1)]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, ["N", 64])],
                  [h.make_tensor_value_info("y", T.FLOAT, ["N", 10])], inits, name="mlp")


def small_cnn() -> onnx.ModelProto:
    """Conv-BN-ReLU-MaxPool twice, global average pool, a dense layer; batch is symbolic."""
    rng = np.random.default_rng(_RNG_SEED)
    inits = [_init(rng, "c1w", [16, 3, 3, 3]), _init(rng, "c1b", [16], 0.1),
             numpy_helper.from_array(rng.uniform(0.5, 1.5, 16).astype(np.float32), "g"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32) * 0.1, "be"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32) * 0.1, "mu"),
             numpy_helper.from_array(rng.uniform(0.5, 1.5, 16).astype(np.float32), "var"),
             _init(rng, "c2w", [32, 16, 3, 3]), _init(rng, "c2b", [32], 0.1),
             _init(rng, "fw", [32, 10]), _init(rng, "fb", [10], 0.1)]
    nodes = [h.make_node("Conv", ["x", "c1w", "c1b"], ["c1"], pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["bn"]),
             h.make_node("Relu", ["bn"], ["r1"]),
             h.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("Conv", ["p1", "c2w", "c2b"], ["c2"], pads=[1, 1, 1, 1],
                         strides=[2, 2]),
             h.make_node("Relu", ["c2"], ["r2"]),
             h.make_node("GlobalAveragePool", ["r2"], ["gp"]),
             h.make_node("Flatten", ["gp"], ["fl"]),
             h.make_node("MatMul", ["fl", "fw"], ["fm"]), h.make_node("Add", ["fm", "fb"], ["y"])]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, ["N", 3, 32, 32])],
                  [h.make_tensor_value_info("y", T.FLOAT, ["N", 10])], inits, name="cnn")


def transformer_layer(seq: int = 32, d: int = 64, heads: int = 4, ff: int = 256
                      ) -> onnx.ModelProto:
    """A post-norm Transformer encoder layer: multi-head self-attention (MatMul, Reshape,
    Transpose, Softmax), residuals, LayerNormalization, and a GELU (Erf) feed-forward."""
    rng = np.random.default_rng(_RNG_SEED)
    dh = d // heads
    inits = [_init(rng, n, [d, d]) for n in ("wq", "wk", "wv", "wo")]
    inits += [_init(rng, n, [d], 0.1) for n in ("bq", "bk", "bv", "bo")]
    inits += [_init(rng, "w1", [d, ff]), _init(rng, "b1", [ff], 0.1),
              _init(rng, "w2", [ff, d]), _init(rng, "b2", [d], 0.1)]
    for n in ("ln1", "ln2"):
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, d).astype(np.float32),
                                             n + "_g"))
        inits.append(numpy_helper.from_array((rng.standard_normal(d) * 0.1).astype(np.float32),
                                             n + "_b"))
    inits += [numpy_helper.from_array(np.array([0, 0, heads, dh], np.int64), "split_heads"),
              numpy_helper.from_array(np.array([0, 0, d], np.int64), "merge_heads"),
              numpy_helper.from_array(np.array(np.sqrt(dh), np.float32), "scale"),
              numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
              numpy_helper.from_array(np.array(1.0, np.float32), "one"),
              numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    nodes = []
    for p in ("q", "k", "v"):
        nodes += [h.make_node("MatMul", ["x", "w" + p], [p + "m"]),
                  h.make_node("Add", [p + "m", "b" + p], [p + "a"]),
                  h.make_node("Reshape", [p + "a", "split_heads"], [p + "r"])]
    nodes += [h.make_node("Transpose", ["qr"], ["qt"], perm=[0, 2, 1, 3]),
              h.make_node("Transpose", ["kr"], ["kt"], perm=[0, 2, 3, 1]),
              h.make_node("Transpose", ["vr"], ["vt"], perm=[0, 2, 1, 3]),
              h.make_node("MatMul", ["qt", "kt"], ["s"]),
              h.make_node("Div", ["s", "scale"], ["ss"]),
              h.make_node("Softmax", ["ss"], ["pr"], axis=-1),
              h.make_node("MatMul", ["pr", "vt"], ["ctx"]),
              h.make_node("Transpose", ["ctx"], ["ct"], perm=[0, 2, 1, 3]),
              h.make_node("Reshape", ["ct", "merge_heads"], ["cm"]),
              h.make_node("MatMul", ["cm", "wo"], ["om"]),
              h.make_node("Add", ["om", "bo"], ["oa"]),
              h.make_node("Add", ["x", "oa"], ["res1"]),
              h.make_node("LayerNormalization", ["res1", "ln1_g", "ln1_b"], ["n1"], axis=-1),
              h.make_node("MatMul", ["n1", "w1"], ["f1"]),
              h.make_node("Add", ["f1", "b1"], ["f1b"]),
              h.make_node("Div", ["f1b", "sqrt2"], ["gd"]),
              h.make_node("Erf", ["gd"], ["ge"]),
              h.make_node("Add", ["ge", "one"], ["g1"]),
              h.make_node("Mul", ["f1b", "g1"], ["gm"]),
              h.make_node("Mul", ["gm", "half"], ["gelu"]),
              h.make_node("MatMul", ["gelu", "w2"], ["f2"]),
              h.make_node("Add", ["f2", "b2"], ["f2b"]),
              h.make_node("Add", ["n1", "f2b"], ["res2"]),
              h.make_node("LayerNormalization", ["res2", "ln2_g", "ln2_b"], ["y"], axis=-1)]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, ["B", seq, d])],
                  [h.make_tensor_value_info("y", T.FLOAT, ["B", seq, d])], inits,
                  name="transformer")


def transformer_stack(seq: int = 128, d: int = 256, heads: int = 4, ff: int = 1024,
                      layers: int = 2, causal: bool = False, name: str = "bert"
                      ) -> onnx.ModelProto:
    """`layers` Transformer layers on embeddings `x[B, seq, d]`: BERT-style (post-LN, erf GELU,
    bidirectional attention) or, with `causal`, GPT-2-style (pre-LN, tanh GELU, a causal mask
    applied with Where, a final LayerNorm). Attention is MatMul Q.K^T (K transposed by a
    Transpose), Softmax, MatMul P.V per head."""
    rng = np.random.default_rng(_RNG_SEED)
    dh = d // heads
    n = h.make_node
    inits = [numpy_helper.from_array(np.array([0, 0, heads, dh], np.int64), "split_heads"),
             numpy_helper.from_array(np.array([0, 0, d], np.int64), "merge_heads"),
             numpy_helper.from_array(np.array(1.0 / np.sqrt(dh), np.float32), "scale"),
             numpy_helper.from_array(np.array(np.sqrt(2.0), np.float32), "sqrt2"),
             numpy_helper.from_array(np.array(np.sqrt(2.0 / np.pi), np.float32), "c_tanh"),
             numpy_helper.from_array(np.array(0.044715, np.float32), "c_cube"),
             numpy_helper.from_array(np.array(3.0, np.float32), "three"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(-1e4, np.float32), "neg"),
             numpy_helper.from_array(np.tril(np.ones((seq, seq), bool)), "causal")]
    nodes: list = []

    def ln(x: str, p: str) -> str:
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, d).astype(np.float32),
                                             p + "_g"))
        inits.append(numpy_helper.from_array((rng.standard_normal(d) * 0.1).astype(np.float32),
                                             p + "_b"))
        nodes.append(n("LayerNormalization", [x, p + "_g", p + "_b"], [p], axis=-1))
        return p

    def dense(x: str, p: str, a: int, b: int) -> str:
        inits.extend([_init(rng, p + "_w", [a, b]), _init(rng, p + "_bias", [b], 0.1)])
        nodes.extend([n("MatMul", [x, p + "_w"], [p + "_m"]),
                      n("Add", [p + "_m", p + "_bias"], [p])])
        return p

    def gelu(x: str, p: str) -> str:
        if causal:  # tanh approximation, as GPT-2
            nodes.extend([n("Pow", [x, "three"], [p + "c"]), n("Mul", [p + "c", "c_cube"],
                                                                 [p + "cm"]),
                          n("Add", [x, p + "cm"], [p + "i"]),
                          n("Mul", [p + "i", "c_tanh"], [p + "s"]),
                          n("Tanh", [p + "s"], [p + "t"])])
        else:
            nodes.extend([n("Div", [x, "sqrt2"], [p + "d"]), n("Erf", [p + "d"], [p + "t"])])
        nodes.extend([n("Add", [p + "t", "one"], [p + "1"]), n("Mul", [x, p + "1"], [p + "m"]),
                      n("Mul", [p + "m", "half"], [p])])
        return p

    def attention(x: str, p: str) -> str:
        for t in "qkv":
            nodes.append(n("Reshape", [dense(x, f"{p}{t}", d, d), "split_heads"], [f"{p}{t}r"]))
        nodes.extend([n("Transpose", [p + "qr"], [p + "qt"], perm=[0, 2, 1, 3]),
                      n("Transpose", [p + "kr"], [p + "kt"], perm=[0, 2, 3, 1]),
                      n("Transpose", [p + "vr"], [p + "vt"], perm=[0, 2, 1, 3]),
                      n("MatMul", [p + "qt", p + "kt"], [p + "s"]),
                      n("Mul", [p + "s", "scale"], [p + "ss"])])
        scores = p + "ss"
        if causal:
            nodes.append(n("Where", ["causal", scores, "neg"], [p + "sm"]))
            scores = p + "sm"
        nodes.extend([n("Softmax", [scores], [p + "pr"], axis=-1),
                      n("MatMul", [p + "pr", p + "vt"], [p + "ctx"]),
                      n("Transpose", [p + "ctx"], [p + "ct"], perm=[0, 2, 1, 3]),
                      n("Reshape", [p + "ct", "merge_heads"], [p + "cm"])])
        return dense(p + "cm", p + "o", d, d)

    x = "x"
    for i in range(layers):
        p = f"l{i}_"
        if causal:
            nodes.append(n("Add", [x, attention(ln(x, p + "ln1"), p + "att")], [p + "r1"]))
            f = gelu(dense(ln(p + "r1", p + "ln2"), p + "f1", d, ff), p + "gelu")
            nodes.append(n("Add", [p + "r1", dense(f, p + "f2", ff, d)], [p + "out"]))
            x = p + "out"
        else:
            nodes.append(n("Add", [x, attention(x, p + "att")], [p + "r1"]))
            n1 = ln(p + "r1", p + "ln1")
            f = gelu(dense(n1, p + "f1", d, ff), p + "gelu")
            nodes.append(n("Add", [n1, dense(f, p + "f2", ff, d)], [p + "r2"]))
            x = ln(p + "r2", p + "ln2")
    if causal:
        x = ln(x, "ln_f")
    nodes.append(n("Identity", [x], ["y"]))
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, ["B", seq, d])],
                  [h.make_tensor_value_info("y", T.FLOAT, ["B", seq, d])], inits, name=name)


def bert_encoder() -> onnx.ModelProto:
    """BERT-style encoder: seq 128, hidden 256, 4 heads, FFN 1024, 2 layers (BERT-mini sized)."""
    return transformer_stack(128, 256, 4, 1024, 2, causal=False, name="bert")


def gpt2_decoder() -> onnx.ModelProto:
    """GPT-2-style decoder: seq 128, hidden 256, 4 heads, FFN 1024, 2 layers, causal mask."""
    return transformer_stack(128, 256, 4, 1024, 2, causal=True, name="gpt2")


def if_loop() -> onnx.ModelProto:
    """If (on the sign of sum(x)) then a Loop of 3 iterations with a carried value and a scan
    output."""
    def vi(n: str, t: int, s: list) -> onnx.ValueInfoProto:
        return h.make_tensor_value_info(n, t, s)
    then_g = h.make_graph([h.make_node("Mul", ["x", "two"], ["t"])], "then", [],
                          [vi("t", T.FLOAT, ["N", 4])])
    else_g = h.make_graph([h.make_node("Sub", ["x", "one"], ["e"])], "else", [],
                          [vi("e", T.FLOAT, ["N", 4])])
    body = h.make_graph(
        [h.make_node("Identity", ["cond_in"], ["cond_out"]),
         h.make_node("Mul", ["y", "half"], ["yh"]),
         h.make_node("Add", ["acc_in", "yh"], ["acc_sum"]),
         h.make_node("Tanh", ["acc_sum"], ["acc_out"]),
         h.make_node("Identity", ["acc_out"], ["scan_out"])],
        "body", [vi("i", T.INT64, []), vi("cond_in", T.BOOL, []), vi("acc_in", T.FLOAT, ["N", 4])],
        [vi("cond_out", T.BOOL, []), vi("acc_out", T.FLOAT, ["N", 4]),
         vi("scan_out", T.FLOAT, ["N", 4])])
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             h.make_node("Greater", ["s", "zero"], ["c"]),
             h.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
             h.make_node("Loop", ["M", "true", "x"], ["out", "scan"], body=body)]
    inits = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in
             (("two", 2.0, np.float32), ("one", 1.0, np.float32), ("half", 0.5, np.float32),
              ("zero", 0.0, np.float32), ("M", 3, np.int64), ("true", True, np.bool_))]
    return _model(nodes, [vi("x", T.FLOAT, ["N", 4])],
                  [vi("out", T.FLOAT, ["N", 4]), vi("scan", T.FLOAT, [3, "N", 4])], inits,
                  name="if_loop")


def lstm(direction: str = "bidirectional", seq: int = 6, batch: int = 2, inp: int = 8,
         hidden: int = 16) -> onnx.ModelProto:
    """One LSTM layer with bias and initial states (default activations)."""
    rng = np.random.default_rng(_RNG_SEED)
    nd = 2 if direction == "bidirectional" else 1
    inits = [_init(rng, "W", [nd, 4 * hidden, inp], 0.3), _init(rng, "R", [nd, 4 * hidden, hidden], 0.3),
             _init(rng, "B", [nd, 8 * hidden], 0.1), _init(rng, "h0", [nd, batch, hidden], 0.5),
             _init(rng, "c0", [nd, batch, hidden], 0.5)]
    nodes = [h.make_node("LSTM", ["x", "W", "R", "B", "", "h0", "c0"], ["Y", "Y_h", "Y_c"],
                         hidden_size=hidden, direction=direction)]
    return _model(nodes, [h.make_tensor_value_info("x", T.FLOAT, [seq, batch, inp])],
                  [h.make_tensor_value_info("Y", T.FLOAT, [seq, nd, batch, hidden]),
                   h.make_tensor_value_info("Y_h", T.FLOAT, [nd, batch, hidden]),
                   h.make_tensor_value_info("Y_c", T.FLOAT, [nd, batch, hidden])], inits,
                  opset=14, name="lstm")


def light_dir() -> str:
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light_model(name: str, seed: int = _RNG_SEED) -> onnx.ModelProto:
    """`light_<name>.onnx` with random weights: its ConstantOfShape weights (every weight has
    one value there) become random initializers (He-scaled), other float initializers are
    randomised too, and initializers are no longer listed as graph inputs."""
    m = onnx.load(os.path.join(light_dir(), f"light_{name}.onnx"))
    rng = np.random.default_rng(seed)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    role = {}  # weight name -> its role as an input of its consumer
    for n in g.node:
        if n.op_type == "BatchNormalization":
            role.update({n.input[1]: "bn_scale", n.input[2]: "small", n.input[3]: "small",
                         n.input[4]: "bn_var"})
    new_inits: List[onnx.TensorProto] = []
    keep = []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = [int(v) for v in numpy_helper.to_array(inits[n.input[0]])]
            r = role.get(n.output[0], "weight" if len(shape) > 1 else "small")
            if r == "bn_scale":
                arr = rng.uniform(0.4, 0.8, shape)
            elif r == "bn_var":
                arr = rng.uniform(0.8, 1.6, shape)
            elif r == "small":
                arr = rng.standard_normal(shape) * 0.05
            else:
                arr = rng.standard_normal(shape) * np.sqrt(1.0 / np.prod(shape[1:]))
            new_inits.append(numpy_helper.from_array(arr.astype(np.float32), n.output[0]))
        else:
            keep.append(n)
    used = {i for n in keep for i in n.input}
    for t in g.initializer:
        if t.name in used and t.name not in {x.name for x in new_inits}:
            new_inits.append(t)
    del g.node[:]
    g.node.extend(keep)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    names = {t.name for t in new_inits}
    ins = [i for i in g.input if i.name not in names]
    del g.input[:]
    g.input.extend(ins)
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m)
    return m


def _light(name: str) -> Callable[[], onnx.ModelProto]:
    return lambda: light_model(name)


LIGHT = ("squeezenet", "shufflenet", "resnet50", "inception_v1", "densenet121", "vgg19")
# golden tests of these are marked slow
SLOW = {"shufflenet", "resnet50", "inception_v1", "densenet121", "vgg19", "bert", "gpt2"}

MODELS: Dict[str, Callable[[], onnx.ModelProto]] = {
    "mlp": mlp, "small_cnn": small_cnn, "transformer_layer": transformer_layer,
    "if_loop": if_loop, "lstm": lstm, "bert": bert_encoder, "gpt2": gpt2_decoder,
    **{n: _light(n) for n in LIGHT}}


def inputs_for(model: onnx.ModelProto, batch: int = 2, seed: int = 0) -> Dict[str, np.ndarray]:
    """Random inputs for the graph inputs of `model`; symbolic dims take `batch`."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    out: Dict[str, np.ndarray] = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in tt.shape.dim]
        dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        out[vi.name] = rng.standard_normal(shape).astype(dt)
    return out
