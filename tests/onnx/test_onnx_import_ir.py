"""The IR an import produces: symbolic dims, locations, shared constants, print/parse round
trips, the support report and the `import` / `check` subcommands."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import mlir_lite
from mlir_lite.frontends.onnx import check_model, converter, import_onnx
from mlir_lite.frontends.onnx.commands import main as cli_main
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.ir.verifier import verify

from . import _models as M

ALL = [M.mlp, M.cnn, M.transformer_block, M.if_loop, M.scan_model, M.lstm]


def test_symbolic_dims_survive_into_printed_ir() -> None:
    text = print_module(import_onnx(M.transformer_block()))
    assert 'func.func @main(%x: tensor<?x?x8xf32, ["batch", "seq", 8]>) -> ' \
           'tensor<?x?x8xf32, ["batch", "seq", 8]>' in text
    # the attention scores keep both symbols through reshape and transpose
    assert '["batch", 2, "seq", "seq"]' in text


def test_unknown_dims_stay_unknown() -> None:
    m = M.model([helper.make_node("Relu", ["x"], ["y"], name="r")], [M.vi("x", [None, 3])],
                [M.vi("y", [None, 3])])
    f = import_onnx(m)["main"]
    assert f.args[0].type == mlir_lite.ir.types.tensor([None, 3])


def test_node_names_become_locations_and_initializers_share_memory() -> None:
    m = M.mlp()
    w1 = onnx.numpy_helper.to_array(m.graph.initializer[0])
    module = import_onnx(m)
    text = print_module(module)
    assert 'loc("mm1")' in text and 'loc("gemm2")' in text
    consts = {op.results[0].name_hint: op for op in module.walk() if op.name == "ml.constant"}
    arr = consts["W1"].attributes["value"].array
    np.testing.assert_array_equal(arr, w1)
    assert not arr.flags.writeable


@pytest.mark.parametrize("build", ALL, ids=lambda f: f.__name__)
def test_print_parse_round_trip(build) -> None:
    module = import_onnx(build())
    text = print_module(module)
    again = parse_module(text)
    verify(again)
    assert print_module(again) == text


def test_round_trip_preserves_numerics() -> None:
    module = import_onnx(M.if_loop())
    again = parse_module(print_module(module))
    feeds = [np.array([1.0, 2.0, -0.5], np.float32), np.array(4, np.int64)]
    for a, b in zip(run(module, *feeds), run(again, *feeds)):
        np.testing.assert_array_equal(a, b)


def test_loop_without_condition_becomes_scf_for_and_with_condition_scf_while() -> None:
    names = [op.name for op in import_onnx(M.if_loop()).walk()]
    assert "scf.for" in names and "scf.while" in names and "scf.if" in names


def test_import_from_path_and_bytes(tmp_path) -> None:
    p = tmp_path / "mlp.onnx"
    onnx.save(M.mlp(), str(p))
    a = print_module(import_onnx(str(p)))
    b = print_module(import_onnx(p.read_bytes()))
    assert a == b


def test_constant_inputs_become_attributes_and_dynamic_ones_use_dynamic_ops() -> None:
    n = helper.make_node
    m = M.model([n("Reshape", ["x", "shape_const"], ["a"], name="static_reshape"),
                 n("Reshape", ["x", "shape_in"], ["b"], name="dynamic_reshape")],
                [M.vi("x", [2, 6]), M.vi("shape_in", [2], TensorProto.INT64)],
                [M.vi("a", [3, 4]), M.vi("b", [None, None])],
                [M.init("shape_const", np.array([3, -1], np.int64))])
    text = print_module(import_onnx(m))
    assert '"ml.reshape"(%x) {shape = array<i64: 3, -1>' in text
    assert '"ml.reshape_dynamic"(%x, %shape_in)' in text
    assert "shape_const" not in text  # folded into the attribute, the constant is dropped


def _unsupported_model():
    n = helper.make_node
    return M.model([n("Relu", ["x"], ["r"], name="ok_relu"),
                    n("DFT", ["r"], ["d"], name="fourier"),
                    n("Relu", ["d"], ["r2"], name="after"),
                    n("MaxRoiPool", ["r2", "rois"], ["y"], name="roipool",
                      pooled_shape=[1, 1])],
                   [M.vi("x", [1, 1, 4, 2]), M.vi("rois", [1, 5])], [M.vi("y", [1, 1, 1, 1])])


def test_check_report_lists_every_unsupported_node() -> None:
    report = check_model(_unsupported_model())
    assert not report.ok
    assert [u.name for u in report.unsupported] == ["fourier", "roipool"]
    u = report.unsupported[0]
    assert (u.op_type, u.opset, u.dtype) == ("DFT", M.OPSET, "float")
    assert "no converter" in u.reason
    d = json.loads(report.to_json())
    assert d["summary"]["Relu"] == {"nodes": 2, "unsupported": 0}
    assert d["summary"]["DFT"] == {"nodes": 1, "unsupported": 1}
    text = report.to_text()
    assert "2 of 4 nodes are not supported" in text and "'roipool'" in text


def test_import_of_unsupported_model_names_all_nodes() -> None:
    with pytest.raises(mlir_lite.UnsupportedOpError) as e:
        import_onnx(_unsupported_model())
    msg = str(e.value)
    assert "'fourier'" in msg and "'roipool'" in msg and "DFT" in msg and "MaxRoiPool" in msg
    assert "opset 17" in msg and "dtype float" in msg


def test_cli_import_and_check(tmp_path, capsys) -> None:
    good = tmp_path / "mlp.onnx"
    bad = tmp_path / "bad.onnx"
    onnx.save(M.mlp(), str(good))
    onnx.save(_unsupported_model(), str(bad))
    out = tmp_path / "mlp.mlir"
    assert cli_main(["import", str(good), "-o", str(out)]) == 0
    assert parse_module(out.read_text()) is not None
    assert cli_main(["check", str(good)]) == 0
    capsys.readouterr()
    assert cli_main(["import", str(bad), "-o", str(tmp_path / "x.mlir")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlir-lite: error: ") and "'fourier'" in err
    assert not (tmp_path / "x.mlir").exists()
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    assert cli_main(["check", str(tmp_path / "junk.onnx")]) == 1
    assert "junk.onnx" in capsys.readouterr().err


def test_check_json_output(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.onnx"
    onnx.save(_unsupported_model(), str(bad))
    assert cli_main(["check", str(bad), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["supported"] is False
    assert {u["node"] for u in d["unsupported"]} == {"fourier", "roipool"}


def test_other_domains_plug_in_through_the_registry() -> None:
    from mlir_lite.frontends.onnx import register_domain
    register_domain("com.example.test", 1, 1)

    @converter("Double", since=1, domain="com.example.test")
    def _double(ctx):
        x = ctx.input(0)
        return [ctx.op("ml.add", x, x)]

    g = helper.make_graph([helper.make_node("Double", ["x"], ["y"], name="dbl",
                                            domain="com.example.test")], "g",
                          [M.vi("x", [3])], [M.vi("y", [3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.example.test", 1)])
    m.ir_version = M.IR_VERSION
    x = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(run(import_onnx(m), x)[0], 2 * x)
