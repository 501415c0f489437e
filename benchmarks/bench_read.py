"""Whole numbers read exactly: handwritten numbers of 2-7 digits composed from MNIST digits (seeded).

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_read.py MODEL \
        [--count 1000] [--seeds 0 1 2] [--digits test|held-out] [--paper plain|ruled] [--save DIR]

    from bench_read import number_set, compose, render
    numbers = number_set(mnist_images, mnist_labels, count=200, seed=0)   # [(png bytes, "2026", info)]

MODEL is a run directory or a model file. Each number takes 2-7 random digits (MNIST *test* digits by
default; --digits held-out takes train[50000:], for tuning) and writes them on one line as people do:
- each digit cropped to its ink and scaled to a line height of 28-64 px, times 0.85-1.15 per digit;
- gaps between neighbouring digits of 2-35% of the line height, or, for 35% of the gaps, touching and
  overlapping by up to 10% (the strokes then join);
- each digit's baseline jittered by up to 8% of the line height, the whole line tilted by up to 5 degrees;
- dark ink (grey 5-30%) on light paper (78-97%), slightly blurred, with sensor noise, as a PNG;
- with --paper ruled, on a notebook's lines: 0.5-0.75 of the picture's height apart, 1-2.5% of it thick,
  turned by up to 4 degrees, 30-100% as dark as the ink may be.
A number counts as read only when `read` returns exactly its digits. The table gives mean ± std over
seeds, then the rate by number length and for numbers with and without touching digits.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections import defaultdict

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from photo_digits import ruling  # noqa: E402

MIN_DIGITS, MAX_DIGITS = 2, 7
LINE_HEIGHT = (28, 64)  # px of a digit of MNIST's full 20 px box
TOUCHING = 0.35  # the share of gaps where the neighbours touch or overlap
MAX_TILT = 5.0  # degrees
# Which MNIST digits numbers are written with: the test split for the figures reported, train[50000:] for
# tuning segment.py's weights (the wholeness network is trained on train[:50000]).
DIGITS = {"test": "test", "held-out": "train[50000:]"}


def ink_crop(digit: np.ndarray) -> np.ndarray:
    """MNIST digit (28, 28) uint8 -> its ink's bounding box, float in [0, 1]."""
    rows = np.flatnonzero(digit.any(axis=1))
    columns = np.flatnonzero(digit.any(axis=0))
    return digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1].astype(np.float32) / 255


def compose(
    digits: list[np.ndarray],
    *,
    height: float = 40.0,
    scales: list[float] | None = None,
    gaps: list[float] | None = None,
    offsets: list[float] | None = None,
    angle: float = 0.0,
    margin: float = 0.5,
    with_owners: bool = False,
):
    """MNIST digits (28, 28) uint8 -> one line of ink (H, W) float in [0, 1], 1 = ink.

    height: px of MNIST's 20 px box; scales: per digit (default 1); gaps: between neighbouring ink
    boxes, as a fraction of `height` (negative: overlapping); offsets: each digit's vertical shift, as a
    fraction of `height`; angle: the line's tilt in degrees (counter-clockwise); margin: paper around
    the ink, as a fraction of `height`. with_owners: also return (H, W) int32, the number (1, 2, ...)
    of the digit whose ink covers each pixel most, 0 for paper.
    """
    count = len(digits)
    scales = scales or [1.0] * count
    gaps = gaps if gaps is not None else [0.25] * (count - 1)
    offsets = offsets or [0.0] * count
    pieces = []
    for digit, scale in zip(digits, scales, strict=True):
        crop = ink_crop(digit)
        factor = height * scale / 20
        size = (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor)))
        pieces.append(np.clip(np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC)), 0, 1))
    pad = round(margin * height) + round(0.3 * height)
    lefts = [pad]
    for piece, gap in zip(pieces[:-1], gaps, strict=True):
        lefts.append(lefts[-1] + piece.shape[1] + round(gap * height))
    width = lefts[-1] + pieces[-1].shape[1] + pad
    middle = pad + round(0.65 * height)
    canvas = np.zeros((2 * middle, width), dtype=np.float32)
    owners = np.zeros(canvas.shape, dtype=np.int32)
    for number, (piece, left, offset) in enumerate(zip(pieces, lefts, offsets, strict=True), start=1):
        top = middle - piece.shape[0] // 2 + round(offset * height)
        region = (slice(top, top + piece.shape[0]), slice(left, left + piece.shape[1]))
        owners[region] = np.where(piece > canvas[region], number, owners[region])
        np.maximum(canvas[region], piece, out=canvas[region])
    if angle:
        canvas = np.asarray(
            Image.fromarray(canvas).rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
        )
        owners = np.asarray(
            Image.fromarray(owners).rotate(angle, resample=Image.Resampling.NEAREST, expand=True)
        )
    canvas = np.clip(canvas, 0, 1)
    return (canvas, np.where(canvas > 0, owners, 0)) if with_owners else canvas


