"""The whole ONNX conformance run (every suite, 2 workers) against the checked-in expectation
file: a case listed in expected_pass.txt that no longer passes fails this test, by name. Cases
that pass but are not listed yet are reported (update the file with
`python -m tests.conformance.runner --update-expected`). About a minute on 2 cores."""
from __future__ import annotations

import pytest

from .runner import EXPECTED_FILE, diff_expected, read_expected, run_conformance


@pytest.fixture(scope="module")
def conformance_run():
    return run_conformance(jobs=2, timeout=60)


def test_no_conformance_regressions(conformance_run) -> None:
    expected = read_expected()
    assert expected, f"{EXPECTED_FILE} is empty or missing"
    regressed, new = diff_expected(expected, conformance_run)
    if new:
        print(f"\n{len(new)} case(s) pass that expected_pass.txt does not list yet "
              "(python -m tests.conformance.runner --update-expected):\n  " + "\n  ".join(new))
    if regressed:
        lines = [f"  {k}: {conformance_run.results[k]['status']}: "
                 f"{conformance_run.results[k].get('reason', '')}" for k in regressed]
        pytest.fail(f"{len(regressed)} conformance case(s) listed in expected_pass.txt no longer "
                    "pass:\n" + "\n".join(lines), pytrace=False)


def test_every_expected_case_still_exists(conformance_run) -> None:
    # a case that vanished (renamed in a newer onnx) would otherwise be silently skipped
    gone = sorted(read_expected() - set(conformance_run.results))
    assert not gone, f"expected_pass.txt lists cases the installed onnx does not have: {gone}"
