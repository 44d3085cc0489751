"""The ONNX backend test cases of the installed onnx package, as `Case` objects.

Suites (the names the runner takes):
- `node`: generated from `onnx.backend.test.case` (each op's `expect(...)` calls, including the
  `_expanded` function-body variants), exactly as `onnx.backend.test.BackendTest` loads them.
- `simple`, `pytorch-converted`, `pytorch-operator`: the `model.onnx` + `test_data_set_*` folders
  that ship in `onnx/backend/test/data/<suite>/`.
- `light`: the CNNs of `onnx/backend/test/data/light/` (BackendTest's "real" kind). Their large
  weights are not stored: each is a `ConstantOfShape` filling the tensor with 0.02, so the stored
  outputs are uniform (every class 0.001) and test almost nothing. We replace every such weight by
  seeded random values (He-scaled for rank >= 2, U(0.5, 1.5) for vectors), scale the classifier
  so the logits have standard deviation 3 (else the softmax saturates), and compare with
  onnxruntime run on the same model and inputs (BackendTest's dummy data), at the case's rtol
  and atol = max(case atol, 1e-6 * max|expected|) (float32 sums in another order).

A case also knows the op it tests (node suite) and, when it needs something outside mlir-lite's
scope (strings, sequence/map/optional values, training-only ops), the reason; such cases are
still run and still count in every denominator.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import ModelProto, TensorProto, numpy_helper

__all__ = ["Case", "SUITES", "collect", "load_data", "out_of_scope", "DATA_DIR"]

SUITES = ("node", "simple", "pytorch-converted", "pytorch-operator", "light")
DATA_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")

# Ops whose inputs or outputs are strings, sequences, maps or optionals by definition.
_SCOPE_OPS = {
    "StringNormalizer": "string tensors", "StringConcat": "string tensors",
    "StringSplit": "string tensors", "RegexFullMatch": "string tensors",
    "SequenceAt": "sequence values", "SequenceConstruct": "sequence values",
    "SequenceEmpty": "sequence values", "SequenceErase": "sequence values",
    "SequenceInsert": "sequence values", "SequenceLength": "sequence values",
    "SequenceMap": "sequence values", "SplitToSequence": "sequence values",
    "ConcatFromSequence": "sequence values", "Optional": "optional values",
    "OptionalGetElement": "optional values", "OptionalHasElement": "optional values",
    "Gradient": "training-only op", "Adagrad": "training-only op", "Adam": "training-only op",
    "Momentum": "training-only op",
}
_TRAINING_DOMAINS = ("ai.onnx.preview.training", "ai.onnx.training")


@dataclass
class Case:
    """One conformance case. `model` / `data_sets` are filled for generated cases; file cases
    name their folder and are loaded in the worker (`load_data`)."""

    suite: str
    name: str
    op: str
    rtol: float = 1e-3
    atol: float = 1e-7
    model: Optional[ModelProto] = None
    data_sets: Optional[List[Tuple[Sequence[Any], Sequence[Any]]]] = None
    model_path: Optional[str] = None
    data_dirs: List[str] = field(default_factory=list)
    scope: Optional[str] = None  # why the case is out of scope, if it is
    atol_of_max: float = 0.0  # atol at least this times max|expected| (random-weight models)
    timeout_scale: float = 1.0  # this case may take this many times the per-case timeout
    cost: int = 0  # rough size, to schedule heavy cases first

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.name}"


# -- scope ------------------------------------------------------------------------------------
def _type_scope(tp: onnx.TypeProto) -> Optional[str]:
    kind = tp.WhichOneof("value")
    if kind in ("sequence_type", "map_type", "optional_type"):
        return f"{kind.replace('_type', '')} values"
    if kind == "sparse_tensor_type":
        return "sparse tensor values"
    if kind == "tensor_type" and tp.tensor_type.elem_type == TensorProto.STRING:
        return "string tensors"
    return None


def _graph_scope(g: onnx.GraphProto) -> Optional[str]:
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        r = _type_scope(vi.type)
        if r:
            return r
    for t in g.initializer:
        if t.data_type == TensorProto.STRING:
            return "string tensors"
    for node in g.node:
        if node.domain in _TRAINING_DOMAINS:
            return "training-only op"
        r = _SCOPE_OPS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if r:
            return r
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.STRING:
                return "string tensors"
            for sg in ([a.g] if a.HasField("g") else list(a.graphs)):
                r = _graph_scope(sg)
                if r:
                    return r
    return None


def out_of_scope(model: ModelProto, data_sets: Optional[Sequence] = None) -> Optional[str]:
    """Why `model` is outside mlir-lite's scope (tensors of numbers only), or None."""
    r = _graph_scope(model.graph)
    if r:
        return r
    for ins, outs in data_sets or ():
        for x in list(ins) + list(outs):
            if isinstance(x, (list, tuple)) or x is None:
                return "sequence/optional values"
            if isinstance(x, np.ndarray) and x.dtype == object:
                return "string tensors"
    return None


