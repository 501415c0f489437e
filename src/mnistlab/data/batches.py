"""The batches training reads: one seeded order per epoch, each batch gathered when it is asked for.

    order = epoch_order(seed=0, epoch=3, count=len(labels))       # the same order on every run and resume
    for pixels, targets in batches(images, labels, order, batch_size=128):
        ...   # pixels: images[order[i:i + 128]], targets: labels[order[i:i + 128]]

Each epoch's permutation comes from a generator seeded with (seed, epoch), so the order of every epoch is
known in advance and a resumed run sees exactly the batches an uninterrupted one would have seen. The
training loop (training/loop.py) feeds these batches to Keras and `mnistlab data bench` times them.

Given whole arrays, Keras' TensorFlow backend first copies them into a tf.data pipeline: about 0.5 s per
fit call for MNIST, a fifth of fastcnn's epoch. A generator starts at once, and gathering per batch avoids
copying the whole shuffled training set (benchmarks/RESULTS.md, "per-step overhead").
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The order in which 0-based `epoch` visits the `count` training examples."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def batches(images: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int) -> Iterator[tuple]:
    """(images, labels) of one epoch, batch_size at a time in `order`; the last batch may be smaller."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return _gather(images, labels, order, batch_size)


def _gather(images: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int) -> Iterator[tuple]:
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        yield images[index], labels[index]
