"""The pass manager: run passes in order, verify after each, instrument, cache analyses.

    pm = PassManager([Canonicalize(), CSE(), DCE()], instruments=[TimingInstrument()])
    pm.run(module)           # -> True when some pass changed the module

A pass is a frozen dataclass whose fields are its pipeline options (`cse{max-iterations=3}`
sets `max_iterations`); `name` is its kebab-case pipeline name. `run(module, ctx)` mutates the
module in place and returns whether it changed anything (None means "unknown" and counts as a
change). Analyses (`ctx.get_analysis(Liveness, func)`) are computed once and dropped after every
pass that changed the IR, unless the pass lists them in `preserves`.

A pass that raises becomes a `PassError` naming the pass; IR that no longer verifies after a
pass becomes a `PassError` saying which pass broke it.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, TextIO, Tuple

from mlir_lite.errors import MlirLiteError, PassError, VerifyError
from mlir_lite.ir.core import Operation

__all__ = ["Pass", "PassContext", "PassManager", "PassInstrument", "PrintIRInstrument",
           "TimingInstrument", "verify_module", "module_text"]


@dataclasses.dataclass(frozen=True)
class Pass:
    """Base of all passes. Subclasses are frozen dataclasses; their fields are the options."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # Analysis classes this pass keeps valid even when it changes the IR.
    preserves: ClassVar[Tuple[type, ...]] = ()

    def run(self, module: Operation, ctx: "PassContext") -> Optional[bool]:
        raise NotImplementedError(f"pass {self.name or type(self).__name__} has no run()")

    def options(self) -> Dict[str, Any]:
        """Field values by their pipeline (kebab-case) names."""
        return {f.name.replace("_", "-"): getattr(self, f.name)
                for f in dataclasses.fields(self)}

    def pipeline_text(self) -> str:
        """This pass as a pipeline element: `cse{max-iterations=3}` (defaults left out)."""
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and v == f.default:
                continue
            text = ("true" if v else "false") if isinstance(v, bool) else str(v)
            parts.append(f"{f.name.replace('_', '-')}={text}")
        return self.name + ("{" + " ".join(parts) + "}" if parts else "")


class PassContext:
    """What a running pass can reach: the analysis cache and the manager's settings."""

    def __init__(self, manager: Optional["PassManager"] = None) -> None:
        self.manager = manager
        self._analyses: Dict[Tuple[Callable[[Operation], Any], int], Tuple[Operation, Any]] = {}
        self.current_pass: Optional[Pass] = None
        self.stats: Dict[str, Any] = {}

    def get_analysis(self, analysis: Callable[[Operation], Any], op: Operation) -> Any:
        """`analysis(op)`, computed once and reused until a pass invalidates it."""
        key = (analysis, id(op))
        hit = self._analyses.get(key)
        if hit is not None and hit[0] is op:
            return hit[1]
        result = analysis(op)
        self._analyses[key] = (op, result)
        return result

    def cached_analyses(self) -> List[Tuple[Callable[[Operation], Any], Operation]]:
        return [(k[0], op) for k, (op, _) in self._analyses.items()]

    def invalidate(self, preserved: Sequence[type] = ()) -> None:
        """Drop every cached analysis whose class is not in `preserved`."""
        keep = tuple(preserved)
        self._analyses = {k: v for k, v in self._analyses.items()
                          if isinstance(k[0], type) and k[0] in keep}


class PassInstrument:
    """Hooks around each pass. Override what you need."""

    def before_pipeline(self, module: Operation) -> None:
        pass

    def before_pass(self, p: Pass, module: Operation) -> None:
        pass

    def after_pass(self, p: Pass, module: Operation, changed: bool) -> None:
        pass

    def after_pass_failed(self, p: Pass, module: Operation, error: BaseException) -> None:
        pass

    def after_pipeline(self, module: Operation) -> None:
        pass


def module_text(module: Operation) -> str:
    """The module's text form (the printer's, or a structural dump before the printer exists)."""
    try:
        from mlir_lite.ir.printer import print_module
    except ImportError:  # pragma: no cover - only while the printer is being written
        lines = []
        for op in module.walk():
            lines.append(f"{op.name}({len(op.operands)}) -> {[str(t) for t in op.result_types]} "
                         f"{sorted(op.attributes)}")
        return "\n".join(lines) + "\n"
    return print_module(module)


def verify_module(module: Operation) -> None:
    """The verifier (mlir_lite.ir.verifier.verify), or per-op checks while it does not exist."""
    try:
        from mlir_lite.ir.verifier import verify
    except ImportError:  # pragma: no cover - only while the verifier is being written
        for op in module.walk():
            op.verify_op()
        return
    verify(module)


