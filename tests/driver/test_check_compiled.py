"""`mlir-lite check --compiled` says, before compiling, which ops the compiled path runs with
run-time shapes (and the host's control flow); what it says agrees with the plan that
compiling then builds (its BindSteps), op for op."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List

import pytest

pytest.importorskip("tvm")

import onnx  # noqa: E402

from mlir_lite.driver import CompileOptions, compile  # noqa: E402
from mlir_lite.driver.cli import main  # noqa: E402
from mlir_lite.driver.compiled_check import check_compiled  # noqa: E402
from mlir_lite.errors import CompileError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
import test_tvm_shape_functions as shape_cases  # noqa: E402


def _run_time_ops(report: Any) -> List[str]:
    return [n.op for n in report.notes if n.kind == "run-time shape"]


@pytest.mark.parametrize("case", shape_cases.CASES[:8], ids=[c[0] for c in
                                                              shape_cases.CASES[:8]])
def test_the_report_names_the_ops_the_plan_binds_sizes_of(case: tuple) -> None:
    _, nodes, outs, runs = case
    model = shape_cases._model(nodes, runs[0], outs)
    report = check_compiled(model, CompileOptions(target="cpu"))
    plan = compile(model, CompileOptions(target="cpu")).executable.plan
    assert _run_time_ops(report) == shape_cases._bind_ops(plan.steps)
    assert report.ok


def _dyn_model(tmp_path: Path) -> str:
    from onnx import TensorProto as T
    from onnx import helper as h
    nodes = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "one"], ["n"]),
             h.make_node("Range", ["zero", "n", "one"], ["r"]),
             h.make_node("NonZero", ["x"], ["nz"]),
             h.make_node("Cast", ["r"], ["rf"], to=T.FLOAT),
             h.make_node("Add", ["x", "rf"], ["y"])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["b", "seq"])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["b", "seq"]),
                      h.make_tensor_value_info("nz", T.INT64, [2, None])],
                     [onnx.numpy_helper.from_array(__import__("numpy").array(v, "int64"), k)
                      for k, v in (("zero", 0), ("one", 1))])
    path = str(tmp_path / "dyn.onnx")
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def test_cli_reports_run_time_shapes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _dyn_model(tmp_path)
    assert main(["check", path, "--compiled"]) == 0
    text = capsys.readouterr().out
    # arange(seq) has length seq (shape-inference follows it): only NonZero waits for data
    assert "run-time shape: ml.nonzero" in text and "ml.range" not in text
    assert main(["check", path, "--compiled", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compiled"]["compiles"] is True
    assert [n["op"] for n in data["compiled"]["notes"]] == ["ml.nonzero"]
    assert main(["check", path]) == 0 and "compiled path" not in capsys.readouterr().out


def test_host_loops_are_reported() -> None:
    model = shape_cases._model([shape_cases.helper.make_node(
        "Loop", ["n", "", "a0"], ["acc"], body=_counting_body())],
        {"n": shape_cases.s64(3), "a0": shape_cases.s64(0)}, [("acc", shape_cases.INT, 0)])
    kinds = [n.kind for n in check_compiled(model).notes]
    assert "host loop" in kinds


def _counting_body() -> Any:
    from onnx import TensorProto as T
    from onnx import helper as h
    return h.make_graph(
        [h.make_node("Add", ["acc", "acc"], ["acc2"]), h.make_node("Identity", ["c"], ["c2"])],
        "body", [h.make_tensor_value_info("i", T.INT64, []),
                 h.make_tensor_value_info("c", T.BOOL, []),
                 h.make_tensor_value_info("acc", T.INT64, [])],
        [h.make_tensor_value_info("c2", T.BOOL, []), h.make_tensor_value_info("acc2", T.INT64,
                                                                              [])])


def test_needs_a_tvm_target(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="TVM target"):
        check_compiled(_dyn_model(tmp_path), CompileOptions(target="interpreter"))
