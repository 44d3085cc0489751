"""Run one conformance case through `mlir_lite.backend` and classify the outcome.

    pass         outputs match (dtype, shape, values within the case's rtol/atol), compared by
                 `onnx.backend.test.runner.Runner.assert_similar_outputs` as BackendTest does
    fail         wrong dtype, shape or numbers (with the largest error)
    unsupported  the importer reports unsupported nodes or types (with the reasons)
    error        anything else: a malformed-model rejection, a run-time error, a crash, a timeout
"""
from __future__ import annotations

import re
import time
import traceback
from typing import Any, Dict, List, Sequence

import numpy as np

from .cases import Case, load_data

__all__ = ["run_case", "compare"]

_UNSUPPORTED_LINE = re.compile(r"^\s*- (?P<op>\S+) \(opset \d+\) node .*?, dtype (?P<dtype>[^:]+): "
                               r"(?P<reason>.*)$")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _unsupported_reason(message: str) -> str:
    reasons: List[str] = []
    for line in message.splitlines():
        m = _UNSUPPORTED_LINE.match(line)
        if m:
            r = f"{m['op']} [{m['dtype']}]: {m['reason']}"
            if r not in reasons:
                reasons.append(r)
    return _short("; ".join(reasons) if reasons else message.splitlines()[0])


def _max_error(out: np.ndarray, ref: np.ndarray) -> str:
    try:
        a = np.asarray(out, dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
    except (TypeError, ValueError):
        return "values differ"
    with np.errstate(all="ignore"):
        nan_mismatch = np.isnan(a) != np.isnan(b)
        err = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
        err = np.where(np.isposinf(a) & np.isposinf(b) | np.isneginf(a) & np.isneginf(b), 0.0,
                       err)
        err = np.where(nan_mismatch, np.inf, err)
        rel = err / np.maximum(np.abs(b), 1e-30)
    n_bad = int(np.count_nonzero(err > 0))
    return (f"max abs err {float(np.max(err)) if err.size else 0.0:.3g}, max rel err "
            f"{float(np.max(rel)) if rel.size else 0.0:.3g}, {n_bad}/{err.size} elements differ")


def compare(ref: Sequence[Any], outs: Sequence[Any], rtol: float, atol: float) -> Dict[str, Any]:
    """`{"status": "pass"}` or `{"status": "fail", "reason": ..., "max_abs_err": ...}`."""
    from onnx.backend.test.runner import Runner
    try:
        Runner.assert_similar_outputs(list(ref), list(outs), rtol=rtol, atol=atol)
        return {"status": "pass"}
    except AssertionError:
        pass
    except Exception as e:  # noqa: BLE001  (e.g. outputs of the wrong kind)
        return {"status": "fail", "reason": _short(f"{type(e).__name__}: {e}")}
    if len(outs) != len(ref):
        return {"status": "fail", "reason": f"{len(outs)} outputs, expected {len(ref)}"}
    for i, (o, r) in enumerate(zip(outs, ref)):
        o, r = np.asarray(o), np.asarray(r)
        if o.shape != r.shape:
            return {"status": "fail", "reason": f"output {i}: shape {o.shape}, expected {r.shape}"}
        if o.dtype != r.dtype:
            return {"status": "fail", "reason": f"output {i}: dtype {o.dtype}, expected {r.dtype}"}
    for i, (o, r) in enumerate(zip(outs, ref)):
        o, r = np.asarray(o), np.asarray(r)
        try:
            np.testing.assert_allclose(o.astype(np.float64) if o.dtype.name == "bfloat16" else o,
                                       r.astype(np.float64) if r.dtype.name == "bfloat16" else r,
                                       rtol=max(rtol, 2 ** -6) if o.dtype.name == "bfloat16"
                                       else rtol, atol=atol)
        except AssertionError:
            return {"status": "fail", "reason": f"output {i} ({o.dtype}{list(o.shape)}): "
                                                f"{_max_error(o, r)}"}
        except TypeError:
            if not np.array_equal(o, r):
                return {"status": "fail", "reason": f"output {i}: values differ"}
    return {"status": "fail", "reason": "outputs differ"}


def run_case(case: Case, executor: str = "interpreter") -> Dict[str, Any]:
    """Import, run (with `mlir_lite.backend`'s `executor`) and compare one case; never raises.
    With the compiled executor ("tvm"), a CompileError (e.g. an op without a lowering rule)
    counts as *unsupported*."""
    from mlir_lite import backend
    from mlir_lite.errors import CompileError, MlirLiteError, OnnxImportError, UnsupportedOpError
    t0 = time.perf_counter()
    try:
        model, data_sets = load_data(case)
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "reason": _short(f"loading the case: {type(e).__name__}: {e}")}
    try:
        rep = backend.prepare(model, "CPU", executor=executor)
    except UnsupportedOpError as e:
        return {"status": "unsupported", "reason": _unsupported_reason(e.message)}
    except CompileError as e:
        if "no TVM lowering" in e.message:
            return {"status": "unsupported",
                    "reason": _short(f"compile: {e.message.split(' (', 1)[0]}")}
        return {"status": "error", "reason": _short(f"compile: {e.message}")}
    except OnnxImportError as e:
        return {"status": "error", "reason": _short(f"import: {e.message}")}
    except MlirLiteError as e:
        return {"status": "error", "reason": _short(f"import: {type(e).__name__}: {e}")}
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "reason": _short(f"import crashed: {type(e).__name__}: {e} "
                                                    f"@ {_where(e)}")}
    t1 = time.perf_counter()
    for k, (ins, ref) in enumerate(data_sets):
        try:
            outs = list(rep.run(list(ins)))
        except MlirLiteError as e:
            return {"status": "error", "reason": _short(f"run: {e}"), "import_s": t1 - t0}
        except Exception as e:  # noqa: BLE001
            return {"status": "error", "reason": _short(f"run crashed: {type(e).__name__}: "
                                                        f"{e} @ {_where(e)}")}
        atol = case.atol
        if case.atol_of_max:
            peak = max((float(np.max(np.abs(r))) for r in ref
                        if isinstance(r, np.ndarray) and r.size and r.dtype.kind == "f"),
                       default=0.0)
            atol = max(atol, case.atol_of_max * peak)
        res = compare(ref, outs, case.rtol, atol)
        if res["status"] != "pass":
            if len(data_sets) > 1:
                res["reason"] = f"data set {k}: {res['reason']}"
            return res
    return {"status": "pass", "import_s": t1 - t0, "run_s": time.perf_counter() - t1}


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    if not tb:
        return "?"
    f = tb[-1]
    return f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}"
