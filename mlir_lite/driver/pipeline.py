"""The one table of which passes run at each optimisation level for each kind of target.

    pipeline_for(CompileOptions(target="cpu", opt_level=2))
    -> "decompose-rnn,canonicalize,fold-constants,fold-batchnorm,cse,dce,shape-inference,
        blocked-layout{block=8},fuse"            (block: float32 lanes of this CPU's vectors)

Every entry point that compiles (CLI `compile`/`bench`/`plan`, the ONNX backend API, the DSL's
`Session` and `@jit`, the eager VJPs, the benchmarks) gets its passes from here, through
`mlir_lite.driver.compile`; `mlir-lite compile --print-pipeline` prints the row it used and
`mlir-lite opt -p "$(...)"` replays it. Every pass named here is registered by importing
`mlir_lite.passes` (no TVM needed).

Levels: 0 runs only what the target needs to accept the IR at all (the TVM backends lower
`ml.lstm`/`ml.gru`/`ml.rnn` only decomposed); 1 cleans up (canonicalize, fold constants, CSE,
DCE, shape inference); 2 also folds batch norms into convs and fuses operators, each fused group
one kernel, and on a CPU runs chains of convs in the blocked channel layout; 3 is 2 for now.
"""
from __future__ import annotations

from string import Template
from typing import Dict, Mapping, Tuple

from mlir_lite.errors import CompileError

__all__ = ["PIPELINES", "LEVELS", "pipeline_text"]

LEVELS = (0, 1, 2, 3)

_CLEANUP = ("canonicalize", "fold-constants", "cse", "dce", "shape-inference")
_O2 = ("canonicalize", "fold-constants", "fold-batchnorm", "cse", "dce", "shape-inference")

# kind of target -> level -> the passes, in order. `$name` is a fact of the target (pipeline_text).
PIPELINES: Dict[str, Dict[int, Tuple[str, ...]]] = {
    # TVM for a CPU: the conv block is one SIMD vector of float32 (`$lanes`)
    "llvm": {
        0: ("decompose-rnn",),
        1: ("decompose-rnn",) + _CLEANUP,
        2: ("decompose-rnn",) + _O2 + ("blocked-layout{block=$lanes}", "fuse"),
    },
    # TVM for CUDA: dlight schedules the fused kernels; no blocked layout
    "cuda": {
        0: ("decompose-rnn",),
        1: ("decompose-rnn",) + _CLEANUP,
        2: ("decompose-rnn",) + _O2 + ("fuse",),
    },
    # the reference interpreter runs every op as it is: fusion would buy it nothing
    "interpreter": {
        0: (),
        1: _CLEANUP,
        2: _O2,
    },
}
for _rows in PIPELINES.values():
    _rows[3] = _rows[2]


def pipeline_text(kind: str, opt_level: int, facts: Mapping[str, object]) -> str:
    """The pipeline string of `kind` at `opt_level`, with the target's `facts` filled in."""
    if opt_level not in LEVELS:
        raise CompileError(f"optimisation level must be 0 to 3, got {opt_level}")
    rows = PIPELINES.get(kind)
    if rows is None:
        raise CompileError(f"no pipeline for targets of kind {kind!r} (known: "
                           f"{', '.join(sorted(PIPELINES))})")
    try:
        return ",".join(Template(p).substitute(facts) for p in rows[opt_level])
    except KeyError as e:
        raise CompileError(f"the {kind} pipeline at O{opt_level} needs the target fact "
                           f"{e.args[0]!r}") from None
