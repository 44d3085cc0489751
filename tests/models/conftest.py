"""The real-model cases marked `slow` (long compiles) run only when asked: with `-m slow` (or
any marker expression naming slow) or with MLIR_LITE_ALL_MODELS=1; otherwise they are skipped
and the default suite runs the quick ones."""
from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("MLIR_LITE_ALL_MODELS"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    skip = pytest.mark.skip(reason="a long compile: run with -m slow or MLIR_LITE_ALL_MODELS=1")
    for item in items:
        if str(item.path).startswith(here) and item.get_closest_marker("slow"):
            item.add_marker(skip)
