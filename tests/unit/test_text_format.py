"""The text form: exact print -> parse -> print round trips, and parse errors with line:col."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import mlir_lite as ml
from mlir_lite.errors import ParseError
from mlir_lite.ir.attributes import UNIT, DenseAttr, FileLineColLoc, NameLoc, SymbolRef
from mlir_lite.ir.parser import parse_attribute, parse_module, parse_type
from mlir_lite.ir.printer import print_attribute, print_module
from mlir_lite.ir.verifier import verify


def roundtrip(text: str) -> str:
    m = parse_module(text)
    verify(m)
    once = print_module(m)
    twice = print_module(parse_module(once))
    assert once == twice
    return once


SCF_TEXT = """
module @m attributes {note = "x"} {
  func.func @main(%c: tensor<i1>, %x: tensor<?x4xf32, ["B", 4]>, %n: tensor<i64>) -> (tensor<?x4xf32, ["B", 4]>, tensor<?x?x4xf32, ["?", "B", 4]>) {
    %r = "scf.if"(%c) ({
      %a = "ml.relu"(%x) : (tensor<?x4xf32, ["B", 4]>) -> tensor<?x4xf32, ["B", 4]> loc("then.relu")
      "scf.yield"(%a) : (tensor<?x4xf32, ["B", 4]>) -> ()
    }, {
      "scf.yield"(%x) : (tensor<?x4xf32, ["B", 4]>) -> ()
    }) : (tensor<i1>) -> tensor<?x4xf32, ["B", 4]> loc("model.py":12:4)
    %zero = "ml.constant"() {value = dense<0> : tensor<i64>} : () -> tensor<i64>
    %one = "ml.constant"() {value = dense<1> : tensor<i64>} : () -> tensor<i64>
    %l:2 = "scf.for"(%zero, %n, %one, %r) ({
    ^bb0(%i: tensor<i64>, %acc: tensor<?x4xf32, ["B", 4]>):
      %e = "ml.exp"(%acc) : (tensor<?x4xf32, ["B", 4]>) -> tensor<?x4xf32, ["B", 4]>
      "scf.yield"(%e, %e) : (tensor<?x4xf32, ["B", 4]>, tensor<?x4xf32, ["B", 4]>) -> ()
    }) {num_scan_outputs = 1 : i64} : (tensor<i64>, tensor<i64>, tensor<i64>, tensor<?x4xf32, ["B", 4]>) -> (tensor<?x4xf32, ["B", 4]>, tensor<?x?x4xf32, ["?", "B", 4]>)
    "func.return"(%l#0, %l#1) : (tensor<?x4xf32, ["B", 4]>, tensor<?x?x4xf32, ["?", "B", 4]>) -> ()
  }
  func.func private @decl(tensor<*xf32>) -> tensor<*xf32>
}
"""


def test_structured_control_flow_round_trips() -> None:
    out = roundtrip(SCF_TEXT)
    assert 'loc("model.py":12:4)' in out and '%l:2 = "scf.for"' in out
    assert "^bb0(%i: tensor<i64>, %acc: tensor<?x4xf32, [\"B\", 4]>):" in out
    m = parse_module(out)
    main = m["main"]
    assert main.args[1].type.shape == ("B", 4)
    for_op = [op for op in main.walk() if op.name == "scf.for"][0]
    assert for_op.results[1].type.shape == (None, "B", 4)
    assert [op for op in main.walk() if op.name == "scf.if"][0].loc == FileLineColLoc("model.py",
                                                                                     12, 4)
    assert m.attributes == {"sym_name": "m", "note": "x"}
    assert m["decl"].attributes["sym_visibility"] == "private"


@pytest.mark.parametrize("text", [
    "tensor<f32>", "tensor<4x?x8xbf16>", "tensor<*xi1>", "tensor<0x3xu8>",
    'tensor<?x?xf16, ["N", "?"]>', "i64", "index", "none", "tuple<tensor<f32>, i64>",
    "(tensor<f32>, i1) -> (tensor<f32>, tensor<i1>)", "() -> ()",
])
def test_types_round_trip(text: str) -> None:
    t = parse_type(text)
    assert str(t) == text or str(parse_type(str(t))) == str(t)
    assert parse_type(str(t)) == t


@pytest.mark.parametrize("value", [
    True, False, 0, -7, 2**62, 0.5, -1e-30, 1e300, float("inf"), float("-inf"), "", "a \"q\"\n\\",
    (), (1, 2, 3), (0.25, -2.0), ("a", 1, (True,)), SymbolRef("f"), UNIT,
    ml.types.tensor([2, None, "K"], "i8"), ml.f32,
])
def test_attributes_round_trip(value: object) -> None:
    back = parse_attribute(print_attribute(value))
    assert back == value and type(back) is type(value)


def test_nan_attribute_round_trips_bitwise() -> None:
    back = parse_attribute(print_attribute(float("nan")))
    assert math.isnan(back)


@pytest.mark.parametrize("array", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.full((3, 3), 7, dtype=np.int64),                         # splat
    np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32),   # hex form
    np.array([np.nan, np.inf, -np.inf, -0.0], dtype=np.float32),
    np.array([True, False, True]),
    np.array(3.5, dtype=np.float64),                           # rank 0
    np.arange(40, dtype=np.uint8), np.arange(-5, 5, dtype=np.int8),
    np.linspace(-2, 2, 20).astype(np.float16), np.linspace(-2, 2, 5).astype(ml_dtypes.bfloat16),
    np.zeros((0, 3), dtype=np.float32),
])
def test_dense_attributes_round_trip_exactly(array: np.ndarray) -> None:
    d = DenseAttr(array)
    back = parse_attribute(print_attribute(d))
    assert back.type == d.type
    assert back.array.dtype == array.dtype
    assert back.array.tobytes() == np.ascontiguousarray(array).tobytes()


def test_name_hints_and_locations_survive_round_trip() -> None:
    text = """func.func @f(%x: tensor<2xf32>, %y: tensor<2xf32>) -> tensor<2xf32> {
  %sum = "ml.add"(%x, %y) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("node \\"1\\"")
  %0 = "ml.relu"(%sum) : (tensor<2xf32>) -> tensor<2xf32>
  %sum_1 = "ml.neg"(%0) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%sum_1) : (tensor<2xf32>) -> ()
}
"""
    out = roundtrip(text)
    m = parse_module(out)
    ops = list(m["f"].entry_block.ops)
    assert ops[0].results[0].name_hint == "sum" and ops[0].loc == NameLoc('node "1"')
    assert ops[1].results[0].name_hint is None
    assert "%sum_1 = \"ml.neg\"" in out


def test_duplicate_hints_are_made_unique_when_printing() -> None:
    m = parse_module("""func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = "ml.relu"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%a) : (tensor<2xf32>) -> ()
}""")
    f = m["f"]
    r = f.entry_block.first_op
    dup = r.clone()
    f.entry_block.insert_after(r, dup)
    out = print_module(m)
    assert "%a = " in out and "%a_1 = " in out
    assert print_module(parse_module(out)) == out


def test_unregistered_ops_and_properties_parse() -> None:
    out = roundtrip("""module {
  func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
    %0:2 = "other.op"(%x) <{p = 1 : i64}> {flag, s = "t"} : (tensor<2xf32>) -> (tensor<2xf32>, i64)
    "func.return"(%0#0) : (tensor<2xf32>) -> ()
  }
}""")
    assert "{p = 1 : i64, flag, s = \"t\"}" in out


BAD = [
    ('func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  "func.return"(%y) : '
     '(tensor<2xf32>) -> ()\n}', "2:17", "use of undefined value %y"),
    ('func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  "func.return"(%x) : '
     '(tensor<3xf32>) -> ()\n}', "2:17", "has type tensor<2xf32>, but the op's type says"),
    ("func.func @f(%x: tensor<2xq32>) -> () {\n}", "1:18", "unknown element type 'q32'"),
    ('func.func @f() -> () {\n  %a = "ml.x"() : () -> i64\n  %a = "ml.x"() : () -> i64\n'
     '  "func.return"() : () -> ()\n}', "3:3", "value %a is defined twice"),
    ('func.func @f() -> () {\n  "func.return"() : () -> ()\n', "3:1", "expected '}'"),
    ('func.func @f() -> () {\n  "x.y"() {a = } : () -> ()\n}', "2:16", "expected an attribute value"),
    ('func.func @f() -> () {\n  %v = "x.y"() {value = dense<[1, 2]> : tensor<3xi32>} : () -> i1\n}',
     "2:25", "shape [2] but the type is tensor<3xi32>"),
    ('func.func @f() -> () {\n  %v:2 = "x.y"() : () -> i1\n}', "2:3", "2 result names for an op with 1"),
    ("module { } }", "1:12", "after the module"),
    ('func.func @f() -> () {\n  "x.y"() : () -> ()  ยก\n}', "2:23", "expected"),
    ("func.func @f() -> () {\n  %v = \"x.y\"() : () -> tensor<4x>\n}", "2:24",
     "unknown element type '' in tensor<4x>"),
    ('func.func @f() -> () {\n  "x.y"() {v = dense<"0x00"> : tensor<2xf32>} : () -> ()\n}', "2:16",
     "dense payload has 1 bytes"),
]


@pytest.mark.parametrize("text,where,msg", BAD, ids=[b[2][:30] for b in BAD])
def test_parse_errors_say_line_column_and_what(text: str, where: str, msg: str) -> None:
    with pytest.raises(ParseError) as ei:
        parse_module(text, "bad.mlir")
    assert f"bad.mlir:{where}" in str(ei.value), str(ei.value)
    assert msg in str(ei.value), str(ei.value)


def test_comments_anywhere_including_the_end() -> None:
    text = ('// head -> x\nfunc.func @f() -> () { // open > {\n  "func.return"() : () -> () '
            '// tail )\n}\n// trailing comment with tensor<4xf32> and "quotes" >')
    m = parse_module(text)
    assert [op.name for op in m.walk()] == ["builtin.module", "func.func", "func.return"]