# -- node suite -------------------------------------------------------------------------------
def _base_name(name: str) -> str:
    i = name.find("_expanded")
    return name if i < 0 else name[:i]


def _node_cases() -> List[Case]:
    from onnx.backend.test.loader import load_model_tests
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        tests = load_model_tests(kind="node")
    ops: Dict[str, str] = {}
    for t in tests:
        if "_expanded" not in t.name and t.model is not None and t.model.graph.node:
            n = t.model.graph.node[0]
            dom = "" if n.domain in ("", "ai.onnx") else n.domain
            ops[t.name] = f"{dom}::{n.op_type}" if dom else n.op_type
    out = []
    for t in tests:
        op = ops.get(_base_name(t.name), "?")
        out.append(Case("node", t.name, op, t.rtol, t.atol, model=t.model,
                        data_sets=list(t.data_sets or []),
                        scope=out_of_scope(t.model, t.data_sets),
                        cost=t.model.ByteSize()))
    return out


# -- shipped model folders --------------------------------------------------------------------
def _folder_cases(suite: str) -> List[Case]:
    root = os.path.join(DATA_DIR, suite)
    out = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        path = os.path.join(d, "model.onnx")
        if not os.path.isfile(path):
            continue
        rtol, atol = 1e-3, 1e-7
        meta = os.path.join(d, "data.json")
        if os.path.exists(meta):
            with open(meta) as f:
                data = json.load(f)
            rtol, atol = data.get("rtol", rtol), data.get("atol", atol)
        model = onnx.load(path)
        ops = sorted({n.op_type for n in model.graph.node})
        out.append(Case(suite, name, "+".join(ops[:4]) + ("+..." if len(ops) > 4 else ""),
                        rtol, atol, model_path=path,
                        data_dirs=sorted(glob.glob(os.path.join(d, "test_data_set*"))),
                        scope=out_of_scope(model), cost=os.path.getsize(path)))
    return out


def _light_cases() -> List[Case]:
    out = []
    for name in sorted(os.listdir(os.path.join(DATA_DIR, "real"))):
        meta = os.path.join(DATA_DIR, "real", name, "data.json")
        if not os.path.exists(meta):
            continue
        with open(meta) as f:
            data = json.load(f)
        url = data.get("url") or ""
        if not url.startswith("onnx/backend/test/data/light/"):
            continue
        path = os.path.join(os.path.dirname(onnx.__file__), *url.split("/")[1:])
        if not os.path.exists(path):
            continue
        out.append(Case("light", name, data.get("model_name", name), data.get("rtol", 1e-3),
                        data.get("atol", 1e-7), model_path=path, scope=None,
                        atol_of_max=1e-6, timeout_scale=5.0,
                        cost=1 << 40))  # the heaviest: run first
    return out


def collect(suites: Sequence[str] = SUITES) -> List[Case]:
    """Every case of the named suites."""
    out: List[Case] = []
    for s in suites:
        if s == "node":
            out += _node_cases()
        elif s == "light":
            out += _light_cases()
        elif s in SUITES:
            out += _folder_cases(s)
        else:
            raise ValueError(f"unknown suite {s!r} (known: {', '.join(SUITES)})")
    return out


# -- data (loaded in the worker) --------------------------------------------------------------
def _load_tensor_file(path: str, tp: onnx.TypeProto) -> Any:
    with open(path, "rb") as f:
        content = f.read()
    if tp.HasField("sequence_type"):
        seq = onnx.SequenceProto()
        seq.ParseFromString(content)
        return numpy_helper.to_list(seq)
    if tp.HasField("optional_type"):
        opt = onnx.OptionalProto()
        opt.ParseFromString(content)
        return numpy_helper.to_optional(opt)
    t = TensorProto()
    t.ParseFromString(content)
    return numpy_helper.to_array(t)


def _normalize(x: Any) -> Any:
    return numpy_helper.to_array(x) if isinstance(x, TensorProto) else x


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def _random_weights(model: ModelProto, seed: int) -> Tuple[ModelProto, Dict[str, np.ndarray]]:
    """Drop each `ConstantOfShape` fed by a constant shape initializer (the light models'
    stand-in for stored weights) and make its output a graph input; returns that model and
    seeded random values for those inputs."""
    rng = np.random.default_rng(seed)
    inits = {t.name: t for t in model.graph.initializer}
    keep, weights = [], {}
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in inits:
            shape = tuple(int(d) for d in numpy_helper.to_array(inits[node.input[0]]).ravel())
            if len(shape) >= 2:
                fan_in = int(np.prod(shape[1:])) or 1
                w = rng.standard_normal(shape, dtype=np.float32)
                w *= np.float32(np.sqrt(2.0 / fan_in))
            else:
                w = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            weights[node.output[0]] = w
            continue
        keep.append(node)
    out = ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(keep)
    used = {x for n in keep for x in n.input} | {vi.name for vi in model.graph.output}
    kept = [t for t in model.graph.initializer if t.name in used]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    names = {t.name for t in kept}
    ins = [vi for vi in model.graph.input if vi.name not in inits or vi.name in names]
    ins += [onnx.helper.make_tensor_value_info(k, TensorProto.FLOAT, w.shape)
            for k, w in weights.items()]
    del out.graph.input[:]
    out.graph.input.extend(ins)
    return out, weights


