"""Raw MNIST arrays for the exploration scripts, read straight from the IDX .gz files.

    from common import load_mnist
    (train_images, train_labels), (test_images, test_labels) = load_mnist()

The arrays come straight from the IDX .gz files (cached as .npy in /tmp), so these scripts do not
depend on the package's data layer. Pixels are float32 in [0, 1], normalised once in memory.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MNIST_DIR = Path(os.environ.get("MNISTLAB_DATA_DIR", "/work/shared/datasets")) / "mnist"
CACHE_DIR = Path("/tmp/mnist_npy")


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist():
    """((60000, 28, 28, 1) float32 [0, 1], (60000,) int64), and the same for the 10000 test images."""
    CACHE_DIR.mkdir(exist_ok=True)
    arrays = {}
    for name in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
        cached = CACHE_DIR / f"{name}.npy"
        if not cached.exists():
            np.save(cached, _read_idx(MNIST_DIR / f"{name}-ubyte.gz"))
        arrays[name] = np.load(cached)
    train_images = arrays["train-images-idx3"][..., None].astype(np.float32) / 255.0
    test_images = arrays["t10k-images-idx3"][..., None].astype(np.float32) / 255.0
    return (
        (train_images, arrays["train-labels-idx1"].astype(np.int64)),
        (test_images, arrays["t10k-labels-idx1"].astype(np.int64)),
    )
