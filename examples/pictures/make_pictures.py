"""Make the example pictures the README's commands use (run from the project root; seeded, so re-running
gives the same files):

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python examples/pictures/make_pictures.py

seven.jpg   a phone photo of a handwritten 7 (MNIST test digit 0 in pen on paper, uneven light)
scan.png    a scan of a 3 by a writer outside MNIST (scikit-learn's bundled digits)
year.png    the number 2026 written on one line (MNIST test digits, two of them touching)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

import bench_read  # noqa: E402  (benchmarks/ is not a package)
import photo_digits  # noqa: E402

import mnistlab  # noqa: E402


def first_of(labels: np.ndarray, digit: int, after: int = 0) -> int:
    return int(np.flatnonzero(labels == digit)[after])


def main() -> None:
    test = mnistlab.load("mnist", split="test", order="idx")
    images, labels = test["image"][..., 0], np.asarray(test["label"])
    rng = np.random.default_rng(0)
    photo, _ = photo_digits.render_photo(images[0], rng, "blue pen")  # test digit 0 is a 7
    (HERE / "seven.jpg").write_bytes(_as_jpeg(photo))
    for data, extension, label, _ in photo_digits.scan_set(count=40, seed=0):
        if label == 3 and extension == ".png":
            (HERE / "scan.png").write_bytes(data)
            break
    digits = [images[first_of(labels, digit, after)] for digit, after in ((2, 0), (0, 0), (2, 1), (6, 0))]
    ink = bench_read.compose(digits, height=44, gaps=[0.3, -0.04, 0.25], angle=2.0)
    (HERE / "year.png").write_bytes(bench_read.render(ink, rng))


def _as_jpeg(data: bytes) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
