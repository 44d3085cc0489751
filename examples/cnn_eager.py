"""Train a small CNN (two conv + max-pool blocks, one linear layer) on handwritten digits with
the imperative DSL.

    .venv/bin/python examples/cnn_eager.py [--epochs 4]

Images are (N, 1, 28, 28); conv2d / max_pool2d are the `ml.conv` / `ml.max_pool` ops, run
eagerly by the interpreter; their gradients come from the autodiff pass's VJP rules.
"""
import argparse
import time

import numpy as np

import mlir_lite as ml
from mlir_lite.dsl import eager as F
from mlir_lite.dsl.datasets import get_mnist


def he(rng: np.random.Generator, shape: tuple, fan_in: int) -> ml.Tensor:
    return F.tensor(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in), requires_grad=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.02)
    args = ap.parse_args()
    data = get_mnist(flatten=False, onehot=False)
    rng = np.random.default_rng(0)
    c1w, c1b = he(rng, (8, 1, 3, 3), 9), F.tensor(np.zeros(8), requires_grad=True)
    c2w, c2b = he(rng, (16, 8, 3, 3), 72), F.tensor(np.zeros(16), requires_grad=True)
    fw, fb = he(rng, (10, 16 * 7 * 7), 16 * 7 * 7), F.tensor(np.zeros(10), requires_grad=True)
    opt = F.SGD([c1w, c1b, c2w, c2b, fw, fb], lr=args.lr, momentum=0.9)

    def model(x: ml.Tensor) -> ml.Tensor:
        h = F.max_pool2d(F.relu(F.conv2d(x, c1w, c1b, padding=1)), 2)    # (N, 8, 14, 14)
        h = F.max_pool2d(F.relu(F.conv2d(h, c2w, c2b, padding=1)), 2)    # (N, 16, 7, 7)
        return F.linear(F.flatten(h, 1), fw, fb)

    t0 = time.perf_counter()
    steps = args.epochs * (data.train.num_examples // args.batch)
    for step in range(steps):
        xs, ys = data.train.next_batch(args.batch)
        loss = F.cross_entropy(model(F.tensor(xs)), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    train_s = time.perf_counter() - t0
    with ml.no_grad():
        pred = model(F.tensor(data.test.images)).argmax(1).numpy()
    acc = float((pred == data.test.labels).mean())
    print(f"CNN test accuracy: {acc:.4f} ({len(pred)} images, {data.source}); "
          f"{steps} steps in {train_s:.2f} s ({1000 * train_s / steps:.1f} ms/step)")


if __name__ == "__main__":
    main()
