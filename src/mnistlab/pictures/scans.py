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
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mnistlab.errors import MnistlabError
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
    pictures they are (M,)): those preprocess() finds empty are dropped. About 3-5 ms of CPU a picture;
    with processes > 1 the chunks are spread over that many new processes (_in_new_processes)."""
    pictures = np.asarray(pictures).reshape(-1, 28, 28)
    starts = range(0, len(pictures), CHUNK)
    workers = min(processes, len(starts))
    if workers > 1:
        chunks = _in_new_processes(pictures, seed, workers)
    else:
        chunks = [_chunk(pictures[start : start + CHUNK], (seed, start)) for start in starts]
    prepared = [scans for scans, _ in chunks] or [np.zeros((0, 28, 28), np.uint8)]
    kept = [start + kept for start, (_, kept) in zip(starts, chunks, strict=True)]
    return np.concatenate(prepared), np.concatenate(kept or [np.zeros(0, np.int64)])


def _in_new_processes(pictures: np.ndarray, seed: int, workers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """_chunk over every CHUNK of the pictures, in `workers` new Python processes (`python -m` this module,
    which imports numpy, scipy and Pillow only) -> the chunks' results in order.

    New processes rather than multiprocessing's: forking a process that holds TensorFlow's thread pools
    (a notebook that trains) can hang it, and spawning imports the caller's script again in each process.
    The pictures and the results pass through files in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="mnistlab-scans-") as folder:
        np.save(Path(folder) / "pictures.npy", pictures)
        command = [sys.executable, "-m", __name__, folder, str(seed), str(workers)]
        running = [
            subprocess.Popen([*command, str(worker)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for worker in range(workers)
        ]
        try:
            said = [process.communicate()[1].decode(errors="replace").strip() for process in running]
        finally:
            for process in running:
                if process.poll() is None:  # interrupted: stop the others too
                    process.kill()
                    process.wait()
        for process, text in zip(running, said, strict=True):
            if process.returncode:
                last = text.splitlines()[-1] if text else f"exit status {process.returncode}"
                raise MnistlabError(
                    f"making scans failed in a worker process ({last}); run the command again"
                )
        results = {}
        for worker in range(workers):
            with np.load(Path(folder) / f"part-{worker}.npz") as part:
                results.update({name: part[name] for name in part.files})
    return [(results[f"scans_{start}"], results[f"kept_{start}"]) for start in range(0, len(pictures), CHUNK)]


def _work(folder: Path, seed: int, workers: int, worker: int) -> None:
    """One of _in_new_processes's processes: every `workers`-th chunk from the `worker`-th on."""
    pictures = np.load(folder / "pictures.npy")
    results = {}
    for start in range(0, len(pictures), CHUNK)[worker::workers]:
        results[f"scans_{start}"], results[f"kept_{start}"] = _chunk(
            pictures[start : start + CHUNK], (seed, start)
        )
    np.savez(folder / f"part-{worker}.npz", **results)


def recipe_fingerprint() -> str:
    """A digest of the code that makes and prepares scans: a cache of prepared scans is valid while the
    code that made it is unchanged."""
    digest = hashlib.sha256()
    for name in ("images.py", "preprocess.py", "scans.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


if __name__ == "__main__":  # python -m mnistlab.pictures.scans FOLDER SEED WORKERS WORKER
    _work(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
