"""`mlir-lite plan` through `mlir_lite.driver.plan_command.register` and argparse: text, JSON and SVG."""
from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import onnx
import pytest

from mlir_lite.driver.plan_command import register
from mlir_lite.errors import MlirLiteError
from mlir_lite.passes.memory_plan import MemoryPlan, verify_plan

from ..onnx import _models as M


def _main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="mlir-lite")
    register(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return args.fn(args)


@pytest.fixture()
def transformer(tmp_path: Path) -> str:
    p = tmp_path / "tb.onnx"
    onnx.save(M.transformer_block(), str(p))
    return str(p)


def test_plan_json_and_svg(transformer: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    svg = tmp_path / "plan.svg"
    assert _main(["plan", transformer, "--dims", "batch=2", "--dims", "seq=16", "--json",
                  "--plot", str(svg)]) == 0
    plan = MemoryPlan.from_json(capsys.readouterr().out)
    verify_plan(plan)
    assert plan.dims == {"batch": 2, "seq": 16}
    assert plan.arena_bytes <= 1.10 * plan.lower_bound_bytes
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    boxes = [g for g in root.iter(ns + "g") if g.find(ns + "rect") is not None]
    assert len(boxes) == len(plan.buffers)
    titles = " ".join(g.find(ns + "title").text for g in boxes)
    assert all(k in titles for k in plan.buffers)


def test_plan_text_unfused_mlir(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    p = tmp_path / "m.mlir"
    p.write_text("""
func.func @main(%x: tensor<?x16xf32, ["N", 16]>) -> tensor<?x16xf32, ["N", 16]> {
  %a = "ml.exp"(%x) : (tensor<?x16xf32, ["N", 16]>) -> tensor<?x16xf32, ["N", 16]>
  %b = "ml.neg"(%a) : (tensor<?x16xf32, ["N", 16]>) -> tensor<?x16xf32, ["N", 16]>
  %c = "ml.tanh"(%b) : (tensor<?x16xf32, ["N", 16]>) -> tensor<?x16xf32, ["N", 16]>
  "func.return"(%c) : (tensor<?x16xf32, ["N", 16]>) -> ()
}
""")
    assert _main(["plan", str(p), "--dims", "N=4", "--no-fuse"]) == 0
    out = capsys.readouterr().out
    assert "arena 256 B for 2 buffers" in out and "(in place of %a)" in out
    assert _main(["plan", str(p), "--dims", "N=4"]) == 0  # fused: one kernel, nothing to plan
    assert "arena 0 B for 0 buffers" in capsys.readouterr().out
    with pytest.raises(MlirLiteError, match="NAME=SIZE"):
        _main(["plan", str(p), "--dims", "N"])
