"""mnistlab.load: results, structures, the .npy cache and its invalidation, on synthetic and real MNIST."""

from __future__ import annotations

import json
import mmap
import os

import numpy as np
import pytest
from fixtures_data import synthetic

import mnistlab
from mnistlab.data import cache
from mnistlab.data.registry import register_dataset
from mnistlab.errors import DataError, SplitError

NAME = synthetic.NAME


def shades(images: np.ndarray) -> list[int]:
    return images[:, 0, 0, 0].tolist()


def expected_shades(split: str, rows: slice) -> list[int]:
    return synthetic.stored_arrays(split)[0][rows, 0, 0].tolist()


def expected_labels(split: str, rows: slice = slice(None)) -> list[int]:
    return synthetic.stored_arrays(split)[1][rows].tolist()


def test_one_split_is_a_dict_of_uint8_images_and_int64_labels(tiny):
    ds = mnistlab.load(NAME, split="train", data_dir=tiny)
    assert set(ds) == {"image", "label"}
    assert ds["image"].shape == (50, 28, 28, 1) and ds["image"].dtype == np.uint8
    assert ds["label"].shape == (50,) and ds["label"].dtype == np.int64
    assert shades(ds["image"]) == expected_shades("train", slice(None))
    assert ds["label"].tolist() == expected_labels("train")
    assert sorted(ds["label"].tolist()) == sorted(i % 10 for i in range(50))


def test_split_none_gives_every_split_and_as_supervised_gives_tuples(tiny):
    everything = mnistlab.load(NAME, data_dir=tiny)
    assert list(everything) == ["train", "test"]
    assert len(everything["test"]["label"]) == 20
    images, labels = mnistlab.load(NAME, split="test[:4]", as_supervised=True, data_dir=tiny)
    assert images.shape == (4, 28, 28, 1) and labels.tolist() == expected_labels("test", slice(0, 4))


def test_slices_concatenation_lists_and_dicts(tiny):
    ds = mnistlab.load(NAME, split="train[-3:]+test[:2]", data_dir=tiny)
    assert shades(ds["image"]) == expected_shades("train", slice(-3, None)) + expected_shades(
        "test", slice(0, 2)
    )
    assert ds["label"].tolist() == expected_labels("train", slice(-3, None)) + expected_labels(
        "test", slice(0, 2)
    )

    first, rest = mnistlab.load(NAME, split=["train[:10%]", "train[10%:]"], data_dir=tiny)
    assert len(first["label"]) == 5 and len(rest["label"]) == 45
    as_tuple = mnistlab.load(NAME, split=("test[:1]", "test[1:2]"), as_supervised=True, data_dir=tiny)
    assert isinstance(as_tuple, list) and as_tuple[1][1].tolist() == expected_labels("test", slice(1, 2))
    named = mnistlab.load(NAME, split={"fit": "train[:80%]", "check": "train[80%:]"}, data_dir=tiny)
    assert {key: len(value["label"]) for key, value in named.items()} == {"fit": 40, "check": 10}


def test_with_info_returns_the_dataset_info(tiny):
    ds, info = mnistlab.load(NAME, split="train[:5]", with_info=True, data_dir=tiny)
    assert info.name == NAME and len(ds["label"]) == 5
    assert info.splits["train[15%:75%]"].num_examples == 30


def test_bad_splits_fail_before_any_file_is_read(tmp_path, isolated_cache):
    # no files anywhere and downloads forbidden: a split error must come first
    with pytest.raises(SplitError, match=r"`train\[1:2:3\]`: expected `split\[start:stop\]`"):
        mnistlab.load("mnist", split="train[1:2:3]", data_dir=tmp_path, download=False)
    with pytest.raises(SplitError, match="unknown split 'validation'"):
        mnistlab.load("mnist", split=["train", "validation"], data_dir=tmp_path, download=False)
    with pytest.raises(SplitError, match="selects no examples"):
        mnistlab.load("mnist", split="train[10:10]", data_dir=tmp_path, download=False)
    with pytest.raises(ValueError):  # a SplitError is a ValueError, as in tfds
        mnistlab.load("mnist", split="train[:101%]", data_dir=tmp_path, download=False)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(
        DataError, match="unknown dataset 'mnist2'; choose one of: fashion_mnist, kmnist, mnist"
    ):
        mnistlab.load("mnist2")


