"""Handwritten digits for the examples: MNIST when its IDX files are at hand, else a vendored
real dataset brought to MNIST's shape.

    mnist = get_mnist(flatten=True, onehot=True)
    xs, ys = mnist.train.next_batch(100)        # (100, 784) float32 in [0, 1], (100, 10) one-hot
    mnist.test.images, mnist.test.labels

`get_mnist` looks for the four standard files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`) in `path` or in the
directory named by the `MLIR_LITE_MNIST` environment variable. Without them it uses the UCI
optical digits vendored in `data/` (1,797 8x8 images; CC BY 4.0, see data/README.md), upsampled
to 28x28 with bilinear interpolation and split 80/20 into train and test with a fixed seed.
It prints once per process which dataset it uses.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

__all__ = ["DataSet", "Datasets", "get_mnist", "read_idx", "upsample_bilinear", "ENV_VAR"]

ENV_VAR = "MLIR_LITE_MNIST"
_DATA = Path(__file__).resolve().parent / "data"
_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
_ANNOUNCED: set = set()
_IDX_DTYPES: Dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DataSet:
    """One split: `images`, `labels`, and `next_batch(n)` that walks a fresh seeded shuffle
    of the split every epoch (a batch never straddles two epochs' orders silently: the tail of
    one epoch is completed from the start of the next, as TensorFlow's tutorial reader does)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(images))
        self._pos = 0
        self.epochs_completed = 0

    @property
    def num_examples(self) -> int:
        return len(self.images)

    def next_batch(self, batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
        """The next `batch_size` (images, labels), reshuffling at each epoch boundary."""
        n = self.num_examples
        if not 0 < batch_size:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        picks = []
        need = batch_size
        while need:
            take = min(need, n - self._pos)
            picks.append(self._order[self._pos:self._pos + take])
            self._pos += take
            need -= take
            if self._pos == n:
                self._order = self._rng.permutation(n)
                self._pos = 0
                self.epochs_completed += 1
        idx = np.concatenate(picks)
        return self.images[idx], self.labels[idx]


class Datasets:
    """`train` and `test` splits, plus `source` (which dataset was loaded)."""

    def __init__(self, train: DataSet, test: DataSet, source: str) -> None:
        self.train = train
        self.test = test
        self.validation = test
        self.source = source


def read_idx(path: Union[str, Path]) -> np.ndarray:
    """An IDX file (MNIST's format; gzip-compressed or not) as a numpy array."""
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise ValueError(f"{p}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{p}: unknown IDX element type 0x{code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dt = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(dims)) if dims else 1
    body = raw[4 + 4 * ndim:]
    if len(body) != count * dt.itemsize:
        raise ValueError(f"{p}: expected {count * dt.itemsize} data bytes for shape {dims}, "
                         f"found {len(body)}")
    return np.frombuffer(body, dtype=dt).reshape(dims).astype(dt.newbyteorder("="))


def upsample_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Resize (n, h, w) images to (n, size, size) with bilinear interpolation (half-pixel
    centres, edges clamped)."""
    n, h, w = images.shape

    def weights(src: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, pos - lo

    y0, y1, fy = weights(h)
    x0, x1, fx = weights(w)
    img = images.astype(np.float64)
    rows = img[:, y0, :] * (1 - fy)[None, :, None] + img[:, y1, :] * fy[None, :, None]
    return rows[:, :, x0] * (1 - fx)[None, None, :] + rows[:, :, x1] * fx[None, None, :]


def _find_idx(directory: Path) -> Optional[Dict[str, Path]]:
    found = {}
    for key, stem in _FILES.items():
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                     stem.replace("-idx", ".idx") + ".gz"):
            if (directory / name).is_file():
                found[key] = directory / name
                break
        else:
            return None
    return found


def _announce(message: str) -> None:
    if message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        print(message, flush=True)


def _load_mnist(files: Dict[str, Path]) -> Tuple[np.ndarray, ...]:
    arrays = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        im, lb = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if im.ndim != 3 or lb.ndim != 1 or len(im) != len(lb):
            raise ValueError(f"MNIST {split} files have shapes {im.shape} and {lb.shape}; "
                             "expected (n, 28, 28) images and (n,) labels")
    return (arrays["train_images"].astype(np.float32) / 255.0, arrays["train_labels"],
            arrays["test_images"].astype(np.float32) / 255.0, arrays["test_labels"])


def _load_digits(test_fraction: float = 0.2, seed: int = 0) -> Tuple[np.ndarray, ...]:
    with gzip.open(_DATA / "digits.csv.gz", "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    pixels, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
    images = (upsample_bilinear(pixels, 28) / 16.0).clip(0.0, 1.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(round(len(images) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


def get_mnist(path: Optional[Union[str, Path]] = None, flatten: bool = True,
              onehot: bool = True, seed: int = 0) -> Datasets:
    """MNIST from `path` (or $MLIR_LITE_MNIST), else the vendored UCI digits at 28x28.

    Images are float32 in [0, 1]: (n, 784) when `flatten`, else (n, 1, 28, 28) (NCHW). Labels
    are float32 one-hot (n, 10) when `onehot`, else int64 (n,). `seed` drives the per-epoch
    shuffles of `next_batch`."""
    where = path if path is not None else os.environ.get(ENV_VAR)
    files = _find_idx(Path(where)) if where else None
    if where and path is not None and files is None:
        raise FileNotFoundError(f"get_mnist: no MNIST IDX files in {where} (expected "
                                f"{', '.join(_FILES.values())}, optionally .gz)")
    if files is not None:
        tr_x, tr_y, te_x, te_y = _load_mnist(files)
        source = f"MNIST from {where}"
        _announce(f"get_mnist: using MNIST ({len(tr_x)} train / {len(te_x)} test) from {where}")
    else:
        tr_x, tr_y, te_x, te_y = _load_digits()
        source = "UCI optical digits (vendored, 8x8 upsampled to 28x28)"
        _announce(f"get_mnist: MNIST IDX files not found (pass path= or set {ENV_VAR}); using "
                  f"the UCI optical handwritten digits ({len(tr_x)} train / {len(te_x)} test, "
                  "8x8 upsampled to 28x28, CC BY 4.0)")

    def shape(x: np.ndarray) -> np.ndarray:
        n = len(x)
        return x.reshape(n, -1) if flatten else x.reshape(n, 1, x.shape[1], x.shape[2])

    def label(y: np.ndarray) -> np.ndarray:
        y = y.astype(np.int64)
        return np.eye(10, dtype=np.float32)[y] if onehot else y

    return Datasets(DataSet(shape(tr_x), label(tr_y), seed),
                    DataSet(shape(te_x), label(te_y), seed + 1), source)
