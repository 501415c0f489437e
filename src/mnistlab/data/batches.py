"""Shuffled batches of normalised pixels: what a training step consumes, as fast as numpy allows.

    images, labels = mnistlab.load("mnist", split="train", as_supervised=True)
    for pixels, targets in batches(images, labels, batch_size=32, seed=0):
        ...   # pixels: (32, 28, 28, 1) float32 in [0, 1]; targets: (32,) int64

Each epoch draws a new permutation from one seeded generator. A batch is gathered from the uint8
images with `np.take(..., mode="clip", out=...)` and normalised into a preallocated float32 buffer:
no float copy of the whole split, no start-up cost, and the working set stays in the CPU cache.
(`mode="raise"` would copy the output buffer on every call; the indices are a permutation, so
clipping never changes them.) With copy=False (the default) the yielded arrays are reused: use a
batch before asking for the next, or pass copy=True.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

PIXEL_SCALE = np.float32(1.0 / 255.0)  # uint8 0..255 -> float32 0..1


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28, 1) -> float32 in [0, 1], a new array."""
    return np.multiply(images, PIXEL_SCALE, dtype=np.float32)


def batches(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 32,
    *,
    shuffle: bool = True,
    seed: int | None = 0,
    epochs: int | None = 1,
    drop_remainder: bool = False,
    copy: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (pixels float32 (B, 28, 28, 1) in [0, 1], labels int64 (B,)) for `epochs` passes.

    epochs=None repeats forever. The last batch of an epoch is smaller unless drop_remainder.
    """
    images = np.ascontiguousarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return _generate(images, labels, batch_size, shuffle, seed, epochs, drop_remainder, copy)


def _generate(images, labels, batch_size, shuffle, seed, epochs, drop_remainder, copy):
    rng = np.random.default_rng(seed)
    count = len(images)
    gathered = np.empty((batch_size, *images.shape[1:]), dtype=images.dtype)  # uint8 rows
    pixels = np.empty((batch_size, *images.shape[1:]), dtype=np.float32)
    take = images.take
    epoch = 0
    while epochs is None or epoch < epochs:
        order = rng.permutation(count) if shuffle else np.arange(count)
        epoch_labels = labels[order]  # (N,) int64, one gather per epoch; batches are views of it
        stop = count - count % batch_size if drop_remainder else count
        if stop == 0:
            return  # no full batch: stop rather than loop forever over empty epochs
        for start in range(0, stop, batch_size):
            size = min(batch_size, stop - start)
            index = order[start : start + size]
            if size == batch_size:
                take(index, axis=0, out=gathered, mode="clip")
                np.copyto(
                    pixels, gathered
                )  # cast, then scale in place: ~10% faster than a mixed-type multiply
                np.multiply(pixels, PIXEL_SCALE, out=pixels)
                batch = pixels
            else:
                batch = np.multiply(images[index], PIXEL_SCALE, dtype=np.float32)
            targets = epoch_labels[start : start + size]
            yield (batch.copy(), targets.copy()) if copy else (batch, targets)
        epoch += 1
