"""The support report: which nodes of a model mlir-lite cannot import, and why, without
compiling anything.

    report = check_model("model.onnx")
    print(report.to_text())          # one line per unsupported node + a summary per op
    report.ok                        # True when every node is supported
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List

from .importer import UnsupportedNode, convert, prepare_model
from .loader import DEFAULT_MAX_TENSOR_BYTES, ModelSource

__all__ = ["SupportReport", "check_model"]


@dataclass
class SupportReport:
    """Every unsupported node of a model, plus per-op counts of all nodes."""

    file: str
    opsets: Dict[str, int]
    unsupported: List[UnsupportedNode] = field(default_factory=list)
    op_counts: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unsupported

    def summary(self) -> Dict[str, Dict[str, int]]:
        """op -> {"nodes": N, "unsupported": K} for every op of the model."""
        bad = Counter(u.op for u in self.unsupported)
        ops = sorted(set(self.op_counts) | set(bad))
        return {op: {"nodes": self.op_counts.get(op, bad[op]), "unsupported": bad[op]}
                for op in ops}

    def to_dict(self) -> dict:
        return {
            "file": self.file, "supported": self.ok,
            "opsets": {k or "ai.onnx": v for k, v in self.opsets.items()},
            "unsupported": [{"op": u.op, "domain": u.domain or "ai.onnx", "opset": u.opset,
                             "node": u.name, "index": u.index, "graph": u.graph,
                             "dtype": u.dtype, "reason": u.reason} for u in self.unsupported],
            "summary": self.summary(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        total = sum(self.op_counts.values())
        if self.ok:
            head = f"{self.file}: all {total} nodes are supported"
        else:
            head = f"{self.file}: {len(self.unsupported)} of {total} nodes are not supported"
        lines = [head]
        for u in self.unsupported:
            lines.append(f"  unsupported: {u.describe()}")
        lines.append("summary per op (nodes / unsupported):")
        for op, s in self.summary().items():
            mark = "" if not s["unsupported"] else "   <- unsupported"
            lines.append(f"  {op:<28} {s['nodes']:>5} / {s['unsupported']}{mark}")
        return "\n".join(lines)


def _count_ops(graph, counts: Counter) -> None:
    for node in graph.node:
        dom = "" if node.domain in ("", "ai.onnx") else node.domain
        counts[f"{dom}::{node.op_type}" if dom else node.op_type] += 1
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else list(a.graphs)):
                _count_ops(g, counts)


def check_model(src: ModelSource, *, max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES
                ) -> SupportReport:
    """The support report of a model; malformed models raise OnnxImportError as in import."""
    prep = prepare_model(src, max_tensor_bytes)
    _, unsupported = convert(prep, collect=True)
    counts: Counter = Counter()
    _count_ops(prep.model.graph, counts)
    return SupportReport(prep.file, dict(prep.opsets), list(unsupported), dict(counts))
