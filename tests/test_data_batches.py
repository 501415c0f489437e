"""The batches training reads, and the input benchmark that times them: correct, seeded, complete."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.data.batches import batches, epoch_order
from mnistlab.data.benchmark import benchmark


def numbered(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Image i has every pixel equal to i / 255 (count <= 256), label i % 10."""
    pixels = np.arange(count, dtype=np.float32)[:, None, None, None] / np.float32(255)
    return np.ascontiguousarray(np.broadcast_to(pixels, (count, 28, 28, 1))), np.arange(count) % 10


def test_an_epoch_visits_every_example_once_in_its_order():
    images, labels = numbered(100)
    order = epoch_order(seed=1, epoch=0, count=100)
    seen = []
    for pixels, targets in batches(images, labels, order, batch_size=32):
        index = np.rint(pixels[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_array_equal(targets, index % 10)  # labels stay with their images
        seen.extend(index.tolist())
    assert [len(t) for _, t in batches(images, labels, order, 32)] == [32, 32, 32, 4]
    assert seen == order.tolist() and sorted(seen) == list(range(100)) and seen != list(range(100))


def test_each_epoch_has_its_own_order_and_a_seed_repeats_it():
    first, second = epoch_order(0, 0, 1000), epoch_order(0, 1, 1000)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, epoch_order(0, 0, 1000))  # a resumed run sees the same batches
    assert not np.array_equal(first, epoch_order(1, 0, 1000))


def test_argument_checks():
    images, labels = numbered(10)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        batches(images, labels, np.arange(10), 0)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        batches(images, labels[:9], np.arange(10), 4)


def test_benchmark_times_a_shuffled_epoch_of_real_mnist(mnist_dir):
    result = benchmark("mnist", split="test", batch_size=100, data_dir=mnist_dir)
    assert result.num_batches == 100 and result.num_examples == 10000
    assert result.total_s > result.first_batch_s > 0
    assert result.examples_per_s_first_excluded > 0 and result.examples_per_s_first_included > 0
    more = benchmark("mnist", split="test[:1000]", batch_size=32, num_batches=100, data_dir=mnist_dir)
    sizes = ([32] * 31 + [8]) * 4  # 1000 examples: 31 full batches and one of 8 per epoch
    assert more.num_batches == 100 and more.num_examples == sum(sizes[:100])  # on into later epochs
