"""Ops whose result sizes run-time values decide compile once and run at every size: the plan's
shape step (a kernel from backends/tvm/shape_functions.py, then a BindStep) binds the sizes.

Each model declares its data-dependent outputs with unknown dims, takes the deciding values
(a Range's limit, a Reshape's shape, Slice's starts, TopK's k, ...) as graph inputs, is
compiled once and run with two or three different values; every run is compared with
onnxruntime (the oracle): integers exact, floats rtol 1e-5, atol 1e-6.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest

pytest.importorskip("tvm")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from mlir_lite.backends.tvm.executor import BindStep  # noqa: E402
from mlir_lite.backends.tvm.shape_functions import SHAPE_FUNCTIONS  # noqa: E402
from mlir_lite.driver import CompileOptions, compile  # noqa: E402
from mlir_lite.errors import ExecutionError  # noqa: E402
from mlir_lite.ir.dialects.ml.reduce import REDUCE_OPS  # noqa: E402
from mlir_lite.runtime.plan import plan_from_json, plan_to_json  # noqa: E402

R = np.random.default_rng(5)
F, INT = TensorProto.FLOAT, TensorProto.INT64


def _in(name: str, a: np.ndarray) -> Any:
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)


def _model(nodes: Sequence[Any], feeds: Dict[str, np.ndarray],
           outs: Sequence[Tuple[str, int, int]], opset: int = 21) -> onnx.ModelProto:
    """`outs`: (name, element type, rank): every output dim is left unknown."""
    graph = helper.make_graph(
        list(nodes), "g", [_in(n, a) for n, a in feeds.items()],
        [helper.make_tensor_value_info(n, t, [None] * r) for n, t, r in outs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10)


def _bind_ops(steps: Sequence[Any]) -> List[str]:
    out = []
    for s in steps:
        if isinstance(s, BindStep):
            out.append(s.op)
        for k in ("then", "otherwise", "body", "before", "after"):
            out += _bind_ops(getattr(s, k, ()))
    return out


def _check(model: onnx.ModelProto, runs: Sequence[Dict[str, np.ndarray]]) -> List[str]:
    """Compile once, run each feed, compare with onnxruntime; the ops the plan binds sizes of."""
    compiled = compile(model, CompileOptions(target="cpu"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for feeds in runs:
        want = sess.run(None, feeds)
        got = compiled(*[feeds[n] for n in compiled.input_names])
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape)
            if np.issubdtype(w.dtype, np.floating):
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(g, w)
    return _bind_ops(compiled.executable.plan.steps)


def i64(*v: int) -> np.ndarray:
    return np.array(v, np.int64)


def s64(v: int) -> np.ndarray:
    return np.array(v, np.int64)


X34 = R.uniform(-2, 2, (3, 4)).astype(np.float32)
X234 = R.uniform(-2, 2, (2, 3, 4)).astype(np.float32)

# (id, nodes, outputs, runs): each run's feeds, all with the same input shapes
CASES: List[Tuple[str, list, list, list]] = [
    ("range", [helper.make_node("Range", ["s", "l", "d"], ["y"]),
               helper.make_node("Mul", ["y", "y"], ["z"])], [("z", INT, 1)],
     [{"s": s64(1), "l": s64(lim), "d": s64(2)} for lim in (1, 6, 11)]),
    ("range_float", [helper.make_node("Range", ["s", "l", "d"], ["y"])], [("y", F, 1)],
     [{"s": np.array(0.5, np.float32), "l": np.array(lim, np.float32),
       "d": np.array(0.75, np.float32)} for lim in (0.0, 3.0, 7.25)]),
    ("nonzero", [helper.make_node("NonZero", ["x"], ["y"]),
                 helper.make_node("Transpose", ["y"], ["z"])], [("z", INT, 2)],
     [{"x": (X34 > t).astype(np.float32)} for t in (-3.0, 0.0, 1.5)]),
    ("compress", [helper.make_node("Compress", ["x", "c"], ["y"], axis=1),
                  helper.make_node("Compress", ["x", "c2"], ["z"])], [("y", F, 2), ("z", F, 1)],
     [{"x": X34, "c": np.array(c, bool), "c2": np.array(c + c, bool)}
      for c in ([1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 0, 0])]),
    ("constant_of_shape", [helper.make_node("ConstantOfShape", ["s"], ["y"],
                                            value=helper.make_tensor("v", F, [1], [1.5]))],
     [("y", F, 2)], [{"s": i64(2, 5)}, {"s": i64(0, 3)}, {"s": i64(7, 1)}]),
    ("reshape", [helper.make_node("Reshape", ["x", "s"], ["y"]),
                 helper.make_node("Relu", ["y"], ["z"])], [("z", F, 3)],
     [{"x": X234, "s": i64(*s)} for s in ((0, -1, 2), (4, 3, 2), (-1, 1, 1))]),
    ("unsqueeze_squeeze", [helper.make_node("Unsqueeze", ["x", "a"], ["y"]),
                           helper.make_node("Squeeze", ["y", "b"], ["z"])],
     [("y", F, 5), ("z", F, 4)],
     [{"x": X234, "a": i64(*a), "b": i64(b)} for a, b in (((0, 3), 0), ((1, -1), 4),
                                                           ((2, 4), 2))]),
    ("tile", [helper.make_node("Tile", ["x", "r"], ["y"])], [("y", F, 2)],
     [{"x": X34, "r": i64(*r)} for r in ((1, 1), (2, 3), (0, 2))]),
    ("slice", [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], [("y", F, 3)],
     [{"x": X234, "st": i64(*a), "en": i64(*b), "ax": i64(2, 0), "sp": i64(*c)}
      for a, b, c in (((0, 0), (3, 2), (1, 1)), ((-1, 1), (-5, 9), (-1, 1)),
                      ((1, 0), (100, 1), (2, 1)))]),
    ("split", [helper.make_node("Split", ["x", "sp"], ["a", "b"], axis=2)],
     [("a", F, 3), ("b", F, 3)], [{"x": X234, "sp": i64(*s)} for s in ((1, 3), (4, 0), (2, 2))]),
    ("pad", [helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")], [("y", F, 2)],
     [{"x": X34, "p": i64(*p)} for p in ((0, 1, 2, 0), (2, 0, 0, 3), (0, 0, 0, 0))]),
    ("resize_nearest", [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest")],
     [("y", F, 3)], [{"x": X234, "sz": i64(*s)} for s in ((2, 3, 8), (2, 6, 2), (2, 1, 4))]),
    ("expand", [helper.make_node("Expand", ["x", "s"], ["y"])], [("y", F, 3)],
     [{"x": X34[:1], "s": i64(*s)} for s in ((2, 1, 4), (3, 5, 4), (1, 0, 4))]),
    ("one_hot", [helper.make_node("OneHot", ["ix", "dp", "v"], ["y"], axis=-1)], [("y", F, 2)],
     [{"ix": i64(0, 2, -1), "dp": s64(d), "v": np.array([0.0, 3.0], np.float32)}
      for d in (3, 5)]),
    ("topk", [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)],
     [("v", F, 2), ("i", INT, 2)], [{"x": X34, "k": i64(k)} for k in (1, 3, 4)]),
    ("unique", [helper.make_node("Unique", ["x"], ["y", "i", "inv", "c"], axis=1),
                helper.make_node("Unique", ["x"], ["y2", "i2", "inv2", "c2"], sorted=0)],
     [("y", F, 2), ("i", INT, 1), ("inv", INT, 1), ("c", INT, 1), ("y2", F, 1),
      ("i2", INT, 1), ("inv2", INT, 1), ("c2", INT, 1)],
     [{"x": np.floor(X34 * m)} for m in (0.0, 0.7, 10.0)]),
    ("unique", [helper.make_node("Unique", ["x"], ["y", "i", "inv", "n"], sorted=1)],
     [("y", INT, 1), ("i", INT, 1), ("inv", INT, 1), ("n", INT, 1)],
     [{"x": i64(*v)} for v in ((3, 1, 3, 2, 1, 1), (5, 5, 5, 5, 5, 5), (6, 5, 4, 3, 2, 1))]),
    ("reduce_sum", [helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=0),
                    helper.make_node("ReduceSum", ["x", "a"], ["z"], keepdims=1)],
     [("y", F, 2), ("z", F, 3)], [{"x": X234, "a": i64(a)} for a in (0, 1, -1)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_compile_serves_every_size(case: tuple) -> None:
    _, nodes, outs, runs = case
    bound = _check(_model(nodes, runs[0], outs), runs)
    assert bound, "the plan has no shape step: the sizes were not decided at run time"


def test_every_shape_function_is_exercised() -> None:
    seen = set()
    for _, nodes, outs, runs in CASES:
        seen |= set(_bind_ops(compile(_model(nodes, runs[0], outs),
                                      CompileOptions(target="cpu")).executable.plan.steps))
    others = {f"ml.{n}_dynamic" for n in REDUCE_OPS} - {"ml.reduce_sum_dynamic"}
    assert set(SHAPE_FUNCTIONS) - others == seen


def test_sizes_bound_inside_a_loop_change_per_iteration() -> None:
    """A Loop whose body takes Range(0, i + 1) and sums it: the body's size is bound anew at
    each iteration (a scan output stacks the sums)."""
    one = helper.make_tensor("one", INT, [], [1])
    zero = helper.make_tensor("zero", INT, [], [0])
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["c1"], value=one),
         helper.make_node("Constant", [], ["c0"], value=zero),
         helper.make_node("Add", ["i", "c1"], ["lim"]),
         helper.make_node("Range", ["c0", "lim", "c1"], ["r"]),
         helper.make_node("ReduceSum", ["r"], ["s"], keepdims=0),
         helper.make_node("Add", ["acc", "s"], ["acc2"]),
         helper.make_node("Identity", ["cond"], ["cond2"])],
        "body", [helper.make_tensor_value_info("i", INT, []),
                 helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("acc", INT, [])],
        [helper.make_tensor_value_info("cond2", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc2", INT, []),
         helper.make_tensor_value_info("s", INT, [])])
    node = helper.make_node("Loop", ["n", "", "a0"], ["acc", "sums"], body=body)
    feeds = {"n": s64(4), "a0": s64(0)}
    model = _model([node], feeds, [("acc", INT, 0), ("sums", INT, 1)])
    bound = _check(model, [feeds, {"n": s64(7), "a0": s64(3)}])
    assert "ml.range" in bound


def test_a_negative_run_time_size_is_an_execution_error() -> None:
    model = _model([helper.make_node("Tile", ["x", "r"], ["y"])], {"x": X34, "r": i64(1, 1)},
                   [("y", F, 2)])
    compiled = compile(model, CompileOptions(target="cpu"))
    with pytest.raises(ExecutionError, match="negative size"):
        compiled(X34, i64(-1, 2))


def test_the_plan_with_shape_steps_survives_its_json_form() -> None:
    nodes, outs, runs = CASES[0][1:]
    plan = compile(_model(nodes, runs[0], outs), CompileOptions(target="cpu")).executable.plan
    again = plan_from_json(plan_to_json(plan), dict(plan.constants))
    assert again.steps == plan.steps and any(isinstance(s, BindStep) for s in again.steps)
