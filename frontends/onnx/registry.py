"""The ONNX converter table: one entry per (domain, op_type), each with the opset it starts at.

    @converter("Conv", since=1)
    def _conv(ctx: NodeContext) -> Sequence[Value]: ...

For a model importing opset N of a domain, the converter with the highest `since <= N` wins.
Other domains plug in the same way (`@converter("MyOp", since=1, domain="com.example")`);
`register_domain` declares a domain and the opset versions it accepts.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

import onnx.defs

if TYPE_CHECKING:
    from mlir_lite.ir.core import Value

__all__ = ["Converter", "converter", "lookup", "register_domain", "DOMAINS", "CONVERTERS",
           "MIN_OPSET", "MAX_OPSET", "canonical_domain", "Unsupported", "supported_ops"]

# Converters register the opset their operator version starts at (Concat 4, Pad 2, Reshape 1
# and 5, ...), so an opset-1 model gets a converter per op or a per-op "no converter for
# opset N"; attributes of early versions that a converter does not read (consumed_inputs) are
# reported, never dropped.
MIN_OPSET = 1
MAX_OPSET = onnx.defs.onnx_opset_version()

# (ctx: NodeContext) -> one value per node output (None: an output the node does not produce)
Converter = Callable[..., Sequence[Optional["Value"]]]


class Unsupported(Exception):
    """Raised by a converter for a node it cannot import (a reason, not a malformed model)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Entry:
    since: List[int] = field(default_factory=list)
    fns: List[Converter] = field(default_factory=list)


# (domain, op_type) -> converters sorted by `since`
CONVERTERS: Dict[Tuple[str, str], _Entry] = {}
# domain -> (lowest, highest) opset version accepted
DOMAINS: Dict[str, Tuple[int, int]] = {"": (MIN_OPSET, MAX_OPSET)}


def canonical_domain(domain: str) -> str:
    """`ai.onnx` is another spelling of the default domain."""
    return "" if domain in ("", "ai.onnx") else domain


def register_domain(domain: str, min_version: int = 1, max_version: int = 1 << 30) -> None:
    """Accept models that import `domain` at versions in [min_version, max_version]."""
    DOMAINS[canonical_domain(domain)] = (min_version, max_version)


def converter(*op_types: str, since: int = 1, domain: str = "") -> Callable[[Converter],
                                                                             Converter]:
    """Register `fn(ctx) -> results` for `op_types` from opset `since` on."""
    dom = canonical_domain(domain)

    def deco(fn: Converter) -> Converter:
        for op_type in op_types:
            e = CONVERTERS.setdefault((dom, op_type), _Entry())
            if since in e.since:
                raise ValueError(f"converter for {op_type} (domain {dom or 'ai.onnx'}) since "
                                 f"opset {since} is registered twice")
            i = bisect.bisect(e.since, since)
            e.since.insert(i, since)
            e.fns.insert(i, fn)
        return fn
    return deco


def lookup(domain: str, op_type: str, opset: int) -> Tuple[Optional[Converter], str]:
    """The converter for `op_type` at `opset`, or None and the reason there is none."""
    e = CONVERTERS.get((canonical_domain(domain), op_type))
    if e is None:
        return None, "no converter for this operator"
    i = bisect.bisect(e.since, opset)
    if i == 0:
        return None, (f"no converter for opset {opset} (converters start at opset "
                      f"{e.since[0]})")
    return e.fns[i - 1], ""


def supported_ops(domain: str = "") -> Dict[str, List[int]]:
    """op_type -> the opset versions its converters start at."""
    dom = canonical_domain(domain)
    return {op: list(e.since) for (d, op), e in sorted(CONVERTERS.items()) if d == dom}
