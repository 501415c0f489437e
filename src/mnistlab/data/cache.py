"""Parsed arrays cached as .npy in the user cache, so that a warm load is a memory map.

    arrays = split_arrays(get_dataset("mnist"), "train")
    arrays.images, arrays.labels      # (60000, 28, 28, 1) uint8, (60000,) int64, in tfds's order
    arrays.positions                  # (60000,) int64: the IDX index of each example

Examples are stored in tfds's order (see order.py). <cache>/<dataset>/arrays/<split>-images.npy,
<split>-labels.npy and <split>-positions.npy are written atomically, then <split>.json, which records
the source .gz files (path, size, mtime) and fingerprints of the arrays. The arrays are reused only
while the sources are unchanged and the .npy files match their record (header, shape, dtype, file
size, CRC32 of the labels, positions and a sample of image rows); otherwise they are rebuilt from the
.gz files, whose gzip stream, IDX header and checksum are verified on the way. A source folder may be
read-only: nothing is ever written beside the .gz files.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnistlab.data import fetch, idx
from mnistlab.data.order import tfds_order
from mnistlab.data.registry import IMAGE_SHAPE, DatasetSpec
from mnistlab.errors import DataError
from mnistlab.files import atomic_path, atomic_write_json

FORMAT_VERSION = 2  # 2: examples in tfds's order, with their IDX positions
SAMPLE_STRIDE = 61  # fingerprint every 61st image (~1.6% of the bytes), plus the last one
KINDS = {"images": np.uint8, "labels": np.int64, "positions": np.int64}


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
    folder = fetch.cache_root() / spec.name / "arrays"
    record_path = folder / f"{split}.json"
    key = {kind: _source_key(path) for kind, path in sources.items()}
    cached = _read_cached(folder, split, record_path, key)
    if cached is not None:
        return cached
    images, labels = _parse_sources(spec, split, sources)
    positions = tfds_order(split, len(labels))
    arrays = SplitArrays(images[positions], labels[positions], positions)
    try:
        _write_cache(folder, split, record_path, key, arrays)
    except OSError:
        return arrays  # an unwritable cache only costs speed
    return SplitArrays(*(np.load(folder / f"{split}-{kind}.npy", mmap_mode="r") for kind in KINDS))


def _source_key(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _fingerprint(arrays: SplitArrays) -> dict:
    sample = np.ascontiguousarray(arrays.images[::SAMPLE_STRIDE])
    last = np.ascontiguousarray(arrays.images[-1:])
    return {
        "labels_crc32": zlib.crc32(np.ascontiguousarray(arrays.labels).tobytes()),
        "positions_crc32": zlib.crc32(np.ascontiguousarray(arrays.positions).tobytes()),
        "images_sample_crc32": zlib.crc32(last.tobytes(), zlib.crc32(sample.tobytes())),
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
            if array.offset + array.nbytes != os.path.getsize(path):
                return None
            arrays[kind] = array
        cached = SplitArrays(**arrays)
        return cached if _fingerprint(cached) == record["fingerprint"] else None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None  # missing or damaged cache: rebuild it


def _parse_sources(spec: DatasetSpec, split: str, sources: dict[str, Path]):
    files = spec.splits[split]
    parsed = {}
    for kind, data_file, ndim in (("images", files.images, 3), ("labels", files.labels, 1)):
        path = sources[kind]
        compressed = path.read_bytes()
        decompressed = idx.decompress(path, compressed)
        parsed[kind] = idx.parse_idx(decompressed, path, ndim)  # structure first: the more precise error
        if not idx.md5_matches(compressed, decompressed, data_file.md5s):
            raise DataError(
                f"{path}: checksum mismatch (its md5 matches none of the published ones for "
                f"{spec.name}/{data_file.filename}); delete it and load again to re-download it, "
                f"or replace it with a good copy"
            )
    images, labels = parsed["images"], parsed["labels"]
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
    return images.reshape(len(images), *IMAGE_SHAPE), labels.astype(np.int64)


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
        "fingerprint": _fingerprint(arrays),
    }
    atomic_write_json(record_path, record)
