"""Shuffled float32 batches and the input benchmark: correct, seeded, complete."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.data.batches import batches, normalize
from mnistlab.data.benchmark import benchmark


def numbered(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Image i has every pixel equal to i (count <= 256), label i % 10."""
    images = np.broadcast_to(np.arange(count, dtype=np.uint8)[:, None, None, None], (count, 28, 28, 1))
    return np.ascontiguousarray(images), np.arange(count, dtype=np.int64) % 10


def test_an_epoch_is_a_permutation_of_normalised_examples():
    images, labels = numbered(100)
    seen = []
    for pixels, targets in batches(images, labels, batch_size=32, seed=1, copy=True):
        assert pixels.dtype == np.float32 and pixels.shape[1:] == (28, 28, 1)
        assert pixels.min() >= 0.0 and pixels.max() <= 1.0
        index = np.rint(pixels[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_array_equal(targets, index % 10)  # labels stay with their images
        np.testing.assert_allclose(pixels[:, 5, 5, 0], index / 255.0, rtol=1e-6)
        seen.extend(index.tolist())
    assert [len(b[1]) for b in batches(images, labels, 32)] == [32, 32, 32, 4]
    assert sorted(seen) == list(range(100)) and seen != list(range(100))


def test_seeds_epochs_shuffle_and_drop_remainder():
    images, labels = numbered(64)

    def order(**kwargs):
        return [t.tolist() for _, t in batches(images, labels * 0 + np.arange(64), 16, copy=True, **kwargs)]

    assert order(seed=3) == order(seed=3)
    assert order(seed=3) != order(seed=4)
    assert order(shuffle=False)[0] == list(range(16))
    two_epochs = order(seed=3, epochs=2)
    assert len(two_epochs) == 8 and two_epochs[:4] != two_epochs[4:]  # a new permutation each epoch
    assert [len(t) for _, t in batches(images[:40], labels[:40], 16, drop_remainder=True)] == [16, 16]
    forever = batches(images, labels, 16, epochs=None)
    assert sum(1 for _, _ in zip(range(50), forever, strict=False)) == 50
    assert list(batches(images[:5], labels[:5], 16, epochs=None, drop_remainder=True)) == []


def test_buffers_are_reused_unless_copied():
    images, labels = numbered(64)
    shared = [pixels for pixels, _ in batches(images, labels, 16)]
    assert all(p is shared[0] for p in shared)
    copied = [pixels for pixels, _ in batches(images, labels, 16, copy=True)]
    assert len({id(p) for p in copied}) == 4


def test_argument_checks_and_normalize():
    images, labels = numbered(10)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        batches(images, labels, 0)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        batches(images, labels[:9])
    pixels = normalize(images)
    assert pixels.dtype == np.float32 and pixels[9, 0, 0, 0] == np.float32(9 / 255)


def test_benchmark_times_a_shuffled_epoch_of_real_mnist(mnist_dir):
    result = benchmark("mnist", split="test", batch_size=100, data_dir=mnist_dir)
    assert result.num_batches == 100 and result.num_examples == 10000
    assert result.total_s > result.first_batch_s > 0
    assert result.examples_per_s_first_excluded > 0 and result.examples_per_s_first_included > 0
    more = benchmark("mnist", split="test[:1000]", batch_size=32, num_batches=100, data_dir=mnist_dir)
    assert more.num_batches == 100 and more.num_examples == 3200  # repeats the data past one epoch
