"""Atomic file output: write to a temporary file in the target's folder, then rename it into
place, so an error or an interrupt never leaves a half-written file behind."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import BinaryIO, Iterator

__all__ = ["atomic_output", "write_atomic"]


@contextmanager
def atomic_output(path: str, suffix: str = ".part") -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces `path` only when the block succeeds."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".mlir-lite-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_output(path) as fh:
        fh.write(data)
