"""Per-op knowledge in one place: what passes and backends know of an op is declared with it
(`define_op(..., traits=...)`, mlir_lite/ir/opdef.py), and each consumer keeps one rule table
keyed by op name. These tests hold the declarations and the tables together:

(a) the traits against what the ops are, and against how fusion and the TVM backend treat them
    (the backend's kernel kind is derived from the traits; its few overrides are listed here);
(b) coverage: every registered `ml` op is in every rule table (interpreter RULES, VJP_RULES, the
    TVM LOWERING, the ONNX converters) or in that table's explicit allow-list below, with the
    reason. A new op fails here with the names of the tables it is missing from.

This is the one coverage mechanism (the per-table checks that lived in test_interpreter.py and
tests/backends/test_tvm_rule_coverage.py moved here).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

import mlir_lite.ir  # noqa: F401  (registers the ops)
from mlir_lite.ir.dialects.ml.fused import FUSION_KINDS
from mlir_lite.ir.opdef import (
    KERNEL_KIND_TRAITS,
    op_has_trait,
    op_kernel_kind,
    op_traits,
    ops_of_dialect,
    ops_with_trait,
)

ML_OPS = sorted(ops_of_dialect("ml"))

# -- (a) the traits ---------------------------------------------------------------------------


def test_traits_are_consistent() -> None:
    bad = []
    for n in ML_OPS:
        t = op_traits(n)
        kinds = [k for k in t if k in KERNEL_KIND_TRAITS]
        if len(kinds) > 1:
            bad.append(f"{n}: two kernel kinds {kinds}")
        if "FusionAnchor" in t and not kinds:
            bad.append(f"{n}: FusionAnchor without a kernel kind")
        if "View" in t and not {"Injective", "Alias"} <= t:
            bad.append(f"{n}: View without Injective and Alias")
        if "Elementwise" in t and ("Injective" in t or kinds or "BroadcastElementwise" in t):
            bad.append(f"{n}: Elementwise with another compute pattern")
        if t & {"Injective", "Alias", "BroadcastElementwise", "FusionAnchor"} and \
                "Pure" not in t:
            bad.append(f"{n}: a fusion/alias trait on an op that is not Pure")
        cls = ops_of_dialect("ml")[n]
        if "Alias" in t and (len(cls.RESULTS) != 1 or not cls.OPERANDS
                             or cls.OPERANDS[0].kind != "single"):
            bad.append(f"{n}: Alias needs one result that can be operand 0's buffer")
    assert not bad, "\n".join(bad)


def _static_of(name: str) -> str:
    return name[:-len("_dynamic")] if name.endswith("_dynamic") else name


def test_traits_match_what_the_ops_are() -> None:
    """The kernel kinds agree with the op families (a new reduce_*, conv, pool or norm op that
    forgets its trait fails here); a `_dynamic` variant has its static op's kernel kind."""
    want: Dict[str, str] = {}
    for n in ML_OPS:
        short = n[3:]
        if short.startswith("reduce_") or short in ("softmax", "log_softmax", "argmax",
                                                    "argmin", "cumsum", "cumprod",
                                                    "topk"):
            want[n] = "reduction"
        elif short.endswith("_norm") and short != "batch_norm":
            want[n] = "reduction"
        elif short.startswith("global_") and short.endswith("_pool"):
            want[n] = "reduction"
        elif short.endswith("_pool"):
            want[n] = "pool"
        elif short.startswith("conv"):
            want[n] = "conv"
        elif short.startswith("matmul") or short == "gemm":
            want[n] = "gemm"
    bad = [f"{n}: declared kernel kind {op_kernel_kind(n)}, a {k} op"
           for n, k in want.items() if op_kernel_kind(n) != k]
    bad += [f"{n}: kernel kind {op_kernel_kind(n)}, its static op {_static_of(n)} has "
            f"{op_kernel_kind(_static_of(n))}" for n in ML_OPS
            if n.endswith("_dynamic") and _static_of(n) in ML_OPS
            and op_kernel_kind(n) != op_kernel_kind(_static_of(n))]
    assert not bad, "\n".join(bad)
    assert ops_with_trait("View", "ml") == {"ml.reshape", "ml.squeeze", "ml.unsqueeze",
                                             "ml.flatten"}
    assert ops_with_trait("Alias", "ml") == ops_with_trait("View", "ml") | {"ml.identity",
                                                                            "ml.dropout"}
    assert op_has_trait("ml.batch_norm", "BroadcastElementwise")


