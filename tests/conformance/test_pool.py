"""The conformance runner's worker pool: results come back for every task, a crashing or hanging
worker is replaced and its task reported as an error, and the other tasks still run."""
from __future__ import annotations

import os
import time

from .pool import WorkerPool


def _task(i: int) -> dict:
    if i == 3:
        os._exit(7)  # a crash (as a segfault in a native library would be)
    if i == 5:
        time.sleep(30)  # a hang
    return {"status": "pass", "value": i * i, "pid": os.getpid()}


def test_pool_survives_crashes_and_timeouts() -> None:
    pool = WorkerPool(_task, jobs=2, timeout=2.0)
    t0 = time.monotonic()
    results = dict(pool.run(range(8)))
    assert time.monotonic() - t0 < 20
    assert sorted(results) == list(range(8))
    for i in (0, 1, 2, 4, 6, 7):
        assert results[i]["status"] == "pass" and results[i]["value"] == i * i
    assert results[3]["status"] == "error" and "exit code 7" in results[3]["reason"]
    assert results[5]["status"] == "error" and "timeout" in results[5]["reason"]
    assert pool.restarts == 2
    # workers are reused between tasks (not one process per task)
    assert len({r["pid"] for r in results.values() if "pid" in r}) <= 4
