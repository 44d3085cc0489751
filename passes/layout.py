"""`blocked-layout`: run chains of convolutions in the channel-blocked layout `NCHW[b]c`.

The CPU conv kernel computes a tile of output channels as SIMD vectors. On NCHW tensors it must
transpose that tile on the way out and read the input one channel plane at a time; on blocked
tensors `[N, C/b, H, W, b]` (dialects/ml/layout.py) the tile is stored as it is and a block of
input channels is contiguous. Measured on this machine (2 threads, conv+relu kernels): 1x1
convs at 56x56 gain 13-21 %, 3x3 convs 1-3 %.

The pass finds regions of ops that can stay blocked (as onnxruntime's NCHWc transformer does):
2-D `ml.conv` with a constant weight, group 1 and output channels a multiple of `block`, plus
the elementwise ops, inference batch norms and channel concats that consume them. In a region
each conv becomes `ml.conv_nchwc`, the elementwise ops run unchanged on blocked operands
(per-channel constants are re-laid out at compile time; batch norms become a multiply and an
add), and values are converted (`ml.reshape` + `ml.transpose`) only where they enter or leave
the region: the model's edges, pooling, reshapes.

A region pays only when its convs do enough work for the conversions around it, so it is
blocked only when its convs do at least `macs_per_element` multiply-adds per element converted
at its edges. The default, 500, is measured (A/B in one process, interleaved): DenseNet-121's
regions (1040-3248) gain 16 %, SqueezeNet's largest (781) 9 %, ResNet-50's (13184) about 3 %;
Inception-v1's (401-571, with a conversion around every pooling) lost 3 % when blocked.

    run_pipeline(module, "shape-inference,blocked-layout{block=16},fuse")

Which ops go blocked is a whole-region decision, so it stays an analysis (`_Region`: a
union-find over the block, then the cost test per region). The edits are then one rewrite
pattern (`_ToBlocked`) applied by `walk_and_apply_patterns` in block order (the order the
conversions are created in fixes where they land): each region op becomes its blocked form and
is replaced by that form's conversion back to NCHW; a region op reading such a conversion reads
the blocked value instead, and a conversion nothing reads any more is erased, so conversions
stay only where values leave the region.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import numpy as np

from mlir_lite.ir.attributes import UNKNOWN_LOC, DenseAttr
from mlir_lite.ir.builder import Builder
from mlir_lite.ir.core import Operation, Value
from mlir_lite.ir.types import TensorType

from .registry import function_pass
from .rewrite import Decline, MatchResult, PatternRewriter, RewritePattern, walk_and_apply_patterns

__all__ = ["block_layout", "to_blocked_array"]


def _shape(v: Value) -> Optional[tuple]:
    t = v.type
    return tuple(t.shape) if isinstance(t, TensorType) and t.shape is not None else None


def _chw_static(v: Value, block: int) -> bool:
    """A rank-4 value with static C, H, W and C a multiple of `block` (N may be symbolic)."""
    s = _shape(v)
    return (s is not None and len(s) == 4 and all(type(d) is int for d in s[1:])
            and s[1] % block == 0)


def _constant(v: Value) -> Optional[np.ndarray]:
    owner = v.owner
    if isinstance(owner, Operation) and owner.name == "ml.constant":
        return np.asarray(owner.attr("value").array)
    return None


def _tensor(v: Value) -> TensorType:
    """The type of a value the pattern has checked to be a tensor."""
    t = v.type
    assert isinstance(t, TensorType)
    return t


def _known_constant(v: Value) -> np.ndarray:
    """The array of a value the pattern has checked to be a constant."""
    arr = _constant(v)
    assert arr is not None
    return arr


def to_blocked_array(arr: np.ndarray, block: int) -> np.ndarray:
    """A rank-4 array broadcastable to `[N, C, H, W]` in the blocked layout (its channel dim
    either 1 or C, a multiple of `block`)."""
    n, c, h, w = arr.shape
    if c == 1:
        return arr.reshape(n, 1, h, w, 1)
    return np.ascontiguousarray(arr.reshape(n, c // block, block, h, w).transpose(0, 1, 3, 4, 2))


def _is_conv(op: Operation, block: int) -> bool:
    if op.name != "ml.conv" or int(op.attr("group") or 1) != 1 or len(op.operands) < 2:
        return False
    x, w, y = op.operands[0], op.operands[1], op.results[0]
    ws, xs = _shape(w), _shape(x)
    el = getattr(y.type, "element", None)
    return (str(el) == "f32" and ws is not None and len(ws) == 4 and xs is not None
            and len(xs) == 4 and all(type(d) is int for d in xs[1:])
            and _chw_static(y, block) and _constant(w) is not None)


def _elementwise(op: Operation) -> bool:
    return (op.has_trait("Elementwise") and op.has_trait("Pure") and not op.regions
            and len(op.results) == 1)


class _Region:
    """Which ops of one block can run blocked, grouped into connected regions."""

    def __init__(self, ops: List[Operation], block: int) -> None:
        self.block = block
        self.parent: Dict[Operation, Operation] = {}
        for op in ops:
            if self._joins(op):
                self.parent[op] = op
                for v in op.operands:
                    if v.owner in self.parent:
                        self._union(op, v.owner)

    def _find(self, op: Operation) -> Operation:
        while self.parent[op] is not op:
            self.parent[op] = self.parent[self.parent[op]]
            op = self.parent[op]
        return op

    def _union(self, a: Operation, b: Operation) -> None:
        self.parent[self._find(a)] = self._find(b)

    def _inside(self, v: Value) -> bool:
        return v.owner in self.parent

    def _operand_ok(self, v: Value, out: tuple) -> bool:
        """An operand of a blocked elementwise op: blocked, or convertible to the layout."""
        s = _shape(v)
        if self._inside(v):
            return s == out
        if s is None or len(s) > 4 or any(type(d) is not int for d in s[len(s) - 3:]):
            return False
        s4 = (1,) * (4 - len(s)) + s
        if _constant(v) is not None:
            return s4[1] in (1, out[1]) and s4[0] in (1, out[0])
        return len(s) == 4 and s4[1] in (1, out[1]) and s4[0] == out[0]

    def _joins(self, op: Operation) -> bool:
        b = self.block
        if _is_conv(op, b):
            return True
        if not any(self._inside(v) for v in op.operands) or not op.results:
            return False
        out = _shape(op.results[0])
        if out is None or not _chw_static(op.results[0], b):
            return False
        if op.name == "ml.batch_norm":
            return self._inside(op.operands[0]) and all(
                _constant(p) is not None for p in op.operands[1:])
        if op.name == "ml.concat":
            return int(op.attr("axis")) in (1, -3) and all(
                self._inside(v) or _chw_static(v, b) for v in op.operands)
        return _elementwise(op) and all(self._operand_ok(v, out) for v in op.operands)

    def _converted(self, op: Operation) -> List[Value]:
        """The operands of region op `op` that need a conversion into the layout."""
        xs = op.operands[:1] if op.name == "ml.conv" else op.operands
        if op.name == "ml.conv" and not _chw_static(op.operands[0], self.block):
            return []  # read as NCHW (in_block 0)
        return [v for v in xs if not self._inside(v) and _constant(v) is None]

    def keep(self, macs_per_element: float) -> Set[Operation]:
        """The ops of regions whose convs do at least `macs_per_element` multiply-adds per
        element converted at the region's edges (a region with no conversion always pays)."""
        macs: Dict[Operation, float] = {}
        moved: Dict[Operation, float] = {}
        seen: Set[Value] = set()
        for op in self.parent:
            r = self._find(op)
            if op.name == "ml.conv":
                macs[r] = macs.get(r, 0.0) + _macs(op)
            edges = self._converted(op)
            if any(u.owner not in self.parent for u in op.results[0].uses):
                edges.append(op.results[0])
            for v in edges:
                if v not in seen:
                    seen.add(v)
                    moved[r] = moved.get(r, 0.0) + _elements(v)
        return {op for op in self.parent if macs.get(self._find(op), 0.0)
                >= macs_per_element * moved.get(self._find(op), 0.0)}


