"""The real-model set: ONNX files exported by torch from torchvision and transformers
architectures (random weights, both exporters, dynamic axes), made by
benchmarks/export_models.py; tests/models/data/ holds the checked-in copies and their
manifest.json.

    for case in cases():                                     # one per model and exporter
        result = check(case)                                 # compile once, run at each size
        result.stage, result.error                           # "ok", or where and why it failed

Expected values come from onnxruntime only. Used by tests/models/test_real_models.py and by
benchmarks/dynamic_models.py.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

__all__ = ["DATA", "RTOL", "ATOL", "Case", "Result", "cases", "check", "make_feed", "run_ort",
           "compare", "load_manifest"]

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
RTOL, ATOL = 1e-3, 1e-4


@dataclass
class Case:
    model: str
    exporter: str
    path: str
    inputs: List[Dict[str, Any]]     # name, dtype, dims (ints, or names of dynamic axes), high
    sizes: List[Dict[str, int]]      # the dynamic axes' sizes to run at

    @property
    def id(self) -> str:
        return f"{self.model}.{self.exporter}"


@dataclass
class Result:
    case: Case
    stage: str = "ok"                # import, compile, run, match, or ok
    error: str = ""
    compile_s: float = 0.0
    max_err: Dict[str, float] = field(default_factory=dict)


def load_manifest(data_dir: str = DATA) -> Dict[str, Any]:
    with open(os.path.join(data_dir, "manifest.json")) as f:
        manifest: Dict[str, Any] = json.load(f)
    return manifest


def cases(data_dir: str = DATA, static: bool = False) -> List[Case]:
    """Every exported file of the manifest in `data_dir` (the dynamic ones, or with `static` the
    static exports), in manifest order."""
    out: List[Case] = []
    for name, entry in load_manifest(data_dir)["models"].items():
        for key, exp in entry["exports"].items():
            if key.endswith(".static") != static or "file" not in exp:
                continue
            out.append(Case(name, key.split(".")[0], os.path.join(data_dir, exp["file"]),
                            entry["inputs"], entry["sizes"]))
    return out


def make_feed(inputs: List[Dict[str, Any]], sizes: Dict[str, int], seed: int = 0
              ) -> Dict[str, np.ndarray]:
    """Deterministic inputs at `sizes`: floats from a normal distribution, token ids below the
    input's `high`, attention masks of ones with the last quarter of every other row padded."""
    rng = np.random.default_rng(seed)
    feed: Dict[str, np.ndarray] = {}
    for inp in inputs:
        shape = [sizes[d] if isinstance(d, str) else d for d in inp["dims"]]
        if inp["dtype"] == "float32":
            feed[inp["name"]] = rng.standard_normal(shape).astype(np.float32)
        elif inp["name"] == "attention_mask":
            mask = np.ones(shape, np.int64)
            if len(shape) == 2 and shape[1] > 1:
                mask[1::2, shape[1] - max(1, shape[1] // 4):] = 0
            feed[inp["name"]] = mask
        else:
            feed[inp["name"]] = rng.integers(0, inp["high"], shape).astype(np.int64)
    return feed


_SESSIONS: Dict[str, Any] = {}


def run_ort(path: str, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
    """onnxruntime's outputs (one session per file, kept)."""
    import onnxruntime as ort
    sess = _SESSIONS.get(path)
    if sess is None:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = 1
        sess = _SESSIONS[path] = ort.InferenceSession(path, so,
                                                      providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in sess.run(None, feed)]


def compare(ours: List[np.ndarray], want: List[np.ndarray]) -> Optional[str]:
    """None when every output matches at RTOL/ATOL, else what differs."""
    if len(ours) != len(want):
        return f"{len(ours)} outputs, onnxruntime has {len(want)}"
    for k, (a, b) in enumerate(zip(ours, want)):
        a = np.asarray(a)
        if a.shape != b.shape:
            return f"output {k}: shape {a.shape}, onnxruntime {b.shape}"
        if a.dtype != b.dtype:
            return f"output {k}: dtype {a.dtype}, onnxruntime {b.dtype}"
        try:
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
        except AssertionError:
            bad = ~np.isclose(a, b, rtol=RTOL, atol=ATOL)
            err = np.abs(a.astype(np.float64) - b.astype(np.float64))
            return (f"output {k}: {int(bad.sum())} / {bad.size} elements differ, max abs "
                    f"error {np.nanmax(err):.3g}")
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def _max_err(ours: List[np.ndarray], want: List[np.ndarray]) -> float:
    return max(float(np.max(np.abs(np.asarray(a, np.float64) - b))) if b.size else 0.0
               for a, b in zip(ours, want))


def check(case: Case, opt_level: int = 2) -> Result:
    """Import, compile once (TVM CPU), run at each of the case's sizes, compare with
    onnxruntime. Stops at the first stage that fails and says which."""
    from mlir_lite.driver import CompileOptions, compile
    from mlir_lite.frontends.onnx import import_onnx
    res = Result(case)
    try:
        import_onnx(case.path)
    except Exception as e:
        res.stage, res.error = "import", _first_line(e)
        return res
    t0 = time.perf_counter()
    try:
        fn = compile(case.path, CompileOptions(target="cpu", opt_level=opt_level))
    except Exception as e:
        res.stage, res.error = "compile", _first_line(e)
        return res
    res.compile_s = time.perf_counter() - t0
    for sizes in case.sizes:
        feed = make_feed(case.inputs, sizes)
        want = run_ort(case.path, feed)
        label = ",".join(f"{k}={v}" for k, v in sizes.items())
        try:
            ours = fn(*[feed[n] for n in fn.input_names])
        except Exception as e:
            res.stage, res.error = "run", f"at {label}: {_first_line(e)}"
            return res
        diff = compare(ours, want)
        if diff is not None:
            res.stage, res.error = "match", f"at {label}: {diff}"
            return res
        res.max_err[label] = _max_err(ours, want)
    return res
