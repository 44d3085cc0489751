"""Real models exported by torch (tests/models/data/, made by benchmarks/export_models.py):
torchvision and transformers architectures with random weights, each from both of torch's
exporters (TorchScript `ts` and `dynamo`), with a dynamic batch axis (vision) or dynamic batch
and sequence axes (text). Each file is compiled once for the TVM CPU target and run at two
sizes of its dynamic axes (batch 1 and 3; text at seq 8 and 37), and must match onnxruntime at
rtol 1e-3, atol 1e-4.

The checked-in files need no torch; `python benchmarks/export_models.py tests/models/data`
regenerates them (the `models` extra). Models the compiled path does not run yet are expected
failures, each with the reason it failed when it was recorded (KNOWN below); one that starts
passing shows as XPASS, and its entry goes. The whole set runs in the default suite (about 80 s
on 2 cores; benchmarks/dynamic_models.py measures its compile times against static shapes).
"""
from __future__ import annotations

import os

import pytest

from .real_models import DATA, Case, cases, check

# model.exporter -> the stage and first line of the error when recorded
KNOWN: dict = {}  # (none today: bilinear Resize and the LSTM over a run-time length compile)


def _params() -> list:
    if not os.path.exists(os.path.join(DATA, "manifest.json")):
        return []
    out = []
    for c in cases():
        marks = [pytest.mark.xfail(reason=KNOWN[c.id], strict=False)] if c.id in KNOWN else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


PARAMS = _params()


def test_the_set_is_there() -> None:
    """Every model of the manifest has at least one export, and the set has both exporters."""
    assert PARAMS, f"no exported models in {DATA} (benchmarks/export_models.py makes them)"
    got = {c.exporter for c in cases()}
    assert got == {"ts", "dynamo"}


@pytest.mark.parametrize("case", PARAMS)
def test_compiles_once_and_matches_onnxruntime(case: Case) -> None:
    res = check(case)
    assert res.stage == "ok", f"{case.id} fails at {res.stage}: {res.error}"
