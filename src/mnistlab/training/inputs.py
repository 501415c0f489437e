"""The examples a run trains, validates and tests on, as float32 pixels in [0, 1], normalised once.

    data = load_training_data(config)
    data.train_images   # float32 (N, 28, 28, 1) in [0, 1]
    data.train_labels   # int64 (N,)
    data.val_images     # None when the run has no validation data
    data.monitor_images # None unless config.monitor_split: scored after each epoch, for the curves only

With config.scans, a share of the training digits is added again as other writers' low-resolution
scans (mnistlab.pictures.scans), after the validation examples are held out: the same digits and the
same scans for every run of the split, made once (~3-5 ms of CPU each) and kept in the user cache.

Test examples always come from the `test` split; training and validation examples never do, and never
overlap each other. The monitor split may be any split, the test split included: nothing is chosen by it.
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnistlab import reporter
from mnistlab.classifier import to_float
from mnistlab.errors import SplitError, setting
from mnistlab.files import atomic_path, one_at_a_time
from mnistlab.rundir import usable_cores
from mnistlab.training.config import TrainConfig

TEST_SPLIT = "test"


@dataclass
class TrainingData:
    train_images: np.ndarray  # float32 (N, H, W, C) in [0, 1]
    train_labels: np.ndarray  # int64 (N,)
    val_images: np.ndarray | None
    val_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray
    info: Any  # mnistlab.data DatasetInfo
    monitor_images: np.ndarray | None = None  # float32 (M, H, W, C): config.monitor_split, curves only
    monitor_labels: np.ndarray | None = None  # int64 (M,)
    scan_examples: int = 0  # the last scan_examples of train_images: scans of training digits (config.scans)

    @property
    def num_classes(self) -> int:
        return int(self.info.features["label"].num_classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(size) for size in self.info.features["image"].shape)

    def sizes(self) -> dict[str, int]:
        return {
            "train_examples": len(self.train_labels) - self.scan_examples,
            "scan_examples": self.scan_examples,
            "val_examples": 0 if self.val_labels is None else len(self.val_labels),
            "test_examples": len(self.test_labels),
        }


def _rows(split: str, split_sizes: dict[str, int]) -> list[tuple[str, int, int]]:
    """A split string -> its (split name, start, stop) row ranges."""
    from mnistlab.data.splits import SplitSpec

    return [(part.split, part.start, part.stop) for part in SplitSpec.parse(split).resolve(split_sizes)]


def _check_separation(config: TrainConfig, split_sizes: dict[str, int]) -> None:
    """Training and validation rows never come from the test split, nor from each other."""
    train_rows = _rows(config.train_split, split_sizes)
    named = [("train_split", config.train_split, train_rows)]
    if config.val_split:
        named.append(("val_split", config.val_split, _rows(config.val_split, split_sizes)))
    for flag, split, rows in named:
        if any(name == TEST_SPLIT for name, _, _ in rows):
            raise SplitError(
                f"{flag} `{split}` uses the `{TEST_SPLIT}` split, which is kept for the final evaluation; "
                "take examples from `train`, e.g. `train[90%:]`"
            )
    if config.val_split:
        val_rows = named[1][2]
        for name, start, stop in train_rows:
            for other, other_start, other_stop in val_rows:
                if name == other and max(start, other_start) < min(stop, other_stop):
                    raise SplitError(
                        f"val_split `{config.val_split}` overlaps train_split `{config.train_split}`; "
                        f"use disjoint slices, e.g. {setting('train_split', 'train[:90%]')} and "
                        f"{setting('val_split', 'train[90%:]')}"
                    )


def _carve_validation(images: np.ndarray, labels: np.ndarray, fraction: float, seed: int):
    """Hold out `fraction` of the examples at random (seeded); both parts keep their original order."""
    count = round(len(labels) * fraction)
    if count == 0 or count == len(labels):
        raise SplitError(
            f"val_fraction {fraction} of {len(labels)} training examples leaves "
            f"{count} for validation and {len(labels) - count} for training; use a larger train split"
        )
    order = np.random.default_rng(seed).permutation(len(labels))
    val_rows, train_rows = np.sort(order[:count]), np.sort(order[count:])
    return images[train_rows], labels[train_rows], images[val_rows], labels[val_rows]


SCANS_SEED = 2026_11_29  # which digits become scans, and how: one choice for every run, so one cache entry


def training_scans(
    images: np.ndarray, labels: np.ndarray, share: float, threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`share` of the training examples (float32 (N, 28, 28, 1) in [0, 1], labels (N,)) as prepared
    low-resolution scans -> ((M, 28, 28) uint8, their labels (M,)); read from the cache when made before."""
    import hashlib

    from mnistlab.data.fetch import cache_root
    from mnistlab.pictures.scans import recipe_fingerprint

    rows = np.sort(np.random.default_rng(SCANS_SEED).choice(len(labels), round(share * len(labels)), False))
    digits = np.round(images[rows, :, :, 0] * 255).astype(np.uint8)
    key = hashlib.sha256(recipe_fingerprint().encode() + digits.tobytes() + labels[rows].tobytes())
    path = cache_root() / "scans" / f"{key.hexdigest()[:24]}.npz"
    saved = _saved_scans(path)
    if saved is None:
        # Two runs started together (a sweep's workers, two terminals) make the scans once: one makes
        # them, the other waits for it and reads them.
        waiting = functools.partial(reporter.say, "waiting for another mnistlab run making these scans")
        with one_at_a_time(path.with_suffix(".lock"), on_wait=waiting):
            saved = _saved_scans(path) or _make_scans(path, digits, threads)
    scans, kept = saved
    return scans, labels[rows][kept]


