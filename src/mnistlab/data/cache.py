"""Parsed arrays cached as .npy in the user cache, so that a warm load is a memory map.

    arrays = split_arrays(get_dataset("mnist"), "train")
    arrays.images, arrays.labels      # (60000, 28, 28, 1) uint8, (60000,) int64, in tfds's order
    arrays.positions                  # (60000,) int64: the IDX index of each example

Examples are stored in tfds's order (see order.py). <cache>/<dataset>/arrays/<split>-images.npy,
<split>-labels.npy and <split>-positions.npy are written atomically, then <split>.json, which records
the source .gz files (path, size, mtime), the .npy files (size, mtime) and fingerprints of the arrays.
The arrays are reused only while the sources are unchanged and the .npy files match their record
(header, shape, dtype, size, mtime, CRC32 of the labels and positions, and a fingerprint of every
image); otherwise they are rebuilt from the .gz files, whose size, gzip stream, IDX header and checksum
are verified on the way. A source folder may be read-only: nothing is ever written beside the .gz files.

The image fingerprint reads every byte of every image on each load, so it must be fast: each image
(98 words of 8 bytes) gets a weighted sum of its words modulo 2**64, with distinct odd weights (any
change to one word changes it; several changes, two words swapped included, would have to cancel
modulo 2**64), and the sha256 of those per-image sums, in order, fingerprints the split. On a Zen 3
core it takes 12 ms for MNIST's 55 MB of images, against 19-28 ms for zlib's CRC32 and 37 ms for sha1;
a warm load of train and test takes 16 ms instead of 5.6 ms with a sample of rows (the target is 30 ms;
benchmarks/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnistlab.data import fetch
from mnistlab.data.order import tfds_order
from mnistlab.data.registry import IMAGE_BYTES, IMAGE_SHAPE, DatasetSpec
from mnistlab.errors import DataError
from mnistlab.files import atomic_path, atomic_write_json

FORMAT_VERSION = 3  # 2: examples in tfds's order, with their IDX positions; 3: every image fingerprinted
KINDS = {"images": np.uint8, "labels": np.int64, "positions": np.int64}
IMAGE_WORDS = IMAGE_BYTES // 8  # one image as 98 uint64 words
# odd, distinct weights (multiples of the 64-bit golden ratio), one per word of an image
WORD_WEIGHTS = np.arange(1, IMAGE_WORDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)


class SplitArrays(NamedTuple):
    images: np.ndarray  # (N, 28, 28, 1) uint8, in tfds's order
    labels: np.ndarray  # (N,) int64
    positions: np.ndarray  # (N,) int64: index of each example in the IDX files


def split_arrays(
    spec: DatasetSpec, split: str, data_dir=None, download: bool = True, mirrors=None
) -> SplitArrays:
    """The arrays of one split in tfds's order, memory-mapped when cached."""
    files = spec.splits[split]
    sources = {
        "images": fetch.ensure_file(spec, files.images, data_dir, download, mirrors),
        "labels": fetch.ensure_file(spec, files.labels, data_dir, download, mirrors),
    }
    folder = cache_folder(spec)
    record_path = folder / f"{split}.json"
    key = source_key(sources)
    cached = _read_cached(folder, split, record_path, key)
    if cached is not None:
        return cached
    parsed = {kind: fetch.read_verified(spec, getattr(files, kind), path) for kind, path in sources.items()}
    arrays = arrange(spec, split, sources, parsed["images"], parsed["labels"])
    try:
        _write_cache(folder, split, record_path, key, arrays)
    except OSError:
        return arrays  # an unwritable cache only costs speed
    return SplitArrays(*(np.load(folder / f"{split}-{kind}.npy", mmap_mode="r") for kind in KINDS))


def cache_folder(spec: DatasetSpec) -> Path:
    return fetch.cache_root() / spec.name / "arrays"


