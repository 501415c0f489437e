"""The order in which tensorflow-datasets stores, and so returns and slices, the examples of a split.

    positions = tfds_order("train", 60000)   # (60000,) int64: IDX index of each example, in tfds order
    images_in_tfds_order = idx_images[positions]

tfds writes the examples of a split sorted by the md5 of (split name + key), where the MNIST-family
builders key example i of the IDX files by the string str(i) (tensorflow_datasets/core/hashing.py,
shuffle.py). So `tfds.load("mnist", split="train[:10]")` returns IDX examples 16399, 1680, 47917, ...
(labels 4, 1, 0, 7, ...), not the first ten of the file. mnistlab returns the same examples in the same
order; `load(..., order="idx")` gives the order of the original files instead.
"""

from __future__ import annotations

import hashlib

import numpy as np

ORDERS = ("tfds", "idx")


def tfds_order(split: str, count: int) -> np.ndarray:
    """IDX indices of a split's `count` examples in tfds's order (sorted by md5(split + str(index)))."""
    salted = hashlib.md5(split.encode("utf-8"))
    digests = []
    for index in range(count):
        digest = salted.copy()
        digest.update(str(index).encode("utf-8"))
        digests.append(digest.digest())  # 16 bytes, big-endian: byte order sorts like the 128-bit integer
    return np.array(sorted(range(count), key=digests.__getitem__), dtype=np.int64)


def inverse(positions: np.ndarray) -> np.ndarray:
    """For a permutation p (position -> IDX index), the map IDX index -> position."""
    result = np.empty_like(positions)
    result[positions] = np.arange(len(positions), dtype=positions.dtype)
    return result