def test_warm_load_is_a_read_only_memory_map(tiny, isolated_cache):
    mnistlab.load(NAME, split="train", data_dir=tiny)
    images = mnistlab.load(NAME, split="train", data_dir=tiny)["image"]
    base = images
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.base
    assert isinstance(base, mmap.mmap)
    assert not images.flags.writeable  # the cache cannot be changed through a result
    folder = isolated_cache / NAME / "arrays"
    # only the split that was asked for is parsed and cached
    cached = sorted(p.name for p in folder.iterdir())
    assert cached == ["train-images.npy", "train-labels.npy", "train-positions.npy", "train.json"]
    assert not list((tiny / NAME).glob("*.npy"))  # nothing is written beside the sources


def test_cache_is_rebuilt_when_a_source_changes(tiny):
    first_two = expected_shades("train", slice(0, 2))
    assert mnistlab.load(NAME, split="train[:2]", data_dir=tiny)["image"][:, 0, 0, 0].tolist() == first_two
    changed = synthetic.file_contents(offset=1)
    register_dataset(synthetic.spec_for(changed))
    path = tiny / NAME / "train-images-idx3-ubyte.gz"
    path.write_bytes(changed["train-images-idx3-ubyte.gz"])
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    changed_two = [shade + 1 for shade in first_two]
    assert mnistlab.load(NAME, split="train[:2]", data_dir=tiny)["image"][:, 0, 0, 0].tolist() == changed_two


@pytest.mark.parametrize(
    "damage",
    [
        "truncate-images",
        "flip-sampled-pixel",
        "flip-label",
        "flip-position",
        "garble-record",
        "delete-labels",
        "wrong-dtype",
    ],
)
def test_a_damaged_cache_is_detected_and_rebuilt(tiny, isolated_cache, damage):
    mnistlab.load(NAME, split="train", data_dir=tiny)
    folder = isolated_cache / NAME / "arrays"
    images_npy, labels_npy = folder / "train-images.npy", folder / "train-labels.npy"
    if damage == "truncate-images":
        images_npy.write_bytes(images_npy.read_bytes()[:-100])
    elif damage == "flip-sampled-pixel":
        data = bytearray(images_npy.read_bytes())
        data[-1] ^= 0xFF  # last pixel of the last image: always in the sample
        images_npy.write_bytes(bytes(data))
    elif damage == "flip-label":
        data = bytearray(labels_npy.read_bytes())
        data[-8] ^= 0x01
        labels_npy.write_bytes(bytes(data))
    elif damage == "flip-position":
        positions_npy = folder / "train-positions.npy"
        data = bytearray(positions_npy.read_bytes())
        data[-8] ^= 0x01
        positions_npy.write_bytes(bytes(data))
    elif damage == "garble-record":
        (folder / "train.json").write_text("{not json")
    elif damage == "delete-labels":
        labels_npy.unlink()
    elif damage == "wrong-dtype":
        np.save(labels_npy, np.zeros(50, dtype=np.int32))
    ds = mnistlab.load(NAME, split="train", data_dir=tiny)
    np.testing.assert_array_equal(ds["image"][..., 0], synthetic.stored_arrays("train")[0])  # every pixel
    assert ds["label"].tolist() == expected_labels("train")
    assert json.loads((folder / "train.json").read_text())["version"] == cache.FORMAT_VERSION


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["new-mtime", "same-mtime"])
@pytest.mark.parametrize("row", [1, 25, 48])  # images the old 1-in-61 sample never read
def test_an_image_changed_in_place_is_detected_and_rebuilt(tiny, isolated_cache, row, keep_mtime):
    mnistlab.load(NAME, split="train", data_dir=tiny)
    images_npy = isolated_cache / NAME / "arrays" / "train-images.npy"
    before = os.stat(images_npy)
    offset = np.load(images_npy, mmap_mode="r").offset
    with open(images_npy, "r+b") as stream:  # one pixel, in place: the file keeps its size
        stream.seek(offset + row * 784 + 300)
        pixel = stream.read(1)[0]
        stream.seek(-1, os.SEEK_CUR)
        stream.write(bytes([pixel ^ 0x5A]))
    if keep_mtime:  # as bit rot, or a tool that restores mtimes, would leave it
        os.utime(images_npy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(images_npy).st_size == before.st_size
    assert (os.stat(images_npy).st_mtime_ns == before.st_mtime_ns) == keep_mtime
    ds = mnistlab.load(NAME, split="train", data_dir=tiny)
    np.testing.assert_array_equal(ds["image"][..., 0], synthetic.stored_arrays("train")[0])  # every pixel
    assert os.stat(images_npy).st_ino != before.st_ino  # rewritten


def test_the_image_fingerprint_sees_every_byte_and_the_order():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28, 1), dtype=np.uint8)
    original = cache.images_fingerprint(images)
    for index in range(images.size):  # every single-byte change of every image
        changed = images.copy()
        changed.reshape(-1)[index] ^= 1 << (index % 8)
        assert cache.images_fingerprint(changed) != original, index
    swapped_images = images[[1, 0, 2, 3, 4]]
    assert cache.images_fingerprint(swapped_images) != original
    words = images.copy().reshape(5, 98, 8)
    words[2, [3, 70]] = words[2, [70, 3]]  # two 8-byte words of one image swapped
    assert cache.images_fingerprint(words.reshape(images.shape)) != original
    assert cache.images_fingerprint(images[:0]) == cache.images_fingerprint(
        np.empty((0, 28, 28, 1), np.uint8)
    )


