"""Digits as other writers' low-resolution scans, prepared as a user's picture is: what training adds.

    scan = low_resolution_scan(digit, rng)          # (H, W) uint8 grey: tight, blocky, binarised, stretched
    prepared, kept = prepared_scans(digits, seed)   # (M, 28, 28) uint8 as preprocess() gives them

Other writers' digits reach mnistlab as tight crops of low-resolution scans: a handful of pixels across,
binarised, stretched to fill a square or a wide box, enlarged with blocky pixels. preprocess() undoes
what it can (the blocks, the missing margin, a box far wider than a digit), but a digit stretched to a
square keeps proportions no MNIST digit has, and a model that never saw one reads it as a 0 or an 8.
Training on MNIST digits turned into such scans and prepared by the same preprocess() teaches it those
shapes: the default recipe adds half of its training digits again this way (TrainConfig.scans). A
quarter read 3.5 points more of other writers' digits (scikit-learn's load_digits, 43 writers, drawn as
scans: 83.6% -> 87.1%, mean of 3 seeds) and of MNIST test digits made into scans (93.3% -> 96.8%), with
MNIST test accuracy as before; half reads 1.1 points more again, and MNIST test 99.18% against 99.11%
(benchmarks/RESULTS.md, "other writers' scans in training").
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys

import numpy as np
from PIL import Image

from mnistlab.pictures.images import NoDigitError
from mnistlab.pictures.preprocess import preprocess

CHUNK = 250  # pictures per task; each chunk has its own seed, so the result does not depend on processes


def low_resolution_scan(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (28, 28) uint8 MNIST-format picture as a low-resolution scan: cropped to its ink, shrunk to 7-16
    pixels along its longer side, binarised (or kept at a few grey levels), stretched to fill a square, a
    wide or a tall box and enlarged with blocky pixels to 32-128 px, dark ink on light paper (or light on
    dark), touching the picture's edges: (H, W) uint8 grey."""
    coverage = picture.astype(np.float32) / 255
    rows, columns = np.flatnonzero(coverage.max(1) > 0.1), np.flatnonzero(coverage.max(0) > 0.1)
    if rows.size == 0:
        rows = columns = np.arange(28)
    crop = coverage[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = int(rng.integers(7, 17)) / max(crop.shape)
    small = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    shrunk = np.asarray(Image.fromarray(crop).resize(small, Image.Resampling.BOX))
    if rng.random() < 0.7:
        shrunk = (shrunk > rng.uniform(0.2, 0.5)).astype(np.float32)
    else:
        levels = int(rng.integers(3, 17))
        shrunk = np.round(np.clip(shrunk / max(float(shrunk.max()), 1e-6), 0, 1) * levels) / levels
    height = int(rng.integers(32, 129))
    shape = rng.choice(["square", "kept", "wide", "tall"], p=[0.35, 0.25, 0.2, 0.2])
    ratio = {"square": 1.0, "kept": crop.shape[1] / crop.shape[0], "wide": rng.uniform(1.4, 2.2),
             "tall": rng.uniform(0.45, 0.7)}[shape]  # fmt: skip
    size = (max(4, round(height * ratio)), height)
    ink = np.asarray(Image.fromarray(shrunk.astype(np.float32)).resize(size, Image.Resampling.NEAREST))
    grey = 1 - ink if rng.random() < 0.8 else ink  # dark ink on light paper, mostly
    return np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)


def prepared_scan(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """low_resolution_scan(picture) through preprocess(): (28, 28) uint8, or None if no ink was left."""
    try:
        return preprocess(low_resolution_scan(picture, rng))
    except NoDigitError:
        return None


def _chunk(pictures: np.ndarray, chunk_seed: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(chunk_seed)
    prepared = [prepared_scan(picture, rng) for picture in pictures]
    kept = np.array([index for index, scan in enumerate(prepared) if scan is not None], dtype=np.int64)
    return np.array([scan for scan in prepared if scan is not None], np.uint8).reshape(-1, 28, 28), kept


def prepared_scans(pictures: np.ndarray, seed: int, processes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 MNIST-format pictures -> (their prepared scans (M, 28, 28) uint8, which of the
    pictures they are (M,)): those preprocess() finds empty are dropped. About 3-5 ms of CPU a picture.

    With processes > 1 the chunks are spread over forked processes, but only while TensorFlow is not
    loaded: a process holding TensorFlow's thread pools is not forked, and spawning would run the
    caller's script again in each process."""
    pictures = np.asarray(pictures).reshape(-1, 28, 28)
    jobs = [(pictures[start : start + CHUNK], (seed, start)) for start in range(0, len(pictures), CHUNK)]
    forkable = "fork" in multiprocessing.get_all_start_methods()  # not on Windows
    if processes > 1 and len(jobs) > 1 and forkable and "tensorflow" not in sys.modules:
        with multiprocessing.get_context("fork").Pool(min(processes, len(jobs))) as pool:
            chunks = pool.starmap(_chunk, jobs)
    else:
        chunks = [_chunk(*job) for job in jobs]
    prepared = [scans for scans, _ in chunks] or [np.zeros((0, 28, 28), np.uint8)]
    kept = [start + kept for (_, (_, start)), (_, kept) in zip(jobs, chunks, strict=True)]
    return np.concatenate(prepared), np.concatenate(kept or [np.zeros(0, np.int64)])


def recipe_fingerprint() -> str:
    """A digest of the code that makes and prepares scans: a cache of prepared scans is valid while the
    code that made it is unchanged."""
    from pathlib import Path

    digest = hashlib.sha256()
    for name in ("images.py", "preprocess.py", "scans.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()
