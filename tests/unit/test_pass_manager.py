"""The pass manager, the registry and pipeline strings, instruments, analyses and plugins."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from mlir_lite.errors import PassError, PipelineError
from mlir_lite.ir.interpreter import run
from mlir_lite.ir.parser import parse_module
from mlir_lite.ir.printer import print_module
from mlir_lite.passes import (
    PASS_REGISTRY,
    Pass,
    PassManager,
    PrintIRInstrument,
    TimingInstrument,
    function_pass,
    load_plugin,
    parse_pipeline,
    register_pass,
    run_pipeline,
)
from mlir_lite.passes.canonicalize import Canonicalize
from mlir_lite.passes.cse import CSE
from mlir_lite.passes.dce import DCE
from mlir_lite.passes.fold import FoldConstants

DATA = Path(__file__).resolve().parent.parent / "data"

SIMPLE = """
module {
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %a = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %b = "ml.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
    %c = "ml.add"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%c) : (tensor<4xf32>) -> ()
  }
}
"""


def _ops(m) -> list:
    return [op.name for op in m.walk()]


# -- pipeline strings ----------------------------------------------------------------------------
def test_parse_pipeline_types_options_from_dataclass_fields() -> None:
    ps = parse_pipeline("canonicalize,cse{max-iterations=3},dce")
    assert ps == [Canonicalize(), CSE(max_iterations=3), DCE()]
    (f,) = parse_pipeline("fold-constants{max-elements=0x10 debug=true}")
    assert f == FoldConstants(max_elements=16, debug=True)
    (c,) = parse_pipeline("canonicalize{fold=false, max-iterations=2}")
    assert c.fold is False and c.max_iterations == 2
    assert parse_pipeline("builtin.module(cse,dce)") == [CSE(), DCE()]
    assert parse_pipeline("  ") == []


def test_parse_pipeline_errors_list_valid_names() -> None:
    with pytest.raises(PipelineError) as e:
        parse_pipeline("canonicalize,no-such-pass")
    assert "unknown pass 'no-such-pass'" in str(e.value)
    for name in ("canonicalize", "cse", "dce", "fold-constants", "shape-inference"):
        assert name in str(e.value)
    with pytest.raises(PipelineError) as e:
        parse_pipeline("cse{max-iters=3}")
    assert "no option 'max-iters'" in str(e.value) and "max-iterations" in str(e.value)
    with pytest.raises(PipelineError, match="expects int"):
        parse_pipeline("cse{max-iterations=three}")
    with pytest.raises(PipelineError, match="expects bool"):
        parse_pipeline("canonicalize{fold=maybe}")
    with pytest.raises(PipelineError, match="stray comma"):
        parse_pipeline("cse,,dce")
    with pytest.raises(PipelineError, match="unbalanced"):
        parse_pipeline("cse{max-iterations=3")


def test_pipeline_text_round_trips() -> None:
    pm = PassManager(parse_pipeline("canonicalize{max-iterations=4},cse,fold-constants{debug=1}"))
    text = pm.pipeline_text()
    assert text == "canonicalize{max-iterations=4},cse,fold-constants{debug=true}"
    assert parse_pipeline(text) == pm.passes


def test_passes_are_frozen_and_kebab_named() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CSE().max_iterations = 5  # type: ignore[misc]
    with pytest.raises(ValueError, match="kebab-case"):
        @register_pass
        class Bad(Pass):
            name = "Bad_Name"


# -- running -------------------------------------------------------------------------------------
def test_run_pipeline_changes_and_preserves_numerics() -> None:
    m = parse_module(SIMPLE)
    x = np.random.default_rng(0).standard_normal(4).astype(np.float32)
    before = run(m, x)[0]
    assert run_pipeline(m, "cse,dce") is True
    assert _ops(m).count("ml.exp") == 1
    np.testing.assert_allclose(run(m, x)[0], 2 * np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(run(m, x)[0], before, rtol=0, atol=0)
    assert run_pipeline(m, "cse,dce") is False


@register_pass
class _Explode(Pass):
    name = "test-explode"

    def run(self, module, ctx):
        raise ZeroDivisionError("boom")


@register_pass
class _BreakIR(Pass):
    name = "test-break-ir"

    def run(self, module, ctx):
        # Erase the function's return: the function no longer ends with func.return.
        for op in list(module.walk()):
            if op.name == "func.return":
                op.erase()
        return True


def test_pass_failure_names_the_pass() -> None:
    m = parse_module(SIMPLE)
    with pytest.raises(PassError) as e:
        run_pipeline(m, "cse,test-explode")
    assert "pass 'test-explode' failed" in str(e.value) and "ZeroDivisionError: boom" in str(e.value)
    assert isinstance(e.value.__cause__, ZeroDivisionError)


def test_verifier_failure_names_the_pass_that_broke_the_ir() -> None:
    m = parse_module(SIMPLE)
    with pytest.raises(PassError, match="pass 'test-break-ir' left IR that does not verify"):
        run_pipeline(m, "cse,test-break-ir,dce")
    m = parse_module(SIMPLE)
    run_pipeline(m, "test-break-ir", verify_each=False)  # the check can be turned off


# -- instruments ---------------------------------------------------------------------------------
def test_print_ir_after_change_prints_only_changing_passes() -> None:
    m = parse_module(SIMPLE)
    out = io.StringIO()
    run_pipeline(m, "dce,cse,dce", print_ir_after_change=True, stream=out)
    text = out.getvalue()
    assert text.count("IR Dump After") == 1
    assert "IR Dump After cse //" in text
    assert text.split("//----- //\n", 1)[1].strip() == print_module(m).strip()


def test_print_ir_before_and_after_all() -> None:
    m = parse_module(SIMPLE)
    out = io.StringIO()
    run_pipeline(m, "dce,cse", print_ir_before_all=True, print_ir_after_all=True, stream=out)
    text = out.getvalue()
    assert text.count("IR Dump Before") == 2 and text.count("IR Dump After") == 2
    assert text.index("Before dce") < text.index("After dce") < text.index("Before cse")


def test_timing_instrument_reports_each_pass() -> None:
    timer = TimingInstrument()
    pm = PassManager(parse_pipeline("cse,dce,cse"), instruments=[timer])
    pm.run(parse_module(SIMPLE))
    assert timer.counts == {"cse": 2, "dce": 1}
    report = timer.report()
    assert "cse" in report and "dce" in report and "timing report" in report
    out = io.StringIO()
    run_pipeline(parse_module(SIMPLE), "dce", timing=True, stream=out)
    assert "dce" in out.getvalue()


# -- analyses ------------------------------------------------------------------------------------
class CountOps:
    computed = 0

    def __init__(self, op) -> None:
        CountOps.computed += 1
        self.n = sum(1 for _ in op.walk())


class OtherAnalysis:
    def __init__(self, op) -> None:
        self.op = op


@dataclasses.dataclass(frozen=True)
class _UseAnalysis(Pass):
    name = "test-use-analysis"
    change: bool = False
    seen: list = dataclasses.field(default_factory=list, compare=False)

    def run(self, module, ctx):
        self.seen.append(ctx.get_analysis(CountOps, module))
        return self.change


@dataclasses.dataclass(frozen=True)
class _PreservingChange(Pass):
    name = "test-preserving"
    preserves = (CountOps,)

    def run(self, module, ctx):
        return True


def test_analysis_cache_computed_once_and_invalidated_by_changes() -> None:
    m = parse_module(SIMPLE)
    CountOps.computed = 0
    seen: list = []
    a = _UseAnalysis(seen=seen)
    changing = _UseAnalysis(change=True, seen=seen)
    pm = PassManager([a, a, changing, a, _PreservingChange(), a])
    pm.run(m)
    # computed for the 1st run, reused by the 2nd and by `changing`; the change drops it, the
    # 4th run recomputes it; the preserving pass keeps it for the 5th.
    assert CountOps.computed == 2
    assert seen[0] is seen[1] is seen[2] and seen[3] is not seen[2] and seen[4] is seen[3]


def test_analysis_not_preserved_is_dropped() -> None:
    m = parse_module(SIMPLE)
    pm = PassManager()
    ctx = pm.context
    first = ctx.get_analysis(OtherAnalysis, m)
    assert ctx.get_analysis(OtherAnalysis, m) is first
    ctx.invalidate(preserved=(CountOps,))
    assert ctx.get_analysis(OtherAnalysis, m) is not first


# -- function passes and plugins -------------------------------------------------------------------
def test_function_pass_options_and_pipeline() -> None:
    calls = []

    @function_pass("test-record", summary="records its options")
    def record(module, ctx, *, times: int = 1, label: str = "x", scale: float = 1.0,
               on: bool = False):
        calls.append((times, label, scale, on))
        return False

    assert PASS_REGISTRY["test-record"] is record
    (p,) = parse_pipeline("test-record{times=3 label=hello scale=0.5 on}")
    PassManager([p]).run(parse_module(SIMPLE))
    assert calls == [(3, "hello", 0.5, True)]
    with pytest.raises(TypeError, match="needs a default"):
        @function_pass("test-no-default")
        def bad(module, ctx, *, n: int):
            return False


def test_user_plugin_registers_and_runs_in_a_pipeline() -> None:
    names = load_plugin(DATA / "user_pass_plugin.py")
    assert "relu-to-max" in names or "relu-to-max" in PASS_REGISTRY
    m = parse_module("""
    module {
      func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
        %r = "ml.relu"(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32>
        "func.return"(%r) : (tensor<2x3xf32>) -> ()
      }
    }""")
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    assert run_pipeline(m, "relu-to-max{floor=0.25},cse") is True
    assert "ml.relu" not in _ops(m) and "ml.max" in _ops(m)
    np.testing.assert_array_equal(run(m, x)[0], np.maximum(x, np.float32(0.25)))
    load_plugin(DATA / "user_pass_plugin.py")  # loading twice is harmless


def test_load_plugin_errors() -> None:
    with pytest.raises(PipelineError, match="does not exist"):
        load_plugin("/nonexistent/plugin.py")


def test_load_plugin_reports_import_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("raise RuntimeError('plugin exploded')\n")
    with pytest.raises(PipelineError, match="plugin exploded"):
        load_plugin(bad)


def test_print_instrument_direct_use() -> None:
    out = io.StringIO()
    pm = PassManager([CSE()], instruments=[PrintIRInstrument(after_all=True, stream=out)])
    pm.run(parse_module(SIMPLE))
    assert "IR Dump After cse" in out.getvalue()
