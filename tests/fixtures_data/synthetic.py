"""Small synthetic datasets in the MNIST layout, written by the tests themselves.

Image i of a split has every pixel equal to (i * 7 + offset) % 256, and label i % num_classes, so a
test can tell which example it got back and in what order.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from mnistlab.data.registry import DataFile, DatasetSpec, SplitFiles

NAME = "tiny_digits"
SIZES = {"train": 50, "test": 20}
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def idx_bytes(values: np.ndarray, type_code: int = 0x08) -> bytes:
    """Decompressed IDX bytes: magic (0, 0, type code, ndim), big-endian dims, values."""
    header = struct.pack(">HBB", 0, type_code, values.ndim) + struct.pack(f">{values.ndim}I", *values.shape)
    return header + values.tobytes()


def split_arrays(split: str, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    count = SIZES[split]
    shade = (np.arange(count) * 7 + offset + (100 if split == "test" else 0)) % 256
    images = np.broadcast_to(shade[:, None, None], (count, 28, 28)).astype(np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    return images, labels


def file_contents(offset: int = 0) -> dict[str, bytes]:
    """filename -> gzip-compressed IDX bytes for every file of the dataset."""
    contents = {}
    for split, (images_name, labels_name) in FILES.items():
        images, labels = split_arrays(split, offset)
        contents[images_name] = gzip.compress(idx_bytes(images), mtime=0)
        contents[labels_name] = gzip.compress(idx_bytes(labels), mtime=0)
    return contents


def spec_for(contents: dict[str, bytes], mirrors: tuple[str, ...] = (), name: str = NAME) -> DatasetSpec:
    """A DatasetSpec whose checksums are the md5 of the decompressed bytes of `contents`."""

    def data_file(filename: str) -> DataFile:
        return DataFile(filename, (hashlib.md5(gzip.decompress(contents[filename])).hexdigest(),))

    return DatasetSpec(
        name=name,
        description="Synthetic digits for tests.",
        class_names=tuple(str(digit) for digit in range(10)),
        splits={
            split: SplitFiles(data_file(images), data_file(labels), SIZES[split])
            for split, (images, labels) in FILES.items()
        },
        mirrors=mirrors,
        homepage="https://example.invalid/tiny",
        citation="@misc{tiny}",
    )


def write_dataset(root: Path, contents: dict[str, bytes], name: str = NAME) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in contents.items():
        (folder / filename).write_bytes(data)
    return folder


def tfds_positions(split: str) -> np.ndarray:
    """IDX index of each example in tfds's stored order: keys str(i) sorted by md5(split + key)."""
    keys = [int(hashlib.md5(f"{split}{i}".encode()).hexdigest(), 16) for i in range(SIZES[split])]
    return np.argsort(keys, kind="stable")


def stored_arrays(split: str, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """split_arrays in the order mnistlab.load (like tfds) returns them."""
    images, labels = split_arrays(split, offset)
    positions = tfds_positions(split)
    return images[positions], labels[positions]
