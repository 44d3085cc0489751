"""Kernel calls and time per step of DSL programs compiled by the TVM executor: a TF1-style MLP
and CNN training step (`tf.Session`, `tf.gradients`, `tf.train.GradientDescentOptimizer`) and a
`@mlir_lite.jit` eager MLP forward. Median of repeated runs after warm-up, batch 64.

    .venv/bin/python benchmarks/dsl_steps.py [--json] [--repeats 30] [--opt-level 2]

For each program: `kernels` (distinct compiled kernels), `kernel_calls` (kernel calls per
step, from the executed plan) and `step_ms`. `--opt-level` picks the driver's level for the
Session and @jit (1: no fusion; 2, the default: fusion and layout). The script reads the
compiled plan through the public objects only, so it also runs on older checkouts (where the
Session ran `canonicalize,cse,dce` and no fusion) for before/after figures.
"""
from __future__ import annotations

import argparse
import inspect
import json
import statistics
from typing import Any, Callable, Dict, List

import numpy as np

import mlir_lite
import mlir_lite.dsl as tf

BATCH = 64


def _plan_of(fn: Any) -> Any:
    """The CompiledFunction behind a Session program's or jit piece's callable."""
    exe = getattr(fn, "executable", None) or getattr(fn, "compiled", None)
    return exe


def _calls(cf: Any) -> int:
    try:
        from mlir_lite.runtime.plan import count_kernel_calls
    except ImportError:  # checkouts before the runtime package
        from mlir_lite.plan import count_kernel_calls  # type: ignore[no-redef]
    return int(count_kernel_calls(cf.plan.steps))


def _median_ms(run: Callable[[], Any], repeats: int) -> float:
    try:
        from mlir_lite.driver.commands import measure
    except ImportError:  # checkouts before the driver package
        from mlir_lite.backends.tvm.commands import measure  # type: ignore[no-redef]
    return statistics.median(measure(run, repeats)) * 1e3


def _session(opt_level: int) -> Any:
    if "opt_level" in inspect.signature(tf.Session).parameters:
        return tf.Session(opt_level=opt_level)
    return tf.Session()


def _train(build: Callable[[Any, Any], Any], xshape: List[int], classes: int, opt_level: int,
           repeats: int) -> Dict[str, Any]:
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None] + xshape[1:])
    y_ = tf.placeholder(tf.float32, [None, classes])
    logits = build(x, classes)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    step = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    sess = _session(opt_level)
    sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(xshape).astype(np.float32)
    ys = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, xshape[0])]
    feed = {x: xs, y_: ys}
    sess.run([loss, step], feed_dict=feed)
    cf = _plan_of(sess.last_program.fn)
    ms = _median_ms(lambda: sess.run([loss, step], feed_dict=feed), repeats)
    return {"kernels": len(cf.kernels), "kernel_calls": _calls(cf), "step_ms": ms}


def _dense(x: Any, n_in: int, n_out: int, relu: bool) -> Any:
    w = tf.Variable(tf.truncated_normal([n_in, n_out], stddev=0.1))
    b = tf.Variable(tf.zeros([n_out]))
    h = tf.matmul(x, w) + b
    return tf.nn.relu(h) if relu else h


def mlp(x: Any, classes: int) -> Any:
    return _dense(_dense(x, 784, 128, True), 128, classes, False)


def cnn(x: Any, classes: int) -> Any:
    def conv(h: Any, cin: int, cout: int) -> Any:
        w = tf.Variable(tf.truncated_normal([3, 3, cin, cout], stddev=0.1))
        b = tf.Variable(tf.zeros([cout]))
        h = tf.nn.relu(tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME") + b)
        return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    h = conv(conv(x, 1, 8), 8, 16)
    return _dense(tf.reshape(h, [-1, 7 * 7 * 16]), 7 * 7 * 16, classes, False)


def jit_mlp(opt_level: int, repeats: int) -> Dict[str, Any]:
    from mlir_lite.dsl import eager as F
    rng = np.random.default_rng(0)
    w1 = F.tensor(rng.standard_normal((784, 128)).astype(np.float32) * 0.05)
    w2 = F.tensor(rng.standard_normal((128, 10)).astype(np.float32) * 0.05)
    kwargs = {"opt_level": opt_level} \
        if "opt_level" in inspect.signature(mlir_lite.jit).parameters else {}

    @mlir_lite.jit(**kwargs)
    def forward(x: Any) -> Any:
        return F.softmax(F.relu(x @ w1) @ w2, -1)

    x = F.tensor(rng.standard_normal((BATCH, 784)).astype(np.float32))
    forward(x)
    pieces, todo = [], [e.root for entries in forward.entries.values() for e in entries]
    while todo:  # the tree of pieces of each compiled entry
        p = todo.pop()
        pieces.append(p)
        todo.extend(p.next.values())
    cfs = [_plan_of(p.fn) for p in pieces if p.fn is not None]
    ms = _median_ms(lambda: forward(x), repeats)
    return {"kernels": sum(len(c.kernels) for c in cfs),
            "kernel_calls": sum(_calls(c) for c in cfs), "step_ms": ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--opt-level", type=int, default=2)
    args = ap.parse_args()
    results = {
        "mlp_train_step": _train(mlp, [BATCH, 784], 10, args.opt_level, args.repeats),
        "cnn_train_step": _train(cnn, [BATCH, 28, 28, 1], 10, args.opt_level, args.repeats),
        "jit_mlp_forward": jit_mlp(args.opt_level, args.repeats),
    }
    if args.json:
        print(json.dumps({"opt_level": args.opt_level, "programs": results}, indent=1))
        return 0
    print(f"{'program':18} {'kernels':>8} {'calls/step':>11} {'ms/step':>9}")
    for name, r in results.items():
        print(f"{name:18} {r['kernels']:8d} {r['kernel_calls']:11d} {r['step_ms']:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
