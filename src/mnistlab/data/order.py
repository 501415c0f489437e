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


TFDS_CYCLE_LENGTH = 16  # files tfds reads at once (its default when shuffling is not disabled)
TFDS_BLOCK_LENGTH = 16  # consecutive examples taken from one file before moving to the next


def interleave_positions(
    lengths: list[int], cycle_length: int = TFDS_CYCLE_LENGTH, block_length: int = TFDS_BLOCK_LENGTH
) -> np.ndarray:
    """Where tfds's reader takes each example from when a split string has several parts.

    tfds reads the parts of `train[:1000]+test[:1000]` (one file each) with tf.data's deterministic
    interleave: `block_length` examples from each open part in turn, up to `cycle_length` parts open,
    a finished part's slot refilled with the next part. Returns positions into the parts laid end to
    end (lengths[0] rows of part 0, then part 1, ...).
    """
    part_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    slots: list[list[int] | None] = [None] * cycle_length  # [next row, end row] of the part in a slot
    next_part = open_parts = cycle = block_index = 0
    ranges = []

    def advance():
        nonlocal cycle, block_index
        cycle, block_index = (cycle + 1) % cycle_length, 0

    while next_part < len(lengths) or open_parts > 0:
        slot = slots[cycle]
        if slot is None:
            if next_part < len(lengths):  # open the next part here and read from it at once
                start = int(part_starts[next_part])
                slots[cycle] = [start, start + int(lengths[next_part])]
                next_part, open_parts = next_part + 1, open_parts + 1
            else:
                advance()
            continue
        count = min(block_length - block_index, slot[1] - slot[0])
        if count > 0:
            ranges.append((slot[0], slot[0] + count))
            slot[0] += count
            block_index += count
        if block_index == block_length:
            advance()
        elif slot[0] == slot[1]:  # the part ended inside a block: close it, move on
            slots[cycle] = None
            open_parts -= 1
            advance()
    if not ranges:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(start, stop, dtype=np.int64) for start, stop in ranges])