def read_record(spec: DatasetSpec, split: str) -> dict | None:
    """The record of a split's cached arrays, or None when there is none (or it does not parse)."""
    try:
        record = json.loads((cache_folder(spec) / f"{split}.json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def source_key(sources: dict[str, Path]) -> dict:
    """What the record keeps of the source files: resolved path, size and mtime of each."""
    return {kind: _source_key(path) for kind, path in sources.items()}


def _source_key(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _file_key(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def images_fingerprint(images: np.ndarray) -> str:
    """sha256 of the per-image weighted sums of (N, 28, 28, 1) uint8 images: every byte is read."""
    words = np.ascontiguousarray(images).reshape(len(images), IMAGE_BYTES).view(np.uint64)  # (N, 98)
    sums = words @ WORD_WEIGHTS  # (N,) uint64, wrapping modulo 2**64
    return hashlib.sha256(sums.tobytes()).hexdigest()


def _fingerprint(arrays: SplitArrays) -> dict:
    return {
        "labels_crc32": zlib.crc32(np.ascontiguousarray(arrays.labels).tobytes()),
        "positions_crc32": zlib.crc32(np.ascontiguousarray(arrays.positions).tobytes()),
        "images_sha256_of_sums": images_fingerprint(arrays.images),
    }


def _read_cached(folder: Path, split: str, record_path: Path, key: dict):
    """The cached arrays if their record matches the sources and they pass their checks, else None."""
    try:
        record = json.loads(record_path.read_text())
        if record.get("version") != FORMAT_VERSION or record.get("sources") != key:
            return None
        arrays = {}
        for kind, dtype in KINDS.items():
            path = folder / f"{split}-{kind}.npy"
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            expected_shape = tuple(record["shapes"][kind])
            if array.dtype != dtype or array.shape != expected_shape:
                return None
            stored = _file_key(path)
            if array.offset + array.nbytes != stored["size"] or stored != record["files"][kind]:
                return None  # not the size its header gives, or changed (size, mtime) since written
            arrays[kind] = array
        cached = SplitArrays(**arrays)
        return cached if _fingerprint(cached) == record["fingerprint"] else None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None  # missing or damaged cache: rebuild it


def arrange(
    spec: DatasetSpec, split: str, sources: dict[str, Path], images: np.ndarray, labels: np.ndarray
) -> SplitArrays:
    """A split's arrays in tfds's order, from the verified (N, 28, 28) images and (N,) labels of its files."""
    if images.shape[1:] != IMAGE_SHAPE[:2]:
        raise DataError(f"{sources['images']}: images are {images.shape[1:]}, expected {IMAGE_SHAPE[:2]}")
    if len(images) != len(labels):
        raise DataError(
            f"{sources['images']} has {len(images)} images but {sources['labels']} has {len(labels)} "
            f"labels; replace the two files with matching copies"
        )
    if len(labels) and labels.max() >= spec.num_classes:
        raise DataError(
            f"{sources['labels']}: label {labels.max()} is out of range for {spec.num_classes} classes; "
            f"replace it with a good copy"
        )
    positions = tfds_order(split, len(labels))
    images = images.reshape(len(images), *IMAGE_SHAPE)
    return SplitArrays(images[positions], labels.astype(np.int64)[positions], positions)


def _write_cache(folder: Path, split: str, record_path: Path, key: dict, arrays: SplitArrays) -> None:
    for kind, array in arrays._asdict().items():
        with atomic_path(folder / f"{split}-{kind}.npy") as tmp:
            with open(tmp, "wb") as stream:
                np.save(stream, array, allow_pickle=False)
    record = {
        "version": FORMAT_VERSION,
        "order": "tfds",
        "sources": key,
        "shapes": {kind: list(array.shape) for kind, array in arrays._asdict().items()},
        "files": {kind: _file_key(folder / f"{split}-{kind}.npy") for kind in KINDS},
        "fingerprint": _fingerprint(arrays),
    }
    atomic_write_json(record_path, record)
