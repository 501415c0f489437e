"""Real MNIST split strings give the very examples tensorflow-datasets gives, in its order.

fixtures_data/tfds_mnist_digests.json holds, for each split string, the number of examples tfds
returned and the sha256 of its images and labels (made by fixtures_data/make_tfds_mnist_digests.py
with tensorflow-datasets reading the same four IDX files). Equal digests mean equal arrays.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import mnistlab

FIXTURE = Path(__file__).parent / "fixtures_data" / "tfds_mnist_digests.json"
RECORDS = json.loads(FIXTURE.read_text())["records"]


def digest(images: np.ndarray, labels: np.ndarray) -> str:
    sha = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    sha.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return sha.hexdigest()


@pytest.mark.parametrize("record", RECORDS, ids=[record["spec"][:40] for record in RECORDS])
def test_same_examples_as_tfds(mnist_dir, record):
    images, labels = mnistlab.load("mnist", split=record["spec"], as_supervised=True, data_dir=mnist_dir)
    assert images.shape == (record["num_examples"], 28, 28, 1)
    assert digest(images, labels) == record["sha256"]


def test_the_file_order_is_not_tfds_order(mnist_dir):
    record = next(r for r in RECORDS if r["spec"] == "train[:1000]+test[:1000]")
    images, labels = mnistlab.load(
        "mnist", split=record["spec"], as_supervised=True, data_dir=mnist_dir, order="idx"
    )
    assert len(labels) == record["num_examples"] and digest(images, labels) != record["sha256"]
