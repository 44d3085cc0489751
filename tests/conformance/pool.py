"""A pool of forked worker processes with a per-task timeout.

    for index, result in WorkerPool(fn, jobs=2, timeout=60).run(range(n)):
        ...

Workers are forked from the caller (so they inherit its imports and its data: a task is only
an index) and run `fn(index)` one task at a time. A worker that crashes or runs past the
timeout is killed and replaced; its task gets `{"status": "error", "reason": ...}`. Each
worker's address space is capped (`mem_limit` bytes) so a runaway case fails with MemoryError
instead of taking the machine down. Linux/macOS only (fork).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Union

__all__ = ["WorkerPool"]

Result = Dict[str, Any]


def _worker_main(conn: Connection, fn: Callable[[int], Result], mem_limit: Optional[int]
                 ) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C
    if mem_limit:
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
        except (ImportError, ValueError, OSError):
            pass
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            res = fn(task)
        except BaseException as e:  # noqa: BLE001  (fn should not raise; report, do not die)
            res = {"status": "error", "reason": f"runner: {type(e).__name__}: {e}"}
        conn.send(res)


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[int], Result], mem_limit: Optional[int]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, mem_limit), daemon=True)
        self.proc.start()
        child.close()
        self.task: Optional[int] = None
        self.deadline = 0.0
        self.started = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)
        self.conn.close()


class WorkerPool:
    """Run `fn(task)` for integer tasks in `jobs` forked workers, each task under `timeout`
    seconds (a number, or a function of the task)."""

    def __init__(self, fn: Callable[[int], Result], jobs: int = 2,
                 timeout: Union[float, Callable[[int], float]] = 60.0,
                 mem_limit: Optional[int] = None) -> None:
        self.fn = fn
        self.jobs = max(1, jobs)
        self.timeout_of: Callable[[int], float] = (
            timeout if callable(timeout) else (lambda _task: float(timeout)))  # type: ignore
        self.mem_limit = mem_limit
        self.restarts = 0
        self._ctx = mp.get_context("fork")

    def run(self, tasks: Iterable[int]) -> Iterator[Tuple[int, Result]]:
        """Yield `(task, result)` as tasks finish (not in submission order)."""
        pending: Deque[int] = deque(tasks)
        workers: List[Optional[_Worker]] = [None] * self.jobs
        try:
            while True:
                for i in range(self.jobs):
                    w = workers[i]
                    if (w is None or w.task is None) and pending:
                        if w is None:
                            w = workers[i] = _Worker(self._ctx, self.fn, self.mem_limit)
                        w.task = pending.popleft()
                        w.started = time.monotonic()
                        w.deadline = w.started + self.timeout_of(w.task)
                        w.conn.send(w.task)
                busy = [w for w in workers if w is not None and w.task is not None]
                if not busy:
                    return
                now = time.monotonic()
                left = max(0.0, min(w.deadline for w in busy) - now)
                ready = wait([w.conn for w in busy], timeout=left)
                for w in busy:
                    task = w.task
                    assert task is not None
                    if w.conn in ready:
                        try:
                            res = w.conn.recv()
                        except (EOFError, OSError):
                            w.proc.join(5)
                            code = w.proc.exitcode
                            res = {"status": "error",
                                   "reason": f"worker crashed ({_describe_exit(code)})"}
                            self._replace(workers, w)
                        else:
                            w.task = None
                        res.setdefault("seconds", time.monotonic() - w.started)
                        yield task, res
                    elif time.monotonic() >= w.deadline:
                        self._replace(workers, w)
                        yield task, {"status": "error",
                                     "reason": f"timeout after {self.timeout_of(task):g} s",
                                     "seconds": time.monotonic() - w.started}
        finally:
            for w in workers:
                if w is not None:
                    if w.task is None:
                        w.stop()
                    else:
                        w.kill()

    def _replace(self, workers: List[Optional[_Worker]], w: _Worker) -> None:
        w.kill()
        workers[workers.index(w)] = None
        self.restarts += 1


def _describe_exit(code: Optional[int]) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


if os.name != "posix":  # pragma: no cover
    raise ImportError("tests.conformance.pool needs fork (Linux or macOS)")