def test_every_anchor_kind_names_a_fusion_kind() -> None:
    for n in ops_with_trait("FusionAnchor", "ml"):
        k = op_kernel_kind(n)
        assert (k if k == "reduction" else f"{k}_epilogue") in FUSION_KINDS, n


# The TVM kernel kinds that differ from what the declaration gives (`declared_kind`), and why;
# each is an explicit `@lower(..., kind=...)` override in backends/tvm.
TVM_KIND_OVERRIDES = {
    # declared Conv (a conv_epilogue anchor), but its gather-form compute is not the direct
    # convolution the conv schedules tile: scheduled as a generic reduction
    "ml.conv_transpose": "reduction",
    # `te.extern` kernels (copy, then a loop over the updates): a kind of their own
    "ml.scatter_elements": "scatter",
    "ml.scatter_nd": "scatter",
}


def test_tvm_kernel_kinds_come_from_the_declarations() -> None:
    pytest.importorskip("tvm", reason="TVM is not installed")
    from mlir_lite.backends.tvm.lower import KINDS, declared_kind
    bad = [f"{n}: lowered as {k}, declared {declared_kind(n)}" for n, k in sorted(KINDS.items())
           if k != TVM_KIND_OVERRIDES.get(n, declared_kind(n))]
    assert not bad, "\n".join(bad)
    stale = [n for n, k in TVM_KIND_OVERRIDES.items() if KINDS.get(n) != k]
    assert not stale, f"TVM_KIND_OVERRIDES lists kinds the backend does not use: {stale}"
    # what the brief of each trait promises, spelled out
    for n, k in KINDS.items():
        if k == "reduction":
            assert op_has_trait(n, "Reduction") or n in TVM_KIND_OVERRIDES, n
        if k == "matmul":
            assert op_has_trait(n, "Gemm"), n
        if k in ("conv", "pool"):
            assert op_has_trait(n, k.capitalize()), n
    views = {n for n, k in KINDS.items() if k == "view"}
    assert views == ops_with_trait("Alias", "ml")
    assert ops_with_trait("View", "ml") <= views


# -- (b) coverage over the rule tables --------------------------------------------------------

# Ops with no VJP rule, and why (autodiff raises if one lies on a differentiated path).
NO_VJP: Dict[str, str] = {
    **dict.fromkeys(
        ["ml.equal", "ml.less", "ml.less_equal", "ml.greater", "ml.greater_equal",
         "ml.logical_and", "ml.logical_or", "ml.logical_xor", "ml.not", "ml.bitwise_and",
         "ml.bitwise_or", "ml.bitwise_xor", "ml.bit_shift", "ml.bitcast", "ml.quantize_linear",
         "ml.matmul_integer", "ml.conv_integer", "ml.range", "ml.constant_of_shape",
         "ml.max_pool_indices",
         "ml.constant_of_shape_dynamic"],
        "integer/boolean results or operands: no float gradient flows through it"),
    "ml.constant": "no operands",
    "ml.fused": "made by fusion, which runs after autodiff",
    "ml.yield": "the terminator of ml.fused",
    "ml.conv_nchwc": "made by the layout pass, which runs after autodiff",
    **dict.fromkeys(["ml.lstm", "ml.gru", "ml.rnn"],
                    "no rule yet (differentiate the decompose-rnn expansion)"),
    **dict.fromkeys(
        ["ml.compress", "ml.cumprod", "ml.cumprod_dynamic", "ml.cumsum_dynamic", "ml.det",
         "ml.dequantize_linear", "ml.grid_sample", "ml.global_lp_pool",
         "ml.lp_pool", "ml.lrn", "ml.mod", "ml.one_hot", "ml.one_hot_dynamic", "ml.pad_dynamic",
         "ml.resize", "ml.resize_dynamic", "ml.slice_dynamic", "ml.split_dynamic",
         "ml.squeeze_dynamic", "ml.tile_dynamic", "ml.topk_dynamic", "ml.trilu_dynamic",
         "ml.unique", "ml.unsqueeze_dynamic"]
        + [f"ml.reduce_{k}_dynamic" for k in ("sum", "mean", "max", "min", "prod", "l1", "l2",
                                               "log_sum", "log_sum_exp", "sum_square")],
        "no rule yet"),
}

