"""Interpreter rules for TensorFlow-style dataflow loops (`cf.enter`, `cf.exit`, `cf.loop_cond`,
`cf.next_iteration_source` / `cf.next_iteration_sink`), with dead-tensor propagation.

    %e = "cf.enter"(%x) {frame_name = "w0"}          %s, %tok = "cf.next_iteration_source"()
    %m, %i = "cf.merge"(%e, %s)                        %p = "ml.less"(%m, %n_in_frame)
    %lc = "cf.loop_cond"(%p)                           %f, %t = "cf.switch"(%m, %lc)
    %y = "ml.add"(%t, %one)                            "cf.next_iteration_sink"(%tok, %y)
    %r = "cf.exit"(%f)

A *frame* is the set of ops of one loop. Frames are found by dataflow (`frames_of_block`):
`cf.enter` starts frame `frame_name` (its parent is the frame of the entered value), a
`cf.next_iteration_source` belongs to its `frame_name` (or to the frame of the enter it is
merged with), any other op belongs to the innermost frame among the values it uses (operands,
and values its regions capture), and `cf.exit`'s result belongs to the parent frame. Ops that
use no frame value (constants) stay outside and are computed once.

The engine extension is one hook (`rules.BLOCK_SCHEDULERS`): when a block holds a `cf.enter`,
the engine asks `schedule_block` for the block's run order, a list of ops and `Frame` items
(topologically sorted, so a frame runs after every outside value it reads and before every op
that reads its exits). A `Frame` runs its items once per iteration in the same environment:

* iteration 0: a non-constant `cf.enter` forwards its value, sources are dead;
  iteration k > 0: non-constant enters are dead, each source gives what its paired sink (same
  token) received in iteration k-1; constant enters (`is_constant = 1`) forward every time.
* `cf.merge` takes the first live input, `cf.switch` on the `cf.loop_cond` kills the body (true
  side) in the last iteration and the exits (false side) in the others; ops with a dead input
  give dead results (the engine's rule).
* the loop stops after an iteration in which no sink received a live value; each `cf.exit`
  gives the value it saw live (dead if none: e.g. a loop inside an untaken branch).
Nested frames are items of their parent frame and run to completion in each of its iterations.
"""
from __future__ import annotations

import heapq
from typing import Any, Dict, List, Optional, Sequence, Set, Union

import numpy as np

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.core import Block, Operation, Value
from mlir_lite.ir.interpreter.engine import DEAD, Interpreter
from mlir_lite.ir.interpreter.rules import BLOCK_SCHEDULERS, rule

__all__ = ["Frame", "frames_of_block", "schedule_block", "used_values", "FrameInfo"]

LOOP_OPS = ("cf.enter", "cf.exit", "cf.next_iteration_source", "cf.next_iteration_sink")


def used_values(op: Operation) -> List[Value]:
    """The operands of `op` and the values defined outside `op` that its regions use."""
    if not op.regions:
        return list(op.operands)
    out: List[Value] = list(op.operands)
    inner: Set[Value] = set()
    for sub in op.walk():
        if sub is not op:
            inner.update(sub.results)
        for r in sub.regions:
            for b in r.blocks:
                inner.update(b.args)
    seen = set(out)
    for sub in op.walk():
        if sub is op:
            continue
        for v in sub.operands:
            if v not in inner and v not in seen:
                seen.add(v)
                out.append(v)
    return out


class FrameInfo:
    """The frame structure of one block: which frame each op belongs to (None: outside)."""

    def __init__(self) -> None:
        self.op_frame: Dict[Operation, Optional[str]] = {}
        self.value_frame: Dict[Value, Optional[str]] = {}
        self.parent: Dict[str, Optional[str]] = {}
        self.depth: Dict[Optional[str], int] = {None: 0}

    def frame_of(self, v: Value) -> Optional[str]:
        return self.value_frame.get(v)

    def inner(self, a: Optional[str], b: Optional[str]) -> Optional[str]:
        return a if self.depth.get(a, 0) >= self.depth.get(b, 0) else b


def _source_frame(op: Operation, enters: Dict[Value, str]) -> Optional[str]:
    name = op.attributes.get("frame_name")
    if isinstance(name, str):
        return name
    for u in op.results[0].uses:
        if u.owner.name == "cf.merge":
            for v in u.owner.operands:
                if v in enters:
                    return enters[v]
    return None


def frames_of_block(block: Block) -> FrameInfo:
    """Assign every op of `block` to its frame (see the module docstring)."""
    info = FrameInfo()
    ops = list(block.ops)
    enters: Dict[Value, str] = {op.results[0]: op.attributes.get("frame_name", "")
              for op in ops if op.name == "cf.enter"}
    for op in ops:
        uses = used_values(op)
        fr: Optional[str] = None
        for v in uses:
            fr = info.inner(fr, info.value_frame.get(v))
        if op.name == "cf.enter":
            name = op.attributes.get("frame_name", "")
            if name not in info.parent:
                info.parent[name] = fr
                info.depth[name] = info.depth.get(fr, 0) + 1
            fr = name
        elif op.name == "cf.next_iteration_source":
            fr = _source_frame(op, enters)
            if fr is None:
                raise ExecutionError("cf.next_iteration_source: no frame_name and no merge with "
                                     "a cf.enter to tell its loop", op.loc)
            if fr not in info.parent:
                info.parent[fr] = None
                info.depth[fr] = 1
        info.op_frame[op] = fr
        res_frame = info.parent.get(fr) if op.name == "cf.exit" and fr is not None else fr
        for r in op.results:
            info.value_frame[r] = res_frame
    return info


