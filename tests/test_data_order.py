"""tfds's example order: md5-sorted positions within a split, and the interleaving of several parts."""

from __future__ import annotations

import hashlib

import numpy as np
from fixtures_data import synthetic

import mnistlab
from mnistlab.data.order import interleave_positions, inverse, tfds_order
from mnistlab.data.registry import register_dataset, unregister_dataset


def test_tfds_order_sorts_indices_by_salted_md5():
    positions = tfds_order("train", 1000)
    keys = [int(hashlib.md5(f"train{i}".encode()).hexdigest(), 16) for i in positions]
    assert keys == sorted(keys) and sorted(positions.tolist()) == list(range(1000))
    assert tfds_order("test", 1000).tolist() != positions.tolist()  # the split name is the salt
    assert tfds_order("train", 60000)[:3].tolist() == [16399, 1680, 47917]


def test_inverse_undoes_a_permutation():
    positions = tfds_order("test", 50)
    rows = inverse(positions)
    np.testing.assert_array_equal(positions[rows], np.arange(50))


def test_interleave_takes_blocks_in_turn_and_refills_slots():
    # parts of 3, 3 and 2 rows (positions 0-2, 3-5, 6-7), two open at a time, blocks of 2:
    # part 0 rows 0-1, part 1 rows 3-4, part 0 row 2 (ends: slot freed), part 1 row 5, part 2 rows 6-7
    assert interleave_positions([3, 3, 2], cycle_length=2, block_length=2).tolist() == [
        0,
        1,
        3,
        4,
        2,
        5,
        6,
        7,
    ]
    # tfds's defaults: blocks of 16 from up to 16 parts
    order = interleave_positions([20, 5, 40])
    expected = [*range(0, 16), *range(20, 25), *range(25, 41), *range(16, 20), *range(41, 57), *range(57, 65)]
    assert order.tolist() == expected
    assert interleave_positions([7]).tolist() == list(range(7))
    assert interleave_positions([]).tolist() == []


def test_load_interleaves_parts_like_tfds(tmp_path, isolated_cache, monkeypatch):
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    contents = synthetic.file_contents()
    synthetic.write_dataset(tmp_path, contents)
    register_dataset(synthetic.spec_for(contents))
    try:
        train_labels = synthetic.stored_arrays("train")[1]
        test_labels = synthetic.stored_arrays("test")[1]
        labels = mnistlab.load(synthetic.NAME, split="train[:20]+test[:5]", data_dir=tmp_path)["label"]
        expected = [*train_labels[:16], *test_labels[:5], *train_labels[16:20]]
        assert labels.tolist() == expected
        plain = mnistlab.load(synthetic.NAME, split="train[:20]+test[:5]", data_dir=tmp_path, order="idx")
        idx_train, idx_test = synthetic.split_arrays("train")[1], synthetic.split_arrays("test")[1]
        assert plain["label"].tolist() == [*idx_train[:20], *idx_test[:5]]  # the files' order: concatenated
    finally:
        unregister_dataset(synthetic.NAME)
