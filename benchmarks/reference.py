"""The references (onnxruntime, numpy's BLAS) timed in a process of their own.

Two thread pools in one process fight over the cores: onnxruntime's idle workers spin after
each run, and so do TVM's and OpenBLAS's. On this 2-core machine, a 1024^3 MatMul compiled by
us ran at 196 GFLOP/s alone and at 171 right after onnxruntime in the same process (whose own
figure swung by as much), and BERT's onnxruntime median swung 2.8-9.1 ms between runs. With the
reference in a child process each runtime keeps its default threading, its pool never shares
an address space with ours, and `interleaved` pauses between rounds so that spinning threads of
one side have gone to sleep before the other side is timed: TVM's workers keep spinning for
about 100 ms after a run (with 50 ms pauses, onnxruntime's BERT took 9-15 ms in the round after
ours instead of 2.8; with 200 ms and more it was steady).

    with ReferenceProcess() as ref:
        ref.load_onnx("resnet50", "/tmp/resnet50.onnx", feed)     # an onnxruntime session
        ref.load_matmul("numpy", a, b)                           # numpy's a @ b
        times = ref.timer("resnet50")(30)                        # 30 wall-clock seconds
"""
from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from typing import Any, Callable, Dict, List

import numpy as np

from mlir_lite.driver.commands import measure

__all__ = ["ReferenceProcess", "interleaved", "local_timer"]

Timer = Callable[[int], List[float]]


def local_timer(fn: Callable[[], Any], warmup: int = 2) -> Timer:
    """A timer for a callable of this process: `timer(n)` is the seconds of n calls."""
    return lambda n: measure(fn, n, warmup)


def _serve(conn: Any, threads: int) -> None:
    """The child: holds sessions and operands by key, times them on request."""
    import onnxruntime as ort
    calls: Dict[str, Callable[[], Any]] = {}
    while True:
        msg = conn.recv()
        try:
            if msg[0] == "onnx":
                _, key, path, feed = msg
                so = ort.SessionOptions()
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 1
                so.log_severity_level = 3
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                calls[key] = lambda s=sess, f=feed: s.run(None, f)
                conn.send(("ok", [np.asarray(o) for o in calls[key]()]))
            elif msg[0] == "matmul":
                _, key, a, b = msg
                calls[key] = lambda a=a, b=b: a @ b
                conn.send(("ok", None))
            elif msg[0] == "time":
                _, key, n, warmup = msg
                conn.send(("ok", measure(calls[key], n, warmup)))
            elif msg[0] == "drop":
                calls.pop(msg[1], None)
                conn.send(("ok", None))
            else:
                conn.send(("ok", None))
                return
        except Exception as e:  # reported to the parent, which raises it
            conn.send(("error", f"{type(e).__name__}: {e}"))


class ReferenceProcess:
    """A child process that runs onnxruntime sessions and numpy matmuls for timing."""

    def __init__(self, threads: int = 2) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: no TVM pool inherited
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, threads), daemon=True)
        self._proc.start()

    def _ask(self, *msg: Any) -> Any:
        self._conn.send(msg)
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"reference process: {value}")
        return value

    def load_onnx(self, key: str, path: str, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Open an onnxruntime session on `path` with `feed`; returns its outputs."""
        return self._ask("onnx", key, path, feed)

    def load_matmul(self, key: str, a: np.ndarray, b: np.ndarray) -> None:
        self._ask("matmul", key, a, b)

    def drop(self, key: str) -> None:
        self._ask("drop", key)

    def timer(self, key: str, warmup: int = 2) -> Timer:
        return lambda n: self._ask("time", key, n, warmup)

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._ask("close")
            except (EOFError, OSError):
                pass
        self._proc.join(timeout=10)

    def __enter__(self) -> "ReferenceProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def interleaved(timers: Dict[str, Timer], repeat: int, rounds: int = 3,
                pause_s: float = 0.25) -> Dict[str, float]:
    """Median seconds per call of each timer, over `rounds` alternating rounds (so that load
    from other processes hits all of them alike), pausing `pause_s` between rounds so that the
    previous side's spinning threads are asleep."""
    times: Dict[str, List[float]] = {k: [] for k in timers}
    per = max(1, repeat // rounds)
    for _ in range(rounds):
        for k, timer in timers.items():
            time.sleep(pause_s)
            times[k] += timer(per)
    return {k: statistics.median(v) for k, v in times.items()}
