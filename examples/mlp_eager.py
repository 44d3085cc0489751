"""Train a two-layer MLP on handwritten digits with the imperative (PyTorch style) DSL.

    .venv/bin/python examples/mlp_eager.py [--epochs 10]

Every op runs eagerly through the interpreter's rules; `loss.backward()` uses the per-op VJPs
that the autodiff pass builds (once per op signature); SGD with momentum updates the weights.
"""
import argparse
import time

import numpy as np

import mlir_lite as ml
from mlir_lite.dsl import eager as F
from mlir_lite.dsl.datasets import get_mnist


def init(rng: np.random.Generator, fan_in: int, fan_out: int) -> tuple:
    w = F.tensor(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in),
                 requires_grad=True)
    return w, F.tensor(np.zeros(fan_out), requires_grad=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()
    data = get_mnist(flatten=True, onehot=False)
    rng = np.random.default_rng(0)
    w1, b1 = init(rng, 784, 128)
    w2, b2 = init(rng, 128, 10)
    params = [w1, b1, w2, b2]
    opt = F.SGD(params, lr=args.lr, momentum=0.9)

    def model(x: ml.Tensor) -> ml.Tensor:
        return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)

    t0 = time.perf_counter()
    steps = args.epochs * (data.train.num_examples // args.batch)
    for step in range(steps):
        xs, ys = data.train.next_batch(args.batch)
        loss = F.cross_entropy(model(F.tensor(xs)), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    train_s = time.perf_counter() - t0
    with ml.no_grad():
        pred = model(F.tensor(data.test.images)).argmax(1).numpy()
    acc = float((pred == data.test.labels).mean())
    print(f"MLP test accuracy: {acc:.4f} ({len(pred)} images, {data.source}); "
          f"{steps} steps in {train_s:.2f} s ({1000 * train_s / steps:.2f} ms/step)")


if __name__ == "__main__":
    main()