class Frame:
    """One dataflow loop: its items (ops and nested frames) in run order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: List[Union[Operation, "Frame"]] = []

    def ops(self) -> List[Operation]:
        out: List[Operation] = []
        for it in self.items:
            out.extend(it.ops() if isinstance(it, Frame) else [it])
        return out

    def run(self, interp: Interpreter, env: Dict[Value, Any]) -> None:
        received: Dict[Operation, Any] = {}
        exits: Dict[Operation, Any] = {}
        k = 0
        while True:
            live_sink = False
            pending: Dict[Operation, Any] = {}
            for it in self.items:
                if isinstance(it, Frame):
                    it.run(interp, env)
                    continue
                name = it.name
                if name == "cf.enter":
                    v = interp._get(env, it.operands[0], it)
                    env[it.results[0]] = v if k == 0 or it.attributes.get("is_constant") else DEAD
                elif name == "cf.next_iteration_source":
                    env[it.results[0]] = DEAD if k == 0 else received.get(it, DEAD)
                    env[it.results[1]] = np.int64(0)
                elif name == "cf.next_iteration_sink":
                    v = interp._get(env, it.operands[1], it)
                    src = it.operands[0].owner
                    if not isinstance(src, Operation) or src.name != "cf.next_iteration_source":
                        raise ExecutionError("cf.next_iteration_sink: the token must come from "
                                             "a cf.next_iteration_source", it.loc)
                    pending[src] = v
                    live_sink = live_sink or v is not DEAD
                elif name == "cf.exit":
                    v = interp._get(env, it.operands[0], it)
                    env[it.results[0]] = v
                    if v is not DEAD:
                        exits[it] = v
                else:
                    interp.eval_op(it, env)
            if not live_sink:
                break
            received = pending
            k += 1
        for it in self.items:
            if isinstance(it, Operation) and it.name == "cf.exit":
                env[it.results[0]] = exits.get(it, DEAD)


def _toposort(items: List[Any], first: Dict[int, int], deps: Dict[int, Set[int]]) -> List[Any]:
    """Kahn's algorithm, preferring the item that came first in the block."""
    users: Dict[int, List[int]] = {i: [] for i in range(len(items))}
    indeg = [0] * len(items)
    for i, ds in deps.items():
        for d in ds:
            users[d].append(i)
            indeg[i] += 1
    heap = [(first[i], i) for i in range(len(items)) if indeg[i] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, i = heapq.heappop(heap)
        out.append(items[i])
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, (first[u], u))
    if len(out) != len(items):
        raise ExecutionError("dataflow loops form a cycle that is not a next-iteration edge")
    return out


def schedule_block(block: Block) -> List[Union[Operation, Frame]]:
    """The run order of a block with dataflow loops: ops outside frames and `Frame` items."""
    info = frames_of_block(block)
    ops = list(block.ops)
    index = {op: i for i, op in enumerate(ops)}
    frames: Dict[str, Frame] = {}

    def frame(name: str) -> Frame:
        if name not in frames:
            frames[name] = Frame(name)
        return frames[name]

    # the item of each op at every level: level -> list of (op or frame name)
    def chain(fr: Optional[str]) -> List[Optional[str]]:
        out = [fr]
        while fr is not None:
            fr = info.parent.get(fr)
            out.append(fr)
        return out

    levels: Dict[Optional[str], List[Any]] = {}
    listed: Set[Any] = set()
    owner_at: Dict[Operation, Dict[Optional[str], Any]] = {}
    for op in ops:
        fr = info.op_frame[op]
        path = chain(fr)
        owner_at[op] = {}
        child: Any = op
        for lvl in path:
            owner_at[op][lvl] = child
            if child not in listed:
                listed.add(child)
                levels.setdefault(lvl, []).append(child)
            child = lvl
    producer: Dict[Value, Operation] = {}
    for op in ops:
        for r in op.results:
            producer[r] = op

    def order(lvl: Optional[str]) -> List[Any]:
        items = levels.get(lvl, [])
        pos = {id(x) if isinstance(x, Operation) else x: i for i, x in enumerate(items)}
        first: Dict[int, int] = {}
        deps: Dict[int, Set[int]] = {i: set() for i in range(len(items))}
        members: Dict[int, List[Operation]] = {}
        for op in ops:
            it = owner_at[op].get(lvl, None) if lvl in owner_at[op] else None
            if it is None:
                continue
            i = pos[id(it) if isinstance(it, Operation) else it]
            first[i] = min(first.get(i, index[op]), index[op])
            members.setdefault(i, []).append(op)
        for i, mem in members.items():
            for op in mem:
                for v in used_values(op):
                    p = producer.get(v)
                    if p is None or lvl not in owner_at[p]:
                        continue
                    j = pos[id(owner_at[p][lvl]) if isinstance(owner_at[p][lvl], Operation)
                            else owner_at[p][lvl]]
                    if j != i:
                        deps[i].add(j)
        out = _toposort(items, first, deps)
        return [x if isinstance(x, Operation) else _fill(frame(x), order(x)) for x in out]

    return order(None)


def _fill(f: Frame, items: List[Any]) -> Frame:
    f.items = items
    return f


def _schedule_hook(block: Block) -> Sequence[Any]:
    items = schedule_block(block)
    term = [x for x in items if isinstance(x, Operation) and x.has_trait("Terminator")]
    return [x for x in items if not (isinstance(x, Operation) and x in term)] + term


BLOCK_SCHEDULERS["cf.enter"] = _schedule_hook


@rule("cf.loop_cond")
def _loop_cond(op: Operation, pred: Any) -> Any:
    return pred


def _outside_frame(op: Operation, *args: Any) -> Any:
    raise ExecutionError(f"{op.name} runs only as part of a dataflow loop (its block needs a "
                         "cf.enter of the same frame)")


rule(*LOOP_OPS)(_outside_frame)
