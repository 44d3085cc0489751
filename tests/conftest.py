"""Test-suite settings. Under CI (CI=true) hypothesis is derandomized, so a submission's CI run
is reproducible; locally it keeps searching new examples (and remembers failures)."""
from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