def _with_initializers(model: ModelProto, weights: Dict[str, np.ndarray]) -> ModelProto:
    """`model` with `weights` (graph inputs) turned into initializers."""
    out = ModelProto()
    out.CopyFrom(model)
    if model.ir_version >= 4:  # else initializers must stay listed as graph inputs
        ins = [vi for vi in out.graph.input if vi.name not in weights]
        del out.graph.input[:]
        out.graph.input.extend(ins)
    out.graph.initializer.extend(numpy_helper.from_array(w, k) for k, w in weights.items())
    return out


_PASS_BACK = ("Softmax", "GlobalAveragePool", "AveragePool", "Relu", "Reshape", "Flatten",
              "Dropout", "Identity", "Squeeze")
_MOVES = ("Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity")


def _classifier(model: ModelProto) -> Optional[onnx.NodeProto]:
    """The last linear node before the output (through softmax, pooling, ReLU, reshapes):
    scaling its weight and bias scales the logits."""
    producer = {o: n for n in model.graph.node for o in n.output}
    x = model.graph.output[0].name
    while x in producer:
        n = producer[x]
        if n.op_type in ("Gemm", "Conv", "MatMul"):
            return n
        if n.op_type not in _PASS_BACK:
            return None
        x = n.input[0]
    return None


def _source_weight(model: ModelProto, name: str, weights: Dict[str, np.ndarray]
                   ) -> Optional[str]:
    """The random weight `name` is (or is reshaped / transposed from)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    while name not in weights and name in producer and producer[name].op_type in _MOVES:
        name = producer[name].input[0]
    return name if name in weights else None


def _calibrate_logits(model: ModelProto, weights: Dict[str, np.ndarray],
                      feeds: Dict[str, np.ndarray], target: float = 3.0) -> None:
    """Scale the classifier so that the logits have standard deviation `target` (random weights
    otherwise give logits of 1e2..1e5, a saturated softmax that tests nothing)."""
    node = _classifier(model)
    if node is None:
        return
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.output[0],
                                                                 TensorProto.FLOAT, None))
    try:
        std = float(np.std(_ort_outputs(model, {**feeds, **weights})[-1]))
    finally:
        del model.graph.output[-1]
    if not np.isfinite(std) or std == 0:
        return
    for x in node.input[1:]:
        src = _source_weight(model, x, weights)
        if src is not None:
            weights[src] = weights[src] * np.float32(target / std)


def _ort_outputs(model: ModelProto, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in model.graph.output]
    return list(sess.run(names, feeds))


def load_data(case: Case) -> Tuple[ModelProto, List[Tuple[List[Any], List[Any]]]]:
    """The model and its (inputs, expected outputs) data sets."""
    if case.model is not None:
        sets = [([_normalize(x) for x in ins], [_normalize(y) for y in outs])
                for ins, outs in case.data_sets or []]
        return case.model, sets
    assert case.model_path is not None
    model = onnx.load(case.model_path)
    if case.suite == "light":
        from onnx.backend.test.runner import Runner
        model, weights = _random_weights(model, _seed(case.name))
        inits = {t.name for t in model.graph.initializer} | set(weights)
        feeds = {vi.name: Runner.generate_dummy_data(vi, seed=0, name=case.name, random=False)
                 for vi in model.graph.input if vi.name not in inits}
        _calibrate_logits(model, weights, feeds)
        # onnxruntime gets the weights as inputs (no copy of hundreds of MB into a proto)
        expected = _ort_outputs(model, {**feeds, **weights})
        return _with_initializers(model, weights), [(list(feeds.values()), expected)]
    sets = []
    for d in case.data_dirs:
        n_in = len(glob.glob(os.path.join(d, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(d, "output_*.pb")))
        ins = [_load_tensor_file(os.path.join(d, f"input_{i}.pb"), model.graph.input[i].type)
               for i in range(n_in)]
        outs = [_load_tensor_file(os.path.join(d, f"output_{i}.pb"),
                                  model.graph.output[i].type) for i in range(n_out)]
        sets.append((ins, outs))
    return model, sets