class PrintIRInstrument(PassInstrument):
    """Print the IR before and/or after passes (`--print-ir-after-all`, `-after-change`)."""

    def __init__(self, before_all: bool = False, after_all: bool = False,
                 after_change: bool = False, stream: Optional[TextIO] = None) -> None:
        self.before_all = before_all
        self.after_all = after_all
        self.after_change = after_change
        self.stream = stream
        self._before_text: Optional[str] = None

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def before_pass(self, p: Pass, module: Operation) -> None:
        text = module_text(module) if (self.before_all or self.after_change) else None
        self._before_text = text
        if self.before_all:
            self._out().write(f"// -----// IR Dump Before {p.pipeline_text()} //----- //\n"
                              f"{text}\n")

    def after_pass(self, p: Pass, module: Operation, changed: bool) -> None:
        if not (self.after_all or self.after_change):
            return
        text = module_text(module)
        # A pass may report a change that left the text identical (or vice versa); the text
        # decides what "changed" means for printing.
        if self.after_all or text != self._before_text:
            self._out().write(f"// -----// IR Dump After {p.pipeline_text()} //----- //\n"
                              f"{text}\n")

    def after_pass_failed(self, p: Pass, module: Operation, error: BaseException) -> None:
        if self.after_all or self.after_change:
            self._out().write(f"// -----// IR Dump After {p.pipeline_text()} Failed //----- //\n"
                              f"{module_text(module)}\n")


class TimingInstrument(PassInstrument):
    """Wall time per pass (summed over repeated runs of the same pass name)."""

    def __init__(self) -> None:
        self.times: Dict[str, float] = {}
        self.counts: Dict[str, int] = {}
        self._start = 0.0
        self._total_start: Optional[float] = None
        self.total = 0.0

    def before_pipeline(self, module: Operation) -> None:
        self._total_start = time.perf_counter()

    def after_pipeline(self, module: Operation) -> None:
        if self._total_start is not None:
            self.total += time.perf_counter() - self._total_start
            self._total_start = None

    def before_pass(self, p: Pass, module: Operation) -> None:
        self._start = time.perf_counter()

    def _record(self, p: Pass) -> None:
        dt = time.perf_counter() - self._start
        self.times[p.name] = self.times.get(p.name, 0.0) + dt
        self.counts[p.name] = self.counts.get(p.name, 0) + 1

    def after_pass(self, p: Pass, module: Operation, changed: bool) -> None:
        self._record(p)

    def after_pass_failed(self, p: Pass, module: Operation, error: BaseException) -> None:
        self._record(p)

    def report(self) -> str:
        """A table: pass, runs, seconds, share of the pass time (verification excluded)."""
        total_passes = sum(self.times.values())
        width = max([len("total (with verification)")] + [len(n) for n in self.times])
        lines = ["===" + "-" * (width + 24) + "===", "  Pass execution timing report",
                 f"  {'pass':<{width}}  runs    seconds      %"]
        for name, t in sorted(self.times.items(), key=lambda kv: -kv[1]):
            share = 100.0 * t / total_passes if total_passes else 0.0
            lines.append(f"  {name:<{width}}  {self.counts[name]:>4}  {t:>9.6f}  {share:5.1f}")
        lines.append(f"  {'total (passes)':<{width}}        {total_passes:>9.6f}")
        if self.total:
            lines.append(f"  {'total (with verification)':<{width}}        {self.total:>9.6f}")
        return "\n".join(lines) + "\n"


class PassManager:
    """An ordered list of passes run over a module."""

    def __init__(self, passes: Sequence[Pass] = (), *, verify_each: bool = True,
                 instruments: Sequence[PassInstrument] = ()) -> None:
        self.passes: List[Pass] = list(passes)
        self.verify_each = verify_each
        self.instruments: List[PassInstrument] = list(instruments)
        self.context = PassContext(self)

    def add(self, *passes: Pass) -> "PassManager":
        for p in passes:
            if not isinstance(p, Pass):
                raise TypeError(f"{p!r} is not a Pass (did you pass the class, not an instance?)")
            self.passes.append(p)
        return self

    def add_instrument(self, instrument: PassInstrument) -> "PassManager":
        self.instruments.append(instrument)
        return self

    def pipeline_text(self) -> str:
        return ",".join(p.pipeline_text() for p in self.passes)

    def run(self, module: Operation) -> bool:
        """Run every pass in order; True when any of them changed the module."""
        ctx = self.context
        for inst in self.instruments:
            inst.before_pipeline(module)
        any_change = False
        try:
            for p in self.passes:
                any_change |= self._run_one(p, module, ctx)
        finally:
            for inst in self.instruments:
                inst.after_pipeline(module)
        return any_change

    def _run_one(self, p: Pass, module: Operation, ctx: PassContext) -> bool:
        for inst in self.instruments:
            inst.before_pass(p, module)
        ctx.current_pass = p
        try:
            result = p.run(module, ctx)
        except BaseException as e:
            for inst in self.instruments:
                inst.after_pass_failed(p, module, e)
            if isinstance(e, PassError) or not isinstance(e, Exception):
                raise
            where = getattr(e, "loc", None) if isinstance(e, MlirLiteError) else None
            msg = e.message if isinstance(e, MlirLiteError) else f"{type(e).__name__}: {e}"
            raise PassError(f"pass '{p.name}' failed: {msg}", where) from e
        finally:
            ctx.current_pass = None
        changed = True if result is None else bool(result)
        if changed:
            ctx.invalidate(p.preserves)
        for inst in self.instruments:
            inst.after_pass(p, module, changed)
        if self.verify_each:  # also after 'no change': a pass that lies is caught here
            try:
                verify_module(module)
            except VerifyError as e:
                raise PassError(f"pass '{p.name}' left IR that does not verify: {e.message}",
                                e.loc) from e
        return changed
