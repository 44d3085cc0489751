"""The model suite of the benchmarks, built with onnx.helper (random weights, fixed seed):
an MLP, a small CNN with batch norm, and a Transformer encoder block; plus the onnx package's
light models (ResNet-50, SqueezeNet, ...), whose weights are ConstantOfShape nodes.

    models = suite()          # name -> (onnx.ModelProto, {symbol: size}, {input: shape})
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["mlp", "cnn", "transformer_encoder", "light_models", "suite"]

_RNG = np.random.default_rng(2024)


def _w(*shape: int, scale: float = 0.1) -> np.ndarray:
    return (_RNG.standard_normal(shape) * scale).astype(np.float32)


def _model(nodes: list, inputs: list, outputs: list, inits: Dict[str, np.ndarray],
           name: str) -> onnx.ModelProto:
    g = helper.make_graph(nodes, name, inputs, outputs,
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _vi(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def mlp(sizes: Tuple[int, ...] = (784, 512, 256, 10)) -> onnx.ModelProto:
    n = helper.make_node
    nodes, inits, x = [], {}, "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        inits[f"W{i}"], inits[f"b{i}"] = _w(a, b), _w(b)
        nodes += [n("MatMul", [x, f"W{i}"], [f"mm{i}"]), n("Add", [f"mm{i}", f"b{i}"], [f"h{i}"])]
        x = f"h{i}"
        if i + 2 < len(sizes):
            nodes.append(n("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    nodes.append(n("Softmax", [x], ["y"], axis=-1))
    return _model(nodes, [_vi("x", ["N", sizes[0]])], [_vi("y", ["N", sizes[-1]])], inits, "mlp")


def cnn(channels: Tuple[int, ...] = (3, 16, 32, 64), classes: int = 10) -> onnx.ModelProto:
    n = helper.make_node
    nodes, inits, x = [], {}, "x"
    for i, (a, b) in enumerate(zip(channels, channels[1:])):
        inits.update({f"w{i}": _w(b, a, 3, 3, scale=0.2), f"cb{i}": _w(b), f"s{i}": 1 + _w(b),
                      f"be{i}": _w(b), f"mu{i}": _w(b), f"var{i}": np.abs(_w(b)) + 0.5})
        nodes += [n("Conv", [x, f"w{i}", f"cb{i}"], [f"c{i}"], kernel_shape=[3, 3],
                    pads=[1, 1, 1, 1]),
                  n("BatchNormalization", [f"c{i}", f"s{i}", f"be{i}", f"mu{i}", f"var{i}"],
                    [f"bn{i}"]),
                  n("Relu", [f"bn{i}"], [f"r{i}"])]
        x = f"r{i}"
        if i < len(channels) - 2:
            nodes.append(n("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"p{i}"
    inits.update({"fw": _w(classes, channels[-1]), "fb": _w(classes)})
    nodes += [n("GlobalAveragePool", [x], ["gap"]), n("Flatten", ["gap"], ["flat"]),
              n("Gemm", ["flat", "fw", "fb"], ["y"], transB=1)]
    return _model(nodes, [_vi("x", ["N", channels[0], 32, 32])], [_vi("y", ["N", classes])],
                  inits, "cnn")


def transformer_encoder(d: int = 128, heads: int = 4, ffn: int = 512) -> onnx.ModelProto:
    """Pre-LN self-attention + GELU MLP, batch and sequence symbolic."""
    n = helper.make_node
    hd = d // heads
    inits = {"ln1_s": 1 + _w(d), "ln1_b": _w(d), "ln2_s": 1 + _w(d), "ln2_b": _w(d),
             "Wqkv": _w(d, 3 * d), "bqkv": _w(3 * d), "Wo": _w(d, d), "bo": _w(d),
             "W1": _w(d, ffn), "b1": _w(ffn), "W2": _w(ffn, d), "b2": _w(d),
             "split_shape": np.array([0, 0, 3, heads, hd], np.int64),
             "merge_shape": np.array([0, 0, d], np.int64),
             "scale": np.array(1.0 / np.sqrt(hd), np.float32),
             "half": np.array(0.5, np.float32), "one": np.array(1.0, np.float32),
             "rsqrt2": np.array(1.0 / np.sqrt(2.0), np.float32)}
    nodes = [
        n("LayerNormalization", ["x", "ln1_s", "ln1_b"], ["ln1"], axis=-1),
        n("MatMul", ["ln1", "Wqkv"], ["qkv0"]), n("Add", ["qkv0", "bqkv"], ["qkv"]),
        n("Reshape", ["qkv", "split_shape"], ["qkv5"]),
        n("Transpose", ["qkv5"], ["qkvT"], perm=[2, 0, 3, 1, 4]),
        n("Split", ["qkvT"], ["q3", "k3", "v3"], axis=0, num_outputs=3),
    ]
    nodes = nodes[:-1] + [n("Split", ["qkvT"], ["q3", "k3", "v3"], axis=0)]
    for t in "qkv":
        nodes.append(n("Squeeze", [f"{t}3", "axis0"], [t]))
    inits["axis0"] = np.array([0], np.int64)
    nodes += [
        n("Transpose", ["k"], ["kT"], perm=[0, 1, 3, 2]),
        n("MatMul", ["q", "kT"], ["scores"]), n("Mul", ["scores", "scale"], ["scaled"]),
        n("Softmax", ["scaled"], ["attn"], axis=-1), n("MatMul", ["attn", "v"], ["ctx"]),
        n("Transpose", ["ctx"], ["ctxT"], perm=[0, 2, 1, 3]),
        n("Reshape", ["ctxT", "merge_shape"], ["merged"]),
        n("MatMul", ["merged", "Wo"], ["o0"]), n("Add", ["o0", "bo"], ["o"]),
        n("Add", ["x", "o"], ["res1"]),
        n("LayerNormalization", ["res1", "ln2_s", "ln2_b"], ["ln2"], axis=-1),
        n("MatMul", ["ln2", "W1"], ["f0"]), n("Add", ["f0", "b1"], ["f1"]),
        n("Mul", ["f1", "rsqrt2"], ["g0"]), n("Erf", ["g0"], ["g1"]),
        n("Add", ["g1", "one"], ["g2"]), n("Mul", ["f1", "g2"], ["g3"]),
        n("Mul", ["g3", "half"], ["gelu"]),
        n("MatMul", ["gelu", "W2"], ["f2"]), n("Add", ["f2", "b2"], ["f3"]),
        n("Add", ["res1", "f3"], ["y"]),
    ]
    return _model(nodes, [_vi("x", ["batch", "seq", d])], [_vi("y", ["batch", "seq", d])], inits,
                  "transformer_encoder")


def light_models() -> Dict[str, str]:
    """name -> path of the onnx package's light test models (empty if they do not ship)."""
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    return {os.path.basename(p)[len("light_"):-len(".onnx")]: p
            for p in sorted(glob.glob(os.path.join(base, "light_*.onnx")))}


def suite(light: bool = True) -> Dict[str, Tuple[object, Dict[str, int], List[tuple]]]:
    """name -> (model or path, dims for the symbols, input shapes)."""
    out: Dict[str, Tuple[object, Dict[str, int], List[tuple]]] = {
        "mlp": (mlp(), {"N": 64}, [(64, 784)]),
        "cnn": (cnn(), {"N": 8}, [(8, 3, 32, 32)]),
        "transformer_encoder": (transformer_encoder(), {"batch": 4, "seq": 64},
                                [(4, 64, 128)]),
    }
    if light:
        for name, path in light_models().items():
            out[name] = (path, {}, [])
    return out
