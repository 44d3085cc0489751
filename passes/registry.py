"""Pass registration and pipeline strings.

    parse_pipeline("canonicalize,cse{max-iterations=3},dce")
        -> [Canonicalize(), CSE(max_iterations=3), DCE()]

Grammar: passes separated by commas; options in braces, `key=value` separated by spaces or
commas; option keys are the dataclass fields in kebab-case, values are typed by the field's
annotation (int, float, bool, str, or Optional of those). An MLIR-style wrapper
`builtin.module(...)` is accepted and ignored.

A pass is registered by a class decorator (`@register_pass` on a `Pass` subclass) or by
`@function_pass("name")` on `def f(module, ctx, *, option: int = 3)`; `load_plugin(path)` imports
a user's file that does either (the CLI's `--load-pass-plugin FILE`).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import sys
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO, Type, Union

from mlir_lite.errors import PipelineError
from mlir_lite.ir.core import Operation

from .manager import Pass, PassContext, PassManager, PrintIRInstrument, TimingInstrument

__all__ = ["PASS_REGISTRY", "register_pass", "function_pass", "parse_pipeline", "run_pipeline",
           "load_plugin", "registered_passes"]

PASS_REGISTRY: Dict[str, Type[Pass]] = {}
_KEBAB = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")


def register_pass(cls: Type[Pass]) -> Type[Pass]:
    """Class decorator: make `cls` a frozen dataclass (if it is not one) and register it."""
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise TypeError(f"@register_pass needs a Pass subclass, got {cls!r}")
    if "__dataclass_fields__" not in cls.__dict__:
        cls = dataclasses.dataclass(frozen=True)(cls)
    name = cls.name
    if not _KEBAB.match(name or ""):
        raise ValueError(f"pass {cls.__name__}: name {name!r} must be kebab-case (e.g. 'my-pass')")
    old = PASS_REGISTRY.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"pass name '{name}' is registered twice ({old.__module__}."
                         f"{old.__qualname__} and {cls.__module__}.{cls.__qualname__})")
    PASS_REGISTRY[name] = cls
    return cls


def function_pass(name: str, *, summary: str = "",
                  preserves: Sequence[type] = ()) -> Callable[[Callable], Type[Pass]]:
    """Turn `def f(module, ctx, **options)` into a registered pass class.

    Keyword parameters after `(module, ctx)` with defaults become the options; their
    annotations (or the defaults' types) type the pipeline values. `f` returns whether it
    changed the module (None counts as a change)."""
    def deco(fn: Callable) -> Type[Pass]:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if len(params) < 2 or params[0].kind not in (params[0].POSITIONAL_ONLY,
                                                     params[0].POSITIONAL_OR_KEYWORD):
            raise TypeError(f"@function_pass({name!r}): {fn.__name__} must take (module, ctx, ...)")
        hints = typing.get_type_hints(fn)
        fields = []
        for p in params[2:]:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            if p.default is p.empty:
                raise TypeError(f"@function_pass({name!r}): option '{p.name}' needs a default")
            ann = hints.get(p.name, type(p.default))
            fields.append((p.name, ann, dataclasses.field(default=p.default)))

        def run(self: Pass, module: Operation, ctx: PassContext) -> Optional[bool]:
            opts = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
            return fn(module, ctx, **opts)

        cls_name = "".join(w.capitalize() for w in name.split("-")) + "Pass"
        cls = dataclasses.make_dataclass(
            cls_name, fields, bases=(Pass,), frozen=True,
            namespace={"name": name, "summary": summary or (fn.__doc__ or "").strip(),
                       "preserves": tuple(preserves), "run": run})
        cls.__module__ = fn.__module__
        cls.__doc__ = fn.__doc__ or summary or name
        return register_pass(cls)
    return deco


def _ensure_builtin_passes() -> None:
    import mlir_lite.passes  # noqa: F401  (the package imports every built-in pass)


def registered_passes() -> Dict[str, Type[Pass]]:
    """Every registered pass by name (built-in ones included)."""
    _ensure_builtin_passes()
    return dict(sorted(PASS_REGISTRY.items()))


def _split_top(text: str, seps: str) -> List[str]:
    """Split at separator characters that are outside braces and parentheses."""
    out: List[str] = []
    cur: List[str] = []
    depth = 0
    for ch in text:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '{ch}' in pipeline {text!r}")
        if ch in seps and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise PipelineError(f"unbalanced braces in pipeline {text!r}")
    out.append("".join(cur))
    return out


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _convert(value: str, ann: Any, pass_name: str, key: str) -> Any:
    origin = typing.get_origin(ann)
    if origin is Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if value.lower() in ("none", "") and len(args) < len(typing.get_args(ann)):
            return None
        if len(args) == 1:
            ann = args[0]
    try:
        if ann is bool:
            low = value.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true or false")
        if ann is int:
            return int(value, 0)
        if ann is float:
            return float(value)
        if ann is str:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                return value[1:-1]
            return value
    except ValueError as e:
        raise PipelineError(f"pass '{pass_name}': option '{key}' expects "
                            f"{getattr(ann, '__name__', ann)}, got {value!r} ({e})") from None
    raise PipelineError(f"pass '{pass_name}': option '{key}' has type {ann!r}, which pipeline "
                        "strings cannot set (use int, float, bool or str)")


def _make_pass(element: str) -> Pass:
    element = element.strip()
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:\{(.*)\})?", element, re.S)
    if not m:
        raise PipelineError(f"malformed pipeline element {element!r}; expected "
                            "'name' or 'name{key=value ...}'")
    name, body = m.group(1), m.group(2)
    cls = PASS_REGISTRY.get(name)
    if cls is None:
        raise PipelineError(f"unknown pass '{name}'; registered passes: "
                            f"{', '.join(sorted(PASS_REGISTRY))}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: Dict[str, Any] = {}
    last_str: Optional[str] = None  # a str option whose value may go on after a comma
    for item in re.split(r"[\s,]+", (body or "").strip()):
        if not item:
            continue
        key, eq, value = item.partition("=")
        field = key.strip().replace("-", "_")
        if not eq and field not in fields and last_str is not None:
            kwargs[last_str] += "," + item  # `wrt=0,1`: a list in a str option
            continue
        last_str = None
        if field not in fields:
            valid = ", ".join(f.replace("_", "-") for f in fields) or "none"
            raise PipelineError(f"pass '{name}' has no option '{key}'; its options: {valid}")
        ann = hints.get(field, fields[field].type)
        if not eq:
            if ann is not bool:
                raise PipelineError(f"pass '{name}': option '{key}' needs a value ({key}=...)")
            kwargs[field] = True
            continue
        kwargs[field] = _convert(value.strip(), ann, name, key)
        if isinstance(kwargs[field], str):
            last_str = field
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise PipelineError(f"pass '{name}': {e}") from None


def parse_pipeline(text: str) -> List[Pass]:
    """Pass instances for a pipeline string; PipelineError names what is wrong."""
    _ensure_builtin_passes()
    text = text.strip()
    m = re.fullmatch(r"(?:builtin\.)?module\s*\((.*)\)", text, re.S)
    if m:
        text = m.group(1).strip()
    if not text:
        return []
    passes = []
    for element in _split_top(text, ","):
        if not element.strip():
            raise PipelineError(f"empty pass name in pipeline {text!r} (a stray comma?)")
        passes.append(_make_pass(element))
    return passes


def run_pipeline(module: Operation, pipeline: Union[str, Sequence[Pass]], *,
                 verify_each: bool = True, print_ir_after_all: bool = False,
                 print_ir_after_change: bool = False, print_ir_before_all: bool = False,
                 timing: bool = False, stream: Optional[TextIO] = None) -> bool:
    """Run a pipeline (a string or pass instances) over `module` in place.

    Printed IR and the timing table go to `stream` (stderr by default). Returns whether any
    pass changed the module."""
    passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    out = stream if stream is not None else sys.stderr
    pm = PassManager(passes, verify_each=verify_each)
    if print_ir_after_all or print_ir_after_change or print_ir_before_all:
        pm.add_instrument(PrintIRInstrument(before_all=print_ir_before_all,
                                            after_all=print_ir_after_all,
                                            after_change=print_ir_after_change, stream=out))
    timer = TimingInstrument() if timing else None
    if timer is not None:
        pm.add_instrument(timer)
    try:
        return pm.run(module)
    finally:
        if timer is not None:
            out.write(timer.report())


def load_plugin(path: Union[str, Path]) -> List[str]:
    """Import a user's Python file that registers passes; returns the newly registered names."""
    _ensure_builtin_passes()
    p = Path(path)
    if not p.is_file():
        raise PipelineError(f"pass plugin {str(p)!r} does not exist")
    before = set(PASS_REGISTRY)
    mod_name = "mlir_lite_plugin_" + re.sub(r"\W", "_", str(p.resolve()))
    spec = importlib.util.spec_from_file_location(mod_name, p)
    if spec is None or spec.loader is None:
        raise PipelineError(f"cannot load pass plugin {str(p)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(mod_name, None)
        raise PipelineError(f"pass plugin {str(p)!r} failed to import: "
                            f"{type(e).__name__}: {e}") from e
    return sorted(set(PASS_REGISTRY) - before)
