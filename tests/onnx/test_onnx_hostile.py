"""Malformed and hostile ONNX models: each gets a typed error whose message names the culprit
(file, node, op, attribute, initializer)."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlir_lite.errors import OnnxImportError, UnsupportedOpError
from mlir_lite.frontends.onnx import check_model, import_onnx

from . import _models as M

n = helper.make_node


def relu_model(**kw) -> onnx.ModelProto:
    return M.model([n("Relu", ["x"], ["y"], name="r")], [M.vi("x", [3])], [M.vi("y", [3])], **kw)


def expect(src, exc, *needles, **kw) -> str:
    with pytest.raises(exc) as e:
        import_onnx(src, **kw)
    msg = str(e.value)
    for s in needles:
        assert s in msg, f"{s!r} not in {msg!r}"
    return msg


# -- bytes and files --------------------------------------------------------------------------
def test_truncated_bytes() -> None:
    b = M.mlp().SerializeToString()
    expect(b[: len(b) // 2], OnnxImportError, "<bytes>", "truncated or corrupt")


def test_non_protobuf_bytes() -> None:
    expect(b"\xff\xfe this is not a protobuf \x00\x01", OnnxImportError, "<bytes>")


def test_empty_bytes() -> None:
    expect(b"", OnnxImportError, "<bytes>", "empty")


def test_missing_file(tmp_path) -> None:
    expect(str(tmp_path / "nope.onnx"), OnnxImportError, "nope.onnx", "cannot read")


def test_truncated_file_names_the_file(tmp_path) -> None:
    p = tmp_path / "cut.onnx"
    p.write_bytes(M.cnn().SerializeToString()[:300])
    expect(str(p), OnnxImportError, "cut.onnx")


def test_parses_but_is_not_a_model() -> None:
    # a valid protobuf of another message: field 1 varint only
    expect(b"\x08\x05", OnnxImportError, "<bytes>", "no ONNX graph")


def test_wrong_source_type() -> None:
    expect(42, OnnxImportError, "int")


# -- versions and opsets ------------------------------------------------------------------------
def test_ir_version_too_new() -> None:
    expect(relu_model(ir_version=99), OnnxImportError, "IR version 99", "supported range")


def test_ir_version_too_old() -> None:
    expect(relu_model(ir_version=2), OnnxImportError, "IR version 2")


def test_opset_too_old() -> None:
    expect(relu_model(opset=0), OnnxImportError, "opset 0", "ai.onnx")


def test_opset_1_imports_per_operator_version() -> None:
    # opset 1 is accepted; what changed before opset 6 is an attribute the converter reports
    # (Relu-1's consumed_inputs) or an operator version without a converter (Concat-1)
    m = M.model([n("Not", ["x"], ["y"])], [M.vi("x", [3], TensorProto.BOOL)],
                [M.vi("y", [3], TensorProto.BOOL)], opset=1, ir_version=3)
    assert "ml.not" in str(import_onnx(m))
    legacy = M.model([n("Relu", ["x"], ["y"], consumed_inputs=[0])], [M.vi("x", [3])],
                     [M.vi("y", [3])], opset=1, ir_version=3)
    expect(legacy, UnsupportedOpError, "consumed_inputs", "not handled")
    concat = M.model([n("Concat", ["x", "x"], ["y"])], [M.vi("x", [3])], [M.vi("y", [6])],
                     opset=1, ir_version=3)
    expect(concat, UnsupportedOpError, "no converter for opset 1")


def test_opset_too_new() -> None:
    expect(relu_model(opset=999), OnnxImportError, "opset 999")


def test_missing_default_opset_import() -> None:
    m = relu_model()
    del m.opset_import[:]
    m.opset_import.append(helper.make_opsetid("com.other", 1))
    expect(m, OnnxImportError, "missing opset import", "default domain")


def test_node_domain_not_imported() -> None:
    m = M.model([n("Thing", ["x"], ["y"], name="custom1", domain="com.acme")], [M.vi("x", [3])],
                [M.vi("y", [3])])
    expect(m, OnnxImportError, "'custom1'", "com.acme", "missing opset import")


def test_unknown_default_domain_op() -> None:
    m = M.model([n("FooBar", ["x"], ["y"], name="mystery")], [M.vi("x", [3])], [M.vi("y", [3])])
    expect(m, OnnxImportError, "'mystery'", "FooBar", "not an operator")


def test_op_not_yet_defined_at_the_opset() -> None:
    m = M.model([n("Gelu", ["x"], ["y"], name="gelu")], [M.vi("x", [3])], [M.vi("y", [3])],
                opset=17)
    expect(m, OnnxImportError, "'gelu'", "Gelu", "opset 17")


def test_unknown_domain_is_unsupported() -> None:
    g = helper.make_graph([n("Thing", ["x"], ["y"], name="custom2", domain="com.acme")], "g",
                          [M.vi("x", [3])], [M.vi("y", [3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.acme", 1)])
    m.ir_version = M.IR_VERSION
    expect(m, UnsupportedOpError, "'custom2'", "com.acme::Thing", "not supported")


def test_every_unsupported_node_in_one_error() -> None:
    m = M.model([n("DFT", ["x"], ["a"], name="dft_a"), n("Relu", ["a"], ["b"], name="ok"),
                 n("DFT", ["b"], ["y"], name="dft_b")], [M.vi("x", [1, 4, 1])],
                [M.vi("y", [1, 4, 2])])
    msg = expect(m, UnsupportedOpError, "'dft_a'", "'dft_b'", "2 unsupported node(s)")
    assert "'ok'" not in msg


# -- graph structure ------------------------------------------------------------------------------
def test_cycle() -> None:
    m = M.model([n("Add", ["x", "b"], ["a"], name="loop_a"), n("Relu", ["a"], ["b"], name="loop_b")],
                [M.vi("x", [3])], [M.vi("b", [3])])
    expect(m, OnnxImportError, "cycle", "'loop_a'", "'loop_b'")


def test_dangling_input() -> None:
    m = M.model([n("Add", ["x", "ghost"], ["y"], name="adder")], [M.vi("x", [3])],
                [M.vi("y", [3])])
    expect(m, OnnxImportError, "'adder'", "'ghost'", "dangling")


def test_dangling_graph_output() -> None:
    m = M.model([n("Relu", ["x"], ["y"], name="r")], [M.vi("x", [3])],
                [M.vi("y", [3]), M.vi("nowhere", [3])])
    expect(m, OnnxImportError, "'nowhere'", "dangling output")


def test_duplicate_output_name() -> None:
    m = M.model([n("Relu", ["x"], ["y"], name="first"), n("Neg", ["x"], ["y"], name="second")],
                [M.vi("x", [3])], [M.vi("y", [3])])
    expect(m, OnnxImportError, "duplicate name 'y'", "'second'")


def test_output_redefines_an_input() -> None:
    m = M.model([n("Relu", ["x"], ["x"], name="selfish")], [M.vi("x", [3])], [M.vi("x", [3])])
    expect(m, OnnxImportError, "'x'", "'selfish'")


def test_duplicate_initializer() -> None:
    m = M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [3])], [M.vi("y", [3])],
                [M.init("w", M.f32(3)), M.init("w", M.f32(3))])
    expect(m, OnnxImportError, "duplicate initializer 'w'")


def test_not_topologically_sorted() -> None:
    m = M.model([n("Relu", ["a"], ["y"], name="late"), n("Neg", ["x"], ["a"], name="early")],
                [M.vi("x", [3])], [M.vi("y", [3])])
    expect(m, OnnxImportError, "'late'", "'early'", "topologically sorted")


def test_graph_output_without_shape() -> None:
    m = M.model([n("Relu", ["x"], ["y"], name="r")], [M.vi("x", [3])], [M.vi("y", None)])
    expect(m, OnnxImportError, "graph output 'y'", "no shape")


# -- attributes -----------------------------------------------------------------------------------
def test_missing_required_attribute() -> None:
    m = M.model([n("Concat", ["x", "x"], ["y"], name="cat")], [M.vi("x", [3])], [M.vi("y", [6])])
    expect(m, OnnxImportError, "'cat'", "Concat", "missing required attribute 'axis'")


def test_wrong_attribute_type() -> None:
    node = n("Conv", ["x", "w"], ["y"], name="conv_bad")
    node.attribute.append(helper.make_attribute("kernel_shape", 3.0))
    m = M.model([node], [M.vi("x", [1, 1, 5, 5])], [M.vi("y", [1, 1, 3, 3])],
                [M.init("w", M.f32(1, 1, 3, 3))])
    expect(m, OnnxImportError, "'conv_bad'", "Conv", "'kernel_shape'", "ints", "float")


def test_unknown_attribute() -> None:
    m = M.model([n("Relu", ["x"], ["y"], name="r", colour=3)], [M.vi("x", [3])],
                [M.vi("y", [3])])
    expect(m, OnnxImportError, "'r'", "unknown attribute 'colour'")


def test_duplicate_attribute() -> None:
    node = n("LeakyRelu", ["x"], ["y"], name="lr", alpha=0.1)
    node.attribute.append(helper.make_attribute("alpha", 0.2))
    m = M.model([node], [M.vi("x", [3])], [M.vi("y", [3])])
    expect(m, OnnxImportError, "'lr'", "'alpha'", "twice")


def test_bad_attribute_value_names_node() -> None:
    m = M.model([n("Pad", ["x", "pads"], ["y"], name="padder", mode="mirror")],
                [M.vi("x", [3])], [M.vi("y", [5])],
                [M.init("pads", np.array([1, 1], np.int64))])
    expect(m, OnnxImportError, "padder")


# -- tensors --------------------------------------------------------------------------------------
def _raw(name: str, dims, data: bytes, dt=TensorProto.FLOAT) -> onnx.TensorProto:
    t = onnx.TensorProto()
    t.name, t.data_type = name, dt
    t.dims.extend(dims)
    t.raw_data = data
    return t


def test_initializer_raw_data_does_not_match_shape() -> None:
    m = M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])],
                [_raw("w", [4], b"\x00" * 12)])
    expect(m, OnnxImportError, "initializer 'w'", "12 bytes", "need 16")


def test_initializer_typed_data_does_not_match_shape() -> None:
    t = helper.make_tensor("w", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    del t.float_data[2:]
    m = M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])], [t])
    expect(m, OnnxImportError, "initializer 'w'", "float_data holds 2", "need 4")


def test_negative_dims() -> None:
    m = M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])],
                [_raw("w", [-4], b"")])
    expect(m, OnnxImportError, "initializer 'w'", "negative")


def test_huge_declared_initializer_refused_before_allocation() -> None:
    # 2^40 floats declared, no data: refused from the dims alone
    m = M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])],
                [_raw("w", [1 << 20, 1 << 20], b"")])
    expect(m, OnnxImportError, "initializer 'w'", "limit", "max_tensor_bytes")


def test_configurable_tensor_limit() -> None:
    m = M.mlp()
    import_onnx(m, max_tensor_bytes=1 << 20)
    expect(m, OnnxImportError, "initializer 'W1'", "limit of 64", max_tensor_bytes=64)


def test_constant_node_tensor_over_limit() -> None:
    c = n("Constant", [], ["c"], name="big_const", value=_raw("v", [1 << 31], b""))
    m = M.model([c, n("Add", ["x", "c"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])])
    expect(m, OnnxImportError, "'big_const'", "'value'", "limit")


def _external_model(location: str, length: int = 16) -> onnx.ModelProto:
    t = onnx.TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.append(4)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return M.model([n("Add", ["x", "w"], ["y"], name="a")], [M.vi("x", [4])], [M.vi("y", [4])],
                   [t])


def _save_raw(m: onnx.ModelProto, path) -> str:
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return str(path)


def test_external_data_escaping_the_folder(tmp_path) -> None:
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    sub = tmp_path / "model"
    sub.mkdir()
    p = _save_raw(_external_model("../secret.bin"), sub / "m.onnx")
    expect(p, OnnxImportError, "m.onnx", "initializer 'w'", "escapes the model's folder")


def test_external_data_absolute_path(tmp_path) -> None:
    p = _save_raw(_external_model("/etc/passwd"), tmp_path / "m.onnx")
    expect(p, OnnxImportError, "initializer 'w'", "absolute path")


def test_external_data_symlink_escaping(tmp_path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\x00" * 16)
    sub = tmp_path / "model"
    sub.mkdir()
    os.symlink(outside, sub / "link.bin")
    p = _save_raw(_external_model("link.bin"), sub / "m.onnx")
    expect(p, OnnxImportError, "escapes")


def test_external_data_from_bytes_is_refused() -> None:
    expect(_external_model("w.bin").SerializeToString(), OnnxImportError, "<bytes>",
           "initializer 'w'", "file path")


def test_external_data_past_end_of_file(tmp_path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\x00" * 8)
    p = _save_raw(_external_model("w.bin"), tmp_path / "m.onnx")
    expect(p, OnnxImportError, "initializer 'w'", "past the end")


def test_external_data_loads_when_well_formed(tmp_path) -> None:
    data = np.arange(4, dtype=np.float32)
    (tmp_path / "w.bin").write_bytes(data.tobytes())
    p = _save_raw(_external_model("w.bin"), tmp_path / "m.onnx")
    from mlir_lite.ir.interpreter import run
    out = run(import_onnx(p), np.ones(4, np.float32))[0]
    np.testing.assert_array_equal(out, data + 1)


# -- types ----------------------------------------------------------------------------------------
def test_shape_contradiction_names_node() -> None:
    m = M.model([n("Add", ["x", "z"], ["y"], name="bad_add")], [M.vi("x", [3]), M.vi("z", [4])],
                [M.vi("y", [3])])
    expect(m, OnnxImportError, "bad_add")


def test_declared_output_type_contradiction() -> None:
    m = M.model([n("Relu", ["x"], ["y"], name="r")], [M.vi("x", [3])],
                [M.vi("y", [3], TensorProto.INT64)])
    expect(m, OnnxImportError, "node name: r", "elem type")


def test_string_tensors_are_unsupported() -> None:
    m = M.model([n("Identity", ["s"], ["y"], name="strid")],
                [M.vi("s", [2], TensorProto.STRING)], [M.vi("y", [2], TensorProto.STRING)])
    expect(m, UnsupportedOpError, "string")


def test_sequence_op_is_unsupported_and_listed_by_check() -> None:
    m = M.model([n("SequenceConstruct", ["x", "x"], ["s"], name="seq"),
                 n("ConcatFromSequence", ["s"], ["y"], name="unseq", axis=0)],
                [M.vi("x", [3])], [M.vi("y", [6])])
    expect(m, UnsupportedOpError, "'seq'", "'unseq'")
    report = check_model(m)
    assert {u.name for u in report.unsupported} == {"seq", "unseq"}


# -- subgraphs ------------------------------------------------------------------------------------
def test_error_inside_subgraph_names_the_path() -> None:
    then_g = helper.make_graph([n("Blorp", ["x"], ["t"], name="inner_bad")], "then", [],
                               [M.vi("t", [3])])
    else_g = helper.make_graph([n("Neg", ["x"], ["e"], name="inner_ok")], "else", [],
                               [M.vi("e", [3])])
    m = M.model([n("If", ["c"], ["y"], name="branchy", then_branch=then_g, else_branch=else_g)],
                [M.vi("x", [3]), M.vi("c", [], TensorProto.BOOL)], [M.vi("y", [3])])
    expect(m, OnnxImportError, "'branchy'", "then_branch", "'inner_bad'", "Blorp")


def test_loop_body_arity_mismatch() -> None:
    body = helper.make_graph([n("Identity", ["c"], ["c2"], name="b_id")], "body",
                             [M.vi("i", [], TensorProto.INT64), M.vi("c", [], TensorProto.BOOL)],
                             [M.vi("c2", [], TensorProto.BOOL)])
    m = M.model([n("Loop", ["trip", "", "x"], ["y"], name="bad_loop", body=body)],
                [M.vi("x", [3]), M.vi("trip", [], TensorProto.INT64)], [M.vi("y", [3])])
    expect(m, OnnxImportError, "bad_loop")


def test_unsupported_node_inside_loop_is_reported() -> None:
    body = helper.make_graph([n("Identity", ["c"], ["c2"], name="b_id"),
                              n("DFT", ["v"], ["v2"], name="body_dft")], "body",
                             [M.vi("i", [], TensorProto.INT64), M.vi("c", [], TensorProto.BOOL),
                              M.vi("v", [1, 4, 2])],
                             [M.vi("c2", [], TensorProto.BOOL), M.vi("v2", [1, 4, 2])])
    m = M.model([n("Loop", ["trip", "", "x"], ["y"], name="outer_loop", body=body)],
                [M.vi("x", [1, 4, 2]), M.vi("trip", [], TensorProto.INT64)],
                [M.vi("y", [1, 4, 2])])
    msg = expect(m, UnsupportedOpError, "'body_dft'", "'outer_loop'")
    assert msg.count("body_dft") == 1


def _hardsigmoid_model(**attrs) -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("HardSigmoid", ["x"], ["y"], **attrs)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_attribute_a_converter_ignores_is_reported_not_dropped(monkeypatch) -> None:
    # A converter that does not know an attribute (e.g. one a newer opset added) must not
    # drop it silently: the import reports the node and the attribute, unless its value is
    # the schema's default (then dropping it changes nothing).
    from mlir_lite.frontends.onnx.registry import CONVERTERS

    def forgets_beta(ctx):
        return [ctx.op("ml.hard_sigmoid", ctx.input(0), alpha=ctx.attr("alpha", 0.2, "float"))]

    entry = CONVERTERS[("", "HardSigmoid")]
    monkeypatch.setattr(entry, "fns", [forgets_beta] * len(entry.fns))
    expect(_hardsigmoid_model(alpha=0.3, beta=0.25), UnsupportedOpError, "HardSigmoid",
           "beta=0.25")
    import_onnx(_hardsigmoid_model(alpha=0.3, beta=0.5))  # beta's default: nothing is lost
