"""Computes the package list: every folder with an __init__.py under the four top-level source
folders, named through the package-dir mapping of pyproject.toml (passes/ -> mlir_lite.passes...).
Everything else about the distribution is in pyproject.toml."""
from pathlib import Path

from setuptools import setup

ROOTS = {"mlir_lite": "mlir_lite", "mlir_lite.passes": "passes",
         "mlir_lite.frontends": "frontends", "mlir_lite.backends": "backends"}


def packages() -> list:
    here = Path(__file__).resolve().parent
    found = []
    for name, folder in ROOTS.items():
        base = here / folder
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base).parts
            if rel and rel[0] in ROOTS.values():
                continue  # mlir_lite/ never holds the other roots, but be safe
            found.append(".".join((name,) + rel))
    return found


setup(packages=packages())