# Ops with no TVM lowering rule, and why.
NO_TVM_LOWERING: Dict[str, str] = {
    "ml.constant": "a buffer the build holds (backends/tvm/build.py _HOST_OPS)",
    "ml.fused": "lowered as one kernel by backends/tvm/fused.py",
    "ml.yield": "the terminator of ml.fused",
    **dict.fromkeys(["ml.lstm", "ml.gru", "ml.rnn"],
                    "expanded by the decompose-rnn pass before lowering"),
}

# Ops that no ONNX operator maps to, and why.
NO_ONNX: Dict[str, str] = {
    "ml.rsqrt": "ONNX has no Rsqrt; canonicalization and autodiff make it",
    "ml.log1p": "ONNX has no Log1p; the DSL's tf.math.log1p / torch.log1p make it",
    **dict.fromkeys(["ml.reduce_any", "ml.reduce_any_dynamic"],
                    "ONNX has no ReduceAny (exporters write ReduceMax of a cast); tf.reduce_any "
                    "and torch.any make it"),
    "ml.conv_nchwc": "made by the layout pass",
    "ml.fused": "made by fusion",
    "ml.yield": "the terminator of ml.fused",
}


def _onnx_mapped_ops() -> Set[str]:
    """The `ml` ops the ONNX frontend's source names: `"ml.x"`, `f"ml.{name}"` with `name` a
    string of the module, `f"{op}_dynamic"` of a named op, or `ml.<op type lowercased>` of a
    registered converter."""
    from mlir_lite.frontends.onnx.registry import CONVERTERS
    root = Path(__import__("mlir_lite.frontends.onnx", fromlist=["x"]).__file__).parent
    strings: Set[str] = set()
    prefixed, suffixes = False, set()
    for p in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif isinstance(node, ast.JoinedStr):
                parts = node.values
                if parts and isinstance(parts[0], ast.Constant) and parts[0].value == "ml.":
                    prefixed = True
                if parts and isinstance(parts[-1], ast.Constant) and \
                        str(parts[-1].value).startswith("_"):
                    suffixes.add(str(parts[-1].value))
    op_types = {op.lower() for _, op in CONVERTERS}

    def named(n: str) -> bool:
        short = n[3:]
        return n in strings or short in op_types or (prefixed and short in strings)
    return {n for n in ML_OPS
            if named(n) or any(n.endswith(s) and named(n[:-len(s)]) for s in suffixes)}


def test_every_ml_op_is_in_every_rule_table() -> None:
    from mlir_lite.ir.interpreter import REGION_RULES, RULES
    from mlir_lite.passes.autodiff_rules import VJP_RULES
    tables: Dict[str, tuple] = {
        "interpreter RULES (mlir_lite/ir/interpreter)": (set(RULES) | set(REGION_RULES), {}),
        "VJP_RULES (passes/autodiff_rules; or NON_DIFFERENTIABLE)": (set(VJP_RULES), NO_VJP),
        "ONNX converters (frontends/onnx/converters)": (_onnx_mapped_ops(), NO_ONNX),
    }
    try:
        from mlir_lite.backends.tvm.build import _HOST_OPS
        from mlir_lite.backends.tvm.lower import LOWERING
        from mlir_lite.passes.decompose_rnn import DECOMPOSED
        tables["TVM LOWERING (backends/tvm/rules_*.py)"] = (set(LOWERING), NO_TVM_LOWERING)
        # the compiled path accepts only these (build.unsupported_ops)
        odd = sorted(set(NO_TVM_LOWERING) - set(_HOST_OPS) - set(DECOMPOSED))
        assert not odd, f"no TVM rule, yet neither a host op nor decomposed: {odd}"
    except ImportError:  # no TVM: its table is not checked
        pass
    missing: Dict[str, List[str]] = {}
    stale: List[str] = []
    for table, (have, allowed) in tables.items():
        for n in ML_OPS:
            if n not in have and n not in allowed:
                missing.setdefault(n, []).append(table)
        stale += [f"{n} ({table})" for n in allowed if n in have or n not in ML_OPS]
    assert not missing, "ml ops missing from rule tables (add a rule, or an allow-list entry " \
        "with the reason):\n" + "\n".join(f"  {n}: {', '.join(t)}" for n, t in missing.items())
    assert not stale, f"allow-list entries that have a rule or name no op: {stale}"