def test_bad_sources_raise_one_line_and_poison_nothing(tiny, isolated_cache):
    labels = tiny / NAME / "train-labels-idx1-ubyte.gz"
    good = labels.read_bytes()
    labels.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as error:
        mnistlab.load(NAME, split="train", data_dir=tiny)
    assert str(error.value).startswith(f"{labels}: truncated")
    assert "\n" not in str(error.value)
    assert not (isolated_cache / NAME / "arrays" / "train.json").exists()

    import gzip

    wrong = bytearray(gzip.decompress(good))
    wrong[-1] = (wrong[-1] + 1) % 10  # still a valid IDX file, different content
    labels.write_bytes(gzip.compress(bytes(wrong)))
    with pytest.raises(DataError, match="checksum mismatch"):
        mnistlab.load(NAME, split="train", data_dir=tiny)
    assert not (isolated_cache / NAME / "arrays" / "train.json").exists()

    labels.write_bytes(good)  # repaired: loads again
    assert len(mnistlab.load(NAME, split="train", data_dir=tiny)["label"]) == 50


def test_sizes_and_labels_are_checked(tiny, tmp_path):
    spec = synthetic.spec_for(synthetic.file_contents())
    other = synthetic.idx_bytes(np.full(7, 3, dtype=np.uint8))
    import gzip

    (tiny / NAME / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(other))
    unchecked = spec.splits["test"].labels.__class__("t10k-labels-idx1-ubyte.gz", ())
    spec.splits["test"] = spec.splits["test"].__class__(spec.splits["test"].images, unchecked, 20)
    register_dataset(spec)
    with pytest.raises(DataError, match="has 20 images but .* has 7 labels"):
        mnistlab.load(NAME, split="test", data_dir=tiny)

    (tiny / NAME / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(synthetic.idx_bytes(np.full(20, 12, np.uint8)))
    )
    with pytest.raises(DataError, match="label 12 is out of range for 10 classes"):
        mnistlab.load(NAME, split="test", data_dir=tiny)


# Real MNIST (the mnist_dir fixture fails when the files are missing)


def test_real_mnist_sizes_and_class_counts(mnist_dir):
    ds, info = mnistlab.load("mnist", data_dir=mnist_dir, with_info=True)
    assert ds["train"]["image"].shape == (60000, 28, 28, 1)
    assert ds["test"]["image"].shape == (10000, 28, 28, 1)
    assert np.bincount(ds["train"]["label"]).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(ds["test"]["label"]).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    # tfds's order: IDX examples sorted by md5("train" + str(index)), as in the tfds catalog's picture
    assert ds["train"]["label"][:9].tolist() == [4, 1, 0, 7, 8, 1, 2, 7, 1]
    assert ds["train"]["image"].max() == 255 and ds["train"]["image"].min() == 0
    assert info.splits["train"].num_examples == 60000 and info.splits["test"].num_examples == 10000


