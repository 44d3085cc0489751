"""Time per training step (forward + backward + SGD update, compiled as one function through
`build_train_step`, the pass pipeline of --opt-level (default 2: the driver's O2, with fusion)
and the TVM backend) of an MLP (784-128-10) and a small CNN on 28x28 inputs, batch 64, vs
PyTorch eager on CPU in the same run; median of repeated runs, 2 threads each.

    .venv/bin/python benchmarks/train.py [--json] [--repeats 30] [--profile] [--cpu-time]
                                         [--opt-level 2]

--json prints {"models": {NAME: {"step_ms": .., "torch_step_ms": .., "ratio": ..}}}
(ratio = step_ms / torch_step_ms; torch figures are null when torch cannot be imported; a
model the TVM backend cannot compile gets null figures and an "error" entry).
--profile adds, per model, the median ms of each compiled kernel per step ("kernels": [[symbol,
kind, ms], ...], slowest first). --cpu-time runs both sides on ONE thread and times the
calling thread's CPU time (time.thread_time) instead of wall time: figures that other load on
the machine barely moves (use it on a shared box; compare its ratios only with each other).
"""
from __future__ import annotations

import os
import sys

CPU_TIME = "--cpu-time" in sys.argv
os.environ.setdefault("TVM_NUM_THREADS", "1" if CPU_TIME else "2")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from mlir_lite import FuncOp, ModuleOp  # noqa: E402
from mlir_lite.ir.builder import Builder  # noqa: E402
from mlir_lite.ir.types import tensor  # noqa: E402
from mlir_lite.passes.optimizers import SGD, build_train_step  # noqa: E402

BATCH, LR = 64, 0.05


def _xent(b: Builder, logits: Any, y: Any) -> Any:
    lp = b.op("ml.log_softmax", logits, axis=-1)
    s = b.op("ml.reduce_sum", b.op("ml.mul", y, lp), axes=(1,), keepdims=False)
    return b.op("ml.neg", b.op("ml.reduce_mean", s, keepdims=False))


def mlp_module() -> Tuple[ModuleOp, List[Tuple[int, ...]], Tuple[int, ...]]:
    shapes = [(784, 128), (128,), (128, 10), (10,)]
    f = FuncOp.make("loss", [tensor(list(s)) for s in shapes] +
                    [tensor([BATCH, 784]), tensor([BATCH, 10])], [])
    b = Builder.at_end(f.entry_block)
    w1, b1, w2, b2, x, y = f.args
    h = b.op("ml.relu", b.op("ml.add", b.op("ml.matmul", x, w1), b1))
    logits = b.op("ml.add", b.op("ml.matmul", h, w2), b2)
    b.op("func.return", _xent(b, logits, y))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m, shapes, (BATCH, 1 * 784)


def cnn_module() -> Tuple[ModuleOp, List[Tuple[int, ...]], Tuple[int, ...]]:
    # conv 1->8 3x3 pad 1, relu, maxpool 2 -> 8x14x14, flatten, dense 1568->10
    shapes = [(8, 1, 3, 3), (8,), (1568, 10), (10,)]
    f = FuncOp.make("loss", [tensor(list(s)) for s in shapes] +
                    [tensor([BATCH, 1, 28, 28]), tensor([BATCH, 10])], [])
    b = Builder.at_end(f.entry_block)
    w1, b1, w2, b2, x, y = f.args
    c = b.op("ml.conv", x, w1, b1, pads=(1, 1, 1, 1))
    p = b.op("ml.max_pool", b.op("ml.relu", c), kernel_shape=(2, 2), strides=(2, 2))
    logits = b.op("ml.add", b.op("ml.matmul", b.op("ml.flatten", p, axis=1), w2), b2)
    b.op("func.return", _xent(b, logits, y))
    f.update_type()
    m = ModuleOp.empty()
    m.append(f)
    return m, shapes, (BATCH, 1, 28, 28)


THREADS = 1 if CPU_TIME else 2
_clock = time.thread_time if CPU_TIME else time.perf_counter


def _median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = _clock()
        fn()
        times.append(_clock() - t)
    return 1e3 * statistics.median(times)


def _data(xshape: Tuple[int, ...], seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xshape).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    return x, y