def render(ink: np.ndarray, rng: np.random.Generator, paper_kind: str = "plain") -> bytes:
    """Ink (H, W) in [0, 1] -> a PNG of dark ink on light paper (plain or ruled), slightly blurred, with
    noise."""
    paper = rng.uniform(0.78, 0.97)
    dark = rng.uniform(0.05, 0.30)
    grey = paper - ndimage.gaussian_filter(ink, sigma=rng.uniform(0.3, 0.9)) * (paper - dark)
    if paper_kind == "ruled":  # the lines darken the paper and the ink alike, as printed under it
        spacing, width = ink.shape[0] * rng.uniform(0.5, 0.75), ink.shape[0] * rng.uniform(0.01, 0.025)
        lines = ruling(ink.shape, rng, "ruled", spacing, width) * rng.uniform(0.3, 1.0)
        grey = grey * (1 - 0.45 * lines)
    grey = grey + rng.normal(0, rng.uniform(0.01, 0.04), size=grey.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def random_number(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, paper_kind: str = "plain"
) -> tuple[bytes, str, dict]:
    """One number of 2-7 random digits, written as described in the module docstring."""
    count = int(rng.integers(MIN_DIGITS, MAX_DIGITS + 1))
    chosen = rng.integers(0, len(images), size=count)
    touching = rng.random(count - 1) < TOUCHING
    gaps = np.where(touching, rng.uniform(-0.10, 0.0, count - 1), rng.uniform(0.02, 0.35, count - 1))
    ink, owners = compose(
        [images[i] for i in chosen],
        height=rng.uniform(*LINE_HEIGHT),
        scales=list(rng.uniform(0.85, 1.15, count)),
        gaps=list(gaps),
        offsets=list(rng.uniform(-0.08, 0.08, count)),
        angle=rng.uniform(-MAX_TILT, MAX_TILT),
        margin=rng.uniform(0.2, 0.8),
        with_owners=True,
    )
    text = "".join(str(int(labels[i])) for i in chosen)
    info = {"digits": count, "touching": bool(touching.any()), "owners": owners}
    return render(ink, rng, paper_kind), text, info


def number_set(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int, paper_kind: str = "plain"
) -> list[tuple[bytes, str, dict]]:
    """`count` numbers as (PNG bytes, the true text, info), reproducible by seed, on plain or ruled paper.

    info: {"digits": how many, "touching": whether any two touch, "owners": which digit owns each pixel}.
    """
    rng = np.random.default_rng(seed)
    return [random_number(images, labels, rng, paper_kind) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--count", type=int, default=1000, help="numbers per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--digits",
        choices=tuple(DIGITS),
        default="test",
        help="test: MNIST test digits (the figure reported); held-out: train[50000:], for tuning read.py",
    )
    parser.add_argument("--paper", choices=("plain", "ruled"), default="plain", help="what it is written on")
    parser.add_argument("--save", help="write every number as DIR/SEED-INDEX-TEXT.png, to look at")
    parser.add_argument("--show-wrong", type=int, default=0, help="print this many misread numbers")
    args = parser.parse_args()

    import keras
    import scipy

    import mnistlab
    from mnistlab.rundir import cpu_model

    images, labels = mnistlab.load("mnist", split=DIGITS[args.digits], as_supervised=True)
    images = images[..., 0]
    classifier = mnistlab.load_classifier(args.model)
    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, keras "
        f"{keras.__version__} ({keras.backend.backend()}), numpy {np.__version__}, scipy {scipy.__version__}"
    )
    print(
        f"# model {args.model}; numbers from MNIST {args.digits} digits, {args.count} per seed, "
        f"on {args.paper} paper"
    )

    rates, by_length, by_touching = [], defaultdict(list), defaultdict(list)
    for seed in args.seeds:
        numbers = number_set(images, labels, args.count, seed, args.paper)
        start = time.perf_counter()
        results = mnistlab.read(classifier, [data for data, _text, _info in numbers])
        seconds = time.perf_counter() - start
        right = [
            result["text"] == text for result, (_data, text, _info) in zip(results, numbers, strict=True)
        ]
        rates.append(float(np.mean(right)))
        wrong = 0
        for index, (ok, result, (data, text, info)) in enumerate(zip(right, results, numbers, strict=True)):
            by_length[info["digits"]].append(ok)
            by_touching[info["touching"]].append(ok)
            if not ok and wrong < args.show_wrong:
                wrong += 1
                print(f"  seed {seed} #{index}: {text} read as {result['text'] or '(nothing)'}")
            if args.save:
                os.makedirs(args.save, exist_ok=True)
                with open(os.path.join(args.save, f"{seed}-{index:04d}-{text}.png"), "wb") as file:
                    file.write(data)
        print(
            f"seed {seed}: {rates[-1]:.4f} of {len(numbers)} numbers read exactly "
            f"({1000 * seconds / len(numbers):.0f} ms per number, decoding included)",
            flush=True,
        )

    print(f"\nexact-read rate: {np.mean(rates):.4f} ± {np.std(rates):.4f} over {len(args.seeds)} seeds")
    print("\n| digits | numbers | read exactly |\n|---|---|---|")
    for length in sorted(by_length):
        print(f"| {length} | {len(by_length[length])} | {np.mean(by_length[length]):.4f} |")
    for touching in (False, True):
        name = "some digits touch" if touching else "no digits touch"
        print(f"| {name} | {len(by_touching[touching])} | {np.mean(by_touching[touching]):.4f} |")


if __name__ == "__main__":
    main()
