"""get_mnist: IDX files (written here in the standard format) and the vendored digits."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from mlir_lite.dsl.datasets import get_mnist
from mlir_lite.frontends.dsl.datasets import read_idx, upsample_bilinear


def write_idx(path, arr, compress):
    arr = np.asarray(arr, np.uint8)
    head = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = head + arr.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def test_reads_idx_directory(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    tr_x = rng.integers(0, 256, (20, 28, 28))
    tr_y = rng.integers(0, 10, 20)
    te_x = rng.integers(0, 256, (6, 28, 28))
    te_y = rng.integers(0, 10, 6)
    write_idx(tmp_path / "train-images-idx3-ubyte", tr_x, True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", tr_y, False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", te_x, True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", te_y, True)
    monkeypatch.setenv("MLIR_LITE_MNIST", str(tmp_path))
    m = get_mnist()
    assert "MNIST" in m.source
    np.testing.assert_allclose(m.train.images, tr_x.reshape(20, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(m.test.labels, np.eye(10)[te_y])
    m2 = get_mnist(str(tmp_path), flatten=False, onehot=False)
    assert m2.test.images.shape == (6, 1, 28, 28)
    np.testing.assert_array_equal(m2.train.labels, tr_y)


def test_bad_idx_and_missing_dir(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(ValueError, match="expected 5 data bytes"):
        read_idx(tmp_path / "bad")
    with pytest.raises(FileNotFoundError):
        get_mnist(str(tmp_path))


def test_fallback_digits(monkeypatch, capsys):
    monkeypatch.delenv("MLIR_LITE_MNIST", raising=False)
    m = get_mnist()
    assert m.train.images.shape == (1438, 784) and m.test.images.shape == (359, 784)
    assert m.train.images.dtype == np.float32
    assert 0.0 == m.train.images.min() and m.train.images.max() == 1.0
    assert sorted(np.unique(m.test.labels.argmax(1))) == list(range(10))
    # deterministic split and per-epoch shuffles covering every example once
    m2 = get_mnist()
    np.testing.assert_array_equal(m.test.images, m2.test.images)
    seen = np.concatenate([m.train.next_batch(719)[1].argmax(1) for _ in range(2)])
    np.testing.assert_array_equal(np.bincount(seen, minlength=10),
                                  np.bincount(m.train.labels.argmax(1), minlength=10))


def test_upsample_bilinear():
    img = np.arange(4.0).reshape(1, 2, 2)
    out = upsample_bilinear(img, 4)
    # half-pixel centres: output 0 and 3 clamp to the corners, 1 and 2 interpolate 1/4, 3/4
    np.testing.assert_allclose(out[0, 0], [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(out[0, :, 0], [0, 0.5, 1.5, 2])