def _saved_scans(path) -> tuple[np.ndarray, np.ndarray] | None:
    """(scans, kept) from the cache, or None if not made yet (or the file is damaged)."""
    try:
        with open(path, "rb") as file, np.load(file) as saved:
            return saved["scans"], saved["kept"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _make_scans(path, digits: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    from mnistlab.pictures.scans import prepared_scans

    reporter.say(f"making {len(digits):,} training digits into low-resolution scans (once; then cached)")
    scans, kept = prepared_scans(digits, SCANS_SEED, threads or usable_cores())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez(file, scans=scans, kept=kept)
    except OSError as error:  # a read-only cache: the next run makes them again
        reporter.warn(f"could not keep the scans in {path.parent} ({error.strerror}); continuing")
    return scans, kept


def _nonempty(split: str, part: dict) -> dict:
    if len(part["label"]) == 0:
        raise SplitError(f"split `{split}` holds no examples; widen it, e.g. `train[:10%]`")
    return part


def load_training_data(config: TrainConfig) -> TrainingData:
    from mnistlab.data.load import load

    splits = [config.train_split, TEST_SPLIT] + ([config.val_split] if config.val_split else [])
    if config.monitor_split:
        splits.append(config.monitor_split)  # last: parts[-1]
    parts, info = load(config.dataset, split=splits, data_dir=config.data_dir, with_info=True)
    split_sizes = {name: info.splits[name].num_examples for name in ("train", TEST_SPLIT)}
    _check_separation(config, split_sizes)
    train, test = _nonempty(config.train_split, parts[0]), _nonempty(TEST_SPLIT, parts[1])
    train_images, train_labels = to_float(train["image"]), np.asarray(train["label"])
    val_images = val_labels = None
    if config.val_split:
        val = _nonempty(config.val_split, parts[2])
        val_images, val_labels = to_float(val["image"]), np.asarray(val["label"])
    elif config.val_fraction:
        train_images, train_labels, val_images, val_labels = _carve_validation(
            train_images, train_labels, config.val_fraction, config.seed
        )
    scan_labels = np.zeros(0, np.int64)
    if config.scans:
        scans, scan_labels = training_scans(train_images, train_labels, config.scans, config.threads)
        train_images = np.concatenate([train_images, to_float(scans)])
        train_labels = np.concatenate([train_labels, scan_labels])
    monitor_images = monitor_labels = None
    if config.monitor_split:
        monitor = _nonempty(config.monitor_split, parts[-1])
        monitor_images, monitor_labels = to_float(monitor["image"]), np.asarray(monitor["label"])
    return TrainingData(
        train_images=train_images,
        train_labels=train_labels,
        val_images=val_images,
        val_labels=val_labels,
        test_images=to_float(test["image"]),
        test_labels=np.asarray(test["label"]),
        info=info,
        monitor_images=monitor_images,
        monitor_labels=monitor_labels,
        scan_examples=len(scan_labels),
    )