def _params(shapes: List[Tuple[int, ...]]) -> List[np.ndarray]:
    rng = np.random.default_rng(1)
    return [(rng.standard_normal(s) * (0.1 if len(s) > 1 else 0.0)).astype(np.float32)
            for s in shapes]


def tvm_step_ms(build: Callable[[], Any], repeats: int,
                profile: Optional[List[Any]] = None, opt_level: int = 2) -> float:
    """Median ms per step; with `profile` (a list), appends [symbol, kind, median ms per
    step] per kernel, slowest first (timed in a separate run, through wrapped kernels)."""
    from mlir_lite.driver import compile
    m, shapes, xshape = build()
    step = build_train_step(m, "loss", [0, 1, 2, 3], SGD(lr=LR))
    cf = compile(m, opt_level=opt_level, func=step.sym_name).executable
    params = _params(shapes)
    x, y = _data(xshape)

    def run() -> None:
        outs = cf(*params, x, y)
        params[:] = outs[1:1 + len(params)]
    ms = _median_ms(run, repeats)
    if profile is not None:
        profile.extend(_kernel_profile(cf, run, repeats))
    return ms


def _kernel_profile(cf: Any, run: Callable[[], None], repeats: int) -> List[List[Any]]:
    run()
    ex = cf.executor._real  # the executor is made on first use (build.py's _Lazy)
    times: Dict[str, List[float]] = {}
    kinds = {k.symbol: k.kind for k in cf.kernels}
    funcs = dict(ex._funcs)

    def timed(sym: str, f: Any) -> Callable[..., None]:
        def call(*args: Any) -> None:
            t = _clock()
            f(*args)
            times[sym][-1] += _clock() - t
        return call
    ex._funcs.update({s: timed(s, f) for s, f in funcs.items()})
    try:
        for _ in range(repeats):
            for v in times.values():
                v.append(0.0)
            for s in funcs:
                times.setdefault(s, [0.0])
            run()
    finally:
        ex._funcs.update(funcs)
    rows = [[s, kinds.get(s, "?"), round(1e3 * statistics.median(v), 4)]
            for s, v in times.items()]
    return sorted(rows, key=lambda r: -r[2])


def torch_step_ms(name: str, repeats: int) -> Optional[float]:
    try:
        import torch
    except Exception:
        return None
    torch.set_num_threads(THREADS)
    nn = torch.nn
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        xshape: Tuple[int, ...] = (BATCH, 784)
    else:
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(1568, 10))
        xshape = (BATCH, 1, 28, 28)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = (torch.from_numpy(a) for a in _data(xshape))

    def run() -> None:
        opt.zero_grad()
        loss = -(y * torch.log_softmax(model(x), -1)).sum(1).mean()
        loss.backward()
        opt.step()
    return _median_ms(run, repeats)


MODELS: Dict[str, Callable[[], Any]] = {"mlp": mlp_module, "cnn": cnn_module}


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--profile", action="store_true", help="per-kernel median ms per step")
    ap.add_argument("--opt-level", type=int, default=2, choices=(0, 1, 2, 3))
    ap.add_argument("--cpu-time", action="store_true",
                    help="1 thread each, this thread's CPU time (read before argparse)")
    args = ap.parse_args(argv)
    res: Dict[str, Dict[str, Any]] = {}
    for name, build in MODELS.items():
        tms = torch_step_ms(name, args.repeats)
        prof: Optional[List[Any]] = [] if args.profile else None
        try:
            ms = tvm_step_ms(build, args.repeats, prof, args.opt_level)
        except Exception as e:  # a model the backend cannot compile yet: say why, keep going
            res[name] = {"step_ms": None, "torch_step_ms": tms, "ratio": None,
                         "error": f"{type(e).__name__}: {e}"[:300]}
            continue
        res[name] = {"step_ms": round(ms, 4), "torch_step_ms": None if tms is None else
                     round(tms, 4), "ratio": None if tms is None else round(ms / tms, 3)}
        if prof is not None:
            res[name]["kernels"] = prof
    if args.json:
        print(json.dumps({"models": res}))
    else:
        for name, r in res.items():
            print(f"{name:4s}  tvm {r['step_ms']} ms/step  torch eager {r['torch_step_ms']} "
                  f"ms/step  ratio {r['ratio']}")
            for sym, kind, kms in r.get("kernels", [])[:12]:
                print(f"      {kms:8.3f} ms  {sym} ({kind})")


if __name__ == "__main__":
    main()