def _elements(v: Value) -> float:
    """Elements of `v` per batch item (a symbolic batch counts as 1, as in `_macs`)."""
    s = _shape(v) or ()
    return float(np.prod([d for d in s[1:] if type(d) is int]))


def _macs(conv: Operation) -> float:
    m, c, kh, kw = _tensor(conv.operands[1]).dims
    oh, ow = _tensor(conv.results[0]).dims[2:]
    return float(m * c * kh * kw * oh * ow)


class _ToBlocked(RewritePattern):
    """A region op -> its blocked form, replaced by the conversion of that form back to NCHW
    (which only the region's edges keep: see the module docstring)."""

    def __init__(self, inside: Set[Operation], block: int) -> None:
        self.inside = inside
        self.block = block
        self.roots = tuple(sorted({op.name for op in inside}))
        self.blocked: Dict[Value, Value] = {}  # NCHW value -> its blocked form
        self.to_nchw: Dict[Value, List[Operation]] = {}  # a conversion back -> its ops

    @property
    def name(self) -> str:
        return "blocked-layout"

    def _after_def(self, v: Value, rewriter: PatternRewriter) -> Builder:
        owner = v.owner
        if isinstance(owner, Operation):
            return rewriter.builder_after(owner)
        return rewriter.builder_before(owner.first_op, loc=UNKNOWN_LOC)

    def operand(self, v: Value, rewriter: PatternRewriter) -> Value:
        """`v` in the blocked layout: its blocked form, a re-laid-out constant, or a conversion
        (cached, so each value is converted once)."""
        if v in self.blocked:
            return self.blocked[v]
        s = _tensor(v).dims
        arr = _constant(v)
        b = self._after_def(v, rewriter)
        if arr is not None:
            a4 = arr.reshape((1,) * (4 - arr.ndim) + arr.shape)
            new = to_blocked_array(a4, self.block)
            out = b.op("ml.constant", value=DenseAttr(new, _tensor(v).with_shape(new.shape)))
        elif s[1] == 1:
            out = b.op("ml.reshape", v, shape=(0, 1, s[2], s[3], 1))
        else:
            c = s[1]
            r = b.op("ml.reshape", v, shape=(0, c // self.block, self.block, s[2], s[3]))
            out = b.op("ml.transpose", r, perm=(0, 1, 3, 4, 2))
        self.blocked[v] = out
        return out

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> MatchResult:
        if op not in self.inside:
            return Decline("not in a blocked region")
        b = rewriter.builder_before(op)
        attrs = {k: v for k, v in op.attributes.items() if k != "operandSegmentSizes"}
        if op.name == "ml.conv":
            x = op.operands[0]
            ib = self.block if x in self.blocked or _chw_static(x, self.block) else 0
            xb = self.operand(x, rewriter) if ib else x
            attrs.update(in_block=ib, out_block=self.block)
            new = b.op("ml.conv_nchwc", xb, *op.operands[1:], **attrs)
        elif op.name == "ml.batch_norm":
            scale, bias, mean, var = (_known_constant(v).astype(np.float64)
                                      for v in op.operands[1:])
            k = scale / np.sqrt(var + float(op.attr("epsilon")))
            el = _tensor(op.results[0]).element
            consts = []
            for arr in (k, bias - mean * k):
                blocked = to_blocked_array(arr.reshape(1, -1, 1, 1).astype(el.np_dtype),
                                           self.block)
                consts.append(b.op("ml.constant", value=DenseAttr(
                    blocked, TensorType(el, blocked.shape))))
            new = b.op("ml.add", b.op("ml.mul", self.operand(op.operands[0], rewriter),
                                      consts[0]), consts[1])
        elif op.name == "ml.concat":
            new = b.op("ml.concat", *[self.operand(v, rewriter) for v in op.operands], axis=1)
        else:
            new = b.op(op.name, *[self.operand(v, rewriter) for v in op.operands], **attrs)
        # back to NCHW, right after the blocked form: what the users outside the region read
        s = _tensor(op.results[0]).dims
        a = rewriter.builder_after(new.owner)
        t = a.op("ml.transpose", new, perm=(0, 1, 4, 2, 3))
        nchw = a.op("ml.reshape", t, shape=(0, s[1], s[2], s[3]))
        self.blocked[nchw] = new
        self.to_nchw[nchw] = [nchw.owner, t.owner]
        read = [v for v in dict.fromkeys(op.operands) if v in self.to_nchw]
        rewriter.replace_op(op, [nchw])
        for v in read:  # the region's ops read the blocked form, not the conversion
            if not v.has_uses():
                for c in self.to_nchw.pop(v):
                    rewriter.erase_op(c)
        return True


def block_layout(func: Operation, block: int = 16, macs_per_element: float = 500.0) -> int:
    """Rewrite the blocked regions of `func`'s body (see the module docstring); returns the
    number of convs that now run blocked."""
    body = func.regions[0].blocks[0]
    inside = _Region(list(body.ops), block).keep(macs_per_element)
    if not inside:
        return 0
    walk_and_apply_patterns(func, [_ToBlocked(inside, block)])
    return sum(op.name == "ml.conv" for op in inside)


@function_pass("blocked-layout",
               summary="run regions of convolutions in the channel-blocked layout NCHW[b]c, "
                       "converting only at their edges")
def _blocked_layout_pass(module: Operation, ctx: object, block: int = 16,
                         macs_per_element: float = 500.0) -> bool:
    changed = 0
    for f in [op for op in module.walk() if op.name == "func.func"]:
        changed += block_layout(f, block, macs_per_element)
    return changed > 0