@pytest.mark.parametrize(
    "spec, parts",
    [
        ("train[:80%]", [("train", 0, 48000)]),
        ("train[15%:75%]", [("train", 9000, 45000)]),
        ("train[-10%:]", [("train", 54000, 60000)]),
        ("train[100:200]", [("train", 100, 200)]),
        ("test[:-1]", [("test", 0, 9999)]),
        ("test[:33.33%]", [("test", 0, 3333)]),
    ],
)
def test_real_mnist_slices_are_rows_of_the_split(mnist_dir, spec, parts):
    # several parts (`+`, `all`) are interleaved as tfds reads them: see test_data_tfds_examples.py
    full = mnistlab.load("mnist", data_dir=mnist_dir)
    images, labels = mnistlab.load("mnist", split=spec, data_dir=mnist_dir, as_supervised=True)
    expected_images = np.concatenate([full[split]["image"][start:stop] for split, start, stop in parts])
    expected_labels = np.concatenate([full[split]["label"][start:stop] for split, start, stop in parts])
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    _, info = mnistlab.load("mnist", split="test[:1]", data_dir=mnist_dir, with_info=True)
    assert info.splits[spec].num_examples == len(labels)


def test_order_idx_gives_the_files_order(tiny):
    images, labels = synthetic.split_arrays("train")
    ds = mnistlab.load(NAME, split="train[:10]+test[-2:]", data_dir=tiny, order="idx")
    test_images, test_labels = synthetic.split_arrays("test")
    np.testing.assert_array_equal(ds["image"][..., 0], np.concatenate([images[:10], test_images[-2:]]))
    assert ds["label"].tolist() == labels[:10].tolist() + test_labels[-2:].tolist()
    with pytest.raises(mnistlab.MnistlabError, match="order must be one of 'tfds', 'idx'"):
        mnistlab.load(NAME, data_dir=tiny, order="random")


def test_tfds_arguments_batch_size_minus_one_and_shuffle_files_are_accepted(tiny):
    """The tfds tour writes load(..., shuffle_files=True) and load(..., batch_size=-1)."""
    plain = mnistlab.load(NAME, split="train", data_dir=tiny, as_supervised=True)
    for arguments in ({"batch_size": -1}, {"shuffle_files": True}, {"batch_size": -1, "shuffle_files": True}):
        images, labels = mnistlab.load(NAME, split="train", data_dir=tiny, as_supervised=True, **arguments)
        np.testing.assert_array_equal(images, plain[0])  # one file per split: nothing to shuffle
        np.testing.assert_array_equal(labels, plain[1])
    with pytest.raises(mnistlab.MnistlabError, match=r"batch_size=32: .* whole, as numpy arrays"):
        mnistlab.load(NAME, split="train", data_dir=tiny, batch_size=32)
    with pytest.raises(mnistlab.MnistlabError, match="shuffle_files must be True or False"):
        mnistlab.load(NAME, split="train", data_dir=tiny, shuffle_files="yes")


def test_real_mnist_in_tfds_order_and_file_order(mnist_dir):
    tfds_first = mnistlab.load("mnist", split="train[:3]", data_dir=mnist_dir)
    in_files = mnistlab.load("mnist", split="train", data_dir=mnist_dir, order="idx")
    assert in_files["label"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the IDX file's order
    # tfds's first three train examples are IDX examples 16399, 1680 and 47917
    np.testing.assert_array_equal(tfds_first["image"], in_files["image"][[16399, 1680, 47917]])
    test_in_files = mnistlab.load("mnist", split="test", data_dir=mnist_dir, order="idx")
    np.testing.assert_array_equal(
        mnistlab.load("mnist", split="test[:2]", data_dir=mnist_dir)["image"],
        test_in_files["image"][[9933, 5669]],
    )
