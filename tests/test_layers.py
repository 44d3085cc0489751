"""The layers import one way only (README, "Architecture").

Every import of the source tree is read from the AST, those inside functions included, and so are
`importlib.import_module("...")` calls with a literal name; each edge between our own modules,
and each import of a heavy third-party package, must be allowed by `ALLOWED` below.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
# source folder -> the import name it installs as (pyproject.toml's package-dir)
SOURCES = {"mlir_lite": "mlir_lite", "passes": "mlir_lite.passes",
           "frontends": "mlir_lite.frontends", "backends": "mlir_lite.backends"}

# layer -> the module prefixes that form it (the longest matching prefix decides)
LAYERS: Dict[str, Tuple[str, ...]] = {
    "base": ("mlir_lite.errors", "mlir_lite.fileio", "mlir_lite.version"),
    "ir": ("mlir_lite.ir",),
    "runtime": ("mlir_lite.runtime",),
    "passes": ("mlir_lite.passes",),
    "onnx": ("mlir_lite.frontends.onnx",),
    "backends": ("mlir_lite.backends",),
    "driver": ("mlir_lite.driver",),
    "dsl": ("mlir_lite.frontends.dsl",),
    # the public surface: `import mlir_lite`, `mlir_lite.dsl`, `mlir_lite.backend`
    "api": ("mlir_lite", "mlir_lite.dsl", "mlir_lite.backend", "mlir_lite.frontends",),
}
# layer -> the layers it may import (itself always); data flows frontend -> IR -> driver's
# pipeline -> backend -> artifact -> runtime, and nothing imports a layer above it
ALLOWED: Dict[str, Tuple[str, ...]] = {
    "base": (),
    "ir": ("base",),
    "runtime": ("base",),
    # memory planning writes the runtime's arena format (runtime/arena.py)
    "passes": ("base", "ir", "runtime"),
    "onnx": ("base", "ir", "passes"),
    "backends": ("base", "ir", "passes", "runtime"),
    "driver": ("base", "ir", "passes", "runtime", "backends", "onnx"),
    "dsl": ("base", "ir", "passes", "driver"),
    "api": ("base", "ir", "passes", "runtime", "backends", "onnx", "driver", "dsl"),
}
# third-party packages that only some layers may import: the IR is numpy only, and the
# runtime runs an artifact with numpy and TVM's runtime alone
HEAVY = {"tvm": ("backends", "runtime", "driver"), "tvm_ffi": ("backends", "runtime"),
         "onnx": ("onnx", "driver", "api"), "onnxruntime": ("driver",),
         "networkx": ("passes",)}
# modules allowed to call importlib.import_module with a computed name, and why
DYNAMIC_IMPORTS = {"mlir_lite.backends.tvm.tune": "TVM's own x86/arm_cpu intrinsics package"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([SOURCES[parts[0]]] + parts[1:])


def layer_of(module: str) -> Optional[str]:
    best, best_len = None, -1
    for layer, prefixes in LAYERS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = layer, len(p)
    return best


def source_files() -> List[Path]:
    return sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py"))


def imports_of(path: Path, name: str) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in `path` (module `name`), wherever it
    stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod
            for a in node.names:  # `from pkg import submodule`
                yield node.lineno, f"{mod}.{a.name}"
        elif isinstance(node, ast.Call) and _is_import_module(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value
            elif name not in DYNAMIC_IMPORTS:
                yield node.lineno, "<computed importlib.import_module name>"


def _is_import_module(f: ast.expr) -> bool:
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or \
        (isinstance(f, ast.Name) and f.id in ("import_module", "__import__"))


def _own_modules() -> set:
    return {module_name(p) for p in source_files()}


def violations(files: Optional[Dict[Path, str]] = None) -> List[str]:
    """Every import against the layering, in `files` (path -> module; default: the tree)."""
    own = _own_modules()
    if files is None:
        files = {p: module_name(p) for p in source_files()}
    found: List[str] = []
    for path, src in files.items():
        src_layer = layer_of(src)
        assert src_layer is not None, f"{src} belongs to no layer: add it to LAYERS"
        for line, mod in imports_of(path, src):
            where = f"{path.name}:{line}" if not path.is_relative_to(ROOT) else \
                f"{path.relative_to(ROOT)}:{line}"
            if mod.startswith("<computed"):
                found.append(f"{where}: {mod} (list the module in DYNAMIC_IMPORTS, with why)")
                continue
            top = mod.split(".")[0]
            if top == "mlir_lite":
                if mod not in own and mod.rpartition(".")[0] in own:
                    continue  # `from mlir_lite.x import name`: the edge is to mlir_lite.x
                dst_layer = layer_of(mod)
                if dst_layer is None:
                    found.append(f"{where}: {src} imports {mod}, which is in no layer")
                elif dst_layer != src_layer and dst_layer not in ALLOWED[src_layer]:
                    found.append(f"{where}: {src} ({src_layer}) imports {mod} ({dst_layer})")
            elif top in HEAVY and src_layer not in HEAVY[top]:
                found.append(f"{where}: {src} ({src_layer}) imports {top}")
    return list(dict.fromkeys(found))


def test_imports_run_down_the_layers_only() -> None:
    bad = violations()
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_checker_sees_imports_inside_functions_and_by_string(tmp_path: Path) -> None:
    """The walk must not miss an import hidden in a function or in import_module."""
    probe = tmp_path / "_layer_probe.py"
    probe.write_text("import numpy\n\ndef f():\n    from mlir_lite.driver import compile\n"
                     "    import importlib\n    importlib.import_module('mlir_lite.passes.cse')\n"
                     "    importlib.import_module(name)\n    import tvm\n")
    mine = violations({probe: "mlir_lite.ir._layer_probe"})
    assert any("(ir) imports mlir_lite.driver" in b for b in mine), mine
    assert any("(ir) imports mlir_lite.passes.cse" in b for b in mine), mine
    assert any("computed" in b for b in mine), mine
    assert any("(ir) imports tvm" in b for b in mine), mine
    assert not any("numpy" in b for b in mine), mine


def test_every_module_belongs_to_a_layer() -> None:
    assert all(layer_of(module_name(p)) for p in source_files())
