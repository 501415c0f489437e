"""DatasetInfo: features, class labels, splits (any split string), citation, and a readable repr."""

from __future__ import annotations

import numpy as np
import pytest

import mnistlab
from mnistlab.data.info import ClassLabel, LabelError, dataset_info
from mnistlab.errors import SplitError


def test_mnist_info_matches_the_tfds_contract():
    info = dataset_info("mnist")
    assert isinstance(info, mnistlab.DatasetInfo)
    assert info.name == "mnist"
    assert info.features["image"].shape == (28, 28, 1)
    assert info.features["image"].dtype == np.uint8
    label = info.features["label"]
    assert label.num_classes == 10 and label.names == list("0123456789")  # a list, as in tfds
    assert label.int2str(7) == "7" and label.str2int("7") == 7
    assert info.splits["train"].num_examples == 60000
    assert info.splits["test"].num_examples == 10000
    assert info.splits["train[15%:75%]"].num_examples == 36000
    assert info.splits["train[:1000]+test[:1000]"].num_examples == 2000
    assert info.splits["all"].num_examples == 70000
    assert info.splits["train[10:10]"].num_examples == 0
    assert info.splits.total_num_examples == 70000
    assert list(info.splits) == ["train", "test"] and "train" in info.splits and "all" not in info.splits
    assert "LeCun" in info.citation and info.homepage.startswith("http")
    assert info.supervised_keys == ("image", "label")


def test_named_classes_of_fashion_mnist_and_kmnist():
    fashion = dataset_info("fashion_mnist").features["label"]
    assert fashion.int2str(9) == "Ankle boot" and fashion.str2int("Sneaker") == 7
    kmnist = dataset_info("kmnist").features["label"]
    assert kmnist.names[:3] == ["o", "ki", "su"] and kmnist.num_classes == 10
    assert "Clanuwat" in dataset_info("kmnist").citation
    assert "Xiao" in dataset_info("fashion_mnist").citation


def test_label_errors_are_value_errors():
    label = ClassLabel(names=("cat", "dog"))
    with pytest.raises(LabelError, match=r"class index 2 is out of range \[0, 2\)"):
        label.int2str(2)
    with pytest.raises(ValueError, match="unknown class name 'cow'"):
        label.str2int("cow")
    with pytest.raises(ValueError):
        label.int2str(-1)


def test_bad_split_keys_raise_split_errors():
    splits = dataset_info("mnist").splits
    with pytest.raises(SplitError, match="unknown split 'validation'"):
        splits["validation"]
    with pytest.raises(SplitError, match="out of range"):
        splits["test[:10001]"]


def test_repr_reads_like_tfds():
    text = repr(dataset_info("mnist"))
    assert text.startswith("mnistlab.DatasetInfo(\n    name='mnist',")
    assert "'image': Image(shape=(28, 28, 1), dtype=uint8)," in text
    assert "'label': ClassLabel(shape=(), dtype=int64, num_classes=10)," in text
    assert "'train': <SplitInfo num_examples=60000, num_shards=1>," in text
    assert "supervised_keys=('image', 'label')" in text
    assert 'citation="""@article{lecun2010mnist,' in text
